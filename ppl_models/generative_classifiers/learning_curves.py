r"""Learning curves over training-set size, with repeated stratified subsamples (Ng & Jordan, 2002).

A classifier is given as a function ``fit_predict(X_train, y_train, X_test) -> y_pred``; the
curve is the test error at each training size, averaged over ``n_repeats`` random stratified
subsets of the training pool. :func:`crossover` reads off where one curve drops below another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["stratified_subsample", "LearningCurves", "learning_curves", "crossover"]

FitPredict = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def stratified_subsample(y: torch.Tensor, n: int, generator: torch.Generator | None = None,
                         min_per_class: int = 2) -> torch.Tensor:
    """``n`` indices into ``y`` with (close to) the pool's class proportions and at least
    ``min_per_class`` per class; returns ``(n,)`` int64."""
    if not torch.is_tensor(y) or y.ndim != 1:
        raise ValueError("y must be a 1-D label tensor")
    K = int(y.max()) + 1
    counts = torch.bincount(y, minlength=K)
    if isinstance(n, bool) or not isinstance(n, int) or not K * min_per_class <= n <= len(y):
        raise ValueError(f"n must be an int in [{K * min_per_class}, {len(y)}], got {n!r}")
    share = counts.double() / counts.sum() * (n - K * min_per_class)
    take = torch.floor(share).long() + min_per_class
    rest = n - int(take.sum())
    order = torch.argsort(share - torch.floor(share), descending=True)
    take[order[:rest]] += 1
    if (take > counts).any():
        raise ValueError("n: a class has fewer examples than requested")
    idx = [(y == k).nonzero().flatten()[torch.randperm(int(counts[k]), generator=generator)[: int(take[k])]]
           for k in range(K)]  # device-free: CPU-generator indices; indexing accepts them on any device
    return torch.cat(idx)


class LearningCurves(NamedTuple):
    """``sizes (S,)`` and, per classifier name, test ``errors (R, S)`` over ``R`` repeats."""

    sizes: np.ndarray
    errors: dict[str, np.ndarray]

    def mean(self, name: str) -> np.ndarray:
        return self.errors[name].mean(0)

    def sem(self, name: str) -> np.ndarray:
        """Standard error of the mean over repeats."""
        e = self.errors[name]
        return e.std(0, ddof=1) / np.sqrt(len(e)) if len(e) > 1 else np.zeros(e.shape[1])

    def paired_difference(self, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        r"""Mean and standard error of :math:`e_a - e_b` over repeats, per size.

        Both classifiers saw the same subsets in each repeat, so the difference is taken repeat
        by repeat (a paired comparison), which cancels the split-to-split noise the two share:
        :math:`\bar d_s = \frac1R\sum_r (e_{a,rs} - e_{b,rs})`, standard error
        :math:`\operatorname{sd}_r(d_{rs})/\sqrt R`.

        Returns:
            ``(mean (S,), sem (S,))``; the standard error is 0 with a single repeat.
        """
        for name in (a, b):
            if name not in self.errors:
                raise ValueError(f"no classifier named {name!r}; have {sorted(self.errors)}")
        d = self.errors[a] - self.errors[b]  # (R, S)
        sem = d.std(0, ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.zeros(d.shape[1])
        return d.mean(0), sem


def learning_curves(classifiers: Mapping[str, FitPredict], X: torch.Tensor, y: torch.Tensor,
                    X_test: torch.Tensor, y_test: torch.Tensor, sizes: Sequence[int],
                    n_repeats: int, seed: int = 0) -> LearningCurves:
    """Test error of each classifier trained on stratified subsets of ``(X, y)``.

    The same subset is used for every classifier within a repeat (a paired comparison).

    Args:
        classifiers: name -> ``fit_predict(X_train, y_train, X_test) -> (N_test,) labels``.
        X, y: the training pool ``(N, D)``, ``(N,)``.
        X_test, y_test: the fixed test set.
        sizes: training-set sizes (each at least ``2 K``).
        n_repeats: random subsets per size.
        seed: seeds the subsampling generator.

    Returns:
        :class:`LearningCurves`.
    """
    if not classifiers:
        raise ValueError("classifiers must name at least one classifier")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int, got {n_repeats!r}")
    if len(sizes) == 0:
        raise ValueError("sizes must not be empty")
    gen = torch.Generator().manual_seed(seed)
    errors = {name: np.zeros((n_repeats, len(sizes))) for name in classifiers}
    for r in range(n_repeats):
        for s, n in enumerate(sizes):
            idx = stratified_subsample(y, int(n), generator=gen)
            for name, fit_predict in classifiers.items():
                pred = torch.as_tensor(fit_predict(X[idx], y[idx], X_test))
                errors[name][r, s] = float((pred.cpu() != y_test.cpu()).double().mean())
    return LearningCurves(np.asarray(sizes), errors)


def crossover(sizes: Sequence[float], err_a: Sequence[float], err_b: Sequence[float]) -> float | None:
    """Training size from which curve ``b`` stays below curve ``a`` (``b`` overtakes ``a`` for good).

    Finds the last size where ``b`` is not below ``a`` and interpolates the zero of the
    difference linearly in :math:`\\log n` up to the next size. Returns ``None`` when ``b`` is
    below ``a`` everywhere, or does not end below it.
    """
    n, a, b = (np.asarray(v, dtype=float) for v in (sizes, err_a, err_b))
    if not (n.ndim == a.ndim == b.ndim == 1 and len(n) == len(a) == len(b) >= 2):
        raise ValueError("sizes, err_a and err_b must be 1-D sequences of the same length >= 2")
    if (n <= 0).any() or (np.diff(n) <= 0).any():
        raise ValueError("sizes must be positive and increasing")
    d = b - a
    not_below = np.flatnonzero(d >= 0)
    if len(not_below) == 0 or not_below[-1] == len(d) - 1:
        return None
    i = int(not_below[-1])
    t = d[i] / (d[i] - d[i + 1])
    return float(np.exp(np.log(n[i]) + t * (np.log(n[i + 1]) - np.log(n[i]))))
