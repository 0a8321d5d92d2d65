"""Headline numbers: a chapter states its key results once, and ``make run`` collects them.

``headline(test_nll=91.2, accuracy=0.93)`` prints ``headline: accuracy=0.93, test_nll=91.2``
and, when ``PPL_SUMMARY_FILE`` is set (the chapter runner sets it), appends them as one JSON
line to that file so ``build/summary.md`` can show one row per chapter.
"""

from __future__ import annotations

import json
import math
import numbers
import os

__all__ = ["headline"]


def headline(**numbers_: float | int | str) -> None:
    """Record a chapter's headline numbers (name -> number or short string)."""
    if not numbers_:
        raise ValueError("headline() needs at least one name=value")
    out = {}
    for name, value in numbers_.items():
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
            raise ValueError(f"headline value {name!r} must be a number or a string, got {value!r}")
        if isinstance(value, numbers.Real):
            if not math.isfinite(float(value)):
                raise ValueError(f"headline value {name!r} is not finite: {value!r}")
            value = float(f"{float(value):.4g}") if isinstance(value, float) else int(value)
        out[name] = value
    print("headline: " + ", ".join(f"{k}={v}" for k, v in sorted(out.items())))
    path = os.environ.get("PPL_SUMMARY_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(out, sort_keys=True) + "\n")
