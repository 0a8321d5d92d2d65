r"""A small causal Transformer over pixel sequences, with attention written from scratch.

Scaled dot-product attention (Vaswani et al., 2017):

.. math::
    \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d_k}} + M\Big) V,
    \qquad M_{ts} = \begin{cases} 0 & s \le t \\ -\infty & s > t \end{cases}

The causal mask :math:`M` lets position :math:`t` attend to positions :math:`s \le t` only. The
network reads the sequence shifted right by one (a start token, then :math:`x_1, \dots,
x_{D-1}`), so the logit at position :math:`t` is a function of :math:`x_{<t}`: the same
factorisation as a GPT-style text model, with a vocabulary of two pixel values.
``TransformerConfig(fused=True)`` runs full-sequence passes through
``torch.nn.functional.scaled_dot_product_attention`` (the same function, checked equal to
:func:`causal_attention` in the tests) because the from-scratch version materialises the
``(T, T)`` score matrix of every head.
:meth:`PixelTransformer.step` decodes one position at a time with a key/value cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from .common import check_x, seeded

__all__ = ["TransformerConfig", "PixelTransformer", "CausalSelfAttention", "causal_attention",
           "causal_mask_matrix"]


def causal_mask_matrix(t_q: int, t_k: int, device: torch.device | None = None) -> torch.Tensor:
    """The additive ``(t_q, t_k)`` mask: 0 where key ``s <= t + (t_k - t_q)``, ``-inf`` elsewhere."""
    q = torch.arange(t_q, device=device)[:, None] + (t_k - t_q)
    k = torch.arange(t_k, device=device)[None, :]
    return torch.zeros(t_q, t_k, device=device).masked_fill(k > q, float("-inf"))


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True) -> torch.Tensor:
    r"""Scaled dot-product attention :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k} + M)V`, from scratch.

    Args:
        q: ``(..., T_q, d_k)``. k: ``(..., T_k, d_k)``. v: ``(..., T_k, d_v)``.
        causal: add the causal mask (query ``t`` is the last ``T_q`` positions of the keys).

    Returns:
        ``(..., T_q, d_v)``.
    """
    for name, a in (("q", q), ("k", k), ("v", v)):
        if not torch.is_tensor(a) or not torch.is_floating_point(a) or a.ndim < 2:
            raise ValueError(f"{name} must be a floating tensor with at least 2 dimensions")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q, k must share d_k and k, v must share T_k; got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])          # (..., T_q, T_k)
    if causal:
        scores = scores + causal_mask_matrix(q.shape[-2], k.shape[-2], q.device).to(q.dtype)
    return torch.softmax(scores, dim=-1) @ v


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a :class:`PixelTransformer`."""

    seq_len: int = 784          # D, pixels per image (raster order)
    d_model: int = 32           # width of the residual stream
    n_heads: int = 4            # attention heads (d_model divisible by n_heads)
    n_layers: int = 2           # Transformer blocks
    mlp_ratio: int = 4          # hidden width of each block's MLP, in units of d_model
    dropout: float = 0.0        # on attention outputs and MLP outputs (training only)
    fused: bool = False         # full-sequence passes use torch's fused kernel (equal to causal_attention)
    seed: int = 0               # seeds the initial weights

    def __post_init__(self):
        for name in ("seq_len", "d_model", "n_heads", "n_layers", "mlp_ratio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if not (0.0 <= self.dropout < 1.0):
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    def smoke(self) -> TransformerConfig:
        """The tiny variant: width 16, one block."""
        return replace(self, d_model=min(self.d_model, 16), n_heads=min(self.n_heads, 2), n_layers=1)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention; ``cache`` holds past keys/values for incremental decoding."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, fused: bool = False):
        super().__init__()
        self.n_heads, self.fused = n_heads, fused
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is not None:                                          # append to the past (B, H, T', d_h)
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        if self.fused and cache is None:                               # same maths, less memory and time
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = causal_attention(q, k, v)                               # (B, H, T, d_h)
        return self.drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))


class _Block(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        d = cfg.d_model
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, cfg.n_heads, cfg.dropout, cfg.fused)
        self.mlp = nn.Sequential(nn.Linear(d, cfg.mlp_ratio * d), nn.GELU(), nn.Linear(cfg.mlp_ratio * d, d),
                                 nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache)
        return x + self.mlp(self.ln2(x))


class PixelTransformer(nn.Module):
    """GPT-style causal Transformer: ``(B, D)`` binary pixels -> ``(B, D)`` Bernoulli logits."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        if not isinstance(cfg, TransformerConfig):
            raise ValueError(f"cfg must be a TransformerConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        with seeded(cfg.seed):
            self.tok = nn.Embedding(3, cfg.d_model)                    # pixel 0, pixel 1, start token 2
            self.pos = nn.Parameter(0.02 * torch.randn(cfg.seq_len, cfg.d_model))  # device-free: built on CPU
            self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
            self.ln = nn.LayerNorm(cfg.d_model)
            self.head = nn.Linear(cfg.d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_x(x, "x", ndim=2, dim=self.cfg.seq_len)
        start = torch.full((x.shape[0], 1), 2, dtype=torch.int64, device=x.device)
        tokens = torch.cat([start, x[:, :-1].round().long()], dim=1)   # input t is x_{t-1}
        h = self.tok(tokens) + self.pos
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln(h)).squeeze(-1)                        # (B, D)

    def step(self, prev: torch.Tensor, t: int, caches: list[dict]) -> torch.Tensor:
        """Logits ``(B,)`` of pixel ``t`` given pixel ``t - 1`` (``prev``, ``(B,)``; ignored at ``t = 0``).

        ``caches`` holds one dict per block, empty at ``t = 0`` and filled in place: each step
        costs one position's work, not a pass over the whole prefix.
        """
        tok = prev.round().long().view(-1, 1)
        if t == 0:
            tok = torch.full_like(tok, 2)                              # the start token
        h = self.tok(tok) + self.pos[t]
        for block, cache in zip(self.blocks, caches, strict=True):
            h = block(h, cache)
        return self.head(self.ln(h)).view(-1)
