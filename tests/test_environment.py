"""The pins live in pyproject.toml; environment.yml and constraints.txt must agree."""

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import pins  # noqa: E402


def test_environment_yml_is_generated_from_pyproject():
    assert (ROOT / "environment.yml").read_text() == pins.render_environment_yml(pins.read_pins())


def test_lock_agrees_with_pyproject():
    assert pins.problems() == []


def test_problems_detects_a_disagreement(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["torch==9.9.9", "numpy==1.0"]\n')
    (tmp_path / "constraints.txt").write_text("torch==9.9.9\nnumpy==2.0\n")
    (tmp_path / "environment.yml").write_text("stale\n")
    monkeypatch.setattr(pins, "ROOT", tmp_path)
    monkeypatch.setattr(pins.read_pins, "__defaults__", (tmp_path / "pyproject.toml",))
    monkeypatch.setattr(pins.read_constraints, "__defaults__", (tmp_path / "constraints.txt",))
    found = pins.problems()
    assert any("environment.yml" in f for f in found)
    assert any("numpy==2.0" in f for f in found) and not any("torch" in f for f in found)


def test_unpinned_dependency_is_rejected(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\ndependencies = ["torch>=2"]\n')
    with pytest.raises(ValueError, match="not pinned"):
        pins.read_pins(p)


def test_installed_versions_match_the_pins():
    for name, version in pins.read_pins().items():
        installed = md.version(name).split("+")[0]
        assert installed == version, f"{name}: installed {installed}, pinned {version}"


def test_no_torchvision():
    with pytest.raises(md.PackageNotFoundError):
        md.version("torchvision")
