"""Checkpoints: atomic save, safe load, and ``load_or_train`` for fast chapter re-runs.

A checkpoint is one ``.pt`` file holding ``{"state": <tensors>, "config": <plain dict>,
"extra": <plain data>, "meta": <plain data>}``. Saving writes a temporary file in the same
folder and renames it, so an interrupted save never leaves a half-written checkpoint. Loading uses
``torch.load(weights_only=True)``: only tensors and plain Python containers are accepted.
``load_or_train`` keys its cache by name, config, a fingerprint of the training data and an
explicit model version, so a cached model is never reused after any of them changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["save", "load", "config_dict", "cache_dir", "fingerprint", "load_or_train", "cache_path",
           "is_cached", "Recipe", "run_recipe"]


def config_dict(cfg: Any) -> dict:
    """A plain, JSON-able dict of a config dataclass (or dict); rejects anything else."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        d = dataclasses.asdict(cfg)
    elif isinstance(cfg, dict):
        d = dict(cfg)
    else:
        raise ValueError(f"cfg must be a dataclass instance or a dict, got {type(cfg).__name__}")
    try:
        return json.loads(json.dumps(d, sort_keys=True, default=_json_default))
    except (TypeError, ValueError) as err:
        raise ValueError(f"cfg is not JSON-serialisable: {err}") from err


def _json_default(obj):
    if isinstance(obj, (torch.dtype, torch.device)):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def save(path: str | os.PathLike, state: dict[str, Any], cfg: Any = None,
         extra: dict[str, Any] | None = None, *, meta: dict[str, Any] | None = None) -> Path:
    """Atomically write ``state`` (e.g. ``module.state_dict()``) with its config beside it.

    ``meta`` (plain data) records what the state was trained from; :func:`load_or_train` stores
    its name, data fingerprint and model version there.
    """
    if not isinstance(state, dict):
        raise ValueError(f"state must be a dict of tensors, got {type(state).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "state": {k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in state.items()},
        "config": None if cfg is None else config_dict(cfg),
        "extra": extra or {},
        "meta": meta or {},
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict:
    """Load a checkpoint written by :func:`save` (``weights_only=True``).

    Raises:
        FileNotFoundError: no file. ValueError: the file is not a valid checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(f"checkpoint {path.name} is corrupted or not a checkpoint: {err}") from err
    if not isinstance(payload, dict) or "state" not in payload:
        raise ValueError(f"checkpoint {path.name} has no 'state' entry")
    return payload


def cache_dir() -> Path:
    """Checkpoint cache folder: ``$PPL_CACHE`` or ``<repo>/.cache`` (git-ignored)."""
    root = os.environ.get("PPL_CACHE")
    path = Path(root) if root else Path(__file__).resolve().parent.parent / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fingerprint(*arrays) -> str:
    r"""A sha256 fingerprint of one or more arrays: dtype, shape and contiguous CPU bytes of each.

    .. math:: \mathrm{fp}(a_1, \dots, a_n) = \mathrm{sha256}\big(n, (\mathrm{dtype}_i,
        \mathrm{shape}_i, \mathrm{bytes}_i)_{i=1}^n\big)

    A torch tensor and a numpy array with the same dtype, shape and values give the same
    fingerprint (numpy arrays are viewed as tensors first). Takes ~10 ms for 4,000 x 784
    float32 on one CPU core; a tensor on an accelerator is copied to the CPU first.

    Args:
        *arrays: torch tensors or numpy arrays (any shape, numeric or bool dtype), at least one.

    Returns:
        a 64-character hex digest.
    """
    return _fingerprint(arrays, "arrays")


def _fingerprint(arrays: tuple | list, name: str) -> str:
    if not arrays:
        raise ValueError(f"{name}: give at least one tensor or numpy array to fingerprint")
    h = hashlib.sha256(f"ppl-fingerprint-v1:{len(arrays)}".encode())
    for i, a in enumerate(arrays):
        t = _as_cpu_tensor(a, f"{name}[{i}]")
        h.update(f"|{t.dtype}|{tuple(t.shape)}|".encode())
        flat = t.reshape(-1)
        h.update(flat.view(torch.uint8).numpy().data if flat.numel() else b"")
    return h.hexdigest()


def _as_cpu_tensor(a, name: str) -> torch.Tensor:
    if isinstance(a, np.ndarray):
        try:
            a = torch.from_numpy(np.ascontiguousarray(a))
        except TypeError as err:
            raise ValueError(f"{name} has a dtype torch cannot hold: {a.dtype}") from err
    if not torch.is_tensor(a):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(a).__name__}")
    return a.detach().cpu().contiguous()


def _check_version(version) -> int | str:
    ok_int = isinstance(version, int) and not isinstance(version, bool)
    ok_str = isinstance(version, str) and 0 < len(version) <= 64 and version.isprintable()
    if not (ok_int or ok_str):
        raise ValueError(f"version must be an int or a short (1-64 character) string, got {version!r}")
    return version


def _data_fingerprint(data) -> str:
    if isinstance(data, (tuple, list)):
        return _fingerprint(data, "data")
    if not (torch.is_tensor(data) or isinstance(data, np.ndarray)):
        raise ValueError(f"data must be a tensor/array or a tuple/list of them, got {type(data).__name__}")
    return _fingerprint((data,), "data")


def _cache_entry(name, cfg, data, version, directory) -> tuple[Path, dict, dict]:
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be a non-empty [A-Za-z0-9_-] string, got {name!r}")
    cfg_d = config_dict(cfg)
    meta = {"name": name, "fingerprint": _data_fingerprint(data), "version": _check_version(version)}
    key = hashlib.sha256(json.dumps([cfg_d, meta], sort_keys=True).encode()).hexdigest()[:16]
    return (Path(directory) if directory is not None else cache_dir()) / f"{name}-{key}.pt", cfg_d, meta


def _read_entry(path: Path, cfg_d: dict, meta: dict) -> dict | None:
    """The payload at ``path`` if it is a valid entry for ``cfg_d``/``meta``, else None."""
    if path.is_file():
        try:
            payload = load(path)
            if payload.get("config") == cfg_d and payload.get("meta") == meta:
                return payload
        except ValueError:
            pass  # a corrupted cache entry is simply rebuilt
    return None


def cache_path(name: str, cfg: Any, *, data, version: int | str,
               directory: str | os.PathLike | None = None) -> Path:
    """The file :func:`load_or_train` reads and writes for these arguments (it may not exist yet)."""
    return _cache_entry(name, cfg, data, version, directory)[0]


def is_cached(recipe: Recipe, directory: str | os.PathLike | None = None) -> bool:
    """Whether :func:`run_recipe` would load ``recipe`` from the cache instead of training it."""
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a checkpoint.Recipe, got {type(recipe).__name__}")
    path, cfg_d, meta = _cache_entry(recipe.name, recipe.cfg, recipe.data, recipe.version, directory)
    return _read_entry(path, cfg_d, meta) is not None


def load_or_train(name: str, cfg: Any, train_fn: Callable[[], tuple[dict, dict | None]], *,
                  data, version: int | str,
                  directory: str | os.PathLike | None = None) -> tuple[dict, dict, bool]:
    r"""Reuse a cached checkpoint trained with this name, config, data and version; else train.

    The cache key is :math:`\mathrm{sha256}(\text{name}, \text{cfg}, \mathrm{fp}(\text{data}),
    \text{version})`; all four are also stored in the checkpoint and compared on load, so a
    model is never reused after its config, its training data or its code (``version``) changed.
    A corrupted cache file is rebuilt.

    Args:
        name: a short file-name-safe label, e.g. ``"vae_mnist"``.
        cfg: the config dataclass/dict (JSON-able).
        train_fn: ``train_fn() -> (state_dict, extra)`` runs the training.
        data: what ``train_fn`` trains on: a tensor/numpy array or a tuple/list of them
            (see :func:`fingerprint`).
        version: an int or short string the caller bumps when the model/training code changes
            behaviour (e.g. ``vae.MODEL_VERSION``).
        directory: the cache folder (default :func:`cache_dir`).

    Returns:
        ``(state, extra, cached)``: ``cached`` is True when nothing was trained.
    """
    if not callable(train_fn):
        raise ValueError(f"train_fn must be callable, got {type(train_fn).__name__}")
    path, cfg_d, meta = _cache_entry(name, cfg, data, version, directory)
    payload = _read_entry(path, cfg_d, meta)
    if payload is not None:
        return payload["state"], payload.get("extra", {}), True
    state, extra = train_fn()
    save(path, state, cfg_d, extra, meta=meta)
    return load(path)["state"], extra or {}, False


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything :func:`load_or_train` needs to fill (or read) one cache entry.

    A family's ``recipes`` module builds one per cached model a chapter uses, so that the
    chapter and the command line (``python -m ppl_models.train``) compute the same cache key by
    construction.

    Attributes:
        name: the cache name, e.g. ``"ch07_unet_mnist"``.
        cfg: the JSON-able config dict that keys the cache.
        train_fn: ``train_fn() -> (state_dict, extra)``.
        data: the training data (tensor/array or tuple of them) that keys the cache.
        version: the family's model/training version.
        make_model: builds the module the state loads into (``None`` for non-module states).
    """

    name: str
    cfg: dict
    train_fn: Callable[[], tuple[dict, dict | None]]
    data: Any
    version: int | str
    make_model: Callable[[], torch.nn.Module] | None = None


def run_recipe(recipe: Recipe, directory: str | os.PathLike | None = None) -> tuple[dict, dict, bool]:
    """``load_or_train`` for a :class:`Recipe`: returns ``(state, extra, cached)``."""
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a checkpoint.Recipe, got {type(recipe).__name__}")
    return load_or_train(recipe.name, recipe.cfg, recipe.train_fn, data=recipe.data, version=recipe.version,
                         directory=directory)
