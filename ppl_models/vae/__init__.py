"""Variational autoencoders in Pyro: one module with ``model``/``guide``, shared networks,
variants (beta-VAE via ``cfg.beta``, conditional VAE, semi-supervised M2, linear-Gaussian VAE)
and training with KL warm-up. Held-out likelihoods live in :mod:`ppl_models.metrics`.
"""

from .config import ELBOS, LIKELIHOODS, VAEConfig
from .model import VAE, check_data
from .networks import ARCHITECTURES, MLP, Decoder, Encoder
from .training import kl_weight, make_elbo, train_m2, train_vae
from .variants import M2, ConditionalVAE, LinearGaussianVAE, one_hot

MODEL_VERSION = 1  # bump when VAE code changes what training produces: cached checkpoints retrain

__all__ = [
    "VAEConfig", "LIKELIHOODS", "ELBOS", "ARCHITECTURES", "VAE", "check_data", "MLP", "Encoder",
    "Decoder", "kl_weight", "make_elbo", "train_vae", "train_m2", "M2", "ConditionalVAE",
    "LinearGaussianVAE", "one_hot",
]
