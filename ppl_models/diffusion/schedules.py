r"""Discrete-time (DDPM) noise schedules and their map onto continuous time ``t`` in ``[0, 1]``.

Time convention (one for the whole package): ``t = 0`` is the data and ``t = 1`` the noise.

Integer steps. A schedule of ``T`` steps has betas :math:`\beta_0, \dots, \beta_{T-1}`; the
integer step ``n`` runs over ``{0, ..., T-1}`` exactly as in ``diffusers`` (``n = 0`` is the first
*noised* level, not the data). Ho et al. (2020) number the same levels ``k = n + 1`` in
``{1, ..., T}`` and call the data ``x_0``. The continuous time of step ``n`` is

.. math:: t_n = \frac{n + 1}{T} \in \{1/T, \dots, 1\}, \qquad t = 0 \leftrightarrow \text{data},

so Ho's index is ``k = T t``. With :math:`\alpha_n = 1 - \beta_n` and
:math:`\bar\alpha_n = \prod_{i \le n} \alpha_i`,

.. math:: q(x_n \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_n}\, x_0,\; (1 - \bar\alpha_n) I\big),

i.e. the mean coefficient is :math:`\alpha(t_n) = \sqrt{\bar\alpha_n}` and the standard deviation
:math:`\sigma(t_n) = \sqrt{1 - \bar\alpha_n}` (careful: :math:`\alpha_n` the per-step factor and
:math:`\alpha(t)` the marginal mean coefficient are different things). Between grid points
:meth:`DiscreteSchedule.marginal` interpolates :math:`\log\bar\alpha` linearly in ``t`` (with
:math:`\bar\alpha(0) = 1`), which makes the discrete schedule a VP process with piecewise-constant
:math:`\beta(t)`; on the grid it is exact.

Schedules: ``"linear"`` (Ho et al. 2020: :math:`\beta_n` evenly spaced from ``beta_start`` to
``beta_end``) and ``"cosine"`` (Nichol & Dhariwal 2021, ``diffusers``' ``"squaredcos_cap_v2"``):
:math:`\beta_n = \min\big(1 - f(\tfrac{n+1}{T}) / f(\tfrac{n}{T}),\, \beta_{\max}\big)` with
:math:`f(t) = \cos^2\!\big(\tfrac{t + s}{1 + s}\tfrac{\pi}{2}\big)`, so
:math:`\bar\alpha_n = f(t_n)/f(0)` wherever the cap is not active.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import check_choice, check_fraction, check_int, check_t, check_x

__all__ = ["DiscreteSchedule", "make_schedule", "make_betas", "timesteps", "step_to_time", "time_to_step",
           "SCHEDULES", "SPACINGS"]

SCHEDULES = ("linear", "cosine")
SPACINGS = ("leading", "trailing", "linspace")


def make_betas(name: str = "linear", T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02,
               cosine_s: float = 0.008, max_beta: float = 0.999, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> torch.Tensor:
    r"""The ``(T,)`` betas of a named schedule (see the module docstring for the formulas).

    Args:
        name: ``"linear"`` or ``"cosine"``.
        T: number of diffusion steps.
        beta_start, beta_end: first and last beta of the linear schedule (Ho et al.: 1e-4, 0.02).
        cosine_s: offset ``s`` of the cosine schedule (Nichol & Dhariwal: 0.008).
        max_beta: cap on the cosine betas (0.999).
    Returns:
        ``(T,)`` tensor of betas in ``(0, 1)``.
    """
    check_choice(name, "name", SCHEDULES)
    T = check_int(T, "T", low=1)
    if name == "linear":
        lo = check_fraction(beta_start, "beta_start", open_low=True, open_high=True)
        hi = check_fraction(beta_end, "beta_end", open_low=True, open_high=True)
        return torch.linspace(lo, hi, T, dtype=dtype, device=device)
    s = check_fraction(cosine_s, "cosine_s", 0.0, 1.0)
    cap = check_fraction(max_beta, "max_beta", open_low=True, open_high=True)

    def f(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1.0 - f((n + 1) / T) / f(n / T), cap) for n in range(T)]
    return torch.tensor(betas, dtype=dtype, device=device)


@dataclass(frozen=True, eq=False)
class DiscreteSchedule:
    r"""A DDPM schedule: betas and the quantities derived from them (all ``(T,)`` tensors).

    Build it with :func:`make_schedule`. ``alphas_cumprod[n]`` is :math:`\bar\alpha_n`, the
    signal fraction at integer step ``n`` (continuous time ``(n + 1) / T``).
    """

    betas: torch.Tensor

    def __post_init__(self):
        b = self.betas
        if not torch.is_tensor(b) or b.ndim != 1 or b.numel() < 1 or not torch.is_floating_point(b):
            raise ValueError("betas must be a 1-D floating-point tensor with at least one entry")
        if not bool(torch.isfinite(b).all()) or bool((b <= 0).any()) or bool((b >= 1).any()):
            raise ValueError("betas must be finite and lie in (0, 1)")

    @property
    def T(self) -> int:
        return int(self.betas.shape[0])

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.cumprod(1.0 - self.betas, dim=0)

    @property
    def alphas_cumprod_prev(self) -> torch.Tensor:
        """:math:`\\bar\\alpha_{n-1}` with :math:`\\bar\\alpha_{-1} = 1` (the data)."""
        ac = self.alphas_cumprod
        return torch.cat([torch.ones(1, dtype=ac.dtype, device=ac.device), ac[:-1]])

    @property
    def log_snr(self) -> torch.Tensor:
        r"""``(T,)`` :math:`\log \mathrm{SNR}_n = \log \bar\alpha_n - \log(1 - \bar\alpha_n)`."""
        ac = self.alphas_cumprod
        return torch.log(ac) - torch.log1p(-ac)

    @property
    def posterior_variance(self) -> torch.Tensor:
        r"""``(T,)`` :math:`\tilde\beta_n = \frac{1-\bar\alpha_{n-1}}{1-\bar\alpha_n}\beta_n` (0 at n = 0)."""
        return (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod) * self.betas

    def _grid(self) -> torch.Tensor:
        """``(T + 1,)`` :math:`\\log\\bar\\alpha` at ``t = k / T``, ``k = 0..T`` (0 at the data)."""
        la = torch.cumsum(torch.log1p(-self.betas), dim=0)
        return torch.cat([torch.zeros(1, dtype=la.dtype, device=la.device), la])

    def log_alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        r"""``(B,)`` :math:`\log\bar\alpha(t)`, piecewise linear in ``t``, exact at ``t = (n+1)/T``."""
        t = check_t(t)
        g = self._grid().to(t)
        u = t * self.T
        k = torch.clamp(torch.floor(u), 0, self.T - 1).long()
        frac = u - k.to(t.dtype)
        return g[k] + frac * (g[k + 1] - g[k])

    def marginal(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean coefficient and std of :math:`q(x_t \mid x_0) = \mathcal N(\alpha(t) x_0, \sigma(t)^2 I)`.

        Args:
            t: ``(B,)`` times in ``[0, 1]``.
        Returns:
            ``(alpha, sigma)``, each ``(B,)``, with :math:`\alpha^2 + \sigma^2 = 1`.
        """
        lab = self.log_alpha_bar(t)
        return torch.exp(0.5 * lab), torch.sqrt(-torch.expm1(lab))

    def add_noise(self, x0: torch.Tensor, n: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        r"""Sample :math:`q(x_n | x_0)`, :math:`x_n = \sqrt{\bar\alpha_n}x_0 + \sqrt{1-\bar\alpha_n}\epsilon`.

        Args:
            x0: ``(B, ...)`` data.
            n: ``(B,)`` integer steps in ``{0, ..., T-1}``.
            noise: standard normal noise shaped like ``x0``.
        Returns:
            ``(B, ...)`` noised data.
        """
        x0 = check_x(x0, "x0")
        n = check_steps(n, self.T, x0.shape[0])
        if not torch.is_tensor(noise) or noise.shape != x0.shape:
            raise ValueError(f"noise must be a tensor shaped like x0 {tuple(x0.shape)}")
        ac = self.alphas_cumprod.to(x0)[n].reshape(-1, *[1] * (x0.ndim - 1))
        return ac.sqrt() * x0 + (1.0 - ac).sqrt() * noise


def check_steps(n, T: int, batch: int | None = None, name: str = "n") -> torch.Tensor:
    """A ``(B,)`` integer tensor with entries in ``{0, ..., T-1}`` (any ``B >= 1`` if ``batch`` is None)."""
    want = "(B,)" if batch is None else f"({batch},)"
    if (not torch.is_tensor(n) or n.dtype not in (torch.int64, torch.int32) or n.ndim != 1 or n.numel() < 1
            or (batch is not None and n.shape[0] != batch)):
        raise ValueError(f"{name} must be an integer tensor of shape {want}")
    if bool((n < 0).any()) or bool((n >= T).any()):
        raise ValueError(f"{name} must lie in {{0, ..., {T - 1}}}")
    return n.long()


def make_schedule(name: str = "linear", T: int = 1000, **kwargs) -> DiscreteSchedule:
    """A :class:`DiscreteSchedule` from :func:`make_betas` (same arguments)."""
    return DiscreteSchedule(make_betas(name, T, **kwargs))


def step_to_time(n: torch.Tensor, T: int) -> torch.Tensor:
    """Continuous time ``(n + 1) / T`` (float64) of integer steps ``n`` in ``{0, ..., T-1}``."""
    T = check_int(T, "T", low=1)
    if not torch.is_tensor(n) or torch.is_floating_point(n):
        raise ValueError("n must be an integer tensor")
    if bool((n < 0).any()) or bool((n >= T).any()):
        raise ValueError(f"n must lie in {{0, ..., {T - 1}}}")
    return (n.to(torch.float64) + 1.0) / T


def time_to_step(t: torch.Tensor, T: int) -> torch.Tensor:
    """Integer step ``round(T t) - 1`` of times on the grid ``{1/T, ..., 1}`` (inverse of step_to_time)."""
    T = check_int(T, "T", low=1)
    t = check_t(t, low=1.0 / T - 1e-9)
    return torch.round(t * T).long() - 1


def timesteps(T: int, steps: int, spacing: str = "leading") -> torch.Tensor:
    r"""A decreasing subsequence of ``steps`` integer steps out of ``{0, ..., T-1}`` (for DDIM).

    The three spacings of ``diffusers`` (with ``steps_offset = 0``):

    * ``"leading"`` (DDIM paper, Song et al. 2021): ``n = i * (T // steps)``, ``i = 0..steps-1``;
      starts at ``(steps - 1) * (T // steps)``, so it may never visit the noisiest level.
    * ``"trailing"`` (Lin et al. 2024): ``round(T - i * T / steps) - 1``; always starts at ``T - 1``.
    * ``"linspace"``: ``round(linspace(0, T - 1, steps))``; contains both ``0`` and ``T - 1``.

    Returns:
        ``(steps,)`` int64 tensor, strictly decreasing.
    """
    T = check_int(T, "T", low=1)
    steps = check_int(steps, "steps", low=1, high=T)
    check_choice(spacing, "spacing", SPACINGS)
    i = torch.arange(steps, dtype=torch.float64)  # device-free: CPU step indices
    if spacing == "leading":
        n = i * (T // steps)
    elif spacing == "trailing":
        n = torch.round(T - i * (T / steps)) - 1
        return n.long()
    else:
        n = torch.round(torch.linspace(0, T - 1, steps, dtype=torch.float64))  # device-free: CPU step indices
    return n.long().flip(0)
