r"""Training an RBM by contrastive divergence (CD-k) and persistent CD (PCD-k).

The log-likelihood gradient of an RBM is a difference of two expectations,

.. math::

    \frac{\partial \log p(v)}{\partial W} = v\, \sigma(c + v^\top W)^\top
        - \mathbb E_{p(v')}\big[v'\, \sigma(c + v'^\top W)^\top\big],

the second under the model, which is intractable. CD-k (Hinton 2002) replaces the model sample
by ``k`` Gibbs sweeps started at the data; PCD-k (Tieleman 2008, the "stochastic maximum
likelihood" of scikit-learn's ``BernoulliRBM``) keeps ``n_chains`` Gibbs chains alive across
updates. Both estimates are the gradient of the surrogate
:math:`\overline{F(v_\text{data})} - \overline{F(v_\text{model})}` with the model samples held
fixed, which is the loss each step reports. Hidden *probabilities* (not samples) enter the
statistics, as in Hinton's guide and scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .. import distributed
from ..train import TrainHistory, train
from ..validation import check_int, check_nonneg
from .rbm import RBM, _bernoulli, check_binary, check_generator

__all__ = ["RBMConfig", "CDResult", "init_rbm", "contrastive_divergence", "make_optimizer", "cd_step",
           "train_rbm"]


@dataclass(frozen=True)
class RBMConfig:
    """Everything that defines an RBM training run (defaults: binarised MNIST, 500 hidden units)."""

    n_hidden: int = 500                 # hidden units (Salakhutdinov & Murray 2008 used 500 on MNIST)
    k: int = 1                          # Gibbs sweeps per gradient estimate (CD-k / PCD-k)
    persistent: bool = False            # False: CD-k from the data; True: PCD-k, chains kept across steps
    n_chains: int | None = None         # PCD chains; None: one per row of a mini-batch (batch_size)
    learning_rate: float = 0.05         # SGD step on the mean (per-example) gradient
    momentum: float = 0.5               # SGD momentum (0: plain SGD, as scikit-learn)
    weight_decay: float = 1e-4          # L2 penalty on W only (never on the biases)
    batch_size: int = 100               # rows per gradient step
    n_epochs: int = 50                  # passes over the training data
    init_std: float = 0.01              # W ~ N(0, init_std^2); hidden biases start at 0
    visible_bias_from_data: bool = True  # b_i = log(p_i / (1 - p_i)) of the pixel means; False: b = 0
    seed: int = 0                       # seeds the initial weights, the shuffling and the Gibbs chains

    def __post_init__(self):
        for name in ("n_hidden", "k", "batch_size", "n_epochs"):
            check_int(getattr(self, name), name)
        if self.n_chains is not None:
            check_int(self.n_chains, "n_chains")
        check_int(self.seed, "seed", low=0)
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not isinstance(self.momentum, (int, float)) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        check_nonneg(self.weight_decay, "weight_decay")
        check_nonneg(self.init_std, "init_std")

    def smoke(self) -> RBMConfig:
        """The tiny variant for smoke runs: 16 hidden units, 2 epochs."""
        return replace(self, n_hidden=min(self.n_hidden, 16), n_epochs=min(self.n_epochs, 2))


class CDResult(NamedTuple):
    """One CD/PCD gradient estimate (of the *negative* log-likelihood, ready for descent).

    Attributes:
        grad_W: ``(V, H)``. grad_b: ``(V,)``. grad_c: ``(H,)``.
        v_model: ``(M, V)`` the negative-phase visible samples.
        h_chain: ``(M, H)`` hidden samples that continue the chains (PCD's state); None for CD.
        loss: mean free energy of the data minus that of ``v_model`` (the surrogate).
    """

    grad_W: torch.Tensor
    grad_b: torch.Tensor
    grad_c: torch.Tensor
    v_model: torch.Tensor
    h_chain: torch.Tensor | None
    loss: torch.Tensor


def init_rbm(x: torch.Tensor, cfg: RBMConfig) -> RBM:
    r"""A fresh RBM for binary data ``x`` ``(N, V)``, on ``x``'s device and dtype, seeded by ``cfg.seed``.

    :math:`W \sim \mathcal N(0, \text{init\_std}^2)`, :math:`c = 0`, and
    :math:`b_i = \log\frac{p_i}{1 - p_i}` with :math:`p_i` the (smoothed) mean of pixel ``i``
    when ``cfg.visible_bias_from_data`` (Hinton's practical guide), else :math:`b = 0`.
    """
    from .ais import base_rate_bias

    x = check_binary(x, "x")
    g = torch.Generator(device=x.device).manual_seed(cfg.seed)
    W = cfg.init_std * torch.randn(x.shape[1], cfg.n_hidden, generator=g, dtype=x.dtype, device=x.device)
    b = base_rate_bias(x) if cfg.visible_bias_from_data else torch.zeros_like(x[0])
    return RBM(W, b, torch.zeros(cfg.n_hidden, dtype=x.dtype, device=x.device))


@torch.no_grad()
def _cd(W, b, c, v0, k, generator, h_chain=None) -> CDResult:
    """Unchecked CD-k (``h_chain=None``) or PCD-k (continue from hidden samples ``h_chain``)."""
    a0 = torch.addmm(c, v0, W)                           # (B, H) data pre-activations
    p0 = torch.sigmoid(a0)
    h = _bernoulli(p0, generator) if h_chain is None else h_chain
    for i in range(k):
        vk = _bernoulli(torch.addmm(b, h, W.T).sigmoid_(), generator)   # (M, V)
        ak = torch.addmm(c, vk, W)                       # (M, H)
        pk = torch.sigmoid(ak)
        if i < k - 1 or h_chain is not None:             # CD needs no hidden sample after the last sweep
            h = _bernoulli(pk, generator)
    n0, nk = v0.shape[0], vk.shape[0]
    grad_W = (pk.T @ vk / nk - p0.T @ v0 / n0).T          # (V, H); (H, B) @ (B, V) is the faster GEMM
    grad_b = vk.mean(0) - v0.mean(0)
    grad_c = pk.mean(0) - p0.mean(0)
    fe0 = -(v0 @ b) - F.softplus(a0).sum(-1)
    fek = -(vk @ b) - F.softplus(ak).sum(-1)
    return CDResult(grad_W, grad_b, grad_c, vk, h if h_chain is not None else None, fe0.mean() - fek.mean())


def contrastive_divergence(rbm: RBM, v: torch.Tensor, k: int, *, generator: torch.Generator,
                           h_chain: torch.Tensor | None = None) -> CDResult:
    r"""The CD-k (or, with ``h_chain``, PCD-k) estimate of :math:`-\nabla \overline{\log p(v)}`.

    .. math::

        \widehat{\nabla_W} = \tfrac1M \textstyle\sum_m v^-_m \sigma(c + v^{-\top}_m W)^\top
            - \tfrac1B \sum_n v_n \sigma(c + v_n^\top W)^\top

    (and likewise for ``b`` and ``c``), where the :math:`v^-` come from ``k`` block Gibbs sweeps
    started at :math:`h \sim p(h \mid v)` (CD) or at the chains' hidden states (PCD).

    Args:
        rbm: the model.
        v: ``(B, V)`` binary data batch.
        k: Gibbs sweeps, ``>= 1``.
        generator: a ``torch.Generator`` on the model's device.
        h_chain: ``(M, H)`` binary hidden states of persistent chains, or None for CD.

    Returns:
        A :class:`CDResult`.
    """
    v = rbm._v(v)
    k = check_int(k, "k")
    check_generator(generator, rbm.W.device)
    if h_chain is not None:
        h_chain = rbm._h(h_chain, "h_chain")
    return _cd(rbm.W, rbm.b, rbm.c, v, k, generator, h_chain)


def make_optimizer(rbm: RBM, cfg: RBMConfig) -> torch.optim.SGD:
    """SGD with ``cfg.momentum``; ``cfg.weight_decay`` applies to ``W`` only, not the biases."""
    return torch.optim.SGD([{"params": [rbm.W], "weight_decay": cfg.weight_decay},
                            {"params": [rbm.b, rbm.c], "weight_decay": 0.0}],
                           lr=cfg.learning_rate, momentum=cfg.momentum)


def cd_step(rbm: RBM, optimizer: torch.optim.Optimizer, cfg: RBMConfig,
            generator: torch.Generator) -> Callable[[torch.Tensor], float]:
    """A ``step(v) -> float`` for :func:`ppl_models.train.train`: one CD-k or PCD-k update.

    The gradient estimate goes into ``.grad`` and ``optimizer`` takes the step, so momentum and
    weight decay are the optimizer's. For PCD the chains start at :math:`h \\sim p(h \\mid v)` of
    the first batch's rows (cycled to ``n_chains``) and persist in the closure afterwards.
    Returns the step's free-energy gap (:attr:`CDResult.loss`). Inputs are not re-checked here.
    """
    check_generator(generator, rbm.W.device)
    n_chains = cfg.n_chains or cfg.batch_size
    state: dict[str, torch.Tensor | None] = {"h": None}

    def step(v: torch.Tensor) -> float:
        W, b, c = rbm.W, rbm.b, rbm.c
        if cfg.persistent and state["h"] is None:
            v_init = v[torch.arange(n_chains, device=v.device) % v.shape[0]]
            state["h"] = _bernoulli(torch.sigmoid(v_init @ W.detach() + c.detach()), generator)
        res = _cd(W.detach(), b.detach(), c.detach(), v, cfg.k, generator,
                  state["h"] if cfg.persistent else None)
        if cfg.persistent:
            state["h"] = res.h_chain
        W.grad, b.grad, c.grad = res.grad_W, res.grad_b, res.grad_c
        distributed.sync_gradients((W, b, c))      # the mean over processes under torchrun
        optimizer.step()
        return float(res.loss)

    return step


def train_rbm(rbm: RBM, x: torch.Tensor, cfg: RBMConfig, *, eval_fn: Callable[[int], object] | None = None,
              eval_every: int | None = None, progress: bool | None = None) -> TrainHistory:
    """Train ``rbm`` in place on binary ``x`` ``(N, V)`` by CD-k or PCD-k (``cfg.persistent``).

    Runs :func:`ppl_models.train.train` with :func:`cd_step` and :func:`make_optimizer`; the
    Gibbs chains draw from a generator seeded with ``cfg.seed + 1`` on the model's device.

    Returns:
        The :class:`~ppl_models.train.TrainHistory`; ``loss`` is the mean free-energy gap per epoch.
    """
    if not isinstance(rbm, RBM):
        raise ValueError(f"rbm must be an RBM, got {type(rbm).__name__}")
    if not isinstance(cfg, RBMConfig):
        raise ValueError(f"cfg must be an RBMConfig, got {type(cfg).__name__}")
    if cfg.n_hidden != rbm.n_hidden:
        raise ValueError(f"cfg.n_hidden={cfg.n_hidden} but rbm has {rbm.n_hidden} hidden units")
    x = rbm._v(x, "x")
    gen = torch.Generator(device=rbm.W.device).manual_seed(cfg.seed + 1)
    step = cd_step(rbm, make_optimizer(rbm, cfg), cfg, gen)
    desc = f"{'PCD' if cfg.persistent else 'CD'}-{cfg.k}"
    return train(step, x, cfg.n_epochs, cfg.batch_size, seed=cfg.seed, eval_fn=eval_fn,
                 eval_every=eval_every, progress=progress, desc=desc)
