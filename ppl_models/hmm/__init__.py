"""Hidden Markov models: exact log-space inference (sequential and parallel scan), emissions, Baum-Welch.

The inference functions are emission-agnostic and take ``(log_init (K,), log_trans (K, K),
log_lik (..., T, K))``; :mod:`ppl_models.hmm.parallel` holds their associative-scan twins with the
same names. Bayesian HMMs live in :mod:`ppl_models.hmm.pyro_models` and
:mod:`ppl_models.hmm.numpyro_models` (imported on demand, not here).
"""

from ppl_models.hmm.emissions import (
    CategoricalParams,
    Emission,
    GaussianDiagParams,
    GaussianFullParams,
    PoissonParams,
    categorical_emission,
    categorical_log_lik,
    categorical_m_step,
    gaussian_diag_emission,
    gaussian_diag_log_lik,
    gaussian_diag_m_step,
    gaussian_full_emission,
    gaussian_full_log_lik,
    gaussian_full_m_step,
    poisson_emission,
    poisson_log_lik,
    poisson_m_step,
)
from ppl_models.hmm.inference import (
    HMMPosterior,
    HMMPosteriorFiltered,
    ViterbiResult,
    hmm_filter,
    hmm_log_likelihood,
    hmm_sample_posterior,
    hmm_smoother,
    hmm_viterbi,
)
from ppl_models.hmm.learning import HMMFit, HMMParams, bic, em_step, fit_hmm, hmm_log_lik_terms, sample_hmm

__all__ = [
    "CategoricalParams", "Emission", "GaussianDiagParams", "GaussianFullParams", "PoissonParams",
    "categorical_emission", "categorical_log_lik", "categorical_m_step", "gaussian_diag_emission",
    "gaussian_diag_log_lik", "gaussian_diag_m_step", "gaussian_full_emission", "gaussian_full_log_lik",
    "gaussian_full_m_step", "poisson_emission", "poisson_log_lik", "poisson_m_step",
    "HMMPosterior", "HMMPosteriorFiltered", "ViterbiResult", "hmm_filter", "hmm_log_likelihood",
    "hmm_sample_posterior", "hmm_smoother", "hmm_viterbi",
    "HMMFit", "HMMParams", "bic", "em_step", "fit_hmm", "hmm_log_lik_terms", "sample_hmm",
]
