"""Energy-based models: the restricted Boltzmann machine (block Gibbs sampling, CD-k / PCD-k
training, exact and AIS partition functions, test-set likelihood) and Langevin samplers
(ULA, MALA) for any differentiable log-density.
"""

from .ais import (
    AISResult,
    NLLResult,
    ais_betas,
    ais_log_partition,
    base_rate_bias,
    exact_log_likelihood,
    exact_log_partition,
    rbm_nll,
)
from .langevin import LangevinResult, langevin_temperature, langevin_update_scales, mala, ula
from .rbm import RBM, check_binary
from .training import (
    CDResult,
    RBMConfig,
    cd_step,
    contrastive_divergence,
    init_rbm,
    make_optimizer,
    train_rbm,
)

__all__ = [
    "RBM", "check_binary", "RBMConfig", "CDResult", "init_rbm", "contrastive_divergence", "make_optimizer",
    "cd_step", "train_rbm", "AISResult", "NLLResult", "exact_log_partition", "exact_log_likelihood",
    "base_rate_bias", "ais_betas", "ais_log_partition", "rbm_nll", "LangevinResult", "ula", "mala",
    "langevin_temperature", "langevin_update_scales",
]
