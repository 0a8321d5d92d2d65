"""Check functions for the chapters' exercises (one module per chapter, e.g. ``ch00``).

Every check takes the learner's answer. ``None`` means "not attempted yet": the check prints a
reminder and returns ``False`` without raising, so a notebook with placeholders still runs
top to bottom. A wrong answer raises ``AssertionError`` with a hint; a right one prints
``Correct`` and returns ``True``. Reference solutions are the ``solution_N`` functions in each
module (for instructors; the tests check every check against its solution).

Shared helpers: :func:`not_attempted` and :func:`check_number`.
"""

from __future__ import annotations

import math

__all__ = ["not_attempted", "check_number"]


def not_attempted(label: str, answer) -> bool:
    """True (after printing a reminder) when ``answer`` is the ``None`` placeholder."""
    if answer is None:
        print(f"{label}: not attempted yet (replace None with your answer)")
        return True
    return False


def check_number(label: str, answer, expected: float, atol: float, hint: str) -> bool:
    """Check a scalar answer against ``expected`` within ``atol``; see the module docstring."""
    if not_attempted(label, answer):
        return False
    try:
        value = float(answer)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{label}: expected a number, got {type(answer).__name__}") from err
    if not math.isfinite(value):
        raise AssertionError(f"{label}: the answer is not finite ({value})")
    if abs(value - expected) > atol:
        raise AssertionError(
            f"{label}: {value:.4g} is not within {atol:g} of the expected value. Hint: {hint}")
    print(f"{label}: Correct")
    return True
