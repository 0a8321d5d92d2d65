r"""Continuous-time diffusion processes (Song et al. 2021): VP and VE SDEs.

Every process is a forward SDE :math:`dx = f(x, t)\,dt + g(t)\,dw` on ``t`` in ``[0, 1]`` (``t = 0``
the data, ``t = 1`` the noise) whose marginal given the data is Gaussian,

.. math:: q(x_t \mid x_0) = \mathcal N\big(\alpha(t)\, x_0,\; \sigma(t)^2 I\big),
   \qquad x_t = \alpha(t) x_0 + \sigma(t)\,\epsilon .

Hence the score of the perturbed data and the noise a network predicts are tied by
:math:`\nabla_x \log p_t(x) = -\,\mathbb E[\epsilon \mid x_t = x] / \sigma(t)`, i.e.
``score = -eps / sigma(t)`` (:func:`score_fn_from_eps`, :func:`eps_fn_from_score`).

A process object offers ``marginal(t) -> (alpha, sigma)``, ``log_snr(t)``, ``dlog_snr_dt(t)``,
``drift(x, t)``, ``diffusion(t)``, ``prior_sample(...)`` and ``prior_log_prob(z)``; samplers,
losses and likelihoods use only these (duck typing, no ``isinstance`` dispatch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._checks import bcast, check_choice, check_fraction, check_generator, check_t, check_x

__all__ = ["VPSDE", "VESDE", "score_fn_from_eps", "eps_fn_from_score", "standard_normal_log_prob"]

TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def standard_normal_log_prob(z: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    r"""``(B,)`` :math:`\log \mathcal N(z; 0, s^2 I)` summed over all but the batch axis."""
    d = z[0].numel()
    sq = z.reshape(z.shape[0], -1).pow(2).sum(1)
    return -0.5 * sq / scale**2 - d * (math.log(scale) + 0.5 * math.log(2 * math.pi))


def _prior_sample(shape, scale: float, generator, dtype, device) -> torch.Tensor:
    if not isinstance(shape, tuple | list | torch.Size) or len(shape) < 2 or any(
            not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in shape):
        raise ValueError(f"shape must be a tuple of positive ints (B, ...), got {shape!r}")
    check_generator(generator)
    return scale * torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)


@dataclass(frozen=True)
class VPSDE:
    r"""Variance-preserving SDE :math:`dx = -\tfrac12\beta(t) x\,dt + \sqrt{\beta(t)}\,dw`.

    :math:`\alpha(t) = \exp(-\tfrac12\int_0^t \beta)`, :math:`\sigma(t)^2 = 1 - \alpha(t)^2`.

    * ``"linear"``: :math:`\beta(t) = \beta_{\min} + t(\beta_{\max} - \beta_{\min})`, the continuous
      limit of the DDPM linear schedule with ``beta_min = T beta_start`` and ``beta_max = T beta_end``
      (0.1 and 20 for ``T = 1000``).
    * ``"cosine"``: :math:`\alpha(t)^2 = f(t)/f(0)`, :math:`f(t) = \cos^2(\tfrac{t+s}{1+s}\tfrac\pi2)`,
      :math:`\beta(t) = \tfrac{\pi}{1+s}\tan(\tfrac{t+s}{1+s}\tfrac\pi2)`, which diverges at ``t = 1``:
      start SDE/ODE samplers at ``t_max < 1`` (e.g. 0.999) with this schedule.

    Prior: :math:`\mathcal N(0, I)` (exact only as :math:`\alpha(1) \to 0`; the linear schedule
    has :math:`\alpha(1) = e^{-5.025} \approx 0.0066`).
    """

    schedule: str = "linear"
    beta_min: float = 0.1     # beta(0) of the linear schedule
    beta_max: float = 20.0    # beta(1) of the linear schedule
    cosine_s: float = 0.008   # offset s of the cosine schedule

    def __post_init__(self):
        check_choice(self.schedule, "schedule", ("linear", "cosine"))
        check_fraction(self.beta_min, "beta_min", 0.0, 1e6, open_low=True)
        check_fraction(self.beta_max, "beta_max", self.beta_min, 1e6)
        check_fraction(self.cosine_s, "cosine_s", 0.0, 1.0)

    def _phase(self, t: torch.Tensor) -> torch.Tensor:
        return (t + self.cosine_s) / (1 + self.cosine_s) * (math.pi / 2)

    def log_alpha(self, t: torch.Tensor) -> torch.Tensor:
        r"""``(B,)`` :math:`\log\alpha(t)`."""
        t = check_t(t)
        if self.schedule == "linear":
            return -0.5 * (self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2)
        c0 = math.cos(self.cosine_s / (1 + self.cosine_s) * math.pi / 2)
        return torch.log(torch.cos(self._phase(t))) - math.log(c0)

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        r"""``(B,)`` :math:`\beta(t) = -2\, d\log\alpha/dt`."""
        t = check_t(t)
        if self.schedule == "linear":
            return self.beta_min + t * (self.beta_max - self.beta_min)
        return math.pi / (1 + self.cosine_s) * torch.tan(self._phase(t))

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha(t), sigma(t))``, each ``(B,)``."""
        la = self.log_alpha(t)
        return torch.exp(la), torch.sqrt(-torch.expm1(2 * la))

    def log_snr(self, t: torch.Tensor) -> torch.Tensor:
        r"""``(B,)`` :math:`\lambda(t) = \log(\alpha^2/\sigma^2)`."""
        la = self.log_alpha(t)
        return 2 * la - torch.log(-torch.expm1(2 * la))

    def dlog_snr_dt(self, t: torch.Tensor) -> torch.Tensor:
        r"""``(B,)`` :math:`d\lambda/dt = -\beta(t)/\sigma(t)^2`."""
        return -self.beta(t) / -torch.expm1(2 * self.log_alpha(t))

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` forward drift :math:`f(x, t) = -\\beta(t) x / 2`."""
        return -0.5 * bcast(self.beta(t), x) * x

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        """``(B,)`` diffusion coefficient :math:`g(t) = \\sqrt{\\beta(t)}`."""
        return torch.sqrt(self.beta(t))

    def prior_sample(self, shape, generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        """Draw ``shape = (B, ...)`` from the prior :math:`\\mathcal N(0, I)`."""
        return _prior_sample(shape, 1.0, generator, dtype, device)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``(B,)`` log-density of the prior :math:`\\mathcal N(0, I)`."""
        return standard_normal_log_prob(check_x(z, "z"))


@dataclass(frozen=True)
class VESDE:
    r"""Variance-exploding SDE :math:`dx = \sqrt{d\sigma^2/dt}\,dw`.

    :math:`\sigma(t) = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^t`.

    :math:`\alpha(t) = 1`, :math:`g(t) = \sigma(t)\sqrt{2\log(\sigma_{\max}/\sigma_{\min})}`, prior
    :math:`\mathcal N(0, \sigma_{\max}^2 I)`. As in Song et al. (2021) the marginal std is taken to be
    :math:`\sigma(t)` itself (the data are treated as already perturbed by :math:`\sigma_{\min}` at t = 0).
    """

    sigma_min: float = 0.01   # noise std at t = 0
    sigma_max: float = 50.0   # noise std at t = 1 (about the largest pairwise data distance)

    def __post_init__(self):
        check_fraction(self.sigma_min, "sigma_min", 0.0, 1e6, open_low=True)
        check_fraction(self.sigma_max, "sigma_max", self.sigma_min, 1e6, open_low=True)

    @property
    def _log_ratio(self) -> float:
        return math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        """``(B,)`` :math:`\\sigma(t)`."""
        return self.sigma_min * torch.exp(check_t(t) * self._log_ratio)

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha(t), sigma(t)) = (1, sigma(t))``, each ``(B,)``."""
        s = self.sigma(t)
        return torch.ones_like(s), s

    def log_snr(self, t: torch.Tensor) -> torch.Tensor:
        """``(B,)`` :math:`\\lambda(t) = -2\\log\\sigma(t)`."""
        return -2 * torch.log(self.sigma(t))

    def dlog_snr_dt(self, t: torch.Tensor) -> torch.Tensor:
        """``(B,)`` :math:`d\\lambda/dt = -2\\log(\\sigma_{\\max}/\\sigma_{\\min})`."""
        return torch.full_like(check_t(t), -2 * self._log_ratio)

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Zero drift, shaped like ``x``."""
        check_t(t, x.shape[0])
        return torch.zeros_like(x)

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        """``(B,)`` :math:`g(t) = \\sigma(t)\\sqrt{2\\log(\\sigma_{\\max}/\\sigma_{\\min})}`."""
        return self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def prior_sample(self, shape, generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
        """Draw ``shape = (B, ...)`` from the prior :math:`\\mathcal N(0, \\sigma_{\\max}^2 I)`."""
        return _prior_sample(shape, self.sigma_max, generator, dtype, device)

    def prior_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``(B,)`` log-density of the prior :math:`\\mathcal N(0, \\sigma_{\\max}^2 I)`."""
        return standard_normal_log_prob(check_x(z, "z"), self.sigma_max)


def score_fn_from_eps(eps_fn: TensorFn, process) -> TensorFn:
    r"""Wrap an ``eps_fn(x, t)`` into ``score_fn(x, t) = -eps_fn(x, t) / sigma(t)``."""
    if not callable(eps_fn):
        raise ValueError("eps_fn must be callable as eps_fn(x, t)")

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = process.marginal(t)
        return -eps_fn(x, t) / bcast(sigma, x)

    return score_fn


def eps_fn_from_score(score_fn: TensorFn, process) -> TensorFn:
    r"""Wrap a ``score_fn(x, t)`` into ``eps_fn(x, t) = -sigma(t) * score_fn(x, t)``."""
    if not callable(score_fn):
        raise ValueError("score_fn must be callable as score_fn(x, t)")

    def eps_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, sigma = process.marginal(t)
        return -bcast(sigma, x) * score_fn(x, t)

    return eps_fn


def check_process(process, name: str = "process") -> None:
    """Raise unless ``process`` offers ``marginal(t)``."""
    if not callable(getattr(process, "marginal", None)):
        raise ValueError(f"{name} must offer marginal(t) -> (alpha, sigma), like VPSDE or DiscreteSchedule")

