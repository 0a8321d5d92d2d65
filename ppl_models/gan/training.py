r"""Alternating GAN training through the shared loop :func:`ppl_models.train.train`.

Each step of the loop takes one real batch and makes one discriminator (critic) update

.. math:: \phi \leftarrow \phi - \eta_D \nabla_\phi \big[L_D(D_\phi(x), D_\phi(G_\theta(z)))
          + \lambda\,\mathrm{GP}\big],

and every ``n_critic``-th step also one generator update
:math:`\theta \leftarrow \theta - \eta_G \nabla_\theta L_G(D_\phi(G_\theta(z)))` with fresh noise.
The two players have separate Adam optimisers and learning rates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..train import torch_step, train
from ..validation import check_int
from .losses import get_loss, gradient_penalty, interpolate

__all__ = ["GANConfig", "GANHistory", "train_gan", "sample_generator", "TRAINING_VERSION"]

TRAINING_VERSION = 1  # bump when the training code changes what it produces


@dataclass(frozen=True)
class GANConfig:
    """Everything that defines a GAN training run (defaults: a DCGAN-like run)."""

    loss: str = "nonsaturating"        # "minimax", "nonsaturating", "wgan_gp" or "hinge"
    z_dim: int = 64                     # latent size; z ~ N(0, I)
    n_epochs: int = 20                  # passes over the data (one discriminator step per batch)
    batch_size: int = 64                # real rows (and samples) per discriminator step
    lr_g: float = 2e-4                  # generator Adam learning rate
    lr_d: float = 2e-4                  # discriminator Adam learning rate
    beta1: float = 0.5                  # Adam beta1 (0.5: DCGAN; WGAN-GP: 0.0 in the paper's
                                        # Algorithm 1, 0.5 in its toy-data code)
    beta2: float = 0.999                # Adam beta2 (0.9: WGAN-GP)
    n_critic: int = 1                   # discriminator steps per generator step (5: WGAN-GP)
    gp_weight: float = 10.0             # lambda of the gradient penalty (used by "wgan_gp" only)
    seed: int = 0                       # seeds the shuffling, the noise and the interpolation

    def __post_init__(self):
        get_loss(self.loss)
        for name in ("z_dim", "n_epochs", "batch_size", "n_critic"):
            check_int(getattr(self, name), name)
        check_int(self.seed, "seed", low=0)
        for name in ("lr_g", "lr_d"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"{name} must be > 0, got {v!r}")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1), got {v!r}")
        gp = self.gp_weight
        if isinstance(gp, bool) or not isinstance(gp, (int, float)) or gp < 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight!r}")

    def smoke(self) -> GANConfig:
        """The tiny variant for smoke runs: at most 2 epochs."""
        return replace(self, n_epochs=min(self.n_epochs, 2))


@dataclass
class GANHistory:
    """What :func:`train_gan` leaves behind.

    Attributes:
        d_loss: discriminator loss of every discriminator step (penalty included).
        g_loss: generator loss of every generator step.
        evals: ``(discriminator step, result)`` pairs from ``eval_fn``.
        d_steps, g_steps: update counts. seconds: wall-clock time.
    """

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    evals: list[tuple[int, Any]] = field(default_factory=list)
    d_steps: int = 0
    g_steps: int = 0
    seconds: float = 0.0


def _noise(n: int, z_dim: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(n, z_dim, generator=generator, dtype=like.dtype, device=like.device)


def train_gan(generator: nn.Module, discriminator: nn.Module, x: torch.Tensor, cfg: GANConfig, *,
              eval_fn: Callable[[int], Any] | None = None, eval_every: int | None = None,
              progress: bool | None = None) -> GANHistory:
    r"""Train ``generator`` and ``discriminator`` in place on data ``x (N, ...)``.

    Args:
        generator: ``z (B, cfg.z_dim) -> (B, ...)`` shaped like rows of ``x``.
        discriminator: ``x (B, ...) -> (B,)`` logits (or critic scores for WGAN-GP / hinge).
        x: ``(N, ...)`` training data on the networks' device.
        cfg: a :class:`GANConfig`.
        eval_fn: called as ``eval_fn(d_step)`` every ``eval_every`` discriminator steps and at
            the end (e.g. mode coverage of fresh samples); results go to ``history.evals``.
        progress: tqdm bar (default: on except in smoke/CI mode).

    Returns:
        A :class:`GANHistory`.
    """
    if not isinstance(cfg, GANConfig):
        raise ValueError(f"cfg must be a GANConfig, got {type(cfg).__name__}")
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(net, nn.Module):
            raise ValueError(f"{name} must be an nn.Module, got {type(net).__name__}")
    if not torch.is_tensor(x) or not torch.is_floating_point(x) or x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must be a non-empty (N, ...) float tensor, got {getattr(x, 'shape', x)}")
    loss = get_loss(cfg.loss)
    gen = torch.Generator(device=x.device).manual_seed(cfg.seed + 1)   # noise and interpolation
    betas = (cfg.beta1, cfg.beta2)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=betas)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=betas)
    hist = GANHistory()
    generator.train()
    discriminator.train()

    def d_loss_fn(xb: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = generator(_noise(xb.shape[0], cfg.z_dim, gen, xb))
        out = loss.d(discriminator(xb), discriminator(fake))
        if loss.penalty and cfg.gp_weight > 0:
            out = out + cfg.gp_weight * gradient_penalty(discriminator, interpolate(xb, fake, gen))
        return out

    def g_loss_fn(n: int, like: torch.Tensor) -> torch.Tensor:
        return loss.g(discriminator(generator(_noise(n, cfg.z_dim, gen, like))))

    d_step, g_step = torch_step(d_loss_fn, opt_d), torch_step(g_loss_fn, opt_g)

    def step(xb: torch.Tensor) -> float:
        d = d_step(xb)
        hist.d_loss.append(d)
        hist.d_steps += 1
        if hist.d_steps % cfg.n_critic == 0:
            hist.g_loss.append(g_step(cfg.batch_size, xb))
            hist.g_steps += 1
        return d

    th = train(step, x, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, eval_fn=eval_fn, eval_every=eval_every,
               progress=progress, desc=f"gan ({cfg.loss})")
    hist.evals, hist.seconds = th.evals, th.seconds
    generator.eval()
    discriminator.eval()
    return hist


@torch.no_grad()
def sample_generator(generator: nn.Module, n: int, z_dim: int, generator_rng: torch.Generator | None = None,
                     batch_size: int = 1000) -> torch.Tensor:
    """``n`` samples ``G(z)``, ``z ~ N(0, I)``, in eval mode (batch norm uses running statistics).

    Args:
        generator: ``z (B, z_dim) -> (B, ...)``. n: number of samples. z_dim: latent size.
        generator_rng: a ``torch.Generator`` on the network's device (None: the global RNG).
        batch_size: samples per forward pass.

    Returns:
        ``(n, ...)`` samples on the network's device.
    """
    if not isinstance(generator, nn.Module):
        raise ValueError(f"generator must be an nn.Module, got {type(generator).__name__}")
    check_int(n, "n")
    check_int(z_dim, "z_dim")
    check_int(batch_size, "batch_size")
    p = next(generator.parameters())
    was_training = generator.training
    generator.eval()
    out = []
    for s in range(0, n, batch_size):
        m = min(batch_size, n - s)
        out.append(generator(torch.randn(m, z_dim, generator=generator_rng, dtype=p.dtype, device=p.device)))
    generator.train(was_training)
    return torch.cat(out)
