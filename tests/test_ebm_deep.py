"""Deep EBMs: the exact grid maximum-likelihood gradient against a Gaussian's closed form, the replay
buffer's re-initialised fraction, Langevin with clamping, bounded energies under the regulariser,
bad inputs."""

import math

import pytest
import torch

from ppl_models.ebm import (
    DeepEBMConfig,
    GridMLConfig,
    ReplayBuffer,
    contrastive_loss,
    grid_log_partition,
    grid_nll,
    grid_points,
    sample_langevin,
    train_ebm,
    train_grid_ml,
    ula,
    uniform_noise,
)
from ppl_models.nets import MLP

f64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


class Quadratic(torch.nn.Module):
    r"""E(x) = 0.5 (x - mu)^T P (x - mu), P = L L^T: a Gaussian with log Z = log(2 pi) - 0.5 log det P."""

    def __init__(self):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.tensor([0.3, -0.2], dtype=f64))
        self.L = torch.nn.Parameter(torch.tensor([[1.2, 0.0], [0.4, 0.9]], dtype=f64))

    def precision(self):
        L = torch.tril(self.L)
        return L @ L.T

    def forward(self, x):
        d = x - self.mu
        return 0.5 * ((d @ self.precision()) * d).sum(-1)

    def log_Z(self):
        return math.log(2 * math.pi) - 0.5 * torch.logdet(self.precision())


def data(n=500, seed=0):
    g = gen(seed)
    return torch.randn(n, 2, generator=g, dtype=f64) @ torch.tensor([[1.0, 0.3], [0.0, 0.7]], dtype=f64) + 0.5


def test_grid_log_partition_equals_the_gaussian_closed_form():
    q = Quadratic()
    pts, area = grid_points((-9.0, 9.0), 400)
    with torch.no_grad():
        assert abs(float(grid_log_partition(q, pts, area)) - float(q.log_Z())) < 1e-10


def test_grid_ml_gradient_equals_the_analytic_gradient():
    q, x = Quadratic(), data()
    pts, area = grid_points((-9.0, 9.0), 400)
    g_grid = torch.autograd.grad(grid_nll(q, x, pts, area), [q.mu, q.L])
    g_exact = torch.autograd.grad(q(x).mean() + q.log_Z(), [q.mu, q.L])
    for a, b in zip(g_grid, g_exact, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-9)
    # and the mean's gradient by hand: d/dmu = -P (xbar - mu), the model term E_p[x - mu] = 0
    with torch.no_grad():
        hand = -(q.precision() @ (x.mean(0) - q.mu))
    assert torch.allclose(g_grid[0], hand, rtol=0, atol=1e-9)


def test_grid_model_term_is_the_exact_model_expectation():
    """grad log Z on the grid = -sum_i p_i grad E(g_i), p_i the grid probabilities (explicit sum)."""
    q = Quadratic()
    pts, area = grid_points((-9.0, 9.0), 120)
    g_auto = torch.autograd.grad(grid_log_partition(q, pts, area), [q.mu])[0]
    with torch.no_grad():
        p = torch.softmax(-q(pts), 0)
        grad_e_mu = -(pts - q.mu) @ q.precision()          # (G, 2): dE/dmu at each grid point
    assert torch.allclose(g_auto, -(p[:, None] * grad_e_mu).sum(0), rtol=0, atol=1e-12)


def test_train_grid_ml_finds_the_gaussian_mle():
    q, x = Quadratic(), data(2000, 1)
    cfg = GridMLConfig(lim=(-6.0, 6.0), n_grid=80, lr=0.05, batch_size=2000, n_epochs=400)
    hist = train_grid_ml(q, q.parameters(), x, cfg, progress=False)
    xc = x - x.mean(0)
    cov = xc.T @ xc / x.shape[0]
    with torch.no_grad():
        assert torch.allclose(q.mu, x.mean(0), atol=2e-3)
        assert torch.allclose(torch.linalg.inv(q.precision()), cov, atol=5e-3)
    assert hist.loss[-1] < hist.loss[0]


def test_replay_buffer_reinit_fraction_is_exact():
    buf = ReplayBuffer(torch.full((1000, 3), 5.0, dtype=f64), -1.0, 1.0)   # 5 lies outside the noise box
    g = gen(3)
    for n, frac in ((100, 0.05), (128, 0.05), (200, 0.0), (50, 1.0), (7, 0.3)):
        x0, idx = buf.draw(n, frac, generator=g)
        fresh = (x0 != 5.0).all(1)
        assert int(fresh.sum()) == round(n * frac)
        assert bool(((x0[fresh] >= -1) & (x0[fresh] <= 1)).all())
        assert bool((x0[~fresh] == 5.0).all())
        assert idx.unique().numel() == n
    _, idx = buf.draw(10, 0.0, generator=g)
    buf.update(idx, torch.zeros(10, 3, dtype=f64))
    assert bool((buf.x[idx] == 0).all()) and int((buf.x == 0).all(1).sum()) == 10


def test_sample_langevin_is_ula_on_minus_energy_and_clamps():
    net = MLP(2, (16,), 1, seed=0).double()

    def energy(x):
        return net(x).squeeze(-1)

    x0 = torch.randn(20, 2, generator=gen(1), dtype=f64)
    ours = sample_langevin(energy, x0, 7, 0.1, generator=gen(2), temperature=0.5)
    ref = ula(x0, 7, 0.1, generator=gen(2), log_prob_fn=lambda y: -energy(y), temperature=0.5)
    assert torch.equal(ours.samples, ref.samples) and ours.nfe == 7
    clamped = sample_langevin(energy, x0.clamp(-0.5, 0.5), 7, 1.0, generator=gen(2), clamp=(-0.5, 0.5))
    assert float(clamped.samples.abs().max()) <= 0.5 and clamped.nfe == 7


def test_contrastive_loss_formula():
    ep, en = torch.tensor([1.0, -2.0], dtype=f64), torch.tensor([0.5, 3.0, 1.0], dtype=f64)
    want = (-0.5) - 1.5 + 0.2 * ((1 + 4) / 2 + (0.25 + 9 + 1) / 3)
    assert abs(float(contrastive_loss(ep, en, 0.2)) - want) < 1e-12


def _tiny_run(alpha, seed=0):
    x = data(512, 2).float()
    net = MLP(2, (32, 32), 1, activation="silu", seed=seed)
    cfg = DeepEBMConfig(n_steps=10, step_size=0.05, temperature=1.0, buffer_size=512, alpha=alpha, lr=1e-2,
                        batch_size=64, n_epochs=6, data_noise=0.0, init_range=(-3.0, 3.0), clamp=False,
                        clip_grad_norm=None, seed=seed)
    return train_ebm(lambda z: net(z).squeeze(-1), net.parameters(), x, cfg, progress=False)


def test_regulariser_keeps_energies_bounded():
    reg, free = _tiny_run(1.0), _tiny_run(0.0)
    bound = max(max(abs(e) for e in reg.e_pos), max(abs(e) for e in reg.e_neg))
    drift = max(max(abs(e) for e in free.e_pos), max(abs(e) for e in free.e_neg))
    assert len(reg.e_pos) == reg.history.steps == 48
    assert bound < 1.5          # the stationary point of E + alpha E^2 is |E| = 1 / (2 alpha) = 0.5
    assert drift > 2 * bound    # without it the energies wander off together


def test_short_run_has_no_buffer_and_smoke_config():
    cfg = DeepEBMConfig().smoke()
    assert cfg.n_steps <= 10 and cfg.buffer_size >= cfg.batch_size and cfg.n_epochs <= 2
    x = data(64).float()
    net = MLP(2, (8,), 1, seed=0)
    run = train_ebm(lambda z: net(z).squeeze(-1), net.parameters(), x,
                    DeepEBMConfig(persistent=False, n_steps=2, step_size=0.01, n_epochs=1, batch_size=32,
                                  init_range=(-2.0, 2.0), clamp=False), progress=False)
    assert run.buffer is None and run.history.steps == 2


@pytest.mark.parametrize("kwargs, word", [
    ({"reinit_fraction": 1.5}, "reinit_fraction"), ({"n_steps": 0}, "n_steps"),
    ({"step_size": -1.0}, "step_size"),
    ({"alpha": -0.1}, "alpha"), ({"buffer_size": 10, "batch_size": 64}, "buffer_size"),
    ({"init_range": (1.0, -1.0)}, "init_range"), ({"temperature": float("nan")}, "temperature"),
    ({"betas": (0.9, 1.0)}, "betas"),
])
def test_config_bad_inputs(kwargs, word):
    with pytest.raises(ValueError, match=word):
        DeepEBMConfig(**kwargs)
    with pytest.raises(ValueError, match="lim"):
        GridMLConfig(lim=(2.0, 2.0))


def test_bad_inputs():
    q = Quadratic()
    pts, area = grid_points((-3.0, 3.0), 10)
    assert pts.shape == (100, 2) and abs(area - 0.36) < 1e-12
    with pytest.raises(ValueError, match="points"):
        grid_log_partition(q, pts[:, :1], area)
    with pytest.raises(ValueError, match="cell_area"):
        grid_log_partition(q, pts, -1.0)
    with pytest.raises(ValueError, match="energy_fn"):
        grid_log_partition(None, pts, area)
    with pytest.raises(ValueError, match="x"):
        grid_nll(q, torch.full((3, 2), float("nan"), dtype=f64), pts, area)
    with pytest.raises(ValueError, match="lim"):
        grid_points((1.0, 0.0), 10)
    with pytest.raises(ValueError, match="e_pos"):
        contrastive_loss(torch.tensor([float("nan")]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="alpha"):
        contrastive_loss(torch.tensor([1.0]), torch.tensor([1.0]), -1.0)
    buf = ReplayBuffer(torch.zeros(10, 2), -1.0, 1.0)
    with pytest.raises(ValueError, match="n"):
        buf.draw(11, 0.05, generator=gen())
    with pytest.raises(ValueError, match="reinit_fraction"):
        buf.draw(5, -0.1, generator=gen())
    with pytest.raises(ValueError, match="idx"):
        buf.update(torch.arange(3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="low"):
        uniform_noise(3, (2,), 1.0, 0.0, generator=gen())
    with pytest.raises(ValueError, match="clamp"):
        sample_langevin(q, torch.zeros(2, 2, dtype=f64), 1, 0.1, generator=gen(), clamp=(1.0, 0.0))
    x = data(10)
    with pytest.raises(ValueError, match="x"):
        train_ebm(q, q.parameters(), torch.full((4, 2), float("nan")), DeepEBMConfig())
    with pytest.raises(ValueError, match="cfg"):
        train_ebm(q, q.parameters(), x, GridMLConfig())
    with pytest.raises(ValueError, match="cfg"):
        train_grid_ml(q, q.parameters(), x, DeepEBMConfig())
    with pytest.raises(ValueError, match="parameters"):
        train_grid_ml(q, [], x, GridMLConfig())
    with pytest.raises(ValueError, match="x"):
        train_grid_ml(q, q.parameters(), torch.zeros(10, 3, dtype=f64), GridMLConfig())
