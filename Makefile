# ppl-generative: two commands on a bare machine with Python 3.11 and pip.
#   make lab    set up .venv and open JupyterLab on chapters/
#   make test   set up .venv, lint, run the unit tests and every chapter (smoke mode)
# Also: make run (every chapter in full mode -> build/ + build/summary.md),
#       make notebooks (store full-run outputs in chapters/), make book (the course as a static
#       website from the stored outputs, offline), make assignments (the graded assignments:
#       build/assignments/<chapter>/{student,autograder}), make bench, make env, make lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip --disable-pip-version-check
LAB_PORT ?= 8888
PYTEST_ARGS ?=

.PHONY: install lab test unit chapters lint run notebooks book assignments bench env lock clean

install: $(STAMP)

# torch goes in first, alone and pinned, so nothing later can pull a second (multi-GB) build;
# everything else is resolved against the full lock in constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "$$($(PYTHON) tools/pins.py torch)"
	$(PIP) install -q -c constraints.txt -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@touch $@

lab: $(STAMP)
	@echo "Starting JupyterLab on chapters/ (headless): open the http://127.0.0.1:$(LAB_PORT)/lab?token=... URL printed below."
	$(VENV)/bin/jupyter lab --no-browser --allow-root --ip=127.0.0.1 --port=$(LAB_PORT) \
		--ServerApp.root_dir=chapters

lint: $(STAMP)
	$(VENV)/bin/ruff check ppl_models tests tools chapters book assignments

unit: $(STAMP)
	PPL_SMOKE=1 $(PY) -m pytest tests -q $(PYTEST_ARGS)

chapters: $(STAMP)
	PPL_SMOKE=1 $(PY) -m pytest --nbval-lax chapters -q $(PYTEST_ARGS)

# One pytest run: unit tests + every chapter notebook (nbval, lax) in smoke mode, spread
# over TEST_WORKERS processes (a notebook's cells stay together and in order: --dist loadfile),
# one torch/OpenMP thread each so the workers do not fight over the cores.
# pytest exits non-zero when it collects nothing, so an empty run can never pass.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PYTHON) tools/pins.py check
	$(VENV)/bin/ruff check ppl_models tests tools chapters book assignments
	PPL_SMOKE=1 OMP_NUM_THREADS=1 $(PY) -m pytest tests chapters --nbval-lax -q \
		-n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

run: $(STAMP)
	PPL_SMOKE=0 $(PY) tools/run_chapters.py --mode full --out build

notebooks: $(STAMP)
	PPL_SMOKE=0 $(PY) tools/run_chapters.py --mode full --inplace --out build

# The course as a static HTML site from the stored notebooks (no re-execution, no network):
# build/book/html/index.html. Sphinx warnings are errors.
book: $(STAMP)
	$(PY) book/build.py

# The graded assignments (otter assign on each master in assignments/): the student notebook to
# hand out and the autograder zip for `otter run`, in build/assignments/<chapter>/.
assignments: $(STAMP)
	$(PY) tools/build_assignments.py --out build/assignments

bench: $(STAMP)
	@for b in tests/benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

env:
	$(PYTHON) tools/pins.py env > environment.yml

lock: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(PIP) freeze --exclude-editable | sed 's/^torch==\(.*\)+.*/torch==\1/'; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf build .cache
