"""Gaussian mixtures (and, in :mod:`.bernoulli`, Bernoulli mixtures for binary images):
densities and EM as pure functions on tensors, plus the same Gaussian mixture as a
Pyro program (enumeration + MAP) and a NumPyro program (NUTS with the assignments marginalised).

    from ppl_models.mixtures import fit_gmm, gmm_log_likelihood, gmm_responsibilities, \
        gmm_sample, GMMParams

Everything runs on the input's device and dtype (float32 or float64).
"""

from .bernoulli import (
    BMMConfig,
    BMMFit,
    BMMParams,
    bmm_component_log_prob,
    bmm_log_likelihood,
    bmm_m_step,
    bmm_n_parameters,
    bmm_responsibilities,
    bmm_sample,
    check_bmm_params,
    fit_bmm,
)
from .em import (
    EMPTY_COUNT,
    GMMConfig,
    GMMFit,
    fit_gmm,
    gmm_e_step,
    gmm_m_step,
    init_gmm,
    kmeans_plusplus,
)
from .gmm import (
    GMMParams,
    GMMSample,
    gmm_bic,
    gmm_component_log_prob,
    gmm_log_likelihood,
    gmm_n_parameters,
    gmm_responsibilities,
    gmm_sample,
    precision_cholesky,
)

__all__ = [
    "GMMParams", "GMMSample", "GMMFit", "GMMConfig", "EMPTY_COUNT",
    "gmm_component_log_prob", "gmm_log_likelihood", "gmm_responsibilities", "gmm_sample",
    "gmm_n_parameters", "gmm_bic", "precision_cholesky",
    "gmm_e_step", "gmm_m_step", "kmeans_plusplus", "init_gmm", "fit_gmm",
    "BMMParams", "BMMConfig", "BMMFit", "check_bmm_params", "bmm_component_log_prob", "bmm_log_likelihood",
    "bmm_responsibilities", "bmm_m_step", "fit_bmm", "bmm_sample", "bmm_n_parameters",
]
