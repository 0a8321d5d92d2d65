"""The VAE configuration: one frozen dataclass with commented defaults and ``.smoke()``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..nets import check_image_shape

__all__ = ["VAEConfig", "LIKELIHOODS", "ELBOS"]

LIKELIHOODS = ("bernoulli", "gaussian")
ELBOS = ("trace", "meanfield")


@dataclass(frozen=True)
class VAEConfig:
    """Everything that defines a VAE and its training run.

    The defaults are the Pyro-tutorial sizes (one hidden layer of 400 units, 50 latents,
    Adam 1e-3) for binarised 28x28 images.
    """

    image_shape: tuple[int, int] = (28, 28)   # (H, W); inputs are flat (N, H*W)
    z_dim: int = 50                           # latent dimension
    hidden: tuple[int, ...] = (400,)          # hidden layer sizes (encoder and decoder mirror)
    arch: str = "mlp"                         # "mlp" or "conv" (sides divisible by 4)
    activation: str = "softplus"              # hidden non-linearity
    channels: int = 32                        # first conv layer's channels (arch="conv")
    likelihood: str = "bernoulli"             # "bernoulli" (binary pixels) or "gaussian"
    beta: float = 1.0                         # weight of the KL / rate term (beta-VAE)
    elbo: str = "meanfield"                   # "meanfield" (analytic KL) or "trace" (MC KL)
    lr: float = 1e-3                          # Adam learning rate
    batch_size: int = 128                     # images per step
    n_epochs: int = 100                       # passes over the training set
    warmup_epochs: int = 10                   # KL weight rises linearly 0 -> beta over these
    seed: int = 0                             # seeds init and shuffling

    def __post_init__(self):
        check_image_shape(self.image_shape, self.arch)
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.elbo not in ELBOS:
            raise ValueError(f"elbo must be one of {ELBOS}, got {self.elbo!r}")
        for name in ("z_dim", "batch_size", "n_epochs", "channels"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be a non-negative int, got {self.warmup_epochs!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if any((not isinstance(h, int)) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be positive ints, got {self.hidden!r}")
        if not (self.beta > 0):
            raise ValueError(f"beta must be > 0, got {self.beta!r}")
        if not (self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")

    @property
    def x_dim(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def smoke(self) -> VAEConfig:
        """The tiny variant for smoke runs: 2 epochs, smaller nets, no warm-up."""
        return replace(self, hidden=tuple(min(h, 64) for h in self.hidden), z_dim=min(self.z_dim, 8),
                       channels=min(self.channels, 8), n_epochs=min(self.n_epochs, 2), warmup_epochs=0)

    def replace(self, **changes) -> VAEConfig:
        """A copy with ``changes`` (validated)."""
        return replace(self, **changes)
