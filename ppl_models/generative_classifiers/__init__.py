"""Generative classifiers: class-conditional Gaussians (full / diag = naive Bayes / tied = LDA /
Ledoit-Wolf shrinkage / PPCA covariances), prior-shift adaptation and calibration metrics, and
learning-curve helpers for comparing them with discriminative models (chapter 01).
"""

from .gaussian import (
    COVARIANCE_TYPES,
    GaussianClassifierParams,
    class_log_likelihood,
    fit_gaussian_classifier,
    ledoit_wolf_shrinkage,
    n_covariance_parameters,
    predict_log_proba,
    sample_class_conditional,
    with_prior,
)
from .learning_curves import LearningCurves, crossover, learning_curves, stratified_subsample
from .prior_shift import (
    PriorEMResult,
    adjust_log_proba,
    estimate_prior_em,
    expected_calibration_error,
    log_loss,
    prior_counts,
    sample_with_prior,
)

__all__ = [
    "COVARIANCE_TYPES", "GaussianClassifierParams", "fit_gaussian_classifier", "class_log_likelihood",
    "predict_log_proba", "with_prior", "sample_class_conditional", "ledoit_wolf_shrinkage",
    "n_covariance_parameters",
    "PriorEMResult", "adjust_log_proba", "estimate_prior_em", "log_loss", "expected_calibration_error",
    "sample_with_prior", "prior_counts",
    "LearningCurves", "learning_curves", "crossover", "stratified_subsample",
]
