"""Build the course website (static HTML) from the chapters' stored outputs, offline.

Stages ``chapters/NN_*.ipynb`` next to a generated landing page (``index.md``: the README's
"## Chapters" table with every notebook linked, plus a hidden toctree in reading order), then
runs Sphinx + MyST-NB with ``book/conf.py`` (execution off, bundled MathJax, no CDN).

Usage::

    python book/build.py                       # -> build/book/html/index.html
    python book/build.py --out /tmp/site       # staging, doctrees and log go next to --out

Warnings are errors (``-W --keep-going``); every Sphinx warning is also written to
``<out>/../warnings.log`` so a test can read it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "book"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def chapter_files(chapters: Path) -> list[Path]:
    """The chapter notebooks in reading order (``NN_topic.ipynb`` sorted by name)."""
    return sorted(p for p in chapters.glob(CHAPTER_GLOB) if p.is_file())


def read_notebook(path: Path, tries: int = 5) -> dict:
    """The notebook's JSON; retried briefly, since a chapter may be being rewritten in place."""
    for attempt in range(tries):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            if attempt == tries - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def readme_parts(readme: Path) -> tuple[str, str, list[list[str]]]:
    """Title, first paragraph and the rows of the "## Chapters" table of the README."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), "Course")
    start = next((i for i, ln in enumerate(lines) if ln.startswith("# ")), -1) + 1
    para: list[str] = []
    for ln in lines[start:]:
        if ln.strip():
            para.append(ln)
        elif para:
            break
    rows: list[list[str]] = []
    try:
        sec = lines.index("## Chapters")
    except ValueError:
        return title, " ".join(para), rows
    for ln in lines[sec + 1:]:
        if ln.startswith("## "):
            break
        if ln.lstrip().startswith("|"):
            rows.append(_split_row(ln))
        elif rows:
            break
    return title, _LINK.sub(r"\1", " ".join(para)), rows


def landing_page(readme: Path, chapters: list[Path]) -> str:
    """MyST source of the landing page: the README's chapter table, each notebook linked."""
    title, intro, rows = readme_parts(readme)
    by_name = {p.name: p for p in chapters}
    header = ["#", "chapter", "what it teaches"]
    body: list[list[str]] = []
    listed: set[str] = set()
    for row in rows[2:] if len(rows) >= 2 else []:  # skip header and |---| rows
        cells = row + [""] * (3 - len(row))
        name = cells[1].strip("`").strip()
        if name in by_name:
            listed.add(name)
            cells[1] = f"{{doc}}`{Path(name).stem}`"
        else:
            print(f"book: README lists {name!r}, which is not in chapters/", file=sys.stderr)
        body.append(cells[:1] + cells[1:2] + [" ".join(cells[2:]).strip()])
    for path in chapters:  # chapters the README table does not list (yet)
        if path.name not in listed:
            print(f"book: {path.name} is missing from README's chapter table", file=sys.stderr)
            body.append([path.name[:2], f"{{doc}}`{path.stem}`", ""])
    table = ["| " + " | ".join(header) + " |", "|---|---|---|"]
    table += ["| " + " | ".join(c.replace("\n", " ") for c in cells) + " |" for cells in body]
    toctree = ["```{toctree}", ":hidden:", ":maxdepth: 2", ":caption: Chapters", ""]
    toctree += [p.stem for p in chapters] + ["```"]
    return "\n".join([f"# {title}", "", intro, "", "## Chapters", "", *table, "", *toctree, ""])


def separate_display_math(text: str) -> str:
    """Put blank lines around ``$$`` display-math blocks that sit inside a paragraph.

    Jupyter renders ``text\\n$$ ... $$\\ntext`` as a display equation, but in MyST (CommonMark)
    a ``$$`` block cannot interrupt a paragraph, so the maths would be read as text (and a line
    that starts with ``+`` as a list). Code fences are left alone.
    """
    out: list[str] = []
    in_fence = in_math = blank_after = False
    for line in text.split("\n"):
        s = line.strip()
        if blank_after and s:
            out.append("")
        blank_after = False
        if not in_math and s.startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and not in_math and s.startswith("$$"):
            if out and out[-1].strip():
                out.append("")
            in_math = "$$" not in s[2:]
            blank_after = not in_math
        elif in_math and "$$" in s:
            in_math, blank_after = False, True
        out.append(line)
    return "\n".join(out)


def staged_notebook(path: Path) -> str:
    """The notebook as the site shows it: display maths separated, widget outputs dropped.

    A stored widget (a tqdm progress bar) has no static form: without a kernel its text
    fallback is the bar's initial state ("0%"), so it is left out. Every other output is kept.
    """
    nb = read_notebook(path)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = cell.get("source", "")
            cell["source"] = separate_display_math(src if isinstance(src, str) else "".join(src))
        elif "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET not in o.get("data", {})]
    nb.get("metadata", {}).pop("widgets", None)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def stage(src: Path) -> list[Path]:
    """Write the chapters (see ``staged_notebook``) and ``index.md`` into ``src``; return the copies.

    Files whose content did not change are not rewritten, so Sphinx rebuilds only what changed.
    """
    src.mkdir(parents=True, exist_ok=True)
    chapters = chapter_files(ROOT / "chapters")
    keep = {p.name for p in chapters} | {"index.md"}
    for old in src.iterdir():
        if old.name not in keep:
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    for path in chapters:
        _write_if_changed(src / path.name, staged_notebook(path))
    _write_if_changed(src / "index.md", landing_page(ROOT / "README.md", chapters))
    return [src / p.name for p in chapters]


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Stage the sources and run Sphinx; return its exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "book" / "html",
                    help="HTML output folder (default build/book/html)")
    ap.add_argument("--no-warning-is-error", action="store_true",
                    help="report warnings without failing the build")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    work = out.parent
    stage(work / "src")
    from sphinx.cmd.build import build_main

    opts = ["-b", "html", "-q", "-c", str(CONF_DIR), "-d", str(work / "doctrees"),
            "-w", str(work / "warnings.log")]
    if not args.no_warning_is_error:
        opts += ["-W", "--keep-going"]
    status = build_main([*opts, str(work / "src"), str(out)])
    if status == 0:
        print(f"book: {out / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
