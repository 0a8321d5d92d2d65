r"""Held-out likelihood: ELBO, the importance-weighted bound (IWAE), Parzen windows, units.

Every latent-variable estimator here takes a ``log_weight_fn(x, k, *cond) -> (k, B)`` that
draws ``k`` samples :math:`z_j \sim q(z \mid x)` per row of ``x`` and returns
:math:`\log w_j = \log p(x, z_j) - \log q(z_j \mid x)`. Then

.. math:: \mathrm{ELBO} = \mathbb E_q[\log w], \qquad
          \mathcal L_k = \mathbb E\Big[\log \tfrac1k \textstyle\sum_{j=1}^k w_j\Big],
          \qquad \mathrm{ELBO} = \mathcal L_1 \le \mathcal L_k \le \mathcal L_{k+1} \le \log p(x)

(Burda et al. 2015). :func:`iwae_bound` evaluates :math:`\mathcal L_k` image by image in
mini-batches and particle chunks (a running log-sum-exp), so ``k = 5000`` fits in memory on a
CPU and runs in seconds on a GPU. :func:`pyro_log_weights` builds ``log_weight_fn`` for any
Pyro ``model``/``guide`` pair with one data plate at dim -1. Results are in nats per image;
:func:`bits_per_dim` converts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

__all__ = [
    "log_mean_exp", "iwae_bound", "elbo", "nats_per_image", "iwae_ladder", "bits_per_dim",
    "pyro_log_weights", "heldout_log_likelihood", "parzen_log_likelihood",
]

LogWeightFn = Callable[..., torch.Tensor]


def log_mean_exp(a: torch.Tensor, dim: int = 0) -> torch.Tensor:
    r""":math:`\log \frac1n \sum_i e^{a_i}` along ``dim``, computed stably."""
    if not torch.is_tensor(a) or a.ndim == 0:
        raise ValueError("a must be a tensor with at least one dimension")
    return torch.logsumexp(a, dim) - math.log(a.shape[dim])


def _check_inputs(x: torch.Tensor, cond: Sequence[torch.Tensor], k: int, batch_size: int) -> None:
    if not torch.is_tensor(x) or x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must be a (N, ...) tensor with N >= 1, got {getattr(x, 'shape', x)}")
    if torch.is_floating_point(x) and not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    for i, c in enumerate(cond):
        if not torch.is_tensor(c) or c.shape[0] != x.shape[0]:
            raise ValueError(f"cond[{i}] must be a tensor with {x.shape[0]} rows")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def iwae_bound(log_weight_fn: LogWeightFn, x: torch.Tensor, k: int, *cond: torch.Tensor,
               batch_size: int = 100, particle_chunk: int = 1000) -> torch.Tensor:
    r"""Per-image importance-weighted bound :math:`\log \frac1k\sum_{j=1}^k w_j`, shape ``(N,)``.

    Args:
        log_weight_fn: ``(x_batch (B, ...), m, *cond_batch) -> (m, B)`` log-weights.
        x: ``(N, ...)`` held-out data.
        k: importance samples per image (``k=1`` gives a one-sample ELBO estimate).
        cond: tensors row-aligned with ``x`` passed through (e.g. one-hot labels).
        batch_size: images per call; particle_chunk: samples per call (memory ~ B * chunk * D).

    Returns:
        ``(N,)`` tensor of bounds in nats (a stochastic lower bound on :math:`\log p(x)`).
    """
    _check_inputs(x, cond, k, batch_size)
    if not isinstance(particle_chunk, int) or particle_chunk < 1:
        raise ValueError(f"particle_chunk must be a positive int, got {particle_chunk!r}")
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            xb, cb = x[s : s + batch_size], [c[s : s + batch_size] for c in cond]
            acc = torch.full((xb.shape[0],), -math.inf, dtype=torch.float64, device=x.device)
            for done in range(0, k, particle_chunk):
                m = min(particle_chunk, k - done)
                lw = log_weight_fn(xb, m, *cb)
                if lw.shape != (m, xb.shape[0]):
                    raise ValueError(f"log_weight_fn returned shape {tuple(lw.shape)}, "
                                     f"expected {(m, xb.shape[0])}")
                acc = torch.logaddexp(acc, torch.logsumexp(lw.double(), 0))
            out.append(acc - math.log(k))
    return torch.cat(out)


def elbo(log_weight_fn: LogWeightFn, x: torch.Tensor, *cond: torch.Tensor, n_samples: int = 1,
         batch_size: int = 100) -> torch.Tensor:
    r"""Per-image Monte Carlo ELBO :math:`\frac1S\sum_s \log w_s`, shape ``(N,)``."""
    _check_inputs(x, cond, n_samples, batch_size)
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            lw = log_weight_fn(x[s : s + batch_size], n_samples, *[c[s : s + batch_size] for c in cond])
            out.append(lw.double().mean(0))
    return torch.cat(out)


def nats_per_image(log_likelihoods: torch.Tensor) -> float:
    """Negative mean log-likelihood (a test NLL in nats per image) from ``(N,)`` bounds."""
    if not torch.is_tensor(log_likelihoods) or log_likelihoods.ndim != 1 or len(log_likelihoods) == 0:
        raise ValueError("log_likelihoods must be a non-empty 1-D tensor")
    if torch.isnan(log_likelihoods).any():
        raise ValueError("log_likelihoods contains NaN")
    return float(-log_likelihoods.double().mean())


def bits_per_dim(nats: float, dim: int) -> float:
    r"""Convert nats per image to bits per dimension: :math:`\mathrm{nats} / (D \ln 2)`."""
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not math.isfinite(nats):
        raise ValueError(f"nats must be finite, got {nats!r}")
    return nats / (dim * math.log(2.0))


def iwae_ladder(log_weight_fn: LogWeightFn, x: torch.Tensor, ks: Sequence[int], *cond: torch.Tensor,
                seed: int = 0, batch_size: int = 100, particle_chunk: int = 1000) -> dict[int, float]:
    """Test NLL (nats per image) for each ``k`` in ``ks``: ``{k: -mean IWAE_k}``, seeded per k."""
    if len(ks) == 0:
        raise ValueError("ks must be a non-empty sequence of positive ints")
    out = {}
    for k in ks:
        torch.manual_seed(seed)
        b = iwae_bound(log_weight_fn, x, k, *cond, batch_size=batch_size, particle_chunk=particle_chunk)
        out[int(k)] = nats_per_image(b)
    return out


def pyro_log_weights(model: Callable, guide: Callable, **kwargs) -> LogWeightFn:
    r"""``log_weight_fn`` for a Pyro ``model``/``guide`` pair called as ``fn(x, *cond, **kwargs)``.

    The guide is run under a vectorised ``particles`` plate at dim -2 (so the models' data plate
    must be at dim -1), the model is replayed on its samples, and every site's log-density is
    summed per data point: :math:`\log w = \sum_{\text{model sites}} \log p - \sum_{\text{guide
    sites}} \log q`, unscaled (a beta or warm-up ``poutine.scale`` is ignored, so this is the
    bound of the model itself). Sites must be reparameterisable or observed (no enumeration).
    """
    import pyro
    from pyro import poutine

    for name, f in (("model", model), ("guide", guide)):
        if not callable(f):
            raise ValueError(f"{name} must be callable, got {type(f).__name__}")

    def fn(x: torch.Tensor, k: int, *cond: torch.Tensor) -> torch.Tensor:
        _check_inputs(x, cond, k, 1)
        with pyro.plate("particles", k, dim=-2):
            g = poutine.trace(guide).get_trace(x, *cond, **kwargs)
            m = poutine.trace(poutine.replay(model, trace=g)).get_trace(x, *cond, **kwargs)
        total = torch.zeros(k, x.shape[0], dtype=x.dtype, device=x.device)
        for trace, sign in ((m, 1.0), (g, -1.0)):
            trace.compute_log_prob()
            for site in trace.nodes.values():
                if site["type"] == "sample":
                    total = total + sign * site["unscaled_log_prob"].expand(k, x.shape[0])
        return total

    return fn


def heldout_log_likelihood(log_prob_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                           batch_size: int = 1000) -> torch.Tensor:
    """Exact held-out log-likelihoods ``(N,)`` from a model's ``log_prob_fn(x_batch) -> (B,)``."""
    _check_inputs(x, (), 1, batch_size)
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch_size):
            lp = log_prob_fn(x[s : s + batch_size])
            if lp.shape != (min(batch_size, x.shape[0] - s),):
                raise ValueError(f"log_prob_fn returned shape {tuple(lp.shape)}, expected one value per row")
            out.append(lp.double())
    return torch.cat(out)


def parzen_log_likelihood(samples: torch.Tensor, x: torch.Tensor, bandwidth: float,
                          batch_size: int = 100) -> torch.Tensor:
    r"""Gaussian Parzen-window log-density of ``x (N, D)`` under ``samples (S, D)``, shape ``(N,)``.

    .. math:: \log \hat p(x) = \log \frac1S \sum_s \mathcal N(x; x_s, h^2 I)

    A crude, high-variance estimator for models without a tractable likelihood; prefer
    :func:`iwae_bound` or an exact likelihood wherever one exists.
    """
    if not torch.is_tensor(samples) or samples.ndim != 2 or samples.shape[0] < 1:
        raise ValueError("samples must be a non-empty (S, D) tensor")
    if not torch.is_tensor(x) or x.ndim != 2 or x.shape[1] != samples.shape[1]:
        raise ValueError(f"x must be (N, {samples.shape[1]}) like samples, got {getattr(x, 'shape', x)}")
    if not torch.isfinite(samples).all() or not torch.isfinite(x).all():
        raise ValueError("samples and x must be finite (x contains NaN or inf)")
    if not (bandwidth > 0):
        raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    d = x.shape[1]
    const = -0.5 * d * math.log(2 * math.pi * bandwidth**2)
    out = []
    for s in range(0, x.shape[0], batch_size):
        sq = torch.cdist(x[s : s + batch_size].double(), samples.double()) ** 2  # (B, S)
        out.append(log_mean_exp(-0.5 * sq / bandwidth**2, dim=1) + const)
    return torch.cat(out)
