"""Energy-based models: the restricted Boltzmann machine (block Gibbs sampling, CD-k / PCD-k
training, exact and AIS partition functions, test-set likelihood) and Langevin samplers
(ULA, MALA) for any differentiable log-density; deep EBMs trained by contrastive divergence with
short-run Langevin and a replay buffer, and by the exact maximum-likelihood gradient on a 2-D grid.
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
from .deep import (
    MODEL_VERSION,
    DeepEBMConfig,
    EBMHistory,
    GridMLConfig,
    ReplayBuffer,
    contrastive_loss,
    ebm_step,
    grid_log_partition,
    grid_nll,
    grid_points,
    sample_langevin,
    train_ebm,
    train_grid_ml,
    uniform_noise,
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
    "langevin_temperature", "langevin_update_scales", "MODEL_VERSION", "DeepEBMConfig", "GridMLConfig",
    "ReplayBuffer", "EBMHistory", "uniform_noise", "sample_langevin", "contrastive_loss", "ebm_step",
    "train_ebm", "grid_points", "grid_log_partition", "grid_nll", "train_grid_ml",
]
