"""Run-wide configuration: the smoke switch, the device, seeding and JAX set-up.

Everything that depends on *where* or *how big* a run is goes through this module, so a
chapter's setup cell is always the same three lines::

    from ppl_models import config
    SMOKE = config.is_smoke()          # CI=1 or PPL_SMOKE=1 -> tiny run
    DEVICE = config.get_device()       # cuda if available (PPL_DEVICE overrides)
    config.seed_everything(0)
    print(config.describe())

Environment variables
---------------------
``CI``            any non-empty value other than ``0``/``false`` turns smoke mode on
                  (the convention Pyro's tutorials use).
``PPL_SMOKE``     ``1`` forces smoke mode, ``0`` forces full mode; wins over ``CI``.
``PPL_DEVICE``    ``cpu``, ``cuda`` or ``cuda:N``; default: ``cuda`` when available.
``PPL_JAX_CPU_DEVICES``  number of host CPU devices JAX exposes (default 2), so NumPyro can
                  run chains in parallel on a CPU.
``PPL_THREADS``   torch intra-op threads set by :func:`set_threads` (default 1 on a CPU, where
                  the course's small tensors run fastest on one thread of a shared machine;
                  torch's own default on a GPU machine).
"""

from __future__ import annotations

import os
import random as _stdlib_random  # only to seed it; never used to draw numbers
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "is_smoke",
    "pick",
    "get_device",
    "seed_everything",
    "setup_jax",
    "jax_key",
    "jax_split",
    "describe",
    "set_threads",
    "RunSize",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse_flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={value!r}: expected one of 1/0/true/false")


def is_smoke() -> bool:
    """Whether this run is a smoke run (tiny data and few steps).

    ``PPL_SMOKE`` (``1``/``0``) wins; otherwise smoke mode is on when ``CI`` is set to anything
    other than ``0``/``false``/empty. Read at every call so tests can flip it.
    """
    explicit = os.environ.get("PPL_SMOKE")
    if explicit is not None and explicit.strip() != "":
        return _parse_flag("PPL_SMOKE", explicit)
    ci = os.environ.get("CI", "")
    return ci.strip().lower() not in _FALSE


def pick(full: Any, smoke: Any) -> Any:
    """Return ``smoke`` in smoke mode and ``full`` otherwise (for one-off sizes in a chapter)."""
    return smoke if is_smoke() else full


@dataclass(frozen=True)
class RunSize:
    """A named pair of sizes, e.g. ``RunSize(full=20_000, smoke=200).value``."""

    full: Any
    smoke: Any

    @property
    def value(self) -> Any:
        return pick(self.full, self.smoke)


def get_device(name: str | None = None) -> torch.device:
    """Resolve the torch device once: ``name``, else ``PPL_DEVICE``, else cuda-if-available.

    Raises:
        ValueError: the name is not a device torch knows, or asks for CUDA where there is none.
    """
    requested = name if name is not None else os.environ.get("PPL_DEVICE", "").strip()
    if not requested:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError as err:
        raise ValueError(f"device {requested!r} (PPL_DEVICE or name) is not a torch device") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {requested!r} was requested (PPL_DEVICE or name) but CUDA is not "
                "available on this machine; unset PPL_DEVICE or use 'cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {requested!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    elif dev.type != "cpu":
        raise ValueError(f"device {requested!r}: only 'cpu' and 'cuda[:N]' are supported")
    return dev


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count once for a run: ``n``, else ``PPL_THREADS``, else a default.

    The default is 1 thread when the device is the CPU: the course's tensors are small, and on
    a shared 2-core machine one thread is several times faster than two that fight over the
    cores. On a GPU machine torch's own default is kept. A learner changes the count with the
    ``PPL_THREADS`` environment variable, never by editing a setup cell.

    Returns:
        The thread count now in force.

    Raises:
        ValueError: ``n`` or ``PPL_THREADS`` is not a positive integer.
    """
    if n is None:
        raw = os.environ.get("PPL_THREADS", "").strip()
        if raw:
            try:
                n = int(raw)
            except ValueError:
                raise ValueError(f"PPL_THREADS={raw!r} must be a positive integer") from None
            if n < 1:
                raise ValueError(f"PPL_THREADS={raw!r} must be a positive integer")
        elif get_device().type == "cpu":
            n = 1
        else:
            return torch.get_num_threads()
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    torch.set_num_threads(int(n))
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global state and Pyro's RNGs with one integer.

    JAX has no global state: derive keys explicitly with :func:`jax_key`.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = int(seed)
    _stdlib_random.seed(seed)  # third-party code may draw from it; we never do
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds legacy global state others may use
    torch.manual_seed(seed)
    if "pyro" in sys.modules or _can_import("pyro"):
        import pyro

        pyro.set_rng_seed(seed)
        pyro.clear_param_store()


def _can_import(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _jax_initialised() -> bool:
    """True once JAX has created its backends (after which XLA flags are ignored)."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(getattr(xla_bridge, "_backends", {}))
    except Exception:  # pragma: no cover - private API moved
        return True


def setup_jax(n_cpu_devices: int | None = None, enable_x64: bool = False) -> int:
    """Expose ``n_cpu_devices`` host CPU devices to JAX (for parallel NumPyro chains).

    Must run before the first JAX computation: XLA reads
    ``--xla_force_host_platform_device_count`` once, when its CPU backend starts. Calling it
    later is harmless if the count already matches and an error otherwise.

    Returns:
        The number of JAX CPU devices now available.
    """
    n = n_cpu_devices
    if n is None:
        n = int(os.environ.get("PPL_JAX_CPU_DEVICES", "2"))
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n_cpu_devices must be a positive int, got {n!r}")
    if not _jax_initialised():
        flags = [
            f for f in os.environ.get("XLA_FLAGS", "").split()
            if not f.startswith("--xla_force_host_platform_device_count")
        ]
        flags.append(f"--xla_force_host_platform_device_count={n}")
        os.environ["XLA_FLAGS"] = " ".join(flags)
    import jax

    jax.config.update("jax_enable_x64", bool(enable_x64))
    have = len(jax.devices("cpu"))
    if have != n:
        raise ValueError(
            f"JAX already started with {have} CPU device(s); call setup_jax({n}) before any "
            "JAX computation (first thing in the notebook's setup cell)"
        )
    return have


def jax_key(seed: int):
    """A JAX PRNG key from an integer seed (keys are always explicit, split at the call site)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import jax

    return jax.random.PRNGKey(int(seed))


def jax_split(key, num: int = 2):
    """Split ``key`` into ``num`` independent keys (a thin, validated ``jax.random.split``)."""
    if not isinstance(num, int) or num < 1:
        raise ValueError(f"num must be a positive int, got {num!r}")
    import jax

    return tuple(jax.random.split(key, num))


def describe(device: torch.device | None = None) -> str:
    """One line for a chapter's setup cell: mode, device and the main library versions."""
    dev = device if device is not None else get_device()
    mode = "smoke" if is_smoke() else "full"
    parts = [f"mode: {mode}", f"device: {dev.type}", f"threads: {torch.get_num_threads()}",
             f"torch {torch.__version__.split('+')[0]}"]
    for mod in ("pyro", "numpyro", "jax"):
        if mod in sys.modules:
            parts.append(f"{mod} {sys.modules[mod].__version__}")
    return " | ".join(parts)
