r"""Prior (label) shift: :math:`p(y)` changes between training and test, :math:`p(x\mid y)` does not.

A generative classifier adapts by swapping its prior (:func:`~.gaussian.with_prior`). Any
probabilistic classifier, discriminative ones included, can be corrected with Bayes' rule,

.. math::
    p_{\text{new}}(y\mid x) \propto p_{\text{train}}(y\mid x)\,
    \frac{\pi_{\text{new}}(y)}{\pi_{\text{train}}(y)},

i.e. add :math:`\log\pi_{\text{new}} - \log\pi_{\text{train}}` to the logits. When the new
prior is unknown, :func:`estimate_prior_em` finds it from unlabelled test inputs (Saerens,
Latinne & Decaestecker, 2002). Calibration metrics (:func:`log_loss`,
:func:`expected_calibration_error`) measure what the correction buys.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = [
    "adjust_log_proba",
    "PriorEMResult",
    "estimate_prior_em",
    "log_loss",
    "expected_calibration_error",
    "sample_with_prior",
    "prior_counts",
]


def _check_log_proba(log_proba, name="log_proba") -> int:
    if not torch.is_tensor(log_proba) or log_proba.ndim != 2 or not torch.is_floating_point(log_proba):
        raise ValueError(f"{name} must be a floating (N, K) tensor")
    if torch.isnan(log_proba).any() or (log_proba > 1e-6).any():
        raise ValueError(f"{name} must hold log-probabilities (<= 0, no NaN)")
    return int(log_proba.shape[1])


def _check_prior(prior, K, name) -> torch.Tensor:
    if not torch.is_tensor(prior) or prior.shape != (K,):
        raise ValueError(f"{name} must be a ({K},) tensor")
    if (prior <= 0).any() or abs(float(prior.sum()) - 1) > 1e-6:
        raise ValueError(f"{name} must be positive and sum to one")
    return prior


def adjust_log_proba(log_proba: torch.Tensor, train_prior: torch.Tensor,
                     new_prior: torch.Tensor) -> torch.Tensor:
    r"""Bayes-rule prior correction of class posteriors (the logit correction).

    .. math::
        \log p_{\text{new}}(k\mid x) = \log p(k\mid x) + \log\frac{\pi^{\text{new}}_k}
        {\pi^{\text{train}}_k} - \log\sum_j p(j\mid x)\frac{\pi^{\text{new}}_j}{\pi^{\text{train}}_j}

    Args:
        log_proba: ``(N, K)`` log-posteriors under the training prior.
        train_prior: ``(K,)`` the prior the model was trained under.
        new_prior: ``(K,)`` the prior at test time.

    Returns:
        ``(N, K)`` corrected log-posteriors.
    """
    K = _check_log_proba(log_proba)
    shift = torch.log(_check_prior(new_prior, K, "new_prior").to(log_proba)) - torch.log(
        _check_prior(train_prior, K, "train_prior").to(log_proba))
    z = log_proba + shift
    return z - torch.logsumexp(z, dim=1, keepdim=True)


class PriorEMResult(NamedTuple):
    """Result of :func:`estimate_prior_em`: ``prior (K,)``, adapted ``log_proba (N, K)``,
    ``history`` (the log-likelihood of the unlabelled data per iteration) and ``n_iter``."""

    prior: torch.Tensor
    log_proba: torch.Tensor
    history: torch.Tensor
    n_iter: int


def estimate_prior_em(log_proba: torch.Tensor, train_prior: torch.Tensor, n_iter: int = 1000,
                      tol: float = 1e-10) -> PriorEMResult:
    r"""Estimate an unknown test prior from unlabelled inputs by EM (Saerens et al., 2002).

    E-step: adapt the posteriors to the current prior with :func:`adjust_log_proba`.
    M-step: :math:`\pi_k \leftarrow \frac1N\sum_n p(k\mid x_n)`. This is EM for the mixture
    :math:`p(x)=\sum_k\pi_k p(x\mid k)` with the class-conditionals held fixed; it increases
    :math:`\sum_n\log\sum_k p(k\mid x_n)\pi_k/\pi^{\text{train}}_k` (recorded in ``history``).

    Args:
        log_proba: ``(N, K)`` log-posteriors under ``train_prior``.
        train_prior: ``(K,)``.
        n_iter: maximum iterations.
        tol: stop when the prior moves less than ``tol`` (max-abs change).

    Returns:
        :class:`PriorEMResult`.
    """
    K = _check_log_proba(log_proba)
    train_prior = _check_prior(train_prior, K, "train_prior").to(log_proba)
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    if not isinstance(tol, (int, float)) or tol < 0:
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    prior, history, it = train_prior.clone(), [], 0
    for it in range(1, n_iter + 1):  # noqa: B007
        z = log_proba + torch.log(prior) - torch.log(train_prior)
        norm = torch.logsumexp(z, dim=1, keepdim=True)  # (N, 1)
        history.append(norm.sum())
        new = torch.exp(z - norm).mean(0)
        done = float((new - prior).abs().max()) < tol
        # a class absent from the data drives its prior towards 0: keep it representable
        prior = (new / new.sum()).clamp_min(torch.finfo(new.dtype).tiny)
        if done:
            break
    z = log_proba + torch.log(prior) - torch.log(train_prior)
    return PriorEMResult(prior, z - torch.logsumexp(z, dim=1, keepdim=True), torch.stack(history), it)


def log_loss(log_proba: torch.Tensor, y: torch.Tensor) -> float:
    r"""Mean negative log-likelihood :math:`-\frac1N\sum_n\log p(y_n\mid x_n)` in nats."""
    K = _check_log_proba(log_proba)
    if not torch.is_tensor(y) or y.shape != log_proba.shape[:1] or (y < 0).any() or (y >= K).any():
        raise ValueError(f"y must be ({log_proba.shape[0]},) labels in 0..{K - 1}")
    return float(-log_proba.gather(1, y.view(-1, 1).long()).mean())


def expected_calibration_error(proba: torch.Tensor, y: torch.Tensor, n_bins: int = 15) -> float:
    r"""Top-label expected calibration error with equal-width confidence bins.

    .. math::
        \mathrm{ECE} = \sum_b \frac{|B_b|}{N}\,\big|\operatorname{acc}(B_b) - \operatorname{conf}(B_b)\big|,

    where :math:`B_b` holds the points whose top probability falls in
    :math:`((b-1)/n_\text{bins}, b/n_\text{bins}]`.

    Args:
        proba: ``(N, K)`` class probabilities.
        y: ``(N,)`` labels.
        n_bins: number of bins.
    """
    if not torch.is_tensor(proba) or proba.ndim != 2 or (proba < 0).any() or (proba > 1 + 1e-6).any():
        raise ValueError("proba must be an (N, K) tensor of probabilities")
    if not torch.is_tensor(y) or y.shape != proba.shape[:1]:
        raise ValueError(f"y must have shape ({proba.shape[0]},)")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    conf, pred = proba.max(1)
    correct = (pred == y).to(proba.dtype)
    bins = torch.clamp(torch.ceil(conf * n_bins).long() - 1, 0, n_bins - 1)  # (N,)
    gap = torch.bincount(bins, weights=correct - conf, minlength=n_bins).to(proba.dtype)
    return float(gap.abs().sum() / len(y))


def prior_counts(prior: torch.Tensor, n: int) -> torch.Tensor:
    r"""Split ``n`` items into integer class counts proportional to ``prior`` (largest remainders).

    Each class first gets :math:`\lfloor n\pi_k\rfloor`; the items left over go one each to the
    classes with the largest remainders :math:`n\pi_k - \lfloor n\pi_k\rfloor` (Hamilton's
    method), so :math:`|c_k - n\pi_k| < 1` for every class and :math:`\sum_k c_k = n`.

    Args:
        prior: ``(K,)`` positive probabilities summing to one.
        n: total count.

    Returns:
        ``(K,)`` int64 counts.

    Raises:
        ValueError: a class would get no item (``n`` is too small for ``prior``).
    """
    if not torch.is_tensor(prior) or prior.ndim != 1:
        raise ValueError("prior must be a 1-D tensor")
    prior = _check_prior(prior, prior.shape[0], "prior").double()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    share = prior * n
    counts = torch.floor(share).long()
    rest = n - int(counts.sum())
    order = torch.argsort(share - counts, descending=True, stable=True)
    counts[order[:rest]] += 1
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"n={n} is too small: class(es) {missing} with positive prior would get no "
                         f"example; n >= {int(torch.ceil(1 / prior.min()))} always works")
    return counts


def sample_with_prior(y: torch.Tensor, prior: torch.Tensor, n: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Indices of ``n`` examples of ``y`` drawn (without replacement) in proportions ``prior``.

    Builds a label-shifted evaluation set whose class counts are :func:`prior_counts`
    ``(prior, n)``: each within one example of :math:`n\pi_k`, every class present.

    Args:
        y: ``(N,)`` labels in ``0..K-1``.
        prior: ``(K,)`` the requested class proportions.
        n: size of the shifted set.
        generator: torch generator for the draws.

    Returns:
        ``(n,)`` int64 indices into ``y``, shuffled.

    Raises:
        ValueError: bad arguments, or a class has fewer examples than its count needs.
    """
    if not torch.is_tensor(y) or y.ndim != 1:
        raise ValueError("y must be a 1-D label tensor")
    K = int(y.max()) + 1
    _check_prior(prior, K, "prior")
    want = prior_counts(prior, n)
    out = []
    for k in range(K):
        pool = (y == k).nonzero().flatten()
        if want[k] > len(pool):
            raise ValueError(f"n: class {k} needs {int(want[k])} examples but has {len(pool)}")
        out.append(pool[torch.randperm(len(pool), generator=generator)[: int(want[k])]])  # device-free: CPU
    idx = torch.cat(out)
    return idx[torch.randperm(len(idx), generator=generator)]  # device-free: CPU-generator indices
