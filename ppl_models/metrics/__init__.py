"""Evaluation metrics: held-out likelihoods and sample quality.

- :mod:`.likelihood`: ELBO, the importance-weighted bound (IWAE), exact held-out likelihoods,
  Parzen windows and unit conversions (nats per image, bits per dimension).
- :mod:`.sample_quality`: distances between sets of feature vectors (Fréchet distance, kernel
  distance, precision / recall / density / coverage, RBF-kernel MMD, exact empirical
  2-Wasserstein) and the train-versus-test floor a perfect model would score.

Everything public is re-exported here, so ``from ppl_models import metrics;
metrics.iwae_bound(...)`` and ``metrics.sample_quality(...)`` both work.
"""

from .likelihood import (
    bits_per_dim,
    elbo,
    heldout_log_likelihood,
    iwae_bound,
    iwae_ladder,
    log_mean_exp,
    nats_per_image,
    parzen_log_likelihood,
    pyro_log_weights,
)
from .sample_quality import (
    PRDC,
    SampleQuality,
    compute_features,
    floor,
    frechet_distance,
    frechet_distance_from_moments,
    kernel_distance,
    kernel_distance_subsets,
    mmd_rbf,
    prdc,
    sample_quality,
    wasserstein2_empirical,
)

__all__ = [
    # likelihood
    "log_mean_exp", "iwae_bound", "elbo", "nats_per_image", "iwae_ladder", "bits_per_dim",
    "pyro_log_weights", "heldout_log_likelihood", "parzen_log_likelihood",
    # sample quality
    "frechet_distance", "frechet_distance_from_moments", "kernel_distance", "kernel_distance_subsets",
    "PRDC", "prdc", "mmd_rbf", "wasserstein2_empirical", "SampleQuality", "sample_quality",
    "compute_features", "floor",
]
