r"""The variational autoencoder as one ``nn.Module`` with Pyro ``model`` and ``guide`` methods.

Generative story (plate over images; ``c`` is an optional observed condition)::

        c ----.
              v
    z ~ N(0, I) --> eta = f_theta(z, c) --> x ~ p(x | eta)     (Bernoulli logits or Gaussian)
    [ plate: data, N ]

Guide: :math:`q_\phi(z \mid x, c) = \mathcal N(\mu_\phi(x, c), \mathrm{diag}\,\sigma^2_\phi(x, c))`.
Maximising the ELBO

.. math:: \mathcal L(\theta, \phi; x) = \mathbb E_{q_\phi(z|x)}[\log p_\theta(x|z)]
          - \beta\,\mathrm{KL}(q_\phi(z|x)\,\|\,p(z)) \le \log p_\theta(x) \quad (\beta = 1)

trains both. ``beta`` (and the KL warm-up) multiply the ``z`` site in model *and* guide via
``poutine.scale``, so Pyro's estimator of the KL term is scaled, not the likelihood.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from torch import nn

from ..nets import Decoder, Encoder, seeded
from .config import VAEConfig

__all__ = ["VAE", "check_data"]


def check_data(x: torch.Tensor | None, x_dim: int, name: str = "x", binary: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``x`` is a finite ``(..., x_dim)`` float tensor."""
    if x is None:
        return
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] != x_dim:
        raise ValueError(f"{name} must have shape (..., {x_dim}), got {tuple(x.shape)}")
    if x.device.type == "meta":  # no values to check (device-safety tests run on meta tensors)
        return
    if binary:  # one fused pass: NaN fails both comparisons, so it is caught here too
        lo, hi = torch.aminmax(x) if x.numel() else (x.new_zeros(()), x.new_zeros(()))
        if not bool((lo >= 0) & (hi <= 1)):
            raise ValueError(f"{name} must lie in [0, 1] for a Bernoulli likelihood (no NaN)")
    elif not bool(torch.isfinite(x.sum())):  # NaN/inf propagate through the sum
        raise ValueError(f"{name} contains NaN or infinite values")


class VAE(nn.Module):
    """A (beta-)VAE with a Bernoulli or Gaussian pixel likelihood, optionally conditioned on ``c``.

    Args:
        cfg: a :class:`VAEConfig` (networks, likelihood, beta).
        cond_dim: size of the observed condition ``c`` (0 for a plain VAE; the number of
            classes for a conditional VAE).

    The initial weights are drawn from a generator seeded by ``cfg.seed`` (the global RNG state
    is neither read nor changed), so the same config always builds the same network.
    """

    def __init__(self, cfg: VAEConfig, cond_dim: int = 0):
        super().__init__()
        if not isinstance(cfg, VAEConfig):
            raise ValueError(f"cfg must be a VAEConfig, got {type(cfg).__name__}")
        if not isinstance(cond_dim, int) or cond_dim < 0:
            raise ValueError(f"cond_dim must be a non-negative int, got {cond_dim!r}")
        self.cfg, self.cond_dim, self.z_dim, self.x_dim = cfg, cond_dim, cfg.z_dim, cfg.x_dim
        kw = dict(hidden=cfg.hidden, arch=cfg.arch, cond_dim=cond_dim, channels=cfg.channels,
                  activation=cfg.activation)
        with seeded(cfg.seed):  # initial weights depend on cfg.seed only, not on the global RNG
            self.encoder = Encoder(cfg.image_shape, cfg.z_dim, **kw)
            self.decoder = Decoder(cfg.image_shape, cfg.z_dim, **kw)
        if cfg.likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.zeros(cfg.x_dim))  # per-dimension noise scale

    # ---------------------------------------------------------------- distributions
    def prior(self, batch_shape: tuple[int, ...] = ()) -> dist.Distribution:
        """:math:`p(z) = \\mathcal N(0, I)` with event shape ``(z_dim,)``."""
        p = next(self.parameters())
        zero = torch.zeros((), dtype=p.dtype, device=p.device)
        return dist.Normal(zero, 1.0).expand([*batch_shape, self.z_dim]).to_event(1)

    def likelihood(self, eta: torch.Tensor) -> dist.Distribution:
        """:math:`p_\\theta(x \\mid z)` from the decoder output ``eta (..., D)``."""
        if self.cfg.likelihood == "bernoulli":
            return dist.Bernoulli(logits=eta, validate_args=False).to_event(1)
        return dist.Normal(eta, self.log_sigma.exp()).to_event(1)

    def posterior(self, x: torch.Tensor, c: torch.Tensor | None = None) -> dist.Distribution:
        """:math:`q_\\phi(z \\mid x, c)` with batch shape ``x.shape[:-1]``."""
        loc, scale = self.encoder(x, c)
        return dist.Normal(loc, scale).to_event(1)

    def _check(self, x, c, n=None) -> int:
        check_data(x, self.x_dim, "x", binary=self.cfg.likelihood == "bernoulli")
        if (c is None) != (self.cond_dim == 0):
            raise ValueError(f"c must be given exactly when cond_dim > 0 (cond_dim={self.cond_dim})")
        check_data(c, self.cond_dim, "c")
        if x is None and c is None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"n must be a positive int when x is None, got {n!r}")
        size = x.shape[0] if x is not None else (c.shape[0] if c is not None else n)
        if c is not None and c.shape[0] != size:
            raise ValueError(f"c has {c.shape[0]} rows but x has {size}")
        return size

    # ---------------------------------------------------------------- Pyro model / guide
    def model(self, x: torch.Tensor | None = None, c: torch.Tensor | None = None,
              kl_weight: float | None = None, n: int | None = None) -> torch.Tensor:
        """Generative model; ``x=None`` samples ``n`` images (or one per row of ``c``).

        Returns the observed or sampled ``x``, ``(N, D)``.
        """
        size = self._check(x, c, n)
        w = self.cfg.beta if kl_weight is None else kl_weight
        pyro.module("vae", self)
        with pyro.plate("data", size):
            with poutine.scale(scale=w):
                z = pyro.sample("z", self.prior())
            return pyro.sample("x", self.likelihood(self.decoder(z, c)), obs=x)

    def guide(self, x: torch.Tensor, c: torch.Tensor | None = None,
              kl_weight: float | None = None, n: int | None = None) -> torch.Tensor:
        """Amortised guide :math:`q_\\phi(z \\mid x, c)`; returns the sampled ``z (N, z_dim)``."""
        if x is None:
            raise ValueError("x must be given to the guide")
        size = self._check(x, c)
        w = self.cfg.beta if kl_weight is None else kl_weight
        pyro.module("vae", self)
        with pyro.plate("data", size), poutine.scale(scale=w):
            return pyro.sample("z", self.posterior(x, c))

    # ---------------------------------------------------------------- fast evaluation
    def log_weights(self, x: torch.Tensor, k: int, c: torch.Tensor | None = None) -> torch.Tensor:
        r"""Importance log-weights :math:`\log p(x, z_j) - \log q(z_j \mid x)`, :math:`z_j \sim q`.

        Args:
            x: ``(B, D)``; k: number of samples per image; c: ``(B, C)`` or None.

        Returns:
            ``(k, B)`` tensor (the same draws Pyro's vectorised-particle trace would make).
        """
        self._check(x, c)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        q = self.posterior(x, c)
        z = q.rsample((k,))  # (k, B, z_dim)
        log_px = self.likelihood(self.decoder(z, c)).log_prob(x)  # (k, B)
        return log_px + self.prior().log_prob(z) - q.log_prob(z)

    def reconstruct(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Mean of :math:`p(x \\mid z=\\mu_\\phi(x))`, ``(B, D)``."""
        self._check(x, c)
        return self.mean(self.posterior(x, c).mean, c)

    def mean(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Pixel means :math:`\\mathbb E[x \\mid z, c]` (probabilities for Bernoulli), ``(..., D)``."""
        eta = self.decoder(z, c)
        return torch.sigmoid(eta) if self.cfg.likelihood == "bernoulli" else eta

    def kl_per_dim(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r"""Analytic :math:`\mathrm{KL}(q(z_i \mid x) \| \mathcal N(0, 1))` per latent, ``(B, z_dim)``."""
        self._check(x, c)
        loc, scale = self.encoder(x, c)
        return 0.5 * (loc**2 + scale**2 - 1.0) - scale.log()

    def extra_repr(self) -> str:
        c = self.cfg
        return f"z_dim={self.z_dim}, x_dim={self.x_dim}, likelihood={c.likelihood}, beta={c.beta}"
