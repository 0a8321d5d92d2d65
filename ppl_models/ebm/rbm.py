r"""Restricted Boltzmann machine with Bernoulli visible and hidden units.

::

      h_1    h_2   ...   h_H        hidden units, binary
       |  \ /  |  \ /  |
       |  / \  |  / \  |            W (V, H): every visible unit meets every hidden unit,
      v_1    v_2   ...   v_V        visible units, binary; no edges inside a layer

.. math::

    E(v, h) = -v^\top W h - b^\top v - c^\top h, \qquad p(v, h) = e^{-E(v, h)} / Z.

No edges inside a layer make both conditionals factorise,
:math:`p(h_j = 1 \mid v) = \sigma(c_j + v^\top W_{:, j})` and
:math:`p(v_i = 1 \mid h) = \sigma(b_i + W_{i, :} h)`, which gives block Gibbs sampling and the
free energy in closed form. Public methods validate their inputs; the ``_``-prefixed functions
on raw tensors are the unchecked kernels that training and AIS call in their inner loops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_int, check_matrix

__all__ = ["RBM", "check_binary", "check_generator"]


def check_binary(v, name: str, dim: int | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A finite floating-point ``(N, D)`` tensor whose entries are all 0 or 1.

    Raises:
        ValueError: not a float matrix, wrong column count, NaN, or a value other than 0/1;
            the message names ``name``.
    """
    v = check_matrix(v, name, dim=dim, dtype=dtype)
    if not bool(((v == 0) | (v == 1)).all()):
        raise ValueError(f"{name} must be binary (every entry 0 or 1); binarise it first "
                         "(ppl_models.data.binarize_static)")
    return v


def check_generator(generator, device: torch.device) -> torch.Generator:
    """An explicit ``torch.Generator`` on ``device`` (samplers never draw from the global RNG)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != device.type:
        raise ValueError(f"generator is on {generator.device} but the model is on {device}; "
                         f"use torch.Generator(device={str(device)!r})")
    return generator


def _free_energy(W: torch.Tensor, b: torch.Tensor, c: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """:math:`F(v) = -b^\\top v - \\sum_j \\mathrm{softplus}(c_j + v^\\top W_{:,j})`, shape ``(N,)``."""
    return -(v @ b) - F.softplus(v @ W + c).sum(-1)


def _bernoulli(p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """0/1 draws with probabilities ``p`` as ``u < p``, in ``p``'s dtype (faster than ``torch.bernoulli``)."""
    return torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device).lt_(p)


def _sample_h_given_v(W, c, v, generator) -> torch.Tensor:
    return _bernoulli(torch.addmm(c, v, W).sigmoid_(), generator)


def _sample_v_given_h(W, b, h, generator) -> torch.Tensor:
    return _bernoulli(torch.addmm(b, h, W.T).sigmoid_(), generator)


class RBM(nn.Module):
    r"""A Bernoulli-Bernoulli RBM holding :math:`W` ``(V, H)``, :math:`b` ``(V,)``, :math:`c` ``(H,)``.

    The device and dtype are those of the parameters; inputs are cast to the parameters' dtype.

    Args:
        W: ``(V, H)`` weights.
        b: ``(V,)`` visible biases.
        c: ``(H,)`` hidden biases.
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, c: torch.Tensor):
        super().__init__()
        W = check_matrix(W, "W")
        V, H = W.shape
        for name, t, n in (("b", b, V), ("c", c, H)):
            if not torch.is_tensor(t) or t.shape != (n,):
                shape = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
                raise ValueError(f"{name} must be a tensor of shape ({n},) to match W {(V, H)}, got {shape}")
            if t.dtype != W.dtype or t.device != W.device:
                raise ValueError(f"{name} must have W's dtype and device ({W.dtype}, {W.device})")
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or infinite values")
        self.W = nn.Parameter(W.detach().clone())
        self.b = nn.Parameter(b.detach().clone())
        self.c = nn.Parameter(c.detach().clone())

    @classmethod
    def random(cls, n_visible: int, n_hidden: int, *, weight_std: float = 0.01, bias_std: float = 0.0,
               generator: torch.Generator, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> RBM:
        r"""An RBM with :math:`W_{ij} \sim \mathcal N(0, \text{weight\_std}^2)` and
        :math:`b_i, c_j \sim \mathcal N(0, \text{bias\_std}^2)`, drawn from ``generator``."""
        V = check_int(n_visible, "n_visible")
        H = check_int(n_hidden, "n_hidden")
        for name, s in (("weight_std", weight_std), ("bias_std", bias_std)):
            if not isinstance(s, (int, float)) or not s >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {s!r}")
        check_generator(generator, torch.device(device))
        kw = {"generator": generator, "dtype": dtype, "device": device}
        return cls(weight_std * torch.randn(V, H, **kw), bias_std * torch.randn(V, **kw),
                   bias_std * torch.randn(H, **kw))

    @property
    def n_visible(self) -> int:
        return self.W.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.W.shape[1]

    def _v(self, v, name: str = "v") -> torch.Tensor:
        return check_binary(v, name, dim=self.n_visible, dtype=self.W.dtype)

    def _h(self, h, name: str = "h") -> torch.Tensor:
        return check_binary(h, name, dim=self.n_hidden, dtype=self.W.dtype)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        r""":math:`E(v, h) = -v^\top W h - b^\top v - c^\top h` for binary ``v`` ``(N, V)`` and
        ``h`` ``(N, H)``; returns ``(N,)``."""
        v, h = self._v(v), self._h(h)
        if v.shape[0] != h.shape[0]:
            raise ValueError(f"v has {v.shape[0]} rows but h has {h.shape[0]}")
        return -((v @ self.W) * h).sum(-1) - v @ self.b - h @ self.c

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        r"""Free energy :math:`F(v) = -\log \sum_h e^{-E(v, h)}
        = -b^\top v - \sum_j \mathrm{softplus}(c_j + v^\top W_{:, j})`.

        Args:
            v: ``(N, V)`` binary.

        Returns:
            ``(N,)``; differentiable in the parameters.
        """
        return _free_energy(self.W, self.b, self.c, self._v(v))

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        r""":math:`p(h_j = 1 \mid v) = \sigma(c_j + v^\top W_{:, j})`: ``(N, V)`` -> ``(N, H)``."""
        return torch.sigmoid(self._v(v) @ self.W + self.c)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        r""":math:`p(v_i = 1 \mid h) = \sigma(b_i + W_{i, :} h)`: ``(N, H)`` -> ``(N, V)``."""
        return torch.sigmoid(self._h(h) @ self.W.T + self.b)

    @torch.no_grad()
    def gibbs(self, v: torch.Tensor, k: int, *, generator: torch.Generator) -> torch.Tensor:
        r"""``k`` sweeps of block Gibbs sampling, :math:`h \sim p(h \mid v)` then
        :math:`v \sim p(v \mid h)`, from each row of ``v``.

        Each sweep leaves :math:`p(v)` invariant, so from any start the rows converge in
        distribution to the model.

        Args:
            v: ``(N, V)`` binary starting states (one chain per row).
            k: number of sweeps, ``>= 1``.
            generator: a ``torch.Generator`` on the parameters' device.

        Returns:
            ``(N, V)`` binary states after ``k`` sweeps.
        """
        v = self._v(v)
        k = check_int(k, "k")
        check_generator(generator, self.W.device)
        for _ in range(k):
            h = _sample_h_given_v(self.W, self.c, v, generator)
            v = _sample_v_given_h(self.W, self.b, h, generator)
        return v

    @torch.no_grad()
    def sample(self, n: int, k: int, *, generator: torch.Generator) -> torch.Tensor:
        """``n`` samples by ``k`` Gibbs sweeps from uniform random visible states, ``(n, V)``."""
        n = check_int(n, "n")
        check_generator(generator, self.W.device)
        v0 = _bernoulli(torch.full((n, self.n_visible), 0.5, dtype=self.W.dtype, device=self.W.device),
                        generator)
        return self.gibbs(v0, k, generator=generator)
