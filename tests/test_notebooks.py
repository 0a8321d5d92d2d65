"""Policy checks on every stored chapter (the notebooks themselves run under nbval)."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
import run_chapters  # noqa: E402

REQUIRED_HEADINGS = ["learning objectives", "pitfalls", "summary", "exercises", "references"]
FORBIDDEN = [r"pip install", r"^\s*!", r"urlretrieve", r"requests\.get", r"wget ", r"curl ",
             r"download=True", r"fetch_openml", r"\.cuda\(\)"]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _src(cell):
    return "".join(cell["source"])


def test_there_are_chapters_and_names_are_numbered():
    assert CHAPTERS, "no chapters found"
    for p in CHAPTERS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name), p.name
    numbers = [p.name[:2] for p in CHAPTERS]
    assert len(set(numbers)) == len(numbers), "two chapters share a number"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_stored_outputs_are_clean(path):
    nb = _load(path)
    code = _code(nb)
    assert code and any(c["outputs"] for c in code), "stored without outputs"
    counts = [c["execution_count"] for c in code]
    assert None not in counts, "a code cell was never executed"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), "counts out of order"
    for c in code:
        for o in c["outputs"]:
            assert o["output_type"] != "error", f"stored error: {o.get('ename')}"
            text = json.dumps(o.get("text", "")) + json.dumps(o.get("data", {}).get("text/plain", ""))
            assert not re.search(r"(/root/|/tmp/|/work/|/home/[a-z])", text), "machine path in output"
    assert path.stat().st_size < 2_000_000, "notebook over 2 MB"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_uses_the_smoke_switch_and_setup_cell(path):
    code = _code(_load(path))
    first = _src(code[0])
    for needle in ("config.is_smoke()", "config.get_device()", "config.seed_everything(",
                   "config.describe()"):
        assert needle in first, f"setup cell lacks {needle}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_install_or_download(path):
    src = "\n".join(_src(c) for c in _code(_load(path)))
    for pat in FORBIDDEN:
        assert not re.search(pat, src, flags=re.M), f"forbidden pattern {pat!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_reads_as_a_lesson(path):
    nb = _load(path)
    headings = " ".join(
        line.lower() for c in nb["cells"] if c["cell_type"] == "markdown"
        for line in _src(c).splitlines() if line.startswith("#")
    )
    for h in REQUIRED_HEADINGS:
        assert h in headings, f"missing a '{h}' section"
    src = "\n".join(_src(c) for c in _code(nb))
    assert "headline(" in src, "the chapter never reports its headline numbers"
    assert "NBVAL_CHECK_OUTPUT" in src, "no deterministic output is checked by nbval"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_checked_cells_do_not_print_timings(path):
    for c in _code(_load(path)):
        if "NBVAL_CHECK_OUTPUT" in _src(c):
            out = "".join("".join(o.get("text", "")) for o in c["outputs"])
            assert not re.search(r"\d+(\.\d+)?\s*(s|ms|sec|seconds)\b", out), "timing in a checked cell"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_checked_cells_show_no_figures(path):
    # The test run sets MPLBACKEND=Agg, so a figure shown by a checked cell is missing there and
    # nbval reports "Missing output fields"; figures go in a cell of their own.
    for c in _code(_load(path)):
        if "NBVAL_CHECK_OUTPUT" in _src(c):
            kinds = {o["output_type"] for o in c["outputs"]}
            assert "display_data" not in kinds, f"checked cell shows a figure: {_src(c)[:80]!r}"


def test_normalize_scrubs_paths_and_metadata():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=1)
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text=f"saved to {ROOT}/x.pt and /root/.cache/y\n")]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"state": {}}
    run_chapters.normalize(nb)
    assert nb.cells[0].metadata == {}
    assert nb.cells[0].outputs[0]["text"] == "saved to <repo>/x.pt and <path>\n"
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    nbformat.validate(nb)


def test_normalize_drops_frozen_progress_bars_only():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("train()", execution_count=1)
    widget = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "text/plain": "denoiser:   0%|          | 0/300 [00:00<?, ?it/s]"})
    bars = nbformat.v4.new_output("stream", name="stderr", text="epochs:  50%|#####     | 1/2 [00:01<00:01]"
                                  "\repochs: 100%|##########| 2/2 [00:02<00:00]\n")
    warning = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something real\n")
    printed = nbformat.v4.new_output("stream", name="stdout", text="loss 0.5 -> 0.1\n")
    cell.outputs = [widget, bars, warning, printed]
    nb.cells = [cell]
    run_chapters.normalize(nb)
    kept = [o.get("text") for o in nb.cells[0].outputs]
    assert kept == ["UserWarning: something real\n", "loss 0.5 -> 0.1\n"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_frozen_progress_bars_stored(path):
    for c in _code(_load(path)):
        assert not any(run_chapters._is_progress_bar(o) for o in c["outputs"]), _src(c)[:80]


def test_write_summary_has_one_row_per_chapter(tmp_path):
    rows = [{"chapter": "00_a", "seconds": 1.25, "status": "ok", "headlines": [{"x": 1.5}]},
            {"chapter": "01_b", "seconds": float("nan"), "status": "FAILED: X", "headlines": []}]
    run_chapters.write_summary(rows, tmp_path / "summary.md", "full")
    text = (tmp_path / "summary.md").read_text()
    assert "Mode: full" in text
    lines = [ln for ln in text.splitlines() if ln.startswith("| 0")]
    assert lines[0].startswith("| 00_a | 1.2 | cpu") or lines[0].startswith("| 00_a | 1.2 | cuda")
    assert lines[0].endswith("| ok | x=1.5 |") and "FAILED: X | - |" in lines[1]
