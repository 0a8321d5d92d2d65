r"""One evaluation table for generative models of the same data: likelihood, samples, cost.

A :class:`Row` holds one model's numbers; :func:`score_samples` fills the sample columns the same
way for every model (features of one classifier, the same reference images, PRDC with one
``k``, nearest-training distances); :func:`format_table` prints the rows.

The test NLL carries its **kind**, because the numbers are not the same quantity:

========================  ==================================================================
``exact``                 :math:`-\log p(x)` computed exactly (mixtures, autoregressive models)
``variational bound``     an upper bound :math:`-\mathrm{ELBO} \ge -\log p(x)` (DDPM's bound: a bound
                          for the :math:`T`-step discretised model it is computed with, and on
                          binary data with a binary decoder, ``levels=2``)
``importance-sampled``    the IWAE bound: an upper bound that tightens with the number of samples
``AIS estimate``          :math:`F(x) + \log\hat Z` with :math:`\hat Z` from annealed importance
                          sampling: unbiased in :math:`Z`, so :math:`\log \hat Z` is biased *low*
                          and the NLL tends to be *under*-estimated
``dequantisation bound``  a continuous density on dequantised pixels: an upper bound on the
                          NLL of the discrete images in expectation over the dequantisation
                          noise (and the Hutchinson probe, when the trace is estimated), up to
                          the error of the ODE solve that computes the density
``none``                  the model has no tractable likelihood (EBMs, score models, GANs)
========================  ==================================================================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..metrics import compute_features, frechet_distance, prdc
from ..validation import check_int
from .memorisation import copy_fraction, nearest_distances

__all__ = ["NLL_KINDS", "Row", "mean_and_se", "fd_bootstrap_se", "SampleScores", "score_samples",
           "format_table", "row_dict"]

NLL_KINDS = ("exact", "variational bound", "importance-sampled bound", "AIS estimate", "dequantisation bound",
             "none")


def _real(v, name: str, allow_none: bool = True, allow_inf: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or \
            (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number{' or None' if allow_none else ''}, got {v!r}")


@dataclasses.dataclass(frozen=True)
class Row:
    """One model's line of the table (None: not applicable or not measured).

    Attributes:
        model: label. nll, nll_se: mean test NLL in nats per image and its standard error.
        nll_kind: one of :data:`NLL_KINDS`. fd, fd_se: Fréchet distance and its bootstrap error.
        precision, recall, density, coverage: PRDC with ``k`` neighbours.
        nn_median: median distance of a sample to its nearest training image. copies: share of
        samples closer to the training set than 99% of test images are (a threshold, not literal
        copies; about 1% of fresh data falls below it).
        n_params: parameters (or stored numbers). train_seconds, sample_seconds: wall clock.
    """

    model: str
    nll_kind: str = "none"
    nll: float | None = None
    nll_se: float | None = None
    fd: float | None = None
    fd_se: float | None = None
    precision: float | None = None
    recall: float | None = None
    density: float | None = None
    coverage: float | None = None
    nn_median: float | None = None
    copies: float | None = None
    n_params: int | None = None
    train_seconds: float | None = None
    sample_seconds: float | None = None

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model must be a non-empty str, got {self.model!r}")
        if self.nll_kind not in NLL_KINDS:
            raise ValueError(f"nll_kind must be one of {NLL_KINDS}, got {self.nll_kind!r}")
        if (self.nll_kind == "none") != (self.nll is None):
            raise ValueError(f"nll must be None exactly when nll_kind is 'none' (got nll={self.nll!r}, "
                             f"nll_kind={self.nll_kind!r})")
        _real(self.nll, "nll", allow_inf=True)
        for name in ("nll_se", "fd", "fd_se", "nn_median", "train_seconds", "sample_seconds", "density"):
            v = getattr(self, name)
            _real(v, name)
            if v is not None and v < 0:
                raise ValueError(f"{name} must be >= 0, got {v!r}")
        for name in ("precision", "recall", "coverage", "copies"):
            v = getattr(self, name)
            _real(v, name)
            if v is not None and not 0 <= v <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        n = self.n_params
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError(f"n_params must be a non-negative int or None, got {self.n_params!r}")


def mean_and_se(values: torch.Tensor | np.ndarray) -> tuple[float, float]:
    r"""Mean and standard error :math:`s / \sqrt{n}` of a 1-D set of at least two finite numbers."""
    v = torch.as_tensor(values, dtype=torch.float64).cpu() if isinstance(values, np.ndarray) else values
    if not torch.is_tensor(v) or v.ndim != 1 or v.numel() < 2:
        got = getattr(v, "shape", v)
        raise ValueError(f"values must be a 1-D tensor or array with >= 2 entries, got {got}")
    v = v.detach().double().cpu()
    if not bool(torch.isfinite(v).all()):
        raise ValueError("values must be finite")
    return float(v.mean()), float(v.std() / math.sqrt(v.numel()))


def fd_bootstrap_se(feats_samples: np.ndarray, feats_reference: np.ndarray, n_boot: int = 20,
                    seed: int = 0) -> float:
    """Bootstrap standard error of the Fréchet distance: resample the sample rows ``n_boot`` times.

    The reference set stays fixed (it is the same for every model), so the error is the part of
    the spread that comes from drawing this model's samples.
    """
    check_int(n_boot, "n_boot", low=2)
    check_int(seed, "seed", low=0)
    a = np.asarray(feats_samples, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"feats_samples must be (N >= 2, F), got {a.shape}")
    rng = np.random.default_rng(seed)
    fds = [frechet_distance(a[rng.integers(0, len(a), len(a))], feats_reference) for _ in range(n_boot)]
    return float(np.std(fds, ddof=1))


@dataclasses.dataclass(frozen=True)
class SampleScores:
    """The sample columns of a :class:`Row` (see there)."""

    fd: float
    fd_se: float
    precision: float
    recall: float
    density: float
    coverage: float
    nn_median: float
    copies: float


def score_samples(feature_fn: Callable[[torch.Tensor], torch.Tensor], samples: torch.Tensor,
                  feats_reference: np.ndarray, train: torch.Tensor, d_test: torch.Tensor, *, k: int = 5,
                  n_boot: int = 20, seed: int = 0, quantile: float = 0.01) -> SampleScores:
    """Every sample metric of one model, computed the same way for all.

    Args:
        feature_fn: ``(B, D) -> (B, F)`` features (the shared classifier's).
        samples: ``(N, D)`` samples in the data's pixel scale.
        feats_reference: ``(M, F)`` features of the reference (test) images.
        train: ``(N_train, D)`` training images. d_test: ``(M,)`` nearest-training distances of
            the test images (:func:`.nearest_distances`).
        k: PRDC neighbours. n_boot, seed: the FD bootstrap. quantile: see :func:`.copy_fraction`.
    """
    if not torch.is_tensor(samples) or samples.ndim != 2:
        got = getattr(samples, "shape", type(samples).__name__)
        raise ValueError(f"samples must be an (N, D) tensor, got {got}")
    f = compute_features(feature_fn, samples)
    p = prdc(f, feats_reference, k)
    d = nearest_distances(samples, train)
    return SampleScores(fd=frechet_distance(f, feats_reference),
                        fd_se=fd_bootstrap_se(f, feats_reference, n_boot, seed), precision=p.precision,
                        recall=p.recall, density=p.density, coverage=p.coverage,
                        nn_median=float(d.median()), copies=copy_fraction(d, d_test, quantile))


def row_dict(row: Row) -> dict:
    """``dataclasses.asdict(row)`` (e.g. for ``pandas.DataFrame``)."""
    if not isinstance(row, Row):
        raise ValueError(f"row must be a Row, got {type(row).__name__}")
    return dataclasses.asdict(row)


def _fmt(v, spec: str, width: int) -> str:
    if v is None:
        return "-".rjust(width)
    if isinstance(v, float) and math.isinf(v):
        return "inf".rjust(width)
    return format(v, spec).rjust(width)


def _seconds(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} s" if v < 60 else f"{v / 60:.1f} min"


def format_table(rows: Sequence[Row]) -> str:
    """A fixed-width text table of ``rows`` (one line each, a header, ``-`` for not applicable)."""
    if not rows or not all(isinstance(r, Row) for r in rows):
        raise ValueError("rows must be a non-empty sequence of Row")
    w = max(len(r.model) for r in rows)
    head = (f"{'model':{w}s} {'test NLL (nats)':>17s}  {'kind':24s} {'FD':>13s} {'prec':>5s} {'rec':>5s} "
            f"{'dens':>5s} {'cov':>5s} {'NN dist':>7s} {'copies':>6s} {'params':>10s} {'train':>9s} "
            f"{'sampling':>10s}")
    lines = [head, "-" * len(head)]
    for r in rows:
        nll = "-" if r.nll is None else ("inf" if math.isinf(r.nll) else
                                         f"{r.nll:.1f}" + ("" if r.nll_se is None else f" ± {r.nll_se:.1f}"))
        fd = "-" if r.fd is None else f"{r.fd:.2f}" + ("" if r.fd_se is None else f" ± {r.fd_se:.2f}")
        lines.append(
            f"{r.model:{w}s} {nll:>17s}  {r.nll_kind:24s} {fd:>13s} {_fmt(r.precision, '.2f', 5)} "
            f"{_fmt(r.recall, '.2f', 5)} {_fmt(r.density, '.2f', 5)} {_fmt(r.coverage, '.2f', 5)} "
            f"{_fmt(r.nn_median, '.2f', 7)} {_fmt(r.copies, '.1%', 6)} {_fmt(r.n_params, ',d', 10)} "
            f"{_seconds(r.train_seconds):>9s} {_seconds(r.sample_seconds):>10s}")
    return "\n".join(lines)
