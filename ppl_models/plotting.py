"""One figure style for the course, and the shared plot helpers.

Colours are fixed by role so every chapter reads the same way:
``COLORS["truth"]`` (ground truth), ``"estimate"`` (a fitted model), ``"samples"`` (draws
from a model), ``"data"`` (observations), plus ``"reference"`` (a reference implementation).
Helpers return ``(fig, ax)`` and never call ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = [
    "COLORS", "use_style", "new_figure", "image_grid", "density_2d", "scatter_2d",
    "plot_history",
]

COLORS = {
    "truth": "#222222",
    "estimate": "#d62728",
    "samples": "#1f77b4",
    "data": "#7f7f7f",
    "reference": "#2ca02c",
}

STYLE = {
    "figure.dpi": 80,            # small stored notebooks; raise it locally for print
    "savefig.dpi": 100,
    "figure.figsize": (6.0, 3.6),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the course style (call once in the setup cell)."""
    mpl.rcParams.update(STYLE)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 3.2, height: float = 3.0, **kw):
    """``plt.subplots`` sized per panel; returns ``(fig, axes)``."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"ncols and nrows must be >= 1, got {ncols}, {nrows}")
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                        constrained_layout=True, **kw)


def _to_numpy(x) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def image_grid(images, image_shape: Sequence[int] | None = None, ncols: int = 10,
               ax=None, title: str | None = None, cmap: str = "gray_r", labels=None):
    """Show ``(N, D)`` or ``(N, H, W)`` images in a grid with ``ncols`` columns.

    Args:
        images: values in [0, 1].
        image_shape: ``(H, W)`` when ``images`` is flat.
        labels: optional ``N`` short strings printed under the images.
    """
    x = _to_numpy(images)
    if x.ndim == 2:
        if image_shape is None:
            side = int(round(np.sqrt(x.shape[1])))
            if side * side != x.shape[1]:
                raise ValueError(f"image_shape is needed for images of dimension {x.shape[1]}")
            image_shape = (side, side)
        if int(np.prod(image_shape)) != x.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} does not match dimension {x.shape[1]}")
        x = x.reshape(len(x), *image_shape)
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(f"images must be (N, D) or (N, H, W) with N >= 1, got {x.shape}")
    n, h, w = x.shape
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    canvas = np.ones((nrows * (h + 1) - 1, ncols * (w + 1) - 1)) * np.nan
    for i in range(n):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = x[i]
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.5 * ncols + 0.4, 0.5 * nrows + 0.5), constrained_layout=True)
    else:
        fig = ax.figure
    cm = mpl.colormaps[cmap].with_extremes(bad="white")
    ax.imshow(canvas, cmap=cm, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if labels is not None:
        for i, lab in enumerate(labels[:n]):
            r, c = divmod(i, ncols)
            ax.text(c * (w + 1) + w / 2, r * (h + 1) + h - 0.5, str(lab), ha="center",
                    va="bottom", fontsize=7, color=COLORS["estimate"])
    if title:
        ax.set_title(title)
    return fig, ax


def density_2d(log_density: Callable[[torch.Tensor], torch.Tensor], xlim=(-3, 3), ylim=(-3, 3),
               n_grid: int = 120, ax=None, title: str | None = None, filled: bool = True,
               levels: int = 20, device: torch.device | str | None = None):
    """Contour plot of ``exp(log_density(points))`` on a grid; ``log_density`` maps (M, 2)->(M,).

    ``device``: where the grid points are built (that of ``log_density``'s model; default CPU).
    """
    xs = torch.linspace(*xlim, n_grid, device=device)
    ys = torch.linspace(*ylim, n_grid, device=device)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    with torch.no_grad():
        logp = log_density(pts)
    logp = _to_numpy(logp).reshape(n_grid, n_grid)
    if logp.shape != (n_grid, n_grid):
        raise ValueError("log_density must return one value per point")
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    dens = np.exp(logp - np.nanmax(logp))
    (ax.contourf if filled else ax.contour)(_to_numpy(gx), _to_numpy(gy), dens, levels=levels,
                                            cmap="Blues")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return fig, ax


def scatter_2d(x, ax=None, role: str = "data", title: str | None = None, s: float = 4, **kw):
    """Scatter ``(N, 2)`` points coloured by role (``data``, ``samples``, ``truth``, ...)."""
    if role not in COLORS:
        raise ValueError(f"unknown role {role!r}; choose from {sorted(COLORS)}")
    p = _to_numpy(x)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"x must have shape (N, 2), got {p.shape}")
    if ax is None:
        fig, ax = new_figure()
    else:
        fig = ax.figure
    ax.scatter(p[:, 0], p[:, 1], s=s, color=COLORS[role], alpha=0.6, label=role, **kw)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return fig, ax


def plot_history(values, ax=None, label: str = "loss", xlabel: str = "epoch",
                 ylabel: str = "loss", title: str | None = None, role: str = "estimate",
                 logy: bool = False):
    """Line plot of a loss/metric history (a list or 1-D array)."""
    v = _to_numpy(values).astype(float)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError("values must be a non-empty 1-D sequence")
    if ax is None:
        fig, ax = new_figure(width=4.5)
    else:
        fig = ax.figure
    ax.plot(np.arange(1, len(v) + 1), v, color=COLORS.get(role, role), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    return fig, ax
