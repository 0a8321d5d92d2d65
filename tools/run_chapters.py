"""Execute the course's chapters headless, normalise them, and summarise the run.

    python tools/run_chapters.py --mode full                 # -> build/*.ipynb + build/summary.md
    python tools/run_chapters.py --mode full --inplace       # store full-run outputs in chapters/
    python tools/run_chapters.py --mode smoke chapters/00_probabilistic_programming.ipynb
    python tools/run_chapters.py --normalize-only            # clean stored notebooks in place
    python tools/run_chapters.py --readme-table build/summary.md tools/timings/*.md
                                 # README's timing table from run summaries (CPU and GPU columns)

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


_BAR = re.compile(r"^[^|\n]*\d+%\|.*\|")


def _is_progress_bar(out) -> bool:
    """A frozen progress bar: an ipywidgets display, or stderr that is nothing but tqdm bars."""
    if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
        return True
    if out.get("output_type") == "stream" and out.get("name") == "stderr":
        text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
        parts = [p for p in re.split(r"[\r\n]+", text) if p.strip()]
        return bool(parts) and all(_BAR.match(p) for p in parts)
    return False


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
        cell["outputs"] = [out for out in cell.get("outputs", []) if not _is_progress_bar(out)]
        for out in cell["outputs"]:
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


README_START = "<!-- timing-table:start (generated by tools/run_chapters.py --readme-table; do not edit) -->"
README_END = "<!-- timing-table:end -->"
_ROW = re.compile(r"^\|\s*(\d\d_[A-Za-z0-9_]+)\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|")


def read_summary(path: Path) -> list[dict]:
    """The chapter rows of a ``summary.md`` written by :func:`write_summary`.

    Returns ``[{"chapter", "seconds", "device", "status", "source"}]`` (``seconds`` is NaN for a
    failed chapter). Raises ValueError when the file has no chapter rows or a row's time is not a number.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"summary file not found: {path}")
    text = path.read_text(encoding="utf-8")
    mode = re.search(r"Mode:\s*(\w+)", text)
    cores = re.search(r"CPU cores:\s*(\d+)", text)
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        chapter, seconds, device, status = m.groups()
        try:
            value = float(seconds)
        except ValueError as err:
            raise ValueError(f"{path.name}: chapter {chapter} has wall time {seconds!r}, "
                             "not a number") from err
        if device == "cpu" and cores:
            device = f"cpu, {cores.group(1)} cores"
        rows.append({"chapter": chapter, "seconds": value, "device": device, "status": status,
                     "mode": mode.group(1) if mode else "unknown", "source": path.name})
    if not rows:
        raise ValueError(f"{path}: no chapter rows (expected the table that write_summary writes)")
    return rows


def _kind(device: str) -> str:
    return "gpu" if device.lower().startswith("cuda") else "cpu"


def timing_table(summaries: list[list[dict]], chapters: list[str]) -> str:
    """A markdown table of full-mode wall times per chapter: one CPU and one GPU column.

    Rows of later summaries win; smoke-mode rows are ignored; a chapter without a full-mode
    row (or whose run failed) reads "not measured" (or "failed"). The last row is the whole
    course, summed only when every chapter of that column was measured.
    """
    best: dict[tuple[str, str], dict] = {}
    devices: dict[str, str] = {}
    for rows in summaries:
        for r in rows:
            if r["mode"] != "full":
                continue
            best[r["chapter"], _kind(r["device"])] = r
            devices[_kind(r["device"])] = r["device"]
    names = sorted(set(chapters) | {c for c, _ in best})

    def cell(chapter, kind):
        r = best.get((chapter, kind))
        if r is None:
            return "not measured"
        if r["status"] != "ok" or r["seconds"] != r["seconds"]:
            return "failed"
        return f"{r['seconds']:.0f} s"

    head = [f"full mode, CPU ({devices.get('cpu', 'cpu')})",
            f"full mode, GPU ({devices.get('gpu', 'none yet')})"]
    lines = [f"| chapter | {head[0]} | {head[1]} |", "|---|---:|---:|"]
    for name in names:
        lines.append(f"| {name} | {cell(name, 'cpu')} | {cell(name, 'gpu')} |")
    totals = []
    for kind in ("cpu", "gpu"):
        got = [best.get((n, kind)) for n in names]
        ok = [r for r in got if r is not None and r["status"] == "ok" and r["seconds"] == r["seconds"]]
        total = sum(r["seconds"] for r in ok)
        if ok and len(ok) == len(names):
            totals.append(f"**{total / 60:.1f} min**")
        elif ok:
            totals.append(f"not measured ({len(ok)} of {len(names)} chapters: {total / 60:.1f} min)")
        else:
            totals.append("not measured")
    lines.append(f"| whole course | {totals[0]} | {totals[1]} |")
    sources = sorted({r["source"] for r in best.values()})
    lines.append("")
    lines.append(f"Generated from {', '.join(sources) or 'no summary'} by "
                 "`tools/run_chapters.py --readme-table`.")
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> bool:
    """Replace the block between the timing-table markers of ``readme``; True if it changed."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme.name} has no timing-table markers ({README_START!r} ... {README_END!r})")
    new = text[: start + len(README_START)] + "\n" + table + "\n" + text[end:]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


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
    p.add_argument("--readme-table", nargs="+", type=Path, metavar="SUMMARY",
                   help="rewrite README's timing table from these summary.md files (full-mode rows; CPU and "
                        "GPU columns by each row's device) and exit")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md",
                   help="README to rewrite (default README.md)")
    args = p.parse_args(argv)
    if args.readme_table:
        try:
            summaries = [read_summary(f) for f in args.readme_table]
            chapters = [x.stem for x in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))]
            changed = update_readme(args.readme, timing_table(summaries, chapters))
        except ValueError as err:
            p.error(str(err))
        print(f"{args.readme}: timing table {'updated' if changed else 'already up to date'}")
        return 0
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
