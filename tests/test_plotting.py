import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from ppl_models import plotting  # noqa: E402


def teardown_function():
    plt.close("all")


def test_use_style_sets_small_dpi():
    plotting.use_style()
    assert matplotlib.rcParams["figure.dpi"] == 80


def test_image_grid_layout_and_labels():
    imgs = torch.rand(12, 64)
    fig, ax = plotting.image_grid(imgs, (8, 8), ncols=5, labels=list("abcdefghijkl"), title="t")
    arr = ax.images[0].get_array()
    assert arr.shape == (3 * 9 - 1, 5 * 9 - 1)
    assert np.allclose(arr[:8, :8], imgs[0].reshape(8, 8).numpy())
    assert len(ax.texts) == 12 and ax.get_title() == "t"
    fig2, _ = plotting.image_grid(np.zeros((3, 28, 28)))
    assert fig2 is not None


def test_image_grid_bad_input():
    with pytest.raises(ValueError, match="image_shape"):
        plotting.image_grid(torch.rand(2, 10))
    with pytest.raises(ValueError, match="image_shape"):
        plotting.image_grid(torch.rand(2, 64), image_shape=(4, 4))
    with pytest.raises(ValueError, match="images"):
        plotting.image_grid(torch.rand(0, 64))


def test_density_scatter_history():
    fig, ax = plotting.density_2d(lambda p: -0.5 * (p**2).sum(1), n_grid=30, title="N(0, I)")
    assert ax.get_title() == "N(0, I)" and ax.get_xlabel() == "$x_1$"
    plotting.scatter_2d(torch.randn(10, 2), ax=ax, role="samples")
    fig, ax = plotting.plot_history([3.0, 2.0, 1.0], ylabel="-ELBO", logy=True)
    assert ax.get_ylabel() == "-ELBO" and ax.get_yscale() == "log"


def test_plot_helpers_bad_input():
    with pytest.raises(ValueError, match="role"):
        plotting.scatter_2d(torch.randn(3, 2), role="prediction")
    with pytest.raises(ValueError, match="shape"):
        plotting.scatter_2d(torch.randn(3, 3))
    with pytest.raises(ValueError, match="values"):
        plotting.plot_history([])
    with pytest.raises(ValueError, match="ncols"):
        plotting.new_figure(0)
