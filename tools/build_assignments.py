"""Build every graded assignment with otter assign: build/assignments/<chapter>/{student,autograder}.

The masters are ``assignments/NN_topic/topic.ipynb`` (solutions and hidden tests between otter's
raw-cell delimiters). ``student/`` holds the notebook to hand out (no solutions, public tests
only); ``autograder/`` holds the solutions notebook and ``<name>-autograder_<date>.zip`` with
every test, hidden ones included, for ``otter run``.

Usage: python tools/build_assignments.py [--out build/assignments] [NN_topic ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTERS = ROOT / "assignments"


def masters(names: list[str] | None = None) -> list[Path]:
    """The master notebooks, one per assignment folder, optionally only the named chapters."""
    found = sorted(p for p in MASTERS.glob("[0-9][0-9]_*/*.ipynb") if p.stem == p.parent.name[3:])
    if names:
        unknown = set(names) - {p.parent.name for p in found}
        if unknown:
            have = [p.parent.name for p in found]
            raise SystemExit(f"unknown assignment(s): {sorted(unknown)}; have {have}")
        found = [p for p in found if p.parent.name in names]
    return found


def build(master: Path, out: Path) -> Path:
    """Run otter assign on ``master`` into ``out/<chapter>`` (replaced); returns that folder."""
    from otter.assign import main as otter_assign

    dest = out / master.parent.name
    shutil.rmtree(dest, ignore_errors=True)
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        otter_assign(str(master), str(dest), no_run_tests=True)
    if not (dest / "student" / master.name).is_file() or not list((dest / "autograder").glob("*.zip")):
        raise RuntimeError(f"otter assign did not build {dest}:\n{log.getvalue()}")
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="chapters to build, e.g. 00_probabilistic_programming")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "assignments")
    args = ap.parse_args(argv)
    for master in masters(args.names):
        dest = build(master, args.out.resolve())
        shown = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest
        print(f"{master.relative_to(ROOT)} -> {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
