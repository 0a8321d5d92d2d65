"""Every public diffusion function rejects bad input with a ValueError naming the argument."""

import pytest
import torch

from ppl_models import diffusion as dm

F64 = torch.float64
S = dm.make_schedule("linear", 10)
SDE = dm.VPSDE()
X = torch.zeros(3, 2, dtype=F64)
T3 = torch.full((3,), 0.5, dtype=F64)
N3 = torch.tensor([0, 1, 2])
NAN = torch.tensor([[float("nan"), 0.0]] * 3, dtype=F64)


def zero(x, t):
    return torch.zeros_like(x)


def raises(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


def test_schedule_inputs():
    raises("name", dm.make_betas, "quadratic")
    raises("T", dm.make_betas, "linear", 0)
    raises("T", dm.make_betas, "linear", 2.5)
    raises("beta_start", dm.make_betas, "linear", 10, beta_start=0.0)
    raises("beta_end", dm.make_betas, "linear", 10, beta_end=1.5)
    raises("max_beta", dm.make_betas, "cosine", 10, max_beta=1.0)
    raises("betas", dm.DiscreteSchedule, torch.tensor([0.1, 1.0]))
    raises("betas", dm.DiscreteSchedule, torch.zeros(2, 2))
    raises("betas", dm.DiscreteSchedule, torch.tensor([0.1, float("nan")]))
    raises("steps", dm.timesteps, 10, 11)
    raises("steps", dm.timesteps, 10, 0)
    raises("spacing", dm.timesteps, 10, 5, "uniform")
    raises("n", dm.step_to_time, torch.tensor([10]), 10)
    raises("n", dm.step_to_time, torch.tensor([0.5]), 10)
    raises("t", dm.time_to_step, torch.tensor([0.0], dtype=F64), 10)
    raises("t", S.marginal, torch.tensor([1.5], dtype=F64))
    raises("t", S.marginal, torch.tensor([float("nan")], dtype=F64))
    raises("t", S.marginal, torch.zeros(2, 1, dtype=F64))
    raises("t", S.marginal, torch.tensor([1]))
    raises("x0", S.add_noise, NAN, N3, X)
    raises("n", S.add_noise, X, torch.tensor([0, 1]), X)
    raises("n", S.add_noise, X, torch.tensor([0, 1, 10]), X)
    raises("noise", S.add_noise, X, N3, torch.zeros(3, 3))


def test_sde_inputs():
    raises("schedule", dm.VPSDE, "sigmoid")
    raises("beta_min", dm.VPSDE, "linear", -1.0)
    raises("beta_max", dm.VPSDE, "linear", 1.0, 0.5)
    raises("sigma_min", dm.VESDE, 0.0)
    raises("sigma_max", dm.VESDE, 1.0, 0.5)
    raises("t", SDE.marginal, torch.tensor([-0.1], dtype=F64))
    raises("t", dm.VESDE().drift, X, torch.zeros(2, dtype=F64))
    raises("shape", SDE.prior_sample, (0, 2))
    raises("shape", SDE.prior_sample, 5)
    raises("generator", SDE.prior_sample, (2, 2), generator=0)
    raises("z", SDE.prior_log_prob, NAN)
    raises("eps_fn", dm.score_fn_from_eps, None, SDE)
    raises("score_fn", dm.eps_fn_from_score, 3, SDE)


def test_posterior_and_loss_inputs():
    raises("prediction", dm.target, X, X, T3, T3, "score")
    raises("prediction", dm.to_x0, X, X, T3, T3, "mu")
    raises("variance", dm.p_mean_logvar, S, X, X, N3, "learned")
    raises("x_n", dm.q_posterior, S, X, NAN, N3)
    raises("process", dm.diffusion_loss, zero, X, object())
    raises("prediction", dm.diffusion_loss, zero, X, SDE, "score")
    raises("weighting", dm.diffusion_loss, zero, X, SDE, weighting="snr")
    raises("x0", dm.diffusion_loss, zero, NAN, SDE)
    raises("x0", dm.diffusion_loss, zero, torch.zeros(3), SDE)
    raises("t", dm.diffusion_loss, zero, X, SDE, t=torch.full((3,), 2.0, dtype=F64))
    raises("t", dm.diffusion_loss, zero, X, SDE, t=torch.full((4,), 0.5, dtype=F64))
    raises("t_min", dm.diffusion_loss, zero, X, SDE, t_min=-0.1)
    raises("generator", dm.diffusion_loss, zero, X, SDE, generator=1)
    raises("model_fn", dm.diffusion_loss, lambda x, t: x[:, :1], X, SDE)
    raises("noise", dm.diffusion_loss, zero, X, SDE, noise=torch.zeros(3, 3))
    raises("schedule", dm.ddpm_loss, zero, X, SDE)
    raises("dlog_snr_dt", dm.diffusion_loss, zero, X, S, weighting="elbo")
    raises("n", dm.ddpm_loss, zero, X, S, weighting="elbo", n=N3)
    raises("n", dm.discrete_elbo_weight, S, torch.tensor([0, 1]))
    raises("prediction", dm.elbo_weight, SDE, T3, "x1")


def test_vlb_and_guidance_inputs():
    x0 = torch.zeros(2, 3, dtype=F64)
    raises("x0", dm.ddpm_vlb, zero, torch.full((2, 3), 0.001, dtype=F64), S)
    raises("x0", dm.ddpm_vlb, zero, torch.full((2, 3), 1.5, dtype=F64), S, levels=2)
    raises("levels", dm.ddpm_vlb, zero, x0 - 1, S, levels=1)
    raises("variance", dm.ddpm_vlb, zero, x0 - 1, S, variance="learned")
    raises("noise", dm.ddpm_vlb, zero, x0 - 1, S, noise=torch.zeros(3, 2, 3))
    raises("eps_fn", dm.ddpm_vlb, lambda x, t: x[:1], x0 - 1, S)
    raises("x", dm.discretized_gaussian_log_likelihood, torch.tensor([0.3]), 0.0, 0.0, 2)
    raises("x", dm.discretized_gaussian_log_likelihood, torch.tensor([float("nan")]), 0.0, 0.0)
    y = torch.tensor([0, 1, 2])
    raises("p", dm.drop_labels, y, 1.5, 10)
    raises("y", dm.drop_labels, y.double(), 0.1, 10)
    raises("y", dm.drop_labels, -y - 1, 0.1, 10)
    raises("null_index", dm.drop_labels, y, 0.1, -1)
    raises("generator", dm.drop_labels, y, 0.1, 10, generator="seed")
    raises("w", dm.guided_eps_fn, lambda x, t, c: x, y, -2.0, 10)
    raises("cond_eps_fn", dm.guided_eps_fn, None, y, 1.0, 10)
    raises("x has batch", dm.guided_eps_fn(lambda x, t, c: x, y, 1.0, 10), torch.zeros(2, 2), torch.zeros(2))


def test_sampler_inputs():
    raises("x_T", dm.ddpm_sample, zero, S, NAN)
    raises("schedule", dm.ddpm_sample, zero, SDE, X)
    raises("variance", dm.ddpm_sample, zero, S, X, variance="large")
    raises("eps_fn", dm.ddpm_sample, lambda x, t: x[:, :1], S, X)
    raises("eta", dm.ddim_sample, zero, S, X, dm.ddim_times(10, 5), eta=-0.1)
    raises("times", dm.ddim_sample, zero, S, X, torch.tensor([0.1, 0.5], dtype=F64))
    raises("times", dm.ddim_sample, zero, S, X, torch.tensor([1.5, 0.5], dtype=F64))
    raises("times", dm.ddim_sample, zero, S, X, torch.tensor([1.0], dtype=F64))
    raises("process", dm.ddim_sample, zero, None, X, dm.ddim_times(10, 5))
    raises("steps", dm.ddim_times, 10, 11)
    raises("spacing", dm.ddim_times, 10, 5, "cosine")
    raises("eta", dm.ddim_step, X, X, T3, T3, T3, T3, -1.0)
    raises("noise", dm.ddim_step, X, X, T3, T3, T3, T3, 1.0)
    raises("clip_x0", dm.ddim_step, X, X, T3, T3, T3, T3, 0.0, None, 0.0)
    raises("clip_x0", dm.ddim_sample, zero, S, X, dm.ddim_times(10, 5), clip_x0=float("nan"))
    raises("steps", dm.uniform_times, 0)
    raises("t_min", dm.uniform_times, 10, 0.5, 0.6)
    raises("n", dm.ddpm_step, X, X, torch.tensor([0, 1, 10]), S, X)
    raises("sde", dm.euler_maruyama_sample, zero, S, X, 10)
    raises("score_fn", dm.euler_maruyama_sample, None, SDE, X, 10)
    raises("steps", dm.euler_maruyama_sample, zero, SDE, X, 0)
    raises("t_max", dm.euler_maruyama_sample, zero, SDE, X, 10, t_max=1.5)
    raises("snr", dm.pc_sample, zero, SDE, X, 10, snr=0.0)
    raises("n_corrector", dm.pc_sample, zero, SDE, X, 10, n_corrector=-1)
    raises("method", dm.probability_flow_sample, zero, SDE, X, 10, method="rk45")
    raises("score_fn", dm.probability_flow_sample, lambda x, t: x[:1], SDE, X, 2)
    raises("state", dm.integrate, lambda s, t: s, [X], 0.0, 1.0)


def test_likelihood_inputs():
    raises("x", dm.ode_log_likelihood, zero, SDE, NAN)
    raises("divergence", dm.ode_log_likelihood, zero, SDE, X, divergence="trace")
    raises("kind", dm.ode_log_likelihood, zero, SDE, X, divergence="hutchinson", probe="sphere")
    raises("n_probes", dm.ode_log_likelihood, zero, SDE, X, divergence="hutchinson", n_probes=0)
    raises("t_min", dm.ode_log_likelihood, zero, SDE, X, t_min=1.0)
    raises("method", dm.ode_log_likelihood, zero, SDE, X, method="dopri")
    raises("prior_log_prob", dm.ode_log_likelihood, zero, SDE, X, prior_log_prob=3)
    raises("sde", dm.ode_log_likelihood, zero, S, X)
    raises("probes", dm.divergence_hutchinson, zero, X, T3, torch.zeros(2, 3, 3))
    raises("levels", dm.dequantize, torch.tensor([0, 255]), 1)
    raises("k", dm.dequantize, torch.tensor([0, 256]))
    raises("k", dm.dequantize, torch.tensor([0.5]))
    raises("dim", dm.bits_per_dim, torch.zeros(2), 0)
    raises("log_prob", dm.bits_per_dim, torch.zeros(2, 2), 4)
    raises("data_range", dm.bits_per_dim, torch.zeros(2), 4, data_range=0.0)
