r"""Probability paths: how a data point and a noise draw are joined, and the velocity along the way.

Time convention of the whole package: ``t`` in ``[0, 1]`` with ``t = 0`` the **data** and ``t = 1``
the **noise** (as in :mod:`ppl_models.diffusion`). Many flow-matching papers and libraries
(Lipman et al. 2023, ``torchcfm``, ``flow_matching``) put the data at ``t = 1`` instead; their
:math:`t` is our :math:`1 - t` and their velocity is minus ours.

Every path here is *affine Gaussian*: given a data point :math:`x_0` and a noise draw
:math:`\varepsilon \sim \mathcal N(0, I)`,

.. math:: x_t = \alpha(t)\,x_0 + \sigma(t)\,\varepsilon, \qquad
          u_t = \frac{d x_t}{dt} = \dot\alpha(t)\,x_0 + \dot\sigma(t)\,\varepsilon ,

with :math:`\alpha(0) = 1, \sigma(0) \approx 0` and :math:`\alpha(1) \approx 0, \sigma(1) = 1`. The
*conditional* velocity :math:`u_t` is the regression target of flow matching; the *marginal*
velocity :math:`v(x, t) = \mathbb E[u_t \mid x_t = x]` is what the network learns and what the ODE
:math:`dx/dt = v(x, t)` follows (from ``t = 1`` to ``t = 0`` to sample).

* :class:`CondOTPath`: :math:`\alpha = 1 - t`, :math:`\sigma = \sigma_{\min} + (1 - \sigma_{\min})t`,
  straight lines (the conditional optimal-transport path; rectified flow for ``sigma_min = 0``).
* :class:`VPPath`: :math:`\alpha, \sigma` of a :class:`ppl_models.diffusion.VPSDE`; its marginal
  velocity is exactly the probability-flow drift (:func:`velocity_from_eps`).

A path offers ``marginal(t) -> (alpha, sigma)`` and ``d_marginal(t) -> (dalpha, dsigma)``; the loss,
samplers and converters use only these (duck typing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..diffusion import VPSDE
from ..diffusion._checks import bcast, check_fraction, check_t, check_x

__all__ = ["CondOTPath", "VPPath", "check_path", "sample_path", "velocity_from_eps", "eps_from_velocity",
           "x0_from_velocity", "marginal_velocity_gmm"]

TensorFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class CondOTPath:
    r"""The straight (conditional optimal-transport) path.

    :math:`x_t = (1-t)x_0 + (\sigma_{\min} + (1-\sigma_{\min})t)\varepsilon`,

    ``u_t = -x_0 + (1 - sigma_min) eps``; with ``sigma_min = 0`` it is the rectified-flow path
    :math:`x_t = (1-t)x_0 + t\varepsilon`, :math:`u_t = \varepsilon - x_0`, constant along the line.
    """

    sigma_min: float = 0.0   # noise std left at t = 0 (Lipman et al. use 1e-4 or 0)

    def __post_init__(self):
        check_fraction(self.sigma_min, "sigma_min", 0.0, 1.0, open_high=True)

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha(t), sigma(t))``, each ``(B,)``."""
        t = check_t(t)
        return 1.0 - t, self.sigma_min + (1.0 - self.sigma_min) * t

    def d_marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dalpha/dt, dsigma/dt)``, each ``(B,)``."""
        t = check_t(t)
        return -torch.ones_like(t), torch.full_like(t, 1.0 - self.sigma_min)


@dataclass(frozen=True)
class VPPath:
    r"""The variance-preserving path of a diffusion :class:`~ppl_models.diffusion.VPSDE`.

    :math:`\dot\alpha = -\tfrac12\beta\alpha`, :math:`\dot\sigma = \tfrac12\beta\alpha^2/\sigma` (infinite at
    ``t = 0``: train on ``t >= t_min > 0``).
    """

    sde: VPSDE = field(default_factory=VPSDE)

    def __post_init__(self):
        if not isinstance(self.sde, VPSDE):
            raise ValueError(f"sde must be a diffusion.VPSDE, got {type(self.sde).__name__}")

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha(t), sigma(t))``, each ``(B,)``."""
        return self.sde.marginal(t)

    def d_marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dalpha/dt, dsigma/dt)``, each ``(B,)``."""
        alpha, sigma = self.sde.marginal(t)
        beta = self.sde.beta(t)
        return -0.5 * beta * alpha, 0.5 * beta * alpha**2 / sigma


def check_path(path, name: str = "path") -> None:
    """A path object with ``marginal(t)`` and ``d_marginal(t)``."""
    for attr in ("marginal", "d_marginal"):
        if not callable(getattr(path, attr, None)):
            raise ValueError(f"{name} must offer {attr}(t) (a CondOTPath or VPPath), "
                             f"got {type(path).__name__}")


def sample_path(path, x0: torch.Tensor, t: torch.Tensor,
                noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(x_t, u_t)``: the point on the conditional path and its velocity (module docstring).

    Args:
        path: a :class:`CondOTPath` / :class:`VPPath`.
        x0: ``(B, ...)`` data; t: ``(B,)`` times in ``[0, 1]``; noise: ``(B, ...)`` like ``x0``.
    Returns:
        ``x_t`` and ``u_t``, each ``(B, ...)``.
    """
    check_path(path)
    x0 = check_x(x0, "x0")
    t = check_t(t, x0.shape[0])
    if not torch.is_tensor(noise) or noise.shape != x0.shape:
        raise ValueError(f"noise must be a tensor shaped like x0 {tuple(x0.shape)}")
    (a, s), (da, ds) = path.marginal(t), path.d_marginal(t)
    return bcast(a, x0) * x0 + bcast(s, x0) * noise, bcast(da, x0) * x0 + bcast(ds, x0) * noise


def _coefficients(path, t: torch.Tensor, x: torch.Tensor):
    check_path(path)
    check_x(x, "x")
    t = check_t(t, x.shape[0])
    (a, s), (da, ds) = path.marginal(t), path.d_marginal(t)
    return bcast(a, x), bcast(s, x), bcast(da, x), bcast(ds, x)


def velocity_from_eps(eps_fn: TensorFn, path) -> TensorFn:
    r"""The marginal velocity implied by a noise predictor.

    :math:`v = \dot\alpha\hat x_0 + \dot\sigma\hat\varepsilon` with
    :math:`\hat x_0 = (x - \sigma\hat\varepsilon)/\alpha`, i.e.
    :math:`v = \tfrac{\dot\alpha}{\alpha}x + (\dot\sigma - \tfrac{\dot\alpha}{\alpha}\sigma)\hat\varepsilon`;
    for the VP path this is :math:`-\tfrac12\beta(x - \hat\varepsilon/\sigma)`, the probability-flow drift.
    """
    if not callable(eps_fn):
        raise ValueError("eps_fn must be callable as eps_fn(x, t)")

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s, da, ds = _coefficients(path, t, x)
        return da / a * x + (ds - da / a * s) * eps_fn(x, t)

    return v


def eps_from_velocity(velocity_fn: TensorFn, path) -> TensorFn:
    r"""The noise prediction implied by a velocity.

    Solves :math:`x = \alpha\hat x_0 + \sigma\hat\varepsilon` and
    :math:`v = \dot\alpha\hat x_0 + \dot\sigma\hat\varepsilon`:
    :math:`\hat\varepsilon = (\alpha v - \dot\alpha x)/(\alpha\dot\sigma - \dot\alpha\sigma)`.
    """
    if not callable(velocity_fn):
        raise ValueError("velocity_fn must be callable as velocity_fn(x, t)")

    def eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s, da, ds = _coefficients(path, t, x)
        return (a * velocity_fn(x, t) - da * x) / (a * ds - da * s)

    return eps


def x0_from_velocity(velocity_fn: TensorFn, path) -> TensorFn:
    r"""The data prediction implied by a velocity.

    :math:`\hat x_0 = (\dot\sigma x - \sigma v)/(\alpha\dot\sigma - \dot\alpha\sigma)`; for the straight path
    (``sigma_min = 0``) it is :math:`\hat x_0 = x - t\,v`, one Euler step to ``t = 0``.
    """
    if not callable(velocity_fn):
        raise ValueError("velocity_fn must be callable as velocity_fn(x, t)")

    def x0(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s, da, ds = _coefficients(path, t, x)
        return (ds * x - s * velocity_fn(x, t)) / (a * ds - da * s)

    return x0


def marginal_velocity_gmm(gmm, path) -> TensorFn:
    r"""Exact marginal velocity :math:`v(x, t) = \mathbb E[u_t \mid x_t = x]` for Gaussian-mixture data.

    :math:`x_t = \alpha x_0 + \sigma\varepsilon` has the mixture density of ``gmm.perturbed``; with
    :math:`\hat x_0 = \mathbb E[x_0 \mid x_t = x]` (``gmm.posterior_mean``, exact Gaussian
    conditioning) and :math:`\hat\varepsilon = (x - \alpha\hat x_0)/\sigma`,
    :math:`v = \dot\alpha\hat x_0 + \dot\sigma\hat\varepsilon`.
    Needs :math:`\sigma(t) > 0`.

    Args:
        gmm: a :class:`ppl_models.exact2d.GaussianMixture2D`; path: a path object.
    """
    if not callable(getattr(gmm, "posterior_mean", None)):
        raise ValueError("gmm must offer posterior_mean(x, sigma, scale) (an exact2d.GaussianMixture2D)")
    check_path(path)

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a, s, da, ds = _coefficients(path, t, x)
        if bool((s <= 0).any()):
            raise ValueError("marginal_velocity_gmm needs sigma(t) > 0 at every t")
        x0 = gmm.posterior_mean(x, s.reshape(-1), a.reshape(-1))
        return da * x0 + ds * (x - a * x0) / s

    return v
