"""Flow matching and continuous normalising flows.

The parts meet through one closure ``velocity_fn(x, t)`` with ``t`` a ``(B,)`` tensor in ``[0, 1]``:
``t = 0`` the data and ``t = 1`` the noise (or source), the convention of the whole package. Many
flow-matching papers and libraries put the data at ``t = 1``; their ``t`` is our ``1 - t``.

* :mod:`.paths`: probability paths (straight / conditional OT, variance-preserving), ``x_t`` and
  ``u_t``, converters between velocity, noise and data predictions, the exact velocity of a mixture.
* :mod:`.losses`: the conditional flow-matching loss and exact mini-batch OT coupling.
* :mod:`.ode`: Euler, midpoint and Heun samplers of our own and adaptive ``torchdiffeq``; all report NFE.
* :mod:`.likelihood`: log-likelihood by the instantaneous change of variables (exact / Hutchinson).
* :mod:`.reflow`: reflow pairs and the straightness of paths.
* :mod:`.training`: :func:`train_flow`, the loop of chapter 07's denoiser with the flow target.
* :mod:`.targets`: exact 2-D densities (two moons, checkerboard).
"""

from .likelihood import log_likelihood
from .losses import cfm_loss, draw_times, ot_coupling
from .ode import SOLVERS, FlowSamples, euler_step, evals_per_step, heun_step, midpoint_step, sample, solve
from .paths import (
    CondOTPath,
    VPPath,
    check_path,
    eps_from_velocity,
    marginal_velocity_gmm,
    sample_path,
    velocity_from_eps,
    x0_from_velocity,
)
from .reflow import ReflowPairs, reflow_pairs, straightness
from .targets import Checkerboard, TwoMoons
from .training import COUPLINGS, MODEL_VERSION, FlowConfig, train_flow

__all__ = [
    "CondOTPath", "VPPath", "check_path", "sample_path", "velocity_from_eps", "eps_from_velocity",
    "x0_from_velocity", "marginal_velocity_gmm", "cfm_loss", "draw_times", "ot_coupling",
    "SOLVERS", "FlowSamples", "solve", "sample", "euler_step", "midpoint_step", "heun_step", "evals_per_step",
    "log_likelihood", "ReflowPairs", "reflow_pairs", "straightness", "TwoMoons", "Checkerboard",
    "COUPLINGS", "FlowConfig", "train_flow", "MODEL_VERSION",
]
