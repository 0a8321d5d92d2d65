"""Respaced DDPM chains and the denoiser training loop with EMA (ppl_models.diffusion)."""

import math

import pytest
import torch
from torch import nn

from ppl_models import diffusion as dm
from ppl_models.nets import TimeMLP

F64 = torch.float64


def _eps_fn(x, t):
    """A smooth, nonlinear stand-in for a network (any function of (x, t) works for these identities)."""
    return torch.tanh(x) * (0.5 + t.view(-1, 1)) - 0.3 * x


# ----------------------------------------------------------------------------- respacing
def test_schedule_at_full_grid_recovers_the_schedule():
    sched = dm.make_schedule("cosine", 50)
    times = dm.step_to_time(torch.arange(50), 50)
    torch.testing.assert_close(dm.schedule_at(sched, times).betas, sched.betas, rtol=0, atol=1e-12)


def test_schedule_at_matches_the_process_marginals():
    sde = dm.VPSDE("linear")
    times = torch.tensor([0.01, 0.2, 0.5, 0.9, 1.0], dtype=F64)
    got = dm.schedule_at(sde, times).alphas_cumprod
    torch.testing.assert_close(got, sde.marginal(times)[0] ** 2, rtol=1e-12, atol=1e-14)


def test_ddpm_sample_at_full_grid_equals_ddpm_sample():
    sched = dm.make_schedule("linear", 20, beta_start=1e-3, beta_end=0.2)
    x_T = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    times = dm.step_to_time(torch.arange(20), 20)
    for variance in ("beta", "posterior"):
        a = dm.ddpm_sample(_eps_fn, sched, x_T, torch.Generator().manual_seed(1), variance)
        b = dm.ddpm_sample_at(_eps_fn, sched, x_T, times, torch.Generator().manual_seed(1), variance)
        torch.testing.assert_close(b.samples, a.samples, rtol=0, atol=1e-12)
        assert a.nfe == b.nfe == 20


def test_ddpm_at_posterior_variance_equals_ddim_eta_one_on_the_same_grid():
    sde = dm.VPSDE("linear")
    grid = dm.ddim_times(100, 10)  # 10 decreasing times, then 0
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    ddim = dm.ddim_sample(_eps_fn, sde, x_T, grid, eta=1.0, generator=torch.Generator().manual_seed(3))
    ddpm = dm.ddpm_sample_at(_eps_fn, sde, x_T, grid[:-1].flip(0), torch.Generator().manual_seed(3),
                             "posterior")
    torch.testing.assert_close(ddpm.samples, ddim.samples, rtol=1e-10, atol=1e-10)
    assert ddpm.nfe == ddim.nfe == 10


def test_respacing_bad_inputs():
    sde = dm.VPSDE()
    x = torch.zeros(2, 2)
    for bad in (torch.tensor([0.5, 0.2]), torch.tensor([0.0, 0.5]), torch.tensor([0.5, 1.5]),
                torch.tensor([1, 2]), [0.1, 0.2], torch.zeros(0)):
        with pytest.raises(ValueError, match="times"):
            dm.schedule_at(sde, bad)
    with pytest.raises(ValueError, match="process"):
        dm.schedule_at(object(), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="variance"):
        dm.ddpm_sample_at(_eps_fn, sde, x, torch.tensor([0.5, 1.0]), variance="large")
    with pytest.raises(ValueError, match="x_T"):
        dm.ddpm_sample_at(_eps_fn, sde, torch.zeros(2), torch.tensor([0.5, 1.0]))


# ----------------------------------------------------------------------------- EMA
def test_ema_equals_the_closed_form_weighted_average():
    net = nn.Linear(3, 2).double()
    ema = dm.EMA(net, 0.9)
    g = torch.Generator().manual_seed(0)
    thetas = [net.weight.detach().clone()]
    for _ in range(30):
        with torch.no_grad():
            net.weight.copy_(torch.randn(2, 3, generator=g, dtype=F64))
        thetas.append(net.weight.detach().clone())
        ema.update(net)
    d = [min(0.9, (1 + k) / (10 + k)) for k in range(1, 31)]
    # theta_bar_K = prod_j d_j theta_0 + sum_k (1 - d_k) prod_{j>k} d_j theta_k
    want = torch.zeros(2, 3, dtype=F64)
    for k in range(31):
        w = 1.0
        for j in range(k + 1, 31):
            w *= d[j - 1]
        want += (w if k == 0 else (1 - d[k - 1]) * w) * thetas[k]
    torch.testing.assert_close(ema.state_dict()["weight"], want, rtol=1e-12, atol=1e-12)


def test_ema_copies_integer_buffers_and_rejects_bad_inputs():
    net = nn.BatchNorm1d(3)
    ema = dm.EMA(net, 0.5)
    net(torch.randn(4, 3))
    ema.update(net)
    assert int(ema.state_dict()["num_batches_tracked"]) == 1
    for bad in (1.0, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="decay"):
            dm.EMA(net, bad)
    with pytest.raises(ValueError, match="module"):
        dm.EMA("net", 0.5)
    with pytest.raises(ValueError, match="module"):
        ema.update(nn.Linear(2, 2))


# ----------------------------------------------------------------------------- training
def _toy():
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 0.5 + 1.0
    y = torch.arange(64) % 3
    return x, y


def test_train_denoiser_is_deterministic_and_decay_zero_ema_is_the_net():
    x, _ = _toy()
    cfg = dm.DenoiserConfig(n_epochs=3, batch_size=16, warmup=0, ema_decay=0.0)
    states = []
    for _ in range(2):
        net = TimeMLP(2, (16,), time_dim=8, seed=0)
        hist, ema = dm.train_denoiser(net, x, dm.VPSDE(), cfg, progress=False)
        states.append(ema)
        for k, v in net.state_dict().items():
            torch.testing.assert_close(ema[k], v, rtol=0, atol=0)
        assert hist.steps == 12 and len(hist.loss) == 3
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)


def test_train_denoiser_reduces_the_loss():
    x, _ = _toy()
    net = TimeMLP(2, (32, 32), time_dim=8, seed=0)
    cfg = dm.DenoiserConfig(n_epochs=40, batch_size=16, lr=3e-3, warmup=0)
    hist, _ = dm.train_denoiser(net, x, dm.VPSDE(), cfg, progress=False)
    first, last = sum(hist.step_loss[:16]) / 16, sum(hist.step_loss[-16:]) / 16
    assert last < 0.8 * first, (first, last)


@pytest.mark.parametrize("p_uncond, untouched", [(1.0, [0, 1, 2]), (0.0, [3])])
def test_label_dropout_reaches_only_the_dropped_rows(p_uncond, untouched):
    x, y = _toy()
    net = TimeMLP(2, (16,), time_dim=8, n_classes=3, seed=0)
    before = net.label_embed.weight.detach().clone()
    cfg = dm.DenoiserConfig(n_epochs=2, batch_size=16, warmup=0, p_uncond=p_uncond)
    dm.train_denoiser(net, x, dm.VPSDE(), cfg, y=y, null_index=3, progress=False)
    after = net.label_embed.weight.detach()
    for row in range(4):
        same = torch.equal(after[row], before[row])
        assert same == (row in untouched), (row, p_uncond)


def test_log_t_fraction_draws_the_stated_mixture():
    from ppl_models.diffusion.training import _draw_times

    x = torch.zeros(200_000, 2, dtype=F64)
    g = torch.Generator().manual_seed(0)
    assert _draw_times(x, dm.DenoiserConfig(), g) is None       # uniform: drawn inside diffusion_loss
    t = _draw_times(x, dm.DenoiserConfig(t_min=1e-4, log_t_fraction=1.0), g)
    log_t = torch.log(t)  # U(log 1e-4, 0): mean log(1e-4)/2, var L^2/12
    L = math.log(1e-4)
    assert abs(float(log_t.mean()) - L / 2) < 5 * abs(L) / math.sqrt(12 * len(t))
    assert abs(float(log_t.var()) - L**2 / 12) < 0.02 * L**2 / 12
    t = _draw_times(x, dm.DenoiserConfig(t_min=1e-4, log_t_fraction=0.5), g)
    # P(t < 0.01) = 0.5 P_log(t < 0.01) + 0.5 P_unif(t < 0.01)
    want = 0.25 + 0.5 * (0.01 - 1e-4) / (1 - 1e-4)
    assert abs(float((t < 0.01).double().mean()) - want) < 5 * math.sqrt(want * (1 - want) / len(t))
    assert float(t.min()) >= 1e-4 and float(t.max()) <= 1.0


def test_train_denoiser_bad_inputs():
    x, y = _toy()
    net = TimeMLP(2, (8,), time_dim=8, n_classes=3)
    cfg = dm.DenoiserConfig(n_epochs=1)
    with pytest.raises(ValueError, match="net"):
        dm.train_denoiser("net", x, dm.VPSDE(), cfg)
    with pytest.raises(ValueError, match="cfg"):
        dm.train_denoiser(net, x, dm.VPSDE(), {"n_epochs": 1})
    with pytest.raises(ValueError, match="process"):
        dm.train_denoiser(net, x, object(), cfg)
    with pytest.raises(ValueError, match="x"):
        dm.train_denoiser(net, x.long(), dm.VPSDE(), cfg)
    with pytest.raises(ValueError, match="y"):
        dm.train_denoiser(net, x, dm.VPSDE(), cfg, y=y[:5], null_index=3)
    with pytest.raises(ValueError, match="null_index"):
        dm.train_denoiser(net, x, dm.VPSDE(), cfg, y=y)
    for field, bad in (("n_epochs", 0), ("batch_size", 1.5), ("lr", 0.0), ("ema_decay", 1.0),
                       ("p_uncond", 1.5), ("warmup", -1), ("t_min", 1.0), ("clip_grad_norm", 0.0),
                       ("log_t_fraction", 1.5)):
        with pytest.raises(ValueError, match=field):
            dm.DenoiserConfig(**{field: bad})
    with pytest.raises(ValueError, match="t_min"):
        dm.DenoiserConfig(t_min=0.0, log_t_fraction=0.5)
