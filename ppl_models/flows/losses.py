r"""The conditional flow-matching loss and mini-batch optimal-transport coupling.

**Conditional flow matching** (Lipman et al. 2023, eq. 9; Liu et al. 2023; Albergo & Vanden-Eijnden
2023): regress a velocity network on the velocity of the *conditional* path,

.. math:: \mathcal L_\text{CFM}(\theta) = \mathbb E_{t, x_0, \varepsilon}
          \big\|v_\theta(x_t, t) - u_t(x_0, \varepsilon)\big\|^2 .

Its gradient equals that of the intractable marginal loss
:math:`\mathcal L_\text{FM} = \mathbb E_{t, x_t}\|v_\theta(x_t, t) - v(x_t, t)\|^2`
(the two differ by a constant independent of :math:`\theta`, Lipman et al. Theorem 2), because
:math:`v(x, t) = \mathbb E[u_t \mid x_t = x]`. Nothing is simulated during training.

**Mini-batch OT** (Tong et al. 2024; Pooladian et al. 2023): pair the ``B`` data points of a batch
with the ``B`` noise draws by the permutation that minimises :math:`\sum_i\|x_0^i - \varepsilon^{\pi(i)}\|^2`
(an exact assignment, ``scipy.optimize.linear_sum_assignment``). The pairs cross less, so the
learned paths are straighter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..diffusion._checks import check_fraction, check_generator, check_t, check_x
from .paths import check_path, sample_path

__all__ = ["cfm_loss", "ot_coupling", "draw_times"]

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def draw_times(n: int, t_min: float = 0.0, t_max: float = 1.0, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    r"""``(n,)`` times :math:`t \sim U(t_{\min}, t_{\max})`."""
    check_generator(generator)
    u = torch.rand(n, generator=generator, dtype=dtype, device=device)
    return t_min + (t_max - t_min) * u


def cfm_loss(velocity_fn: ModelFn, x0: torch.Tensor, path, generator: torch.Generator | None = None,
             t: torch.Tensor | None = None, noise: torch.Tensor | None = None, t_min: float = 0.0,
             t_max: float = 1.0) -> torch.Tensor:
    r"""Per-example conditional flow-matching loss :math:`\|v_\theta(x_t, t) - u_t\|^2`, averaged over dims.

    Args:
        velocity_fn: ``velocity_fn(x_t, t) -> (B, ...)``.
        x0: ``(B, ...)`` data.
        path: a :class:`.CondOTPath` / :class:`.VPPath`.
        generator: draws ``t ~ U(t_min, t_max)`` and the noise when they are not given.
        t: ``(B,)`` times; noise: ``(B, ...)`` noise paired with ``x0`` (e.g. from :func:`ot_coupling`
            or a reflow pair).
    Returns:
        ``(B,)`` loss (mean squared error over the non-batch axes).
    """
    if not callable(velocity_fn):
        raise ValueError("velocity_fn must be callable as velocity_fn(x, t)")
    x0 = check_x(x0, "x0")
    check_path(path)
    check_generator(generator)
    t_min = check_fraction(t_min, "t_min", 0.0, 1.0, open_high=True)
    t_max = check_fraction(t_max, "t_max", t_min, 1.0, open_low=True)
    if t is None:
        t = draw_times(x0.shape[0], t_min, t_max, generator, x0.dtype, x0.device)
    t = check_t(t, x0.shape[0], low=t_min, high=t_max)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    x_t, u_t = sample_path(path, x0, t, noise)
    pred = velocity_fn(x_t, t)
    if not torch.is_tensor(pred) or pred.shape != x0.shape:
        raise ValueError(f"velocity_fn must return a tensor shaped like x0 {tuple(x0.shape)}")
    return (pred - u_t).pow(2).reshape(x0.shape[0], -1).mean(1)


def ot_coupling(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    r"""The noise rows re-ordered by the exact minimum-cost assignment to the data rows.

    Solves :math:`\min_\pi \sum_i \|x_0^i - \varepsilon^{\pi(i)}\|^2` over permutations (Hungarian
    algorithm, ``scipy.optimize.linear_sum_assignment``, :math:`O(B^3)`) and returns
    :math:`(\varepsilon^{\pi(1)}, \dots, \varepsilon^{\pi(B)})`.

    Args:
        x0: ``(B, ...)`` data; noise: ``(B, ...)`` noise of the same shape.
    Returns:
        ``(B, ...)``: ``noise[perm]``.
    """
    from scipy.optimize import linear_sum_assignment

    x0 = check_x(x0, "x0")
    noise = check_x(noise, "noise")
    if noise.shape != x0.shape:
        raise ValueError(f"noise must be shaped like x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
    with torch.no_grad():
        a, b = x0.reshape(x0.shape[0], -1).double(), noise.reshape(noise.shape[0], -1).double()
        cost = torch.cdist(a, b) ** 2
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    perm = torch.from_numpy(np.asarray(cols)[np.argsort(rows)]).to(noise.device)
    return noise[perm]
