r"""VAE variants that reuse the shared networks: conditional VAE, M2, linear-Gaussian VAE.

Conditional VAE (label observed on both sides)::

    y ---------------.
    z ~ N(0, I) --> x ~ p(x | z, y)        q(z | x, y)

M2, semi-supervised (Kingma et al. 2014); ``y`` is observed for labelled images and
*enumerated* in the guide for unlabelled ones (``TraceEnum_ELBO``)::

    y ~ Cat(1/K)   z ~ N(0, I)
         \           /
          x ~ p(x | y, z)              q(y | x) q(z | x, y)

Linear-Gaussian VAE: :math:`z \sim \mathcal N(0, I_q)`, :math:`x \mid z \sim
\mathcal N(Wz + \mu, \sigma^2 I_D)`, guide :math:`q(z \mid x) = \mathcal N(A(x-\mu) + b, LL^\top)`.
It is probabilistic PCA; with :math:`A = M^{-1}W^\top`, :math:`b = 0`, :math:`LL^\top =
\sigma^2 M^{-1}` (:math:`M = W^\top W + \sigma^2 I`) the guide is the exact posterior and the
ELBO equals :math:`\log p(x)`.
"""

from __future__ import annotations

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from ..nets import MLP, Decoder, Encoder, seeded
from .config import VAEConfig
from .model import VAE, check_data

__all__ = ["one_hot", "ConditionalVAE", "M2", "LinearGaussianVAE"]


def one_hot(y: torch.Tensor, n_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Integer labels ``(N,)`` -> one-hot ``(N, n_classes)`` floats."""
    if not torch.is_tensor(y) or y.dtype not in (torch.int32, torch.int64) or y.ndim != 1:
        raise ValueError("y must be a 1-D integer tensor of labels")
    if not isinstance(n_classes, int) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
    if len(y) and y.device.type != "meta" and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must lie in [0, {n_classes - 1}]")
    return F.one_hot(y, n_classes).to(dtype)


class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both see the one-hot label ``c`` (Sohn et al. 2015)."""

    def __init__(self, cfg: VAEConfig, n_classes: int):
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        super().__init__(cfg, cond_dim=n_classes)
        self.n_classes = n_classes

    def generate(self, labels: torch.Tensor) -> torch.Tensor:
        """Pixel means of one prior draw per label: ``(N,)`` ints -> ``(N, D)``."""
        p = next(self.parameters())
        c = one_hot(labels, self.n_classes, p.dtype).to(p.device)
        z = self.prior((len(labels),)).sample()
        return self.mean(z, c)


class M2(nn.Module):
    """Semi-supervised VAE M2 with a classifier :math:`q(y|x)` that is also the guide for ``y``.

    Args:
        cfg: networks and likelihood (``cfg.beta`` is ignored: M2 is trained with beta = 1).
        n_classes: number of labels K.
        alpha: weight of the classification loss :math:`-\\alpha \\log q(y|x)`, averaged over the
            labelled batch, next to the labelled and unlabelled ELBO averages (weight 1 each; see
            :meth:`loss`). Not Kingma et al.'s :math:`\\alpha = 0.1 N`, which multiplies the mean
            classification loss in an objective *summed* over all :math:`N` images: divided by
            :math:`N`, theirs weighs the labelled ELBO by :math:`N_l / N` and the classification
            loss by 0.1.
    """

    def __init__(self, cfg: VAEConfig, n_classes: int, alpha: float = 50.0):
        super().__init__()
        if not isinstance(cfg, VAEConfig) or cfg.likelihood != "bernoulli":
            raise ValueError("cfg must be a VAEConfig with likelihood='bernoulli'")
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        if not (alpha >= 0):
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        self.cfg, self.n_classes, self.alpha, self.x_dim = cfg, n_classes, float(alpha), cfg.x_dim
        kw = dict(hidden=cfg.hidden, arch=cfg.arch, cond_dim=n_classes, channels=cfg.channels,
                  activation=cfg.activation)
        with seeded(cfg.seed):  # initial weights from cfg.seed only
            self.encoder = Encoder(cfg.image_shape, cfg.z_dim, **kw)
            self.decoder = Decoder(cfg.image_shape, cfg.z_dim, **kw)
            self.classifier = MLP(cfg.x_dim, cfg.hidden, n_classes, cfg.activation)

    def _check(self, x: torch.Tensor, y: torch.Tensor | None) -> int:
        check_data(x, self.x_dim, "x", binary=True)
        if x.ndim != 2:
            raise ValueError(f"x must be (N, {self.x_dim}), got {tuple(x.shape)}")
        if y is not None and (not torch.is_tensor(y) or y.shape != (x.shape[0], self.n_classes)):
            raise ValueError(f"y must be one-hot of shape {(x.shape[0], self.n_classes)}")
        return x.shape[0]

    def model(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """:math:`p(y)p(z)p(x \\mid y, z)`; ``y`` one-hot ``(N, K)`` or None (latent)."""
        size = self._check(x, y)
        pyro.module("m2", self)
        uniform = torch.zeros(self.n_classes, dtype=x.dtype, device=x.device)
        with pyro.plate("data", size):
            y = pyro.sample("y", dist.OneHotCategorical(logits=uniform), obs=y)
            zero = torch.zeros((), dtype=x.dtype, device=x.device)
            z = pyro.sample("z", dist.Normal(zero, 1.0).expand([self.cfg.z_dim]).to_event(1))
            logits = self.decoder(z, y)
            pyro.sample("x", dist.Bernoulli(logits=logits, validate_args=False).to_event(1), obs=x)

    def guide(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """:math:`q(y \\mid x)` (enumerated in parallel when ``y`` is None) and :math:`q(z \\mid x, y)`."""
        size = self._check(x, y)
        pyro.module("m2", self)
        with pyro.plate("data", size):
            if y is None:
                y = pyro.sample("y", dist.OneHotCategorical(logits=self.classifier(x)),
                                infer={"enumerate": "parallel"})
            loc, scale = self.encoder(x, y)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    def loss(self, x_u: torch.Tensor, x_l: torch.Tensor, y_l: torch.Tensor,
             elbo: pyro.infer.ELBO | None = None) -> torch.Tensor:
        r"""Per-image M2 objective on one unlabelled and one labelled batch (scalar to minimise).

        .. math:: \frac{1}{|U|}\sum_{U} -\mathcal U(x) + \frac{1}{|L|}\sum_{L} \big[-\mathcal L(x, y)
                  - \alpha \log q(y \mid x)\big]
        """
        elbo = elbo if elbo is not None else pyro.infer.TraceEnum_ELBO(max_plate_nesting=1)
        self._check(x_l, y_l)
        u = elbo.differentiable_loss(self.model, self.guide, x_u) / x_u.shape[0]
        # labelled images have no enumerated site: the plain Trace_ELBO is the same estimator
        lab = pyro.infer.Trace_ELBO().differentiable_loss(self.model, self.guide, x_l, y_l) / x_l.shape[0]
        ce = F.cross_entropy(self.classifier(x_l), y_l.argmax(-1))
        return u + lab + self.alpha * ce

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Most probable label under :math:`q(y \\mid x)`, ``(N,)`` int64."""
        self._check(x, None)
        with torch.no_grad():
            return self.classifier(x).argmax(-1)

    def generate(self, labels: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities of one prior draw of ``z`` per label, ``(N, D)``."""
        p = next(self.parameters())
        c = one_hot(labels, self.n_classes, p.dtype).to(p.device)
        z = torch.randn(len(labels), self.cfg.z_dim, dtype=p.dtype, device=p.device)
        return torch.sigmoid(self.decoder(z, c))


class LinearGaussianVAE(nn.Module):
    """Probabilistic PCA written as a VAE with a linear, full-covariance amortised guide.

    Args:
        x_dim: data dimension D; z_dim: latent dimension q; dtype: parameter dtype;
        seed: seeds the random initial ``W`` and ``A`` (a private generator, not the global RNG).
    """

    def __init__(self, x_dim: int, z_dim: int, dtype: torch.dtype = torch.float32, seed: int = 0):
        super().__init__()
        if not isinstance(x_dim, int) or not isinstance(z_dim, int) or not (1 <= z_dim <= x_dim):
            raise ValueError(f"need ints 1 <= z_dim <= x_dim, got z_dim={z_dim!r}, x_dim={x_dim!r}")
        self.x_dim, self.z_dim = x_dim, z_dim
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(0.1 * torch.randn(x_dim, z_dim, generator=g, dtype=dtype, device=g.device))
        self.mu = nn.Parameter(torch.zeros(x_dim, dtype=dtype))
        self.log_sigma2 = nn.Parameter(torch.zeros((), dtype=dtype))
        self.A = nn.Parameter(0.1 * torch.randn(z_dim, x_dim, generator=g, dtype=dtype, device=g.device))
        self.b = nn.Parameter(torch.zeros(z_dim, dtype=dtype))
        self.raw_tril = nn.Parameter(torch.zeros(z_dim, z_dim, dtype=dtype))  # log-diagonal

    @classmethod
    def from_ppca(cls, mean: torch.Tensor, W: torch.Tensor, sigma2: torch.Tensor) -> LinearGaussianVAE:
        """The VAE at a PPCA solution with the exact posterior as its guide."""
        if W.ndim != 2 or mean.shape != (W.shape[0],):
            raise ValueError(f"W must be (D, q) and mean (D,), got {tuple(W.shape)}, {tuple(mean.shape)}")
        if not (float(sigma2) > 0):
            raise ValueError(f"sigma2 must be > 0, got {float(sigma2)}")
        vae = cls(W.shape[0], W.shape[1], dtype=W.dtype)
        vae.set_exact_posterior(mean, W, sigma2)
        return vae

    @torch.no_grad()
    def set_exact_posterior(self, mean=None, W=None, sigma2=None) -> None:
        """Set the decoder (if given) and make the guide the exact posterior of the decoder."""
        if W is not None:
            self.W.copy_(W)
            self.mu.copy_(mean)
            self.log_sigma2.copy_(torch.as_tensor(sigma2).log())
        s2 = self.log_sigma2.exp()
        M = self.W.T @ self.W + s2 * torch.eye(self.z_dim, dtype=self.W.dtype, device=self.W.device)
        Minv = torch.linalg.inv(M)
        self.A.copy_(Minv @ self.W.T)
        self.b.zero_()
        L = torch.linalg.cholesky(s2 * Minv)
        self.raw_tril.copy_(torch.tril(L, -1) + torch.diag(L.diagonal().log()))

    def scale_tril(self) -> torch.Tensor:
        """The guide's Cholesky factor ``L (q, q)`` (positive diagonal)."""
        return torch.tril(self.raw_tril, -1) + torch.diag(self.raw_tril.diagonal().exp())

    def posterior(self, x: torch.Tensor) -> dist.MultivariateNormal:
        """The guide :math:`q(z \\mid x)` with batch shape ``x.shape[:-1]``."""
        return dist.MultivariateNormal((x - self.mu) @ self.A.T + self.b, scale_tril=self.scale_tril())

    def likelihood(self, z: torch.Tensor) -> dist.Distribution:
        """:math:`p(x \\mid z) = \\mathcal N(Wz + \\mu, \\sigma^2 I)` with event shape ``(D,)``."""
        return dist.Normal(z @ self.W.T + self.mu, (0.5 * self.log_sigma2).exp()).to_event(1)

    def model(self, x: torch.Tensor | None = None, n: int | None = None) -> torch.Tensor:
        """PPCA generative model (``x=None`` samples ``n`` points)."""
        check_data(x, self.x_dim)
        size = x.shape[0] if x is not None else n
        pyro.module("linear_vae", self)
        with pyro.plate("data", size):
            zero = torch.zeros((), dtype=self.W.dtype, device=self.W.device)
            z = pyro.sample("z", dist.Normal(zero, 1.0).expand([self.z_dim]).to_event(1))
            return pyro.sample("x", self.likelihood(z), obs=x)

    def guide(self, x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """Linear amortised guide."""
        check_data(x, self.x_dim)
        pyro.module("linear_vae", self)
        with pyro.plate("data", x.shape[0]):
            return pyro.sample("z", self.posterior(x))

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``(k, B)`` importance log-weights :math:`\\log p(x,z) - \\log q(z|x)`."""
        check_data(x, self.x_dim)
        q = self.posterior(x)
        z = q.rsample((k,))
        prior = dist.Normal(torch.zeros_like(self.b), 1.0).to_event(1)
        return self.likelihood(z).log_prob(x) + prior.log_prob(z) - q.log_prob(z)

    def exact_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log \\mathcal N(x; \\mu, WW^\\top + \\sigma^2 I)`, ``(N,)``."""
        check_data(x, self.x_dim)
        eye = torch.eye(self.x_dim, dtype=self.W.dtype, device=self.W.device)
        C = self.W @ self.W.T + self.log_sigma2.exp() * eye
        return dist.MultivariateNormal(self.mu, covariance_matrix=C).log_prob(x)

    def exact_posterior(self, x: torch.Tensor) -> dist.MultivariateNormal:
        """:math:`p(z \\mid x) = \\mathcal N(M^{-1}W^\\top(x-\\mu), \\sigma^2 M^{-1})`."""
        check_data(x, self.x_dim)
        s2 = self.log_sigma2.exp()
        eye = torch.eye(self.z_dim, dtype=self.W.dtype, device=self.W.device)
        Minv = torch.linalg.inv(self.W.T @ self.W + s2 * eye)
        return dist.MultivariateNormal((x - self.mu) @ (Minv @ self.W.T).T, covariance_matrix=s2 * Minv)

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""Closed-form ELBO per point, ``(N,)``: with :math:`q = \mathcal N(m, S)`,

        .. math:: \mathcal L = -\tfrac{D}{2}\log 2\pi\sigma^2 - \tfrac{1}{2\sigma^2}
           \big(\|x - Wm - \mu\|^2 + \mathrm{tr}(W S W^\top)\big)
           - \mathrm{KL}(\mathcal N(m,S)\|\mathcal N(0,I)).
        """
        check_data(x, self.x_dim)
        m, L = self.posterior(x).mean, self.scale_tril()
        S = L @ L.T  # (q, q), the same for every x
        s2 = self.log_sigma2.exp()
        resid = ((x - m @ self.W.T - self.mu) ** 2).sum(-1) + torch.trace(self.W @ S @ self.W.T)
        rec = -0.5 * self.x_dim * torch.log(2 * math.pi * s2) - 0.5 * resid / s2
        kl = 0.5 * (torch.trace(S) + (m**2).sum(-1) - self.z_dim - torch.logdet(S))
        return rec - kl

    def kl_to_posterior(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\mathrm{KL}(q(z|x) \\| p(z|x))` per point, ``(N,)`` (the ELBO's gap)."""
        return torch.distributions.kl_divergence(self.posterior(x), self.exact_posterior(x))

