"""Diffusion models, split as in score_sde: schedule/SDE, loss, sampler, likelihood, guidance.

The parts meet only through a closure ``eps_fn(x, t)`` or ``score_fn(x, t)`` with ``t`` a ``(B,)``
tensor in ``[0, 1]`` (``t = 0`` the data, ``t = 1`` the noise); integer DDPM steps ``n`` in
``{0, ..., T-1}`` sit at ``t = (n + 1) / T`` (see :mod:`.schedules`). No module here knows a network.
"""

from .guidance import drop_labels, guided_eps_fn
from .likelihood import (
                         LogLikelihood,
                         bits_per_dim,
                         dequantize,
                         divergence_exact,
                         divergence_hutchinson,
                         make_probes,
                         ode_log_likelihood,
)
from .losses import ddpm_loss, diffusion_loss, discrete_elbo_weight, elbo_weight
from .ode import integrate, probability_flow_drift
from .posterior import p_mean_logvar, q_posterior, target, to_eps, to_x0
from .respacing import ddpm_sample_at, schedule_at
from .sampling import (
                         Samples,
                         ddim_sample,
                         ddim_step,
                         ddim_times,
                         ddpm_sample,
                         ddpm_step,
                         euler_maruyama_sample,
                         pc_sample,
                         probability_flow_sample,
                         uniform_times,
)
from .schedules import DiscreteSchedule, make_betas, make_schedule, step_to_time, time_to_step, timesteps
from .sde import VESDE, VPSDE, eps_fn_from_score, score_fn_from_eps, standard_normal_log_prob
from .training import EMA, TRAINING_VERSION, DenoiserConfig, train_denoiser
from .vlb import VLB, ddpm_vlb, discretized_gaussian_log_likelihood, gaussian_kl

__all__ = [
    "DiscreteSchedule", "make_betas", "make_schedule", "step_to_time", "time_to_step", "timesteps",
    "VPSDE", "VESDE", "score_fn_from_eps", "eps_fn_from_score", "standard_normal_log_prob",
    "target", "to_x0", "to_eps", "q_posterior", "p_mean_logvar",
    "diffusion_loss", "ddpm_loss", "elbo_weight", "discrete_elbo_weight",
    "VLB", "ddpm_vlb", "gaussian_kl", "discretized_gaussian_log_likelihood",
    "drop_labels", "guided_eps_fn",
    "Samples", "ddpm_step", "ddpm_sample", "ddim_step", "ddim_sample", "ddim_times", "uniform_times",
    "euler_maruyama_sample", "pc_sample", "probability_flow_sample",
    "integrate", "probability_flow_drift",
    "LogLikelihood", "ode_log_likelihood", "divergence_exact", "divergence_hutchinson", "make_probes",
    "dequantize", "bits_per_dim",
    "schedule_at", "ddpm_sample_at", "DenoiserConfig", "EMA", "train_denoiser", "TRAINING_VERSION",
]
