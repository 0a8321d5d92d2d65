"""The comparison toolkit: memorisation distances, the table rows, timing, chapter 11's recipes."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ppl_models import metrics
from ppl_models.compare import (
    NLL_KINDS,
    Row,
    copy_fraction,
    fd_bootstrap_se,
    format_table,
    mean_and_se,
    memorisation,
    nearest_distances,
    recipes,
    row_dict,
    score_samples,
    timed,
)


def _binary(n, d, seed):
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed)) < 0.3).float()


def test_nearest_distances_equal_scipy_brute_force():
    x, ref = _binary(37, 20, 0), _binary(53, 20, 1)
    got = nearest_distances(x, ref, batch_size=8)
    want = cdist(x.numpy(), ref.numpy()).min(1)
    assert np.allclose(got.numpy(), want, atol=1e-12)
    assert torch.equal(nearest_distances(ref[:5], ref), torch.zeros(5, dtype=torch.float64))


def test_nearest_distance_squared_counts_differing_binary_pixels():
    x, ref = _binary(10, 30, 2), _binary(40, 30, 3)
    hamming = (x[:, None, :] != ref[None]).sum(-1).min(1).values.double()
    assert torch.allclose(nearest_distances(x, ref).pow(2), hamming, atol=1e-9)


def test_copy_fraction_against_a_direct_count():
    d_ref = torch.arange(100, dtype=torch.float64)
    d_s = torch.tensor([0.0, 0.5, 0.99, 5.0])
    thr = float(np.quantile(d_ref.numpy(), 0.01))
    assert copy_fraction(d_s, d_ref, 0.01) == pytest.approx(float(np.mean(d_s.numpy() < thr)))


def test_memorisation_of_copies_and_fresh_data():
    train, test = _binary(200, 40, 4), _binary(100, 40, 5)
    m_copy = memorisation(train[:50], train, test)
    assert m_copy.median == 0 and m_copy.copies == 1.0
    m_fresh = memorisation(_binary(100, 40, 6), train, test)
    assert m_fresh.copies < 0.1 and m_fresh.median_test > 0


def test_mean_and_se():
    v = torch.tensor([1.0, 2.0, 3.0, 4.0])
    m, se = mean_and_se(v)
    assert m == 2.5 and se == pytest.approx(float(np.std(v.numpy(), ddof=1) / 2))
    assert mean_and_se(np.array([1.0, 3.0]))[0] == 2.0


def test_fd_bootstrap_se_is_reproducible_and_shrinks_with_n():
    g = np.random.default_rng(0)
    ref = g.normal(size=(2000, 3))
    small, big = g.normal(size=(100, 3)), g.normal(size=(2000, 3))
    assert fd_bootstrap_se(small, ref, 10, 1) == fd_bootstrap_se(small, ref, 10, 1)
    assert fd_bootstrap_se(big, ref, 20, 0) < fd_bootstrap_se(small, ref, 20, 0)


def test_score_samples_uses_the_shared_metrics():
    train, test = _binary(300, 16, 7), _binary(120, 16, 8)
    samples = _binary(120, 16, 9)

    def feat(x):
        return x.float() @ torch.linspace(-1, 1, 16 * 4).view(16, 4)

    f_ref = metrics.compute_features(feat, test)
    s = score_samples(feat, samples, f_ref, train, nearest_distances(test, train), n_boot=5)
    q = metrics.sample_quality(metrics.compute_features(feat, samples), f_ref)
    assert s.fd == pytest.approx(q.fd) and s.precision == q.precision and s.coverage == q.coverage
    assert s.nn_median == pytest.approx(float(nearest_distances(samples, train).median()))
    with pytest.raises(ValueError, match="samples"):
        score_samples(feat, samples.view(-1), f_ref, train, nearest_distances(test, train))


def test_row_and_table():
    rows = [Row("model a", "exact", 90.0, 0.5, fd=3.0, fd_se=0.1, precision=0.9, recall=0.8, density=1.0,
                coverage=0.9, nn_median=5.0, copies=0.01, n_params=10, train_seconds=100.0,
                sample_seconds=2.0),
            Row("memoriser", "exact", math.inf), Row("gan")]
    text = format_table(rows)
    assert len(text.splitlines()) == 2 + len(rows)
    assert "90.0 ± 0.5" in text and "inf" in text and "1.7 min" in text and "1.0%" in text
    assert row_dict(rows[0])["nll_kind"] == "exact"
    assert "none" in NLL_KINDS and len(NLL_KINDS) == 6


@pytest.mark.parametrize("kwargs, match", [
    (dict(model=""), "model"),
    (dict(model="a", nll_kind="bound"), "nll_kind"),
    (dict(model="a", nll_kind="exact"), "nll must be None"),
    (dict(model="a", nll=3.0), "nll must be None"),
    (dict(model="a", nll_kind="exact", nll=float("nan")), "nll"),
    (dict(model="a", fd=-1.0), "fd"),
    (dict(model="a", precision=1.5), "precision"),
    (dict(model="a", copies=-0.1), "copies"),
    (dict(model="a", n_params=-3), "n_params"),
    (dict(model="a", n_params=2.5), "n_params"),
    (dict(model="a", sample_seconds=float("inf")), "sample_seconds"),
])
def test_bad_rows(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Row(**kwargs)


def test_bad_inputs():
    x = _binary(5, 4, 0)
    with pytest.raises(ValueError, match="x"):
        nearest_distances(x.view(-1), x)
    with pytest.raises(ValueError, match="reference"):
        nearest_distances(x, _binary(5, 3, 0))
    with pytest.raises(ValueError, match="batch_size"):
        nearest_distances(x, x, batch_size=0)
    with pytest.raises(ValueError, match="quantile"):
        copy_fraction(torch.ones(3), torch.ones(3), 1.0)
    with pytest.raises(ValueError, match="d_samples"):
        copy_fraction(torch.tensor([-1.0]), torch.ones(3))
    with pytest.raises(ValueError, match="d_reference"):
        copy_fraction(torch.ones(3), torch.ones(0))
    with pytest.raises(ValueError, match="values"):
        mean_and_se(torch.ones(1))
    with pytest.raises(ValueError, match="values"):
        mean_and_se(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="n_boot"):
        fd_bootstrap_se(np.zeros((5, 2)), np.zeros((5, 2)), n_boot=1)
    with pytest.raises(ValueError, match="feats_samples"):
        fd_bootstrap_se(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="rows"):
        format_table([])
    with pytest.raises(ValueError, match="row"):
        row_dict({"model": "a"})
    with pytest.raises(ValueError, match="fn"):
        timed(3)


def test_timed_returns_result_and_a_duration():
    out = timed(sum, [1, 2, 3])
    assert out.result == 6 and out.seconds >= 0


def test_recipes_are_binary_data_configs():
    x = recipes.binary_mnist(True).x_train
    assert x.shape == (600, 784) and bool(((x == 0) | (x == 1)).all())
    s = recipes.signed_images(x[:2])
    assert s.shape == (2, 1, 28, 28) and set(s.unique().tolist()) <= {-1.0, 1.0}
    full, smoke = recipes.ch11_ddpm_mnist(False), recipes.ch11_ddpm_mnist(True)
    assert full.cfg["train"]["n_epochs"] == recipes.UNET_EPOCHS and smoke.cfg["train"]["n_epochs"] < 5
    assert full.cfg["unet"]["n_classes"] == 0                       # unconditional
    assert recipes.ch11_bmm_mnist(False, {"n_components": 7}).cfg["n_components"] == 7
    ncsn = recipes.ch11_ncsn_mnist(True).cfg["train"]
    assert ncsn["sigma_max"] > ncsn["sigma_min"] and ncsn["n_levels"] >= 2
