"""Execute the course's chapters headless, normalise them, and summarise the run.

    python tools/run_chapters.py --mode full                 # -> build/*.ipynb + build/summary.md
    python tools/run_chapters.py --mode full --inplace       # store full-run outputs in chapters/
    python tools/run_chapters.py --mode smoke chapters/00_probabilistic_programming.ipynb
    python tools/run_chapters.py --normalize-only            # clean stored notebooks in place

Each chapter runs in a fresh kernel with ``PPL_SMOKE`` set from ``--mode``, its working
directory ``chapters/``, and ``PPL_SUMMARY_FILE`` pointing at a scratch file where
``ppl_models.report.headline`` appends the chapter's headline numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
KEEP_CELL_METADATA = {"tags", "collapsed", "scrolled", "jupyter"}
_PATH_PATTERNS = [
    (re.compile(re.escape(str(ROOT))), "<repo>"),
    (re.compile(r"/(?:root|home/[A-Za-z0-9_.-]+|tmp|work)(?:/[^\s'\"<>:]*)?"), "<path>"),
]


def scrub_text(text: str) -> str:
    """Replace machine-specific paths in an output string."""
    for pattern, repl in _PATH_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _scrub(value):
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: (_scrub(v) if not k.startswith("image/") else v) for k, v in value.items()}
    return value


def normalize(nb) -> None:
    """In place: clean notebook/cell metadata, keep outputs and counts, scrub paths."""
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        cell.pop("id", None)
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if "metadata" in out:
                out["metadata"] = {}
            if "text" in out:
                out["text"] = _scrub(out["text"])
            if "data" in out:
                out["data"] = _scrub(out["data"])
            if out.get("output_type") == "error":
                out["traceback"] = _scrub(out["traceback"])
    nb.nbformat, nb.nbformat_minor = 4, 4


def execute(path: Path, mode: str, timeout: int) -> tuple[object, float, list[dict]]:
    """Run one notebook in a fresh kernel; returns (notebook, seconds, headline dicts)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as tmp:
        summary_file = tmp.name
    env_backup = dict(os.environ)
    os.environ.update({"PPL_SMOKE": "1" if mode == "smoke" else "0",
                       "PPL_SUMMARY_FILE": summary_file, "PYTHONHASHSEED": "0"})
    t0 = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(CHAPTERS)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    seconds = time.perf_counter() - t0
    with open(summary_file, encoding="utf-8") as f:
        heads = [json.loads(line) for line in f if line.strip()]
    os.remove(summary_file)
    return nb, seconds, heads


def write_summary(rows: list[dict], path: Path, mode: str) -> None:
    import platform

    import torch

    device = "cuda (" + torch.cuda.get_device_name(0) + ")" if torch.cuda.is_available() else "cpu"
    lines = [
        "# Chapter run summary",
        "",
        f"Mode: {mode}. Device: {device}. CPU cores: {os.cpu_count()}. "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        "",
        "| chapter | wall time (s) | device | status | headline numbers |",
        "|---|---:|---|---|---|",
    ]
    for r in rows:
        heads = "; ".join(f"{k}={v}" for h in r["headlines"] for k, v in sorted(h.items()))
        lines.append(f"| {r['chapter']} | {r['seconds']:.1f} | {device} | {r['status']} | {heads or '-'} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import nbformat
    from tqdm.auto import tqdm

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every chapters/*.ipynb")
    p.add_argument("--mode", choices=["smoke", "full"], default="full")
    p.add_argument("--inplace", action="store_true", help="write outputs back into chapters/")
    p.add_argument("--out", type=Path, default=ROOT / "build", help="output folder (default build/)")
    p.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    p.add_argument("--normalize-only", action="store_true", help="only clean stored notebooks")
    args = p.parse_args(argv)
    paths = args.notebooks or sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    missing = [str(x) for x in paths if not Path(x).is_file()]
    if missing:
        p.error(f"notebook(s) not found: {', '.join(missing)}")
    if args.normalize_only:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            normalize(nb)
            nbformat.write(nb, path)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for path in tqdm(paths, desc=f"chapters ({args.mode})", unit="chapter"):
        status = "ok"
        try:
            nb, seconds, heads = execute(Path(path), args.mode, args.timeout)
        except Exception as err:  # keep going: one broken chapter must not hide the others
            status, seconds, heads, failed = f"FAILED: {type(err).__name__}", float("nan"), [], failed + 1
            print(f"{Path(path).name}: {scrub_text(str(err))[-2000:]}", file=sys.stderr)
            nb = None
        if nb is not None:
            normalize(nb)
            target = Path(path) if args.inplace else args.out / Path(path).name
            nbformat.write(nb, target)
        rows.append({"chapter": Path(path).stem, "seconds": seconds, "status": status, "headlines": heads})
        print(f"{Path(path).name}: {status}, {seconds:.1f} s", flush=True)
    write_summary(rows, args.out / "summary.md", args.mode)
    print(f"summary: {args.out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
