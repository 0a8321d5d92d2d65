"""Cached models of chapter 09, as :class:`ppl_models.checkpoint.Recipe` objects.

* ``ch09_ring_<loss>``: for each of three losses (minimax, non-saturating, WGAN-GP) one small
  MLP generator per seed on the eight-Gaussians ring; the state holds every seed's generator
  (``"<seed>.<param>"``, an ``nn.ModuleList``) and ``extra`` the mode coverage during training.
* ``ch09_dcgan_mnist``: a DCGAN-style generator on MNIST-5k in [-1, 1] (non-saturating loss).

Each function takes only ``smoke`` and builds the exact name, config, data and version the
chapter passes to ``checkpoint.run_recipe``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .. import checkpoint, data
from ..classifier import to_signed
from ..exact2d import eight_gaussians
from ..nets import MLP, ConvGenerator
from ..nets.discriminator import ConvDiscriminator
from .evaluation import mode_coverage
from .training import TRAINING_VERSION, GANConfig, sample_generator, train_gan

__all__ = ["ch09_ring_minimax", "ch09_ring_nonsaturating", "ch09_ring_wgan_gp", "ch09_dcgan_mnist",
           "RING_STD", "RING_HIDDEN", "ring_data", "ring_generator", "ring_discriminator", "ring_config",
           "dcgan_config", "dcgan_generator", "dcgan_discriminator", "DCGAN_CHANNELS"]

RING_STD = 0.1                 # standard deviation of each of the eight Gaussians (radius 2)
RING_HIDDEN = (128, 128, 128)  # hidden widths of the 2-D generator and discriminator
DCGAN_CHANNELS = {"generator": (32, 16), "discriminator": (32, 64)}


def ring_data(smoke: bool) -> torch.Tensor:
    """The fixed training set: 10,000 (smoke: 2,000) float32 points from the ring, seed 1."""
    gen = torch.Generator().manual_seed(1)
    return eight_gaussians(noise=RING_STD).sample(2_000 if smoke else 10_000, gen).float()


def ring_generator(seed: int, z_dim: int = 2) -> MLP:
    """``z (B, z_dim) -> x (B, 2)``: a ReLU MLP."""
    return MLP(z_dim, RING_HIDDEN, 2, activation="relu", seed=seed)


def ring_discriminator(seed: int) -> nn.Sequential:
    """``x (B, 2) -> (B,)`` logits: a leaky-ReLU MLP whose ``(B, 1)`` output is flattened."""
    return nn.Sequential(MLP(2, RING_HIDDEN, 1, activation="leaky_relu", seed=seed), nn.Flatten(0))


def ring_config(loss: str, smoke: bool) -> tuple[GANConfig, tuple[int, ...]]:
    """The training config shared by the seeds of one loss, and the seeds (5; smoke: 2)."""
    if loss == "wgan_gp":   # Gulrajani et al.'s toy-data code: Adam(beta1=0.5, beta2=0.9) (their
        # Algorithm 1 uses beta1 = 0), five critic steps per generator step
        cfg = GANConfig(loss=loss, z_dim=2, n_epochs=60, batch_size=256, lr_g=5e-4, lr_d=5e-4, beta1=0.5,
                        beta2=0.9, n_critic=5, gp_weight=10.0)
    else:
        cfg = GANConfig(loss=loss, z_dim=2, n_epochs=60, batch_size=256, lr_g=1e-3, lr_d=1e-3)
    if smoke:
        return dataclasses.replace(cfg, n_epochs=4), (0, 1)
    return cfg, (0, 1, 2, 3, 4)


def _ring(loss: str, smoke: bool) -> checkpoint.Recipe:
    x = ring_data(smoke)
    cfg, seeds = ring_config(loss, smoke)
    means = eight_gaussians(noise=RING_STD).means.float()
    eval_every = max(1, cfg.n_epochs * (x.shape[0] // cfg.batch_size + 1) // 10)

    def train_fn():
        gens, evals, seconds = nn.ModuleList(), {}, {}
        for seed in seeds:
            G, D = ring_generator(seed, cfg.z_dim), ring_discriminator(seed + 100)

            def ev(step, G=G):
                s = sample_generator(G, 2000, cfg.z_dim, torch.Generator().manual_seed(0))
                m = mode_coverage(s, means, RING_STD)
                return {"modes": m.n_covered, "high_quality": m.high_quality}

            h = train_gan(G, D, x, dataclasses.replace(cfg, seed=seed), eval_fn=ev, eval_every=eval_every)
            gens.append(G)
            evals[str(seed)] = [(s, e) for s, e in h.evals]
            seconds[str(seed)] = h.seconds
        return gens.state_dict(), {"evals": evals, "seconds": seconds}

    def make_model():
        return nn.ModuleList([ring_generator(s, cfg.z_dim) for s in seeds])

    return checkpoint.Recipe(name=f"ch09_ring_{loss}",
                             cfg={"gan": dataclasses.asdict(cfg), "seeds": list(seeds),
                                  "hidden": list(RING_HIDDEN), "std": RING_STD},
                             train_fn=train_fn, data=x, version=TRAINING_VERSION, make_model=make_model)


def ch09_ring_minimax(smoke: bool) -> checkpoint.Recipe:
    """Chapter 09's ring GANs trained with the minimax generator loss, one per seed."""
    return _ring("minimax", smoke)


def ch09_ring_nonsaturating(smoke: bool) -> checkpoint.Recipe:
    """Chapter 09's ring GANs trained with the non-saturating generator loss, one per seed."""
    return _ring("nonsaturating", smoke)


def ch09_ring_wgan_gp(smoke: bool) -> checkpoint.Recipe:
    """Chapter 09's ring GANs trained as WGAN-GP, one per seed."""
    return _ring("wgan_gp", smoke)


def dcgan_config(smoke: bool) -> GANConfig:
    """DCGAN's recipe (Radford et al. 2016): Adam(2e-4, beta1 = 0.5), batch 64, non-saturating loss."""
    cfg = GANConfig(loss="nonsaturating", z_dim=32, n_epochs=25, batch_size=64, lr_g=2e-4, lr_d=2e-4)
    return cfg.smoke() if smoke else cfg


def dcgan_generator(z_dim: int, smoke: bool) -> ConvGenerator:
    """``z (B, z_dim) -> (B, 1, 28, 28)`` in [-1, 1] (smoke: narrower)."""
    return ConvGenerator(z_dim, (28, 28), (8, 4) if smoke else DCGAN_CHANNELS["generator"], seed=0)


def dcgan_discriminator(smoke: bool) -> ConvDiscriminator:
    """``x (B, 1, 28, 28) -> (B,)`` logits (smoke: narrower)."""
    return ConvDiscriminator((28, 28), (8, 16) if smoke else DCGAN_CHANNELS["discriminator"], seed=1)


def ch09_dcgan_mnist(smoke: bool) -> checkpoint.Recipe:
    """Chapter 09's DCGAN-style generator on MNIST-5k (smoke: 512 images, 2 epochs, narrow nets)."""
    mnist = data.load_mnist5k()
    x = to_signed(mnist.x_train).view(-1, 1, 28, 28)
    if smoke:
        x = x[:512]
    cfg = dcgan_config(smoke)

    def train_fn():
        G, D = dcgan_generator(cfg.z_dim, smoke), dcgan_discriminator(smoke)
        h = train_gan(G, D, x, cfg)
        return G.state_dict(), {"d_loss": h.d_loss, "g_loss": h.g_loss, "seconds": h.seconds,
                                "discriminator": D.state_dict()}

    channels = {"generator": [8, 4], "discriminator": [8, 16]} if smoke else \
        {k: list(v) for k, v in DCGAN_CHANNELS.items()}
    return checkpoint.Recipe(name="ch09_dcgan_mnist",
                             cfg={"gan": dataclasses.asdict(cfg), "channels": channels},
                             train_fn=train_fn, data=x, version=TRAINING_VERSION,
                             make_model=lambda: dcgan_generator(cfg.z_dim, smoke))
