"""The pinned versions, from their one home in ``pyproject.toml``.

    python tools/pins.py env      # print environment.yml generated from pyproject.toml
    python tools/pins.py check    # exit 1 if environment.yml or constraints.txt disagree
    python tools/pins.py torch    # print the torch requirement (the Makefile installs it first)

Runs on a bare Python 3.11 (standard library only).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """``{name: version}`` for every dependency pinned with ``==`` that applies to Python 3.11."""
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = {}
    for dep in deps:
        req, _, marker = dep.partition(";")
        marker = marker.replace(" ", "")
        if marker and marker != "python_version<'3.12'":
            continue  # only the Python 3.11 (CI) environment is pinned
        m = _PIN.match(req.strip())
        if not m:
            raise ValueError(f"pyproject.toml dependency {dep!r} is not pinned with '=='")
        pins[m.group(1)] = m.group(2)
    return pins


def read_constraints(path: Path = ROOT / "constraints.txt") -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = _PIN.match(line)
            if not m:
                raise ValueError(f"constraints.txt line {line!r} is not 'name==version'")
            out[_canon(m.group(1))] = m.group(2)
    return out


def render_environment_yml(pins: dict[str, str]) -> str:
    lines = [
        "# Generated from pyproject.toml by `python tools/pins.py env > environment.yml`.",
        "# Do not edit by hand: tests/test_environment.py fails when the two disagree.",
        "name: ppl-generative",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {name}=={version}" for name, version in pins.items()]
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def problems() -> list[str]:
    """Every disagreement between pyproject.toml, environment.yml and constraints.txt."""
    pins = read_pins()
    found = []
    env_path = ROOT / "environment.yml"
    if not env_path.is_file() or env_path.read_text(encoding="utf-8") != render_environment_yml(pins):
        found.append("environment.yml is not generated from pyproject.toml (run: make env)")
    lock = read_constraints()
    for name, version in pins.items():
        have = lock.get(_canon(name))
        if have != version:
            found.append(f"constraints.txt has {name}=={have}, pyproject.toml pins {version}")
    return found


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "env":
        sys.stdout.write(render_environment_yml(read_pins()))
    elif cmd == "torch":
        print(f"torch=={read_pins()['torch']}")
    elif cmd == "check":
        found = problems()
        for f in found:
            print(f, file=sys.stderr)
        return 1 if found else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
