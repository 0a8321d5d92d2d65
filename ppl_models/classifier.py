r"""The feature classifier behind every sample-quality number of the course.

A small LeNet-like CNN (:class:`ppl_models.nets.ConvClassifier`: two levels of 3x3
convolutions with max pooling, 128 penultimate features, a linear head), trained once per
dataset on the training split only (MNIST-5k: 4,000 images; digits: 1,348) with small random
shifts, and cached with :func:`ppl_models.checkpoint.load_or_train`. Its penultimate features
:math:`\phi(x) \in \mathbb R^{128}` feed the Fréchet distance and precision / recall / density
/ coverage; its predictions check conditional samples (:func:`fraction_as_requested`), count
dropped modes (:func:`class_histogram`) and measure confidence (:func:`mean_max_probability`).

Pixel convention (the one place it is defined)
----------------------------------------------
Callers pass images with grey levels in :math:`[0, 1]` (what :mod:`ppl_models.data` returns),
either flat ``(N, H*W)`` or ``(N, 1, H, W)``. A model that works in the :math:`[-1, 1]`
convention of the continuous image models converts its samples with :func:`to_unit` first.
Inside, the network sees :func:`to_signed` of its input, :math:`x \mapsto 2x - 1`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch.nn import functional as F

from . import checkpoint, config, distributed
from .nets import ConvClassifier, seeded
from .nets.common import has_values
from .train import torch_step, train

__all__ = ["CLASSIFIER_VERSION", "DATASETS", "ClassifierConfig", "FeatureClassifier", "to_signed", "to_unit",
           "as_images", "load_feature_classifier", "train_classifier", "fraction_as_requested",
           "class_histogram", "mean_max_probability", "random_shift"]

CLASSIFIER_VERSION = 1  # bump when the training code changes what it produces (the cache retrains)
DATASETS = {"mnist5k": (28, 28), "digits": (8, 8)}


def to_signed(x: torch.Tensor) -> torch.Tensor:
    r"""Grey levels :math:`[0, 1] \to [-1, 1]`: :math:`x \mapsto 2x - 1` (what the network sees)."""
    return 2.0 * x - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    r"""Pixels :math:`[-1, 1] \to [0, 1]`: :math:`x \mapsto (x + 1)/2` (for samples of [-1, 1] models)."""
    return 0.5 * (x + 1.0)


@dataclass(frozen=True)
class ClassifierConfig:
    """Network, training and accuracy bar of a feature classifier (defaults: MNIST-5k)."""

    dataset: str = "mnist5k"             # "mnist5k" (28x28) or "digits" (8x8)
    channels: tuple[int, ...] = (32, 64)  # conv widths per level (batch norm after each conv)
    feature_dim: int = 128               # penultimate features (the sample-quality features)
    dropout: float = 0.3                 # before the linear head, training only
    max_shift: int = 2                   # augmentation: random shifts of up to this many pixels
    lr: float = 1e-3                     # Adam learning rate (cosine decay to 0)
    batch_size: int = 64                 # images per step
    n_epochs: int = 30                   # passes over the training split
    min_accuracy: float = 0.97           # test accuracy the trained model must reach (0: no bar)
    seed: int = 0                        # initial weights, shuffling, dropout, shifts

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {self.dataset!r}")
        for name in ("feature_dim", "batch_size", "n_epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not self.channels or any(not isinstance(c, int) or c < 1 for c in self.channels):
            raise ValueError(f"channels must be positive ints, got {self.channels!r}")
        if isinstance(self.max_shift, bool) or not isinstance(self.max_shift, int) or self.max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative int, got {self.max_shift!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if not (0.0 <= self.dropout < 1.0) or not (self.lr > 0) or not (0.0 <= self.min_accuracy <= 1.0):
            raise ValueError(f"need dropout in [0, 1), lr > 0, min_accuracy in [0, 1]; got "
                             f"{self.dropout!r}, {self.lr!r}, {self.min_accuracy!r}")

    @classmethod
    def for_dataset(cls, dataset: str) -> ClassifierConfig:
        """The full-size defaults of ``dataset`` (digits: 1-pixel shifts, more epochs)."""
        if dataset == "digits":
            return cls(dataset="digits", max_shift=1, n_epochs=60)
        return cls(dataset=dataset)

    @property
    def image_shape(self) -> tuple[int, int]:
        return DATASETS[self.dataset]

    def smoke(self) -> ClassifierConfig:
        """The tiny variant: narrow, one epoch, no accuracy bar (trains in a few seconds)."""
        return replace(self, channels=(4, 8), feature_dim=32, n_epochs=1, min_accuracy=0.0)


def as_images(x: torch.Tensor, image_shape: tuple[int, int], name: str = "x") -> torch.Tensor:
    """Validate grey levels in [0, 1], flat ``(N, H*W)`` or ``(N, 1, H, W)``; return ``(N, 1, H, W)``."""
    h, w = image_shape
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor, got {type(x).__name__}")
    if x.ndim == 2 and x.shape[1] == h * w:
        x = x.reshape(-1, 1, h, w)
    elif x.ndim != 4 or tuple(x.shape[1:]) != (1, h, w):
        raise ValueError(f"{name} must have shape (N, {h * w}) or (N, 1, {h}, {w}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no images")
    if not has_values(x):  # meta tensors: shapes only
        return x
    lo, hi = torch.aminmax(x)  # NaN fails both comparisons below
    if not bool((lo >= 0) & (hi <= 1)):
        raise ValueError(f"{name} must hold grey levels in [0, 1] without NaN (got min {float(lo):.3g}, "
                         f"max {float(hi):.3g}); convert [-1, 1] samples with to_unit")
    return x


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator,
                 fill: float = -1.0) -> torch.Tensor:
    """Shift each image ``(B, C, H, W)`` by its own random offset in ``[-max_shift, max_shift]^2``.

    Pixels shifted in take the value ``fill`` (the background, -1 in the signed convention).
    """
    if max_shift == 0:
        return x
    b, _, h, w = x.shape
    s = max_shift
    padded = F.pad(x, (s, s, s, s), value=fill)  # (B, C, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * s + 1, (2, b), generator=generator, device=generator.device)
    dy, dx = dy.to(x.device), dx.to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B, 1, 1, W)
    idx = torch.arange(b, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[idx, chan, rows, cols]


def _load_split(dataset: str):
    from .data import load_digits, load_mnist5k

    data = load_mnist5k(device="cpu") if dataset == "mnist5k" else load_digits(device="cpu")
    return data


def train_classifier(cfg: ClassifierConfig, x_train: torch.Tensor, y_train: torch.Tensor,
                     x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None,
                     progress: bool | None = None) -> tuple[ConvClassifier, dict]:
    """Train a :class:`ConvClassifier` on ``x_train`` only (test images are used only to check it).

    Cross-entropy, Adam with a cosine learning-rate decay, dropout, random shifts; deterministic
    given ``cfg.seed`` (the global RNG is left as it was).

    Args:
        x_train: ``(N, H*W)`` or ``(N, 1, H, W)`` grey levels in [0, 1]; y_train: ``(N,)`` ints.
        x_test, y_test: if given, the test accuracy is measured and must reach ``cfg.min_accuracy``.

    Returns:
        ``(net, extra)`` with ``extra = {"loss", "seconds", "test_accuracy"}``.

    Raises:
        RuntimeError: the test accuracy is below ``cfg.min_accuracy``.
    """
    if not isinstance(cfg, ClassifierConfig):
        raise ValueError(f"cfg must be a ClassifierConfig, got {type(cfg).__name__}")
    x = to_signed(as_images(x_train, cfg.image_shape, "x_train"))
    if not torch.is_tensor(y_train) or y_train.shape != (x.shape[0],) or torch.is_floating_point(y_train):
        raise ValueError(f"y_train must be ({x.shape[0]},) integer labels")
    net = ConvClassifier(10, cfg.channels, cfg.feature_dim, cfg.dropout, seed=cfg.seed).to(x.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    n_steps = cfg.n_epochs * -(-x.shape[0] // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n_steps)
    shift_gen = torch.Generator().manual_seed(distributed.rank_seed(cfg.seed + 1))   # own shifts per process
    model = distributed.wrap(net)   # DDP under torchrun: averages gradients, rank 0's batch-norm statistics

    def loss_fn(xb, yb):
        return F.cross_entropy(model(random_shift(xb, cfg.max_shift, shift_gen)), yb)

    step = torch_step(loss_fn, opt)

    def step_and_decay(xb, yb):
        loss = step(xb, yb)
        sched.step()
        return loss

    net.train()
    with seeded(distributed.rank_seed(cfg.seed)):  # dropout draws from the (forked) global RNG
        hist = train(step_and_decay, (x, y_train), cfg.n_epochs, cfg.batch_size, seed=cfg.seed,
                     progress=progress, desc=f"classifier-{cfg.dataset}")
    distributed.broadcast_buffers(net)
    net.eval()
    extra = {"loss": hist.loss, "seconds": hist.seconds, "test_accuracy": None}
    if x_test is not None:
        acc = FeatureClassifier(net, cfg).accuracy(x_test, y_test)
        extra["test_accuracy"] = acc
        if acc < cfg.min_accuracy:
            raise RuntimeError(f"{cfg.dataset} classifier reached test accuracy {acc:.4f} < "
                               f"min_accuracy {cfg.min_accuracy}; train longer or widen it")
    return net, extra


@dataclass
class FeatureClassifier:
    """A trained classifier: features, logits, predictions and accuracy of images in [0, 1].

    Every method takes ``x`` flat ``(N, H*W)`` or ``(N, 1, H, W)`` with grey levels in [0, 1]
    (validated: shape, NaN, range) on any device, and works in batches without gradients.
    """

    net: ConvClassifier
    cfg: ClassifierConfig
    test_accuracy: float | None = None
    cached: bool = False
    batch_size: int = field(default=1000, repr=False)

    def __post_init__(self):
        self.net.eval()

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.cfg.image_shape

    @property
    def n_classes(self) -> int:
        return self.net.n_classes

    @torch.no_grad()
    def _apply(self, fn, x: torch.Tensor) -> torch.Tensor:
        x = as_images(x, self.image_shape)
        dev = next(self.net.parameters()).device
        step = self.batch_size
        outs = [fn(to_signed(x[i: i + step].to(dev))) for i in range(0, x.shape[0], step)]
        return torch.cat(outs).to(x.device)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        r"""Penultimate features :math:`\phi(x)`, ``(N, F)``."""
        return self._apply(self.net.features, x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, K)``."""
        return self._apply(self.net, x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Most probable class ``(N,)`` int64."""
        return self.logits(x).argmax(-1)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``x`` whose prediction equals the label ``y (N,)``."""
        pred = self.predict(x)
        _check_labels(y, pred.shape[0], self.n_classes, "y")
        return float((pred == y.to(pred.device)).double().mean())


def _check_labels(y, n: int, n_classes: int, name: str) -> None:
    if not torch.is_tensor(y) or torch.is_floating_point(y) or y.shape != (n,):
        raise ValueError(f"{name} must be ({n},) integer labels, got {getattr(y, 'shape', type(y).__name__)}")
    if n and not bool((y.min() >= 0) & (y.max() < n_classes)):
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}]")


class _NotCached(Exception):
    """Raised inside ``load_or_train`` when loading only (``train=False``)."""


def load_feature_classifier(dataset: str = "mnist5k", smoke: bool | None = None,
                            device: torch.device | str | None = None, progress: bool | None = None,
                            directory=None, cfg: ClassifierConfig | None = None,
                            train: bool = True) -> FeatureClassifier:
    """The cached classifier of ``dataset`` (trained and cached on first use).

    Args:
        dataset: ``"mnist5k"`` or ``"digits"``.
        smoke: the tiny config (default: :func:`ppl_models.config.is_smoke`).
        device: where the network lives (default :func:`ppl_models.config.get_device`).
        directory: the cache folder (default :func:`ppl_models.checkpoint.cache_dir`).
        cfg: an explicit config (overrides ``dataset`` and ``smoke``).
        train: if False, only load: raise ``FileNotFoundError`` when the model is not cached.
    """
    if cfg is None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
        cfg = ClassifierConfig.for_dataset(dataset)
        cfg = cfg.smoke() if (config.is_smoke() if smoke is None else smoke) else cfg
    elif not isinstance(cfg, ClassifierConfig):
        raise ValueError(f"cfg must be a ClassifierConfig, got {type(cfg).__name__}")
    dev = config.get_device() if device is None else torch.device(device)
    data = _load_split(cfg.dataset)

    def fit():
        if not train:
            raise _NotCached
        net, extra = train_classifier(cfg, data.x_train.to(dev), data.y_train.to(dev), data.x_test.to(dev),
                                      data.y_test.to(dev), progress=progress)
        return net.state_dict(), extra

    try:
        state, extra, cached = checkpoint.load_or_train(f"classifier_{cfg.dataset}", cfg, fit,
                                                        data=(data.x_train, data.y_train),
                                                        version=CLASSIFIER_VERSION, directory=directory)
    except _NotCached:
        raise FileNotFoundError(f"no cached {cfg.dataset} classifier for this config (train=False)") from None
    net = ConvClassifier(10, cfg.channels, cfg.feature_dim, cfg.dropout, seed=None)
    net.load_state_dict(state)
    return FeatureClassifier(net.to(dev), cfg, extra.get("test_accuracy"), cached)


def fraction_as_requested(clf: FeatureClassifier, x: torch.Tensor, requested_labels: torch.Tensor) -> float:
    r"""Share of conditional samples classified as the label they were generated for.

    .. math:: \frac1N \sum_i \mathbb 1[\hat y(x_i) = y_i]
    """
    pred = clf.predict(x)
    _check_labels(requested_labels, pred.shape[0], clf.n_classes, "requested_labels")
    return float((pred == requested_labels.to(pred.device)).double().mean())


def class_histogram(clf: FeatureClassifier, x: torch.Tensor) -> torch.Tensor:
    """Counts of predicted classes, ``(K,)`` int64 (a dropped mode shows as a near-empty bin)."""
    return torch.bincount(clf.predict(x), minlength=clf.n_classes)


def mean_max_probability(clf: FeatureClassifier, x: torch.Tensor) -> float:
    r"""Mean confidence :math:`\frac1N\sum_i \max_k p(k \mid x_i)` (low for ambiguous samples)."""
    return float(torch.softmax(clf.logits(x).double(), -1).max(-1).values.mean())
