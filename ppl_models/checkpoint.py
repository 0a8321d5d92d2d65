"""Checkpoints: atomic save, safe load, and ``load_or_train`` for fast chapter re-runs.

A checkpoint is one ``.pt`` file holding ``{"state": <tensors>, "config": <plain dict>,
"extra": <plain data>}``. Saving writes a temporary file in the same folder and renames it,
so an interrupted save never leaves a half-written checkpoint. Loading uses
``torch.load(weights_only=True)``: only tensors and plain Python containers are accepted.
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

import torch

__all__ = ["save", "load", "config_dict", "cache_dir", "load_or_train"]


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
         extra: dict[str, Any] | None = None) -> Path:
    """Atomically write ``state`` (e.g. ``module.state_dict()``) with its config beside it."""
    if not isinstance(state, dict):
        raise ValueError(f"state must be a dict of tensors, got {type(state).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "state": {k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in state.items()},
        "config": None if cfg is None else config_dict(cfg),
        "extra": extra or {},
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


def load_or_train(name: str, cfg: Any, train_fn: Callable[[], tuple[dict, dict | None]],
                  directory: str | os.PathLike | None = None) -> tuple[dict, dict, bool]:
    """Reuse a cached checkpoint whose config equals ``cfg``; otherwise train and cache.

    Args:
        name: a short file-name-safe label, e.g. ``"vae_mnist"``.
        cfg: the config dataclass/dict; the cache key is a hash of it (with ``name``).
        train_fn: ``train_fn() -> (state_dict, extra)`` runs the training.

    Returns:
        ``(state, extra, cached)``: ``cached`` is True when nothing was trained.
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be a non-empty [A-Za-z0-9_-] string, got {name!r}")
    cfg_d = config_dict(cfg)
    key = hashlib.sha256(json.dumps([name, cfg_d], sort_keys=True).encode()).hexdigest()[:16]
    path = Path(directory) if directory is not None else cache_dir()
    path = path / f"{name}-{key}.pt"
    if path.is_file():
        try:
            payload = load(path)
            if payload.get("config") == cfg_d:
                return payload["state"], payload.get("extra", {}), True
        except ValueError:
            pass  # a corrupted cache entry is simply rebuilt
    state, extra = train_fn()
    save(path, state, cfg_d, extra)
    return load(path)["state"], extra or {}, False
