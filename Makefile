# make run   — everything against the embedded reference server
# make check — ruff (lint + format check), the layering contract, the type checker and the fast
#              tier: every test that needs no real port, child process or wall-clock wait (~2 min)
# make test  — the same checks and every tier (what CI runs; prints the 20 slowest tests)
# make bench — elsercheck against its peers (reports/bench/bench.{json,md}; the capacity-accuracy
#              comparison runs 6 sweeps per round, up to an hour or more: BENCH_ARGS="--only ..." narrows)
# All three create .venv and install the pinned dependencies when pyproject.toml or
# constraints.txt changed; otherwise they start at once.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run check test static warm bench lint format lock clean durations

# Bytecode is cached in __pycache__ even where the environment says not to (these machines set
# PYTHONDONTWRITEBYTECODE=1): otherwise every pytest worker rewrites the asserts of all 100 test
# modules again (9.5 s of CPU per collection instead of 3.9), and every child process (gate,
# locust, the CLI) compiles elsercheck from source. __pycache__ is in .gitignore and out of the
# wheel (tests/test_packaging.py).
export PYTHONDONTWRITEBYTECODE :=

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "elsercheck needs Python >= 3.11 (set PYTHON=...)"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/python -m pip install -q \
	  --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Exit 3 (a regression beyond its threshold and the recent runs' noise) and exit 4 (inconclusive:
# this machine's load generator or simulator fell behind, said so, nothing failed) are reported,
# not a make failure: on a shared machine the embedded server's timings vary; nightly jobs call
# elsercheck run and see every exit code.
run: $(STAMP)
	$(BIN)/elsercheck run || { code=$$?; [ $$code -eq 3 ] || [ $$code -eq 4 ]; }

static: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/mypy

# The tiers are marks tests/tiers.py applies at collection (port, process, slow); the fast tier is
# the tests without any, and its guard fails a fast test that binds a port or starts a process.
check: $(STAMP)
	@$(MAKE) --no-print-directory -j2 static warm
	$(BIN)/pytest -n auto -m "not port and not process and not slow" $(PYTEST_ARGS)

# One collection, beside the static checks (one core each), writes the rewritten test modules
# and the package's bytecode once; the workers that start next read them. Silent and never
# fatal: a collection error is the real run's to report.
warm: $(STAMP)
	@$(BIN)/pytest --collect-only -q -p no:xdist > /dev/null 2>&1 || true

# loadgroup: tests that read one shared run (tests/gate_runs.py) share a worker; the collection
# order (longest first by tests/durations.json, tests/tiers.py) is kept. Five workers per core:
# the long tests mostly wait (a gate run keeps about a quarter of a core busy, a load run
# follows its schedule). On 2 quiet cores, 4 workers left the cores idle 27 % of the pytest
# time (835 s), 6 workers 15 % (710 s); one per core left them idle more than half the time.
# Later, 8 workers: 556 s against 571 s for 6 (idle 6 % against 13 %), within the runs' spread
# and more contention for real-time tests. Five per core since: on a faster 2-core machine the
# cores stood idle 26 % of a 6-worker run (509 s: the waits had not shrunk with the CPU work);
# 10 workers kept them 97 % busy (425 s). Then the order by measured durations ended a 20 s
# tail with one worker alone: 414.6 s → 388.9 s.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(5 * (os.cpu_count() or 1))')
test: $(STAMP)
	@$(MAKE) --no-print-directory -j2 static warm
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=20 \
	  $(PYTEST_ARGS)

# Re-measures tests/durations.json, the table that starts the longest tests first: a whole
# `make test` run on a quiet machine (commit the table it writes).
durations: $(STAMP)
	@$(MAKE) --no-print-directory test PYTEST_ARGS="--store-durations tests/durations.json $(PYTEST_ARGS)"

# Needs wrk (Debian package) for the server-capacity comparison: installed with apt-get when
# missing (sudo only when not root); without it the bench runs the rest and says so.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO="sudo -n"; \
	  echo "bench: installing wrk with apt-get"; \
	  { $$SUDO apt-get update -qq \
	      && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null 2>&1 \
	    || echo "bench: could not install wrk; the server capacity ratios will be missing"; }
	$(BIN)/python -m bench $(BENCH_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-pin every dependency to what is installed now (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check \
	  | grep -v '^elsercheck' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .mypy_cache .import_linter_cache
