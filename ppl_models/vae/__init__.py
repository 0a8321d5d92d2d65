"""Variational autoencoders in Pyro: one module with ``model``/``guide`` (networks from
:mod:`ppl_models.nets`), variants (beta-VAE via ``cfg.beta``, conditional VAE, semi-supervised
M2, linear-Gaussian VAE) and training with KL warm-up. Held-out likelihoods live in
:mod:`ppl_models.metrics`.
"""

from ..nets import ARCHITECTURES, MLP, Decoder, Encoder
from .config import ELBOS, LIKELIHOODS, VAEConfig
from .model import VAE, check_data
from .training import kl_weight, make_elbo, train_m2, train_vae
from .variants import M2, ConditionalVAE, LinearGaussianVAE, one_hot

# Bump when VAE code changes what training produces (cached checkpoints then retrain).
# 2: initial weights seeded by cfg.seed, whatever the global RNG state.
MODEL_VERSION = 2

__all__ = [
    "VAEConfig", "LIKELIHOODS", "ELBOS", "ARCHITECTURES", "VAE", "check_data", "MLP", "Encoder",
    "Decoder", "kl_weight", "make_elbo", "train_vae", "train_m2", "M2", "ConditionalVAE",
    "LinearGaussianVAE", "one_hot",
]
