"""RBM: free energy, exact log Z, AIS, CD/PCD training and Gibbs sampling against brute force (float64)."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ppl_models.data import load_digits
from ppl_models.ebm import (
    RBM,
    AISResult,
    RBMConfig,
    ais_betas,
    ais_log_partition,
    base_rate_bias,
    cd_step,
    contrastive_divergence,
    exact_log_likelihood,
    exact_log_partition,
    init_rbm,
    make_optimizer,
    rbm_nll,
    train_rbm,
)

f64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_rbm(V, H, seed=0, w=1.0, bias=1.0):
    return RBM.random(V, H, weight_std=w, bias_std=bias, generator=gen(seed), dtype=f64)


def all_states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=f64)


def brute_log_Z(rbm):
    V, H = all_states(rbm.n_visible), all_states(rbm.n_hidden)
    vv = V.repeat_interleave(H.shape[0], 0)
    hh = H.repeat(V.shape[0], 1)
    return float(torch.logsumexp(-rbm.energy(vv, hh).detach(), 0))


def tiny_data(n=60, seed=0):
    """Noisy copies of three 8-pixel prototypes."""
    protos = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0]],
                          dtype=f64)
    g = gen(seed)
    x = protos[torch.randint(0, 3, (n,), generator=g)]
    flip = torch.rand(x.shape, generator=g, dtype=f64) < 0.05
    return torch.where(flip, 1 - x, x)


# ---------------------------------------------------------------- energy, free energy, log Z
def test_free_energy_equals_log_sum_over_hidden_states():
    rbm = random_rbm(6, 4, seed=1)
    v = all_states(6)
    H = all_states(4)
    brute = torch.stack([-torch.logsumexp(-rbm.energy(vi.expand(16, -1), H), 0) for vi in v])
    torch.testing.assert_close(rbm.free_energy(v), brute, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("V", "H"), [(6, 4), (4, 6)])
def test_exact_log_Z_equals_enumeration_of_both_layers(V, H):
    rbm = random_rbm(V, H, seed=2)
    brute = brute_log_Z(rbm)
    assert abs(exact_log_partition(rbm) - brute) < 1e-10
    assert abs(exact_log_partition(rbm, chunk_size=3) - brute) < 1e-10  # chunks add up


def test_exact_log_Z_by_visible_sum_equals_by_hidden_sum():
    rbm = random_rbm(9, 7, seed=3)  # H < V: sums over hidden states
    flipped = RBM(rbm.W.detach().T, rbm.c.detach(), rbm.b.detach())  # same Z, V < H: visible sum
    assert abs(exact_log_partition(rbm) - exact_log_partition(flipped)) < 1e-10


def test_exact_log_likelihood_normalises():
    rbm = random_rbm(5, 7, seed=4)
    lp = exact_log_likelihood(rbm, all_states(5))
    assert abs(float(torch.logsumexp(lp, 0))) < 1e-12


# ---------------------------------------------------------------- AIS
def test_ais_betas_paper_schedule():
    b = ais_betas()
    assert b.shape == (14_501,) and b[0] == 0 and b[-1] == 1
    d = b.diff()
    torch.testing.assert_close(d[:500], torch.full((500,), 1e-3, dtype=f64))
    torch.testing.assert_close(d[500:4500], torch.full((4000,), 1e-4, dtype=f64))
    torch.testing.assert_close(d[4500:], torch.full((10_000,), 1e-5, dtype=f64))
    small = ais_betas(100)
    assert small.shape == (101,) and bool((small.diff() > 0).all()) and small[-1] == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ais_matches_exact_log_Z_on_random_rbms(seed):
    rbm = random_rbm(20, 12, seed=seed, w=0.5, bias=0.5)
    data = rbm.sample(500, 20, generator=gen(seed + 10))
    res = ais_log_partition(rbm, base_rate_bias(data), ais_betas(300), 300, generator=gen(seed))
    exact = exact_log_partition(rbm)
    assert isinstance(res, AISResult) and res.log_weights.shape == (300,)
    assert abs(res.log_Z - exact) < 0.1
    assert res.log_Z_std_err < 0.05 and 1 <= res.ess <= 300


@pytest.fixture(scope="module")
def digits_rbm():
    """An RBM with 16 hidden units briefly trained by CD-1 on binarised 8x8 digits."""
    d = load_digits(binarized=True, dtype=f64, device="cpu")
    cfg = RBMConfig(n_hidden=16, n_epochs=3, batch_size=50, learning_rate=0.1, seed=0)
    rbm = init_rbm(d.x_train, cfg)
    train_rbm(rbm, d.x_train, cfg, progress=False)
    return rbm, d


def test_ais_matches_exact_log_Z_on_trained_rbm(digits_rbm):
    rbm, d = digits_rbm
    exact = exact_log_partition(rbm)
    res = ais_log_partition(rbm, base_rate_bias(d.x_train), ais_betas(500), 200, generator=gen(5))
    assert abs(res.log_Z - exact) < 0.1
    nll_ais, nll_exact = rbm_nll(rbm, d.x_test, res), rbm_nll(rbm, d.x_test, exact)
    assert abs(nll_ais.nll - nll_exact.nll) < 0.1
    assert abs(nll_exact.nll + float(exact_log_likelihood(rbm, d.x_test).mean())) < 1e-9
    assert nll_exact.log_Z_std_err == 0 and nll_ais.std_err >= nll_ais.free_energy_std_err


def test_base_rate_bias_is_log_odds_of_smoothed_means():
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]], dtype=f64)
    p = (x.sum(0) + 1) / 6
    torch.testing.assert_close(base_rate_bias(x), torch.log(p / (1 - p)))


# ---------------------------------------------------------------- training
def test_cd_gradient_is_autograd_of_free_energy_gap():
    rbm = random_rbm(8, 5, seed=6)
    v = tiny_data(30)
    for h_chain in (None, torch.bernoulli(torch.full((7, 5), 0.5, dtype=f64), generator=gen(1))):
        res = contrastive_divergence(rbm, v, 2, generator=gen(7), h_chain=h_chain)
        assert res.v_model.shape == (30 if h_chain is None else 7, 8)
        surrogate = rbm.free_energy(v).mean() - rbm.free_energy(res.v_model).mean()
        gW, gb, gc = torch.autograd.grad(surrogate, [rbm.W, rbm.b, rbm.c])
        for ours, ref in ((res.grad_W, gW), (res.grad_b, gb), (res.grad_c, gc)):
            torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
        assert abs(float(res.loss - surrogate.detach())) < 1e-12


@pytest.mark.parametrize("persistent", [False, True])
def test_cd1_and_pcd1_increase_exact_log_likelihood(persistent):
    x = tiny_data()
    cfg = RBMConfig(n_hidden=4, n_epochs=100, batch_size=10, learning_rate=0.1, persistent=persistent,
                    n_chains=20 if persistent else None, seed=1)
    rbm = init_rbm(x, cfg)
    before = float(exact_log_likelihood(rbm, x).mean())
    hist = train_rbm(rbm, x, cfg, progress=False)
    after = float(exact_log_likelihood(rbm, x).mean())
    assert len(hist.loss) == 100 and hist.steps == 600
    assert after > before + 1.0, (before, after)


def test_weight_decay_only_on_weights_and_momentum_as_configured():
    rbm = random_rbm(8, 4, seed=8)
    cfg = RBMConfig(n_hidden=4, weight_decay=0.5, momentum=0.9, learning_rate=0.1)
    opt = make_optimizer(rbm, cfg)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0.0]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    W0 = rbm.W.detach().clone()
    res = contrastive_divergence(rbm, tiny_data(10), 1, generator=gen(3))
    cd_step(rbm, opt, cfg, gen(3))(tiny_data(10))  # same draws as res
    torch.testing.assert_close(rbm.W.detach(), W0 - 0.1 * (res.grad_W + 0.5 * W0), rtol=0, atol=1e-12)


def test_config_smoke_and_init():
    cfg = RBMConfig()
    assert cfg.smoke().n_hidden == 16 and cfg.smoke().n_epochs == 2
    x = tiny_data()
    rbm = init_rbm(x, RBMConfig(n_hidden=3, visible_bias_from_data=False, init_std=0.0))
    assert rbm.W.abs().max() == 0 and rbm.b.abs().max() == 0 and rbm.W.dtype == f64
    torch.testing.assert_close(init_rbm(x, RBMConfig(n_hidden=3)).b.detach(), base_rate_bias(x))


# ---------------------------------------------------------------- Gibbs sampling
def test_gibbs_stationary_distribution_matches_exact_model():
    rbm = random_rbm(4, 3, seed=9)
    n = 20_000
    v = rbm.sample(n, 30, generator=gen(11))
    idx = (v * 2 ** torch.arange(3, -1, -1, dtype=f64)).sum(1).long()   # itertools.product order
    counts = np.bincount(idx.numpy(), minlength=16)
    p = exact_log_likelihood(rbm, all_states(4)).exp().numpy()
    assert stats.chisquare(counts, n * p).pvalue > 1e-3
    assert 0.5 * np.abs(counts / n - p).sum() < 0.02
    wrong = np.roll(p, 1)  # the test has power: a permuted distribution is rejected
    assert stats.chisquare(counts, n * wrong).pvalue < 1e-6


# ---------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_value_errors_naming_the_argument():
    rbm = random_rbm(4, 3)
    v = all_states(4)
    z = lambda *shape: torch.zeros(*shape, dtype=f64)
    bad = [
        (lambda: RBM(z(4), z(4), z(3)), "W"),
        (lambda: RBM(z(4, 3), z(3), z(3)), "b"),
        (lambda: RBM(z(4, 3), z(4), torch.full((3,), math.nan, dtype=f64)), "c"),
        (lambda: rbm.free_energy(v * 0.5), "binary"),
        (lambda: rbm.free_energy(v[:, :3]), "columns"),
        (lambda: rbm.free_energy(torch.full((2, 4), math.nan, dtype=f64)), "NaN"),
        (lambda: rbm.energy(v, v[:, :3][:-1]), "rows"),
        (lambda: rbm.gibbs(v, 0, generator=gen()), "k"),
        (lambda: rbm.gibbs(v, 1, generator=None), "generator"),
        (lambda: rbm.sample(0, 1, generator=gen()), "n"),
        (lambda: rbm.visible_probs(v), "columns"),
        (lambda: RBM.random(0, 3, generator=gen()), "n_visible"),
        (lambda: RBM.random(4, 3, weight_std=-1.0, generator=gen()), "weight_std"),
        (lambda: exact_log_partition("rbm"), "rbm"),
        (lambda: rbm_nll(rbm, v[:1], 0.0), "2 rows"),
        (lambda: base_rate_bias(torch.tensor([[1.5, 0.0]], dtype=f64)), "[0, 1]"),
        (lambda: base_rate_bias(torch.tensor([[-0.1, 0.0]], dtype=f64)), "[0, 1]"),
        (lambda: ais_betas(2), "n_betas"),
        (lambda: ais_log_partition(rbm, torch.zeros(4, dtype=f64), torch.linspace(0, 0.9, 5, dtype=f64),
                                   generator=gen()), "betas"),
        (lambda: ais_log_partition(rbm, z(3), ais_betas(10), generator=gen()), "base_bias"),
        (lambda: ais_log_partition(rbm, torch.zeros(4, dtype=f64), ais_betas(10), 1, generator=gen()),
         "n_chains"),
        (lambda: ais_log_partition(rbm, z(4), ais_betas(10), generator=gen(), dtype=torch.int64), "dtype"),
        (lambda: exact_log_partition(random_rbm(25, 22)), "max_units"),
        (lambda: rbm_nll(rbm, v, math.nan), "log_Z"),
        (lambda: exact_log_likelihood(rbm, v, log_Z=math.inf), "log_Z"),
        (lambda: RBMConfig(momentum=1.0), "momentum"),
        (lambda: RBMConfig(learning_rate=0.0), "learning_rate"),
        (lambda: RBMConfig(n_hidden=0), "n_hidden"),
        (lambda: train_rbm(rbm, v * 0.5, RBMConfig(n_hidden=3)), "x"),
        (lambda: train_rbm(rbm, v, RBMConfig(n_hidden=5)), "n_hidden"),
        (lambda: init_rbm(torch.tensor([[0.0, 2.0]], dtype=f64), RBMConfig(n_hidden=2)), "x"),
        (lambda: contrastive_divergence(rbm, v, 1, generator=gen(), h_chain=torch.ones(2, 4, dtype=f64)),
         "h_chain"),
    ]
    for fn, word in bad:
        with pytest.raises(ValueError, match=word.replace("[", r"\[").replace("]", r"\]")):
            fn()
