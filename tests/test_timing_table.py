"""The README's timing table is generated from run summaries (tools/run_chapters.py --readme-table)."""

import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import run_chapters  # noqa: E402


def _summary(tmp_path, name, rows, mode="full", device="cpu"):
    path = tmp_path / name
    run_chapters.write_summary(rows, path, mode)
    text = path.read_text()
    text = re.sub(r"\| (cpu|cuda \([^)]*\)) \|", f"| {device} |", text)  # as if run on that device
    path.write_text(text)
    return path


def _row(chapter, seconds, status="ok"):
    return {"chapter": chapter, "seconds": seconds, "status": status, "headlines": []}


def test_read_summary_round_trips_write_summary(tmp_path):
    path = _summary(tmp_path, "s.md", [_row("00_a", 12.34), _row("01_b", float("nan"), "FAILED: X")])
    rows = run_chapters.read_summary(path)
    assert [r["chapter"] for r in rows] == ["00_a", "01_b"]
    assert (
        rows[0]["seconds"] == pytest.approx(12.3) and rows[0]["mode"] == "full" and rows[0]["status"] == "ok"
    )
    assert rows[0]["device"].startswith("cpu, ") and math.isnan(rows[1]["seconds"])


def test_table_has_cpu_and_gpu_columns_and_a_course_total(tmp_path):
    cpu = run_chapters.read_summary(_summary(tmp_path, "cpu.md", [_row("00_a", 60.0), _row("01_b", 120.0)]))
    gpu = run_chapters.read_summary(
        _summary(tmp_path, "gpu.md", [_row("00_a", 6.0)], device="cuda (NVIDIA H100)")
    )
    smoke = run_chapters.read_summary(_summary(tmp_path, "smoke.md", [_row("01_b", 1.0)], mode="smoke"))
    table = run_chapters.timing_table([cpu, gpu, smoke], ["00_a", "01_b", "02_c"])
    lines = table.splitlines()
    assert "full mode, GPU (cuda (NVIDIA H100))" in lines[0] and "full mode, CPU (cpu, " in lines[0]
    assert "| 00_a | 60 s | 6 s |" in lines and "| 01_b | 120 s | not measured |" in lines  # smoke ignored
    assert "| 02_c | not measured | not measured |" in lines
    assert (
        "| whole course | not measured (2 of 3 chapters: 3.0 min) | not measured (1 of 3 chapters: 0.1 min) |"
        in lines
    )
    full = run_chapters.timing_table([cpu], ["00_a", "01_b"])
    assert "| whole course | **3.0 min** | not measured |" in full.splitlines()
    later = run_chapters.read_summary(
        _summary(tmp_path, "later.md", [_row("00_a", float("nan"), "FAILED: E")])
    )
    assert (
        "| 00_a | failed | not measured |" in run_chapters.timing_table([cpu, later], ["00_a"]).splitlines()
    )


def test_update_readme_rewrites_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run_chapters.README_START}\nold\n{run_chapters.README_END}\noutro\n")
    assert run_chapters.update_readme(readme, "| new |") is True
    assert (
        readme.read_text()
        == f"intro\n{run_chapters.README_START}\n| new |\n{run_chapters.README_END}\noutro\n"
    )
    assert run_chapters.update_readme(readme, "| new |") is False
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="markers"):
        run_chapters.update_readme(readme, "x")


def test_bad_summaries_are_named(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        run_chapters.read_summary(tmp_path / "missing.md")
    (tmp_path / "empty.md").write_text("# nothing\n")
    with pytest.raises(ValueError, match="no chapter rows"):
        run_chapters.read_summary(tmp_path / "empty.md")
    (tmp_path / "bad.md").write_text("| 00_a | fast | cpu | ok | - |\n")
    with pytest.raises(ValueError, match="00_a.*'fast'"):
        run_chapters.read_summary(tmp_path / "bad.md")


def test_command_line_rewrites_the_readme_and_exits_2_on_bad_input(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"{run_chapters.README_START}\n{run_chapters.README_END}\n")
    summary = _summary(tmp_path, "s.md", [_row("00_probabilistic_programming", 30.0)])
    assert run_chapters.main(["--readme-table", str(summary), "--readme", str(readme)]) == 0
    assert "| 00_probabilistic_programming | 30 s | not measured |" in readme.read_text()
    with pytest.raises(SystemExit) as exc:
        run_chapters.main(["--readme-table", str(tmp_path / "nope.md"), "--readme", str(readme)])
    assert exc.value.code == 2 and "not found" in capsys.readouterr().err


def test_readme_table_matches_the_committed_cpu_record():
    text = (ROOT / "README.md").read_text()
    assert run_chapters.README_START in text and run_chapters.README_END in text
    block = text.split(run_chapters.README_START)[1].split(run_chapters.README_END)[0]
    for path in sorted((ROOT / "tools" / "timings").glob("*.md")):
        for r in run_chapters.read_summary(path):
            kind = "GPU" if r["device"].startswith("cuda") else "CPU"
            row = next(line for line in block.splitlines() if line.startswith(f"| {r['chapter']} |"))
            cpu_cell, gpu_cell = row.split("|")[2].strip(), row.split("|")[3].strip()
            assert (cpu_cell if kind == "CPU" else gpu_cell) == f"{r['seconds']:.0f} s", (path.name, row)
