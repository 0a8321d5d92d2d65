"""A fair run against numpy-based peers (scikit-learn, hmmlearn): import this module first.

On these machines ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are set (older OpenBLAS builds
need them on some processors), and they slow a current numpy. OpenBLAS reads both once, when
numpy loads it, so importing this module before numpy removes both from the benchmark's own
process (never from tests or CI) and records what it removed in :data:`UNSET`.
:func:`describe_blas` names the BLAS libraries numpy/scipy and torch then use.
"""

from __future__ import annotations

import os
import sys

if "numpy" in sys.modules:  # pragma: no cover - a programming error in a benchmark script
    raise RuntimeError("import _fair before numpy: OpenBLAS reads its settings when numpy loads")

UNSET = {v: os.environ.pop(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ}


def describe_blas() -> str:
    """numpy's BLAS as threadpoolctl sees it, and the BLAS torch was built with."""
    import threadpoolctl
    import torch

    rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('user_api')}, arch {i.get('architecture')}, "
            f"threads={i.get('num_threads')}, {os.path.basename(i.get('filepath', ''))})"
            for i in threadpoolctl.threadpool_info()]
    info = torch.__config__.show()
    torch_blas = info.split("BLAS_INFO=")[1].split(",")[0] if "BLAS_INFO=" in info else "unknown"
    return (f"numpy/scipy: {'; '.join(rows) or 'none found'} | torch: {torch_blas} "
            f"(mkl available: {torch.backends.mkl.is_available()})")


def unset_line() -> str:
    """The line every fair benchmark prints about the two variables."""
    return f"removed from this process's environment before importing numpy: {UNSET or 'nothing (unset)'}"
