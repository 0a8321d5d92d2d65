"""Every recipe computes the cache key its chapter computes, and the command line fills that entry.

The chapters are the reference: their own code cells (read from the stored ``.ipynb``, never
edited) run in smoke mode with ``checkpoint.load_or_train`` replaced by a recorder, which notes
the cache file the call would read and stops before any training. The cells run are the ones
that call ``load_or_train`` (directly or through a helper they define) and, transitively, the
earlier cells that define the names those calls use. Calls inside loops and comprehensions are
evaluated once per iteration, so a cell that trains several models records all of them.
One model goes end to end: ``python -m ppl_models.train ch07_toy_eps --smoke`` into an empty
cache, then chapter 07's own cells load it (``cached: True``) instead of training.
"""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

import matplotlib
import pytest

from ppl_models import checkpoint
from ppl_models.train import cli
from ppl_models.train.registry import find_recipes

matplotlib.use("Agg")
CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
NOTEBOOKS = {"ch04": "04_variational_autoencoders.ipynb", "ch05": "05_energy_based_models.ipynb",
             "ch06": "06_score_matching.ipynb", "ch07": "07_diffusion_models.ipynb"}


class _Stop(Exception):
    """Raised by the recorder: the call was noted, nothing is trained."""


def _cells(notebook: str) -> list[tuple[str, ast.Module]]:
    nb = json.loads((CHAPTERS / notebook).read_text())
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
            out.append((src, ast.parse(src)))
    return out


def _defined(tree: ast.Module) -> set[str]:
    names = set()
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            if isinstance(node, (ast.FunctionDef, ast.Lambda)) and node is not stmt:
                break
    return names


def _helpers(tree: ast.Module) -> set[str]:
    """Functions the cell defines that call load_or_train (fit_mnist, fit_2d, ...)."""
    return {s.name for s in tree.body if isinstance(s, ast.FunctionDef) and "load_or_train" in ast.unparse(s)}


def _is_match(node: ast.AST, helpers: set[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    direct = isinstance(f, ast.Attribute) and f.attr == "load_or_train"
    return direct or (isinstance(f, ast.Name) and f.id in helpers)


def _has_match(node: ast.AST, helpers: set[str]) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if _is_match(n, helpers):
            return True
        if not isinstance(n, (ast.FunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(n))
    return False


def _head(tree: ast.Module, helpers: set[str]) -> list[ast.stmt]:
    """The statements up to the last one that trains (the analysis after it is not needed)."""
    last = max((i for i, s in enumerate(tree.body) if _has_match(s, helpers)), default=-1)
    return tree.body[: last + 1]


def _used(stmts: list[ast.stmt]) -> set[str]:
    nodes = (n for s in stmts for n in ast.walk(s))
    return {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _select(cells, wanted) -> tuple[list[int], set[str]]:
    """Indices of the cells to run (targets and what they need) and the helper names."""
    helpers: set[str] = set()
    targets: set[int] = set()
    for i, (src, tree) in enumerate(cells):
        helpers |= _helpers(tree)
        if wanted(src) or any(_has_match(s, helpers) for s in tree.body):
            targets.add(i)
    chosen, todo = set(targets) | {0}, list(targets)
    while todo:
        i = todo.pop()
        tree = cells[i][1]
        stmts = _head(tree, helpers) if i in targets else tree.body
        for name in _used(stmts) - _defined(ast.Module(body=stmts, type_ignores=[])) - set(dir(builtins)):
            src_cell = next((j for j in range(i - 1, -1, -1) if name in _defined(cells[j][1])), None)
            if src_cell is not None and src_cell not in chosen:
                chosen.add(src_cell)
                todo.append(src_cell)
    return sorted(chosen), helpers


def _run(stmt, ns):
    try:
        exec(compile(ast.Module(body=[stmt], type_ignores=[]), "<cell>", "exec"), ns)
        return True
    except Exception:  # noqa: BLE001 - a recorded call stops the statement; later analysis may fail
        return False


def _bind(target: ast.expr, item, ns: dict) -> bool:
    """``target = item`` in ``ns`` (a loop variable, possibly a tuple)."""
    ns["__item"] = item
    stmt = ast.Assign(targets=[target], value=ast.Name("__item", ast.Load()), lineno=0)
    return _run(ast.fix_missing_locations(stmt), ns)


def _evaluate_calls(node: ast.AST, ns: dict, helpers: set[str]) -> None:
    """Evaluate every training call in ``node``, once per iteration of enclosing loops."""
    if _is_match(node, helpers):
        try:
            eval(compile(ast.Expression(body=node), "<call>", "eval"), ns)
        except Exception:  # noqa: BLE001 - _Stop after recording, or a call that needs a missing model
            pass
        return
    if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        return
    if isinstance(node, ast.For):
        try:
            items = list(eval(compile(ast.Expression(body=node.iter), "<iter>", "eval"), ns))
        except Exception:  # noqa: BLE001
            return
        for item in items:
            if not _bind(node.target, item, ns):
                continue
            for stmt in node.body:
                if _has_match(stmt, helpers):
                    _evaluate_calls(stmt, ns, helpers)
                elif not _run(stmt, ns):
                    break
        return
    comprehension = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    if isinstance(node, comprehension) and len(node.generators) == 1:
        gen = node.generators[0]
        try:
            items = list(eval(compile(ast.Expression(body=gen.iter), "<iter>", "eval"), ns))
        except Exception:  # noqa: BLE001
            return
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for item in items:
            if _bind(gen.target, item, ns):
                for p in parts:
                    _evaluate_calls(p, ns, helpers)
        return
    for child in ast.iter_child_nodes(node):
        _evaluate_calls(child, ns, helpers)


def _record_chapter(notebook: str, monkeypatch, tmp_path) -> set[str]:
    """The cache files (``name-key.pt``) the chapter's training calls read, in smoke mode."""
    seen: set[str] = set()

    def recorder(name, cfg, train_fn, *, data, version, directory=None):
        seen.add(checkpoint.cache_path(name, cfg, data=data, version=version, directory=tmp_path).name)
        raise _Stop

    monkeypatch.setattr(checkpoint, "load_or_train", recorder)
    cells = _cells(notebook)
    chosen, helpers = _select(cells, lambda src: "load_or_train" in src)
    ns: dict = {"__name__": "__main__"}
    for i in chosen:
        src, tree = cells[i]
        if i == 0 or not any(_has_match(s, helpers) for s in tree.body):
            _run_cell(tree, ns)
            continue
        for stmt in _head(tree, helpers):
            if _has_match(stmt, helpers):
                _evaluate_calls(stmt, ns, helpers)      # each call records its cache file and stops
            else:
                _run(stmt, ns)
    return seen


def _run_cell(tree, ns):
    try:
        exec(compile(tree, "<cell>", "exec"), ns)
    except Exception:  # noqa: BLE001 - a cell that needs a model that was not trained
        pass


@pytest.fixture(scope="module")
def recipes():
    models, broken = find_recipes()
    assert not broken, broken
    return models


def _key(recipe) -> str:
    return checkpoint.cache_path(recipe.name, recipe.cfg, data=recipe.data, version=recipe.version,
                                 directory="/nonexistent-never-created").name


@pytest.fixture
def smoke_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PPL_SMOKE", "1")
    monkeypatch.setenv("PPL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *a, **k: None)
    return tmp_path


@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_every_recipe_key_equals_the_chapters(chapter, recipes, smoke_env, monkeypatch):
    ours = {name: _key(fn(True)) for name, (_, fn) in recipes.items() if name.startswith(chapter + "_")}
    assert ours, f"no recipes for {chapter}"
    seen = _record_chapter(NOTEBOOKS[chapter], monkeypatch, smoke_env)
    missing = {name: key for name, key in ours.items() if key not in seen}
    assert not missing, f"recipes whose key the chapter does not compute: {missing}; chapter: {sorted(seen)}"


def test_classifier_recipes_equal_load_feature_classifier(recipes, smoke_env, monkeypatch):
    from ppl_models import classifier

    seen = set()

    def recorder(name, cfg, train_fn, *, data, version, directory=None):
        seen.add(checkpoint.cache_path(name, cfg, data=data, version=version, directory=smoke_env).name)
        raise _Stop

    monkeypatch.setattr(checkpoint, "load_or_train", recorder)
    for dataset in ("mnist5k", "digits"):
        for smoke in (True, False):
            with pytest.raises(_Stop):
                classifier.load_feature_classifier(dataset, smoke=smoke)
            assert _key(recipes[f"classifier_{dataset}"][1](smoke)) in seen


def test_full_size_recipes_differ_from_smoke(recipes):
    for name in ("ch07_toy_eps", "ch04_vae_swissroll", "ch05_rbm16_cd1"):
        fn = recipes[name][1]
        assert _key(fn(True)) != _key(fn(False))


def test_command_line_fills_the_entry_the_chapter_loads(smoke_env, monkeypatch, capsys):
    assert cli.main(["ch07_toy_eps", "--smoke"]) == 0
    assert "trained" in capsys.readouterr().out
    cells = _cells(NOTEBOOKS["ch07"])
    chosen, _ = _select(cells, lambda src: "ch07_toy_eps" in src)
    target = max(chosen)
    ns: dict = {"__name__": "__main__"}
    for i in chosen:
        if i == target:
            exec(compile(cells[i][1], "<cell>", "exec"), ns)    # the chapter's own training cell, unchanged
        else:
            _run_cell(cells[i][1], ns)
    assert ns["toy_cached"] is True
    assert cli.main(["ch07_toy_eps", "--smoke"]) == 0
    assert "already cached" in capsys.readouterr().out


def test_the_check_rejects_a_recipe_with_another_config(recipes, smoke_env, monkeypatch):
    from ppl_models.train.registry import build_recipe

    seen = _record_chapter(NOTEBOOKS["ch05"], monkeypatch, smoke_env)
    assert _key(recipes["ch05_rbm_cd1"][1](True)) in seen
    assert _key(recipes["ch04_vae_mnist"][1](True)) in seen      # chapter 05 reads chapter 04's VAE entry
    assert _key(build_recipe("ch05_rbm_cd1", True, {"n_epochs": 3}, models=recipes)) not in seen
