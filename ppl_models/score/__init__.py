r"""Score matching and noise-conditional score networks (NCSN).

Every function here takes a closure ``score_fn(x, sigma)`` that returns a tensor shaped like
``x`` (``(B, D)`` toy points or ``(B, C, H, W)`` images; ``sigma`` a number or a ``(B,)``
tensor), so an exact 2-D oracle in a test and a network from :mod:`ppl_models.nets` in a
chapter run through the same code. Networks live in :mod:`ppl_models.nets`, never here.

* :mod:`.matching`: :func:`esm_loss` (explicit), :func:`ism_loss` (Hyvärinen's implicit,
  exact Jacobian trace), :func:`ssm_loss` (sliced, Gaussian/Rademacher projections, with or
  without variance reduction).
* :mod:`.denoising`: :func:`dsm_loss` (Vincent's denoising objective at one level),
  :func:`ncsn_loss` (the ladder with :math:`\lambda(\sigma) = \sigma^2`),
  :func:`tweedie_denoise`.
* :mod:`.ladder`: :func:`geometric_sigmas`, :func:`check_ladder`, :func:`overlap_ratio`.
* :mod:`.sampling`: :func:`langevin` (one level, via :func:`ppl_models.ebm.ula`) and
  :func:`annealed_langevin` (NCSN, Algorithm 1, final Tweedie step), both returning samples
  and NFE.
* :mod:`.training`: :class:`ScoreTrainConfig`, :func:`noise_conditional_score`,
  :func:`train_score_net` (any objective on a ladder, EMA weights).
"""

from .denoising import dsm_loss, ncsn_loss, tweedie_denoise
from .ladder import check_ladder, geometric_sigmas, overlap_ratio
from .matching import PROJECTIONS, esm_loss, ism_loss, ssm_loss
from .sampling import AnnealedLangevinResult, annealed_langevin, langevin
from .training import OBJECTIVES, TRAINING_VERSION, ScoreTrainConfig, noise_conditional_score, train_score_net

__all__ = [
    "esm_loss", "ism_loss", "ssm_loss", "PROJECTIONS", "dsm_loss", "ncsn_loss", "tweedie_denoise",
    "geometric_sigmas", "check_ladder", "langevin", "annealed_langevin",
    "AnnealedLangevinResult", "overlap_ratio", "OBJECTIVES", "TRAINING_VERSION", "ScoreTrainConfig",
    "noise_conditional_score", "train_score_net",
]
