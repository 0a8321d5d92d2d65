import gzip
import struct

import numpy as np
import pytest
import torch

from ppl_models import data


def test_digits_split_is_fixed_stratified_and_scaled():
    d = data.load_digits(device="cpu")
    assert d.x_train.shape == (1348, 64) and d.x_test.shape == (449, 64)
    assert d.image_shape == (8, 8) and d.dim == 64 and d.n_classes == 10
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    again = data.load_digits(device="cpu")
    assert torch.equal(d.x_train, again.x_train) and torch.equal(d.y_test, again.y_test)
    # stratified: every class share in the test set within one image of proportional
    counts = torch.bincount(d.y_test, minlength=10).numpy()
    full = np.bincount(np.concatenate([d.y_train.numpy(), d.y_test.numpy()]))
    assert np.all(np.abs(counts - full * 449 / 1797) <= 1.0)
    # train and test do not overlap (no image appears in both)
    tr = {tuple(r) for r in d.x_train.numpy()}
    assert sum(tuple(r) in tr for r in d.x_test.numpy()) <= 2  # sklearn digits has a few duplicates


def test_mnist5k_split_and_binarised_form():
    d = data.load_mnist5k(device="cpu")
    assert d.x_train.shape == (4000, 784) and d.x_test.shape == (1000, 784)
    assert d.image_shape == (28, 28)
    assert torch.bincount(d.y_test).tolist() == [100] * 10
    b = data.load_mnist5k(binarized=True, device="cpu")
    assert set(torch.unique(b.x_train).tolist()) == {0.0, 1.0}
    assert b.name == "mnist5k-binarized"
    b2 = data.load_mnist5k(binarized=True, device="cpu")
    assert torch.equal(b.x_train, b2.x_train)  # static: same seed, same data
    # the binary image is a Bernoulli draw of the grey one: its mean matches
    assert abs(b.x_train.mean().item() - d.x_train.mean().item()) < 2e-3


def test_subset_and_to():
    d = data.load_digits(device="cpu").subset(100, 20)
    assert d.x_train.shape == (100, 64) and d.y_test.shape == (20,)
    assert d.to("cpu").x_train.device.type == "cpu"
    with pytest.raises(ValueError, match="n_train"):
        data.load_digits(device="cpu").subset(0)
    with pytest.raises(ValueError, match="n_test"):
        data.load_digits(device="cpu").subset(10, 10_000)


def test_binarize_static_is_seeded_and_unbiased():
    x = torch.full((200, 50), 0.3)
    a, b, c = data.binarize_static(x, 1), data.binarize_static(x, 1), data.binarize_static(x, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(a.mean().item() - 0.3) < 0.01
    g = torch.Generator().manual_seed(0)
    d1 = data.dynamic_binarize(x, g)
    d2 = data.dynamic_binarize(x, g)
    assert not torch.equal(d1, d2) and set(torch.unique(d1).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("fn", [data.binarize_static, data.dynamic_binarize])
def test_binarize_bad_input(fn):
    with pytest.raises(ValueError, match="x"):
        fn(torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([0.5, float("nan")]))
    with pytest.raises(ValueError, match="floating-point"):
        fn(torch.tensor([0, 1]))


@pytest.mark.parametrize("name", sorted(data.TOY_DATASETS))
def test_toy_2d_shapes_seeds(name):
    a = data.make_toy_2d(name, 500, seed=3, device="cpu")
    b = data.make_toy_2d(name, 500, seed=3, device="cpu")
    c = data.make_toy_2d(name, 500, seed=4, device="cpu")
    assert a.shape == (500, 2) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all()


def test_toy_2d_geometry():
    ring = data.make_toy_2d("eight_gaussians", 4000, noise=0.0, device="cpu")
    assert torch.allclose(ring.norm(dim=1), torch.full((4000,), 2.0), atol=1e-5)
    circ = data.make_toy_2d("circles", 4000, noise=0.0, device="cpu")
    r = circ.norm(dim=1)
    assert torch.all(((r - 1).abs() < 1e-5) | ((r - 2).abs() < 1e-5))
    board = data.make_toy_2d("checkerboard", 4000, device="cpu")
    cells = (torch.floor(board[:, 0]) + torch.floor(board[:, 1])) % 2
    assert torch.all(cells == 0)  # only the "black" squares are populated


def test_toy_2d_bad_input():
    with pytest.raises(ValueError, match="name"):
        data.make_toy_2d("spiral", 10)
    with pytest.raises(ValueError, match="n must"):
        data.make_toy_2d("two_moons", 0)
    with pytest.raises(ValueError, match="noise"):
        data.make_toy_2d("two_moons", 10, noise=-1.0)


def _write_idx(path, array, gz=False):
    codes = {np.uint8: 0x08, np.int32: 0x0C}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(payload)


def _tiny_mnist(folder, n=6, gz=False):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", imgs, gz)
    _write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", labels, gz)
    return imgs, labels


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx_roundtrip(tmp_path, gz):
    imgs, labels = _tiny_mnist(tmp_path, gz=gz)
    x, y = data.load_mnist_idx(tmp_path, split="test", verify=not gz, device="cpu")
    assert x.shape == (6, 784) and torch.allclose(x, torch.tensor(imgs.reshape(6, -1) / 255.0).float())
    assert y.tolist() == labels.tolist()
    assert data.read_idx(tmp_path / f"t10k-labels-idx1-ubyte{'.gz' if gz else ''}").dtype == np.uint8


def test_load_mnist_idx_env_var(tmp_path, clean_env):
    _tiny_mnist(tmp_path)
    clean_env.setenv("PPL_MNIST_DIR", str(tmp_path))
    assert data.load_mnist_idx(split="test", device="cpu")[0].shape == (6, 784)


def test_load_mnist_idx_errors(tmp_path, clean_env):
    with pytest.raises(FileNotFoundError, match="PPL_MNIST_DIR"):
        data.load_mnist_idx(split="test")
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        data.load_mnist_idx(tmp_path, split="test")
    with pytest.raises(ValueError, match="split"):
        data.load_mnist_idx(tmp_path, split="validation")
    _tiny_mnist(tmp_path)
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-10])  # truncated payload
    with pytest.raises(ValueError, match="corrupted"):
        data.load_mnist_idx(tmp_path, split="test")
    p.write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(ValueError, match="invalid header"):
        data.read_idx(p)


def test_load_mnist_idx_checksum_mismatch(tmp_path):
    _tiny_mnist(tmp_path, gz=True)  # known file names, wrong content -> MD5 mismatch
    with pytest.raises(ValueError, match="checksum mismatch for t10k-images"):
        data.load_mnist_idx(tmp_path, split="test")
    assert data.load_mnist_idx(tmp_path, split="test", verify=False, device="cpu")[0].shape[0] == 6


def test_mismatched_images_and_labels(tmp_path):
    _tiny_mnist(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        data.load_mnist_idx(tmp_path, split="test")


def test_series_data():
    years, counts = data.load_earthquakes()
    assert years[0] == 1900 and years[-1] == 2006 and len(counts) == 107
    assert counts.dtype == np.int64 and counts.min() >= 0 and counts[:3].tolist() == [13, 14, 8]
    dates, r = data.load_goog_returns()
    assert r.shape == (1046,) and len(dates) == 1046 and np.isfinite(r).all()
    assert 0.5 < r.std() < 5.0  # daily returns in percent


def test_load_dataset_dispatch():
    assert data.load_dataset("digits", device="cpu").name == "digits"
    with pytest.raises(ValueError, match="unknown data set name 'cifar'"):
        data.load_dataset("cifar")
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=1.5)
    with pytest.raises(ValueError, match="n_test"):
        data.load_mnist5k(n_test=1)
    with pytest.raises(ValueError, match="split_seed"):
        data.load_digits(split_seed=-1)
