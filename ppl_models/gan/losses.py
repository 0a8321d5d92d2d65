r"""GAN objectives as small functions of discriminator outputs (logits or critic values).

The discriminator outputs a logit :math:`\ell(x)` and :math:`D(x) = \sigma(\ell(x))`. Every log
is computed stably from the logit: :math:`\log D = \log\sigma(\ell)` and
:math:`\log(1 - D) = \log\sigma(-\ell)` (``F.logsigmoid``), finite for any finite logit.

* The game's value (Goodfellow et al. 2014), maximised by :math:`D` and minimised by :math:`G`:

  .. math:: V(D, G) = \mathbb E_{x\sim p_\text{data}}[\log D(x)] + \mathbb E_{z}[\log(1 - D(G(z)))].

  :func:`minimax_d_loss` is :math:`-V`; :func:`minimax_g_loss` is the second term
  :math:`\mathbb E_z[\log(1 - D(G(z)))]`, which saturates when :math:`D(G(z)) \to 0`.
* :func:`nonsaturating_g_loss`: :math:`-\mathbb E_z[\log D(G(z))]`, same fixed point, strong
  gradients early in training.
* WGAN (Arjovsky et al. 2017) with gradient penalty (Gulrajani et al. 2017):
  :func:`wgan_d_loss` :math:`= \mathbb E[f(G(z))] - \mathbb E[f(x)]`, :func:`wgan_g_loss`
  :math:`= -\mathbb E[f(G(z))]`, and :func:`gradient_penalty`.
* Hinge (Lim & Ye 2017; Miyato et al. 2018): :func:`hinge_d_loss`
  :math:`= \mathbb E[\max(0, 1 - f(x))] + \mathbb E[\max(0, 1 + f(G(z)))]`, :func:`hinge_g_loss`
  :math:`= -\mathbb E[f(G(z))]`.

Losses take ``(B,)`` output tensors, return a scalar, and raise ``ValueError`` naming the
argument for a wrong shape, an empty batch, NaNs or infinities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

__all__ = ["gan_value", "minimax_d_loss", "minimax_g_loss", "nonsaturating_g_loss", "wgan_d_loss",
           "wgan_g_loss", "hinge_d_loss", "hinge_g_loss", "gradient_penalty", "interpolate", "GANLoss",
           "LOSSES", "get_loss"]


def _check(t, name: str) -> torch.Tensor:
    if not torch.is_tensor(t) or not torch.is_floating_point(t):
        raise ValueError(f"{name} must be a floating-point tensor, got {type(t).__name__}")
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"{name} must have shape (B,) with B >= 1, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def gan_value(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r""":math:`V = \frac1B\sum\log D(x_i) + \frac1{B'}\sum\log(1 - D(G(z_j)))`, from logits.

    Args:
        real_logits: ``(B,)`` logits on data. fake_logits: ``(B',)`` logits on samples.

    Returns:
        Scalar :math:`V` (at most 0; :math:`-\log 4` when :math:`D \equiv 1/2`).
    """
    real, fake = _check(real_logits, "real_logits"), _check(fake_logits, "fake_logits")
    return F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean()


def minimax_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The discriminator's loss :math:`-V(D, G)` (binary cross-entropy, data = 1, samples = 0)."""
    return -gan_value(real_logits, fake_logits)


def minimax_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The generator's minimax loss :math:`\mathbb E_z[\log(1 - D(G(z)))]` (it minimises this).

    Its gradient with respect to the logit is :math:`-D(G(z))`: it vanishes when the
    discriminator confidently rejects the samples, i.e. early in training.
    """
    return F.logsigmoid(-_check(fake_logits, "fake_logits")).mean()


def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The non-saturating generator loss :math:`-\mathbb E_z[\log D(G(z))]`.

    Its gradient with respect to the logit is :math:`-(1 - D(G(z)))`: largest when the
    discriminator rejects the samples.
    """
    return -F.logsigmoid(_check(fake_logits, "fake_logits")).mean()


def wgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    r"""The critic's loss :math:`\mathbb E[f(G(z))] - \mathbb E[f(x)]` (add :func:`gradient_penalty`)."""
    return _check(fake_scores, "fake_scores").mean() - _check(real_scores, "real_scores").mean()


def wgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    r"""The WGAN generator loss :math:`-\mathbb E_z[f(G(z))]`."""
    return -_check(fake_scores, "fake_scores").mean()


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbb E[\max(0, 1 - f(x))] + \mathbb E[\max(0, 1 + f(G(z)))]`."""
    real, fake = _check(real_scores, "real_scores"), _check(fake_scores, "fake_scores")
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    r"""The hinge generator loss :math:`-\mathbb E_z[f(G(z))]`."""
    return -_check(fake_scores, "fake_scores").mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
    r""":math:`\hat x = \epsilon x + (1 - \epsilon)\tilde x`, one :math:`\epsilon \sim U(0, 1)` per row."""
    if not torch.is_tensor(real) or not torch.is_tensor(fake) or real.shape != fake.shape or real.ndim < 2:
        raise ValueError(f"real and fake must be (B, ...) tensors of the same shape, got "
                         f"{getattr(real, 'shape', real)} and {getattr(fake, 'shape', fake)}")
    eps = torch.rand(real.shape[0], generator=generator, dtype=real.dtype, device=real.device)
    eps = eps.view(-1, *[1] * (real.ndim - 1))
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], x_hat: torch.Tensor,
                     create_graph: bool = True) -> torch.Tensor:
    r"""The WGAN-GP penalty :math:`\mathbb E_{\hat x}[(\lVert\nabla_{\hat x} f(\hat x)\rVert_2 - 1)^2]`.

    Args:
        critic: ``x (B, ...) -> (B,)`` scores.
        x_hat: ``(B, ...)`` points where the gradient norm is penalised (usually
            :func:`interpolate` of a data batch and a sample batch).
        create_graph: keep the graph so the penalty can be differentiated (training).

    Returns:
        Scalar penalty (multiply by the weight :math:`\lambda`, 10 in the paper).
    """
    if not callable(critic):
        raise ValueError(f"critic must be callable, got {type(critic).__name__}")
    if (not torch.is_tensor(x_hat) or not torch.is_floating_point(x_hat) or x_hat.ndim < 2
            or x_hat.shape[0] < 1):
        raise ValueError(f"x_hat must be a non-empty (B, ...) float tensor, got "
                         f"{getattr(x_hat, 'shape', x_hat)}")
    x_hat = x_hat.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = critic(x_hat)
        if scores.shape != (x_hat.shape[0],):
            raise ValueError(f"critic must return shape ({x_hat.shape[0]},), got {tuple(scores.shape)}")
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=create_graph)
    norm = grad.flatten(1).norm(dim=1)  # (B,)
    return ((norm - 1.0) ** 2).mean()


class GANLoss(NamedTuple):
    """A discriminator loss ``d(real, fake)``, a generator loss ``g(fake)``, and whether GP is added."""

    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]
    penalty: bool


LOSSES = {
    "minimax": GANLoss(minimax_d_loss, minimax_g_loss, False),
    "nonsaturating": GANLoss(minimax_d_loss, nonsaturating_g_loss, False),
    "wgan_gp": GANLoss(wgan_d_loss, wgan_g_loss, True),
    "hinge": GANLoss(hinge_d_loss, hinge_g_loss, False),
}


def get_loss(name: str) -> GANLoss:
    """The :class:`GANLoss` called ``name`` (one of :data:`LOSSES`)."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")
    return LOSSES[name]
