"""Generative adversarial networks: the losses of the game (minimax, non-saturating, WGAN-GP,
hinge), alternating training through the shared loop, and mode coverage on a known mixture.

The networks come from :mod:`ppl_models.nets` (an :class:`~ppl_models.nets.MLP` on 2-D data, the
:class:`~ppl_models.nets.ConvGenerator` and the DCGAN-style
:class:`~ppl_models.nets.ConvDiscriminator` on images); the cached models of chapter 09 are in
:mod:`.recipes`.
"""

from .evaluation import ModeCoverage, mode_coverage
from .losses import (
    LOSSES,
    GANLoss,
    gan_value,
    get_loss,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
    interpolate,
    minimax_d_loss,
    minimax_g_loss,
    nonsaturating_g_loss,
    wgan_d_loss,
    wgan_g_loss,
)
from .training import TRAINING_VERSION, GANConfig, GANHistory, sample_generator, train_gan

MODEL_VERSION = TRAINING_VERSION  # the cache key's version for every GAN recipe

__all__ = [
    "MODEL_VERSION", "TRAINING_VERSION", "GANConfig", "GANHistory", "train_gan", "sample_generator",
    "ModeCoverage", "mode_coverage", "LOSSES", "GANLoss", "get_loss", "gan_value", "minimax_d_loss",
    "minimax_g_loss", "nonsaturating_g_loss", "wgan_d_loss", "wgan_g_loss", "hinge_d_loss", "hinge_g_loss",
    "gradient_penalty", "interpolate",
]
