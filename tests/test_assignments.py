"""The graded assignments (assignments/NN_topic/topic.ipynb, otter-grader masters).

One otter assign build per test session (tools/build_assignments.py, into a temporary folder);
then, for every assignment:

* the solutions notebook gets full marks from ``otter run`` (a real kernel, every test, hidden
  ones included);
* the blank student notebook gets zero on every graded question: its cells run in this process
  (errors ignored, as otter does) and every test file of the autograder zip is run on the result;
* a deliberately wrong answer to each question passes that question's public tests and fails
  its hidden ones (the hidden tests of the zip, run in this process on the solutions namespace
  with the one answer replaced);
* the student notebook holds no solution text and no hidden test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_assignments  # noqa: E402

MASTERS = build_assignments.masters()
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.parent.name for p in MASTERS]

from assignment_wrong_answers import WRONG  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """chapter -> (master, student notebook, autograder notebook, autograder zip, tests folder)."""
    out = tmp_path_factory.mktemp("assignments")
    result = {}
    for master in MASTERS:
        dest = build_assignments.build(master, out)
        zip_path = next((dest / "autograder").glob("*.zip"))
        tests = dest / "tests"
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(tests.parent / "unzipped")
        result[master.parent.name] = dict(master=master, student=dest / "student" / master.name,
                                          solution=dest / "autograder" / master.name, zip=zip_path,
                                          tests=tests.parent / "unzipped" / "tests")
    return result


def _run_cells(nb_path: Path) -> dict:
    """Execute a notebook's code cells in this process (otter's cells skipped; errors ignored)."""
    nb = nbformat.read(nb_path, as_version=4)
    ns: dict = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(nb_path.parent)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for cell in nb.cells:
                if cell.cell_type != "code" or "otter" in cell.source or "grader.check" in cell.source:
                    continue
                try:
                    exec(compile(cell.source, str(nb_path), "exec"), ns)
                except Exception:  # a blank answer raises; otter ignores it too
                    pass
    finally:
        os.chdir(cwd)
    return ns


def _test_file(tests: Path, question: str):
    from otter.test_files.ok_test import OKTestFile

    return OKTestFile.from_file(str(tests / f"{question}.py"))


def _run_test(tf, ns: dict) -> list:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        tf.run(dict(ns))
    return tf.test_case_results


def test_every_chapter_has_an_assignment_with_four_questions():
    have = [p.parent.name for p in MASTERS]
    assert len(CHAPTERS) >= 12 and have == CHAPTERS, (  # strict: a chapter without an assignment fails
        f"chapters without an assignment: {sorted(set(CHAPTERS) - set(have))}; "
        f"assignments without a chapter: {sorted(set(have) - set(CHAPTERS))}")
    for master in MASTERS:
        raw = [c.source for c in nbformat.read(master, as_version=4).cells if c.cell_type == "raw"]
        questions = [s for s in raw if s.startswith("# BEGIN QUESTION")]
        assert len(questions) >= 4, master
        assert set(WRONG[master.parent.name]) == {re.search(r"name: (\S+)", q).group(1) for q in questions}


@pytest.mark.parametrize("chapter", IDS)
def test_solutions_get_full_marks_from_otter_run(built, chapter, monkeypatch):
    from otter.run import main as otter_run

    b = built[chapter]
    monkeypatch.setenv("PPL_SMOKE", "1")
    monkeypatch.setenv("PPL_THREADS", "1")
    cwd = os.getcwd()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            results = otter_run(str(b["solution"]), autograder=str(b["zip"]), output_dir=None, no_logo=True)
    finally:
        os.chdir(cwd)
    scores = {name: (r.score, r.possible) for name, r in results.results.items()}
    assert len(scores) >= 4 and all(s == p for s, p in scores.values()), results.summary()


@pytest.mark.parametrize("chapter", IDS)
def test_blank_student_notebook_scores_zero(built, chapter, monkeypatch):
    monkeypatch.setenv("PPL_SMOKE", "1")
    b = built[chapter]
    ns = _run_cells(b["student"])
    for test in sorted(b["tests"].glob("*.py")):
        results = _run_test(_test_file(b["tests"], test.stem), ns)
        passed = [r.test_case.name for r in results if r.passed]
        assert not passed, f"{test.stem}: the blank notebook passes {passed}"


@pytest.mark.parametrize("chapter", IDS)
def test_wrong_answers_pass_public_tests_and_fail_hidden_ones(built, chapter, monkeypatch):
    monkeypatch.setenv("PPL_SMOKE", "1")
    b = built[chapter]
    ns = _run_cells(b["solution"])
    for question, wrong in WRONG[chapter].items():
        right = _run_test(_test_file(b["tests"], question), ns)
        assert all(r.passed for r in right), f"{question}: the solution fails {right}"
        bad = dict(ns)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(wrong, bad)
        results = _run_test(_test_file(b["tests"], question), bad)
        public = [r.passed for r in results if not r.test_case.hidden]
        hidden = [r.passed for r in results if r.test_case.hidden]
        assert public and all(public), f"{question}: the wrong answer already fails a public test"
        assert hidden and not all(hidden), f"{question}: the hidden tests accept the wrong answer"


def _solution_lines(master: Path) -> set[str]:
    """Substantial lines that only the solutions hold (inside SOLUTION blocks or '# SOLUTION' lines)."""
    nb = nbformat.read(master, as_version=4)
    lines, in_block, outside = set(), False, set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            outside.add(cell.source)
        if cell.cell_type == "raw":
            src = cell.source.strip()
            in_block = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(src, in_block)
            continue
        inner = False
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith("# BEGIN SOLUTION"):
                inner = True
            elif s.startswith("# END SOLUTION"):
                inner = False
            elif s.endswith("# SOLUTION"):
                lines.add(s[: -len("# SOLUTION")].strip().split("=", 1)[-1].strip())
            elif inner and in_block:
                lines.add(s)
            else:
                outside.add(s)
    shown = "\n".join(outside)
    return {s for s in lines if len(s) >= 12 and s not in shown}


@pytest.mark.parametrize("chapter", IDS)
def test_student_notebook_holds_no_solution_or_hidden_test(built, chapter):
    b = built[chapter]
    text = b["student"].read_text(encoding="utf-8")
    assert not re.search(r"BEGIN SOLUTION|END SOLUTION|# SOLUTION|# HIDDEN|BEGIN QUESTION", text)
    src = "\n".join(c.source for c in nbformat.read(b["student"], as_version=4).cells)
    meta = json.dumps(nbformat.read(b["student"], as_version=4).metadata)
    leaked = [s for s in _solution_lines(b["master"]) if s in src]
    assert not leaked, f"solution lines in the student notebook: {leaked}"
    shown = "\n".join(c.source for c in nbformat.read(b["master"], as_version=4).cells
                      if not c.source.startswith("# HIDDEN"))   # public text, prompts and solutions
    n_hidden = 0
    for test in b["tests"].glob("*.py"):
        for case in _test_file(b["tests"], test.stem).test_cases:
            if case.hidden:
                n_hidden += 1
                body = [ln[4:].strip() for ln in case.body.splitlines() if ln.startswith((">>> ", "... "))]
                leaked = [ln for ln in body if len(ln) >= 12 and ln not in shown
                          and (ln in src or json.dumps(ln)[1:-1] in meta)]
                assert not leaked, f"{test.stem}: hidden test lines in the student notebook: {leaked}"
    assert n_hidden >= 4
