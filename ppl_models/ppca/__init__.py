"""Probabilistic PCA and factor analysis: closed form, EM, densities, posteriors, sampling, and
the same PPCA model as a Pyro program fitted by SVI.

    from ppl_models.ppca import ppca_mle, ppca_em, ppca_log_likelihood, ppca_posterior, \
        ppca_sample, fa_em, fa_log_likelihood, PPCAParams

All functions are pure (tensors in, tensors/NamedTuples out) and keep the input's dtype/device.
"""

from .fa import FAEMResult, FAParams, fa_em, fa_log_likelihood, fa_sample
from .ppca import (
    PPCAEMResult,
    PPCAParams,
    ppca_em,
    ppca_log_likelihood,
    ppca_mle,
    ppca_posterior,
    ppca_sample,
    principal_angles,
)
from .pyro_ppca import PPCASVIResult, ppca_model, ppca_svi

__all__ = [
    "PPCAParams", "PPCAEMResult", "ppca_mle", "ppca_em", "ppca_log_likelihood", "ppca_posterior",
    "ppca_sample", "principal_angles",
    "FAParams", "FAEMResult", "fa_em", "fa_log_likelihood", "fa_sample",
    "PPCASVIResult", "ppca_model", "ppca_svi",
]
