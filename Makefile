# Two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test extensions soak fuzz fleet lint format docs bench clean

# The editable install leaves the compiling to `extensions`, which builds the
# hot path in place once and then only what changed (a stale extension is
# never used: see src/glade/extensions.py).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=77"
	GLADE_NO_EXTENSIONS=1 $(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

extensions: $(STAMP)
	$(BIN)/python setup.py --quiet build_ext --inplace

run: extensions
	$(BIN)/glade --chdir examples -k gevent -w 2 -b 127.0.0.1:8000 --access-logfile - hello:app

# Everything runs compiled (checked first); the unit tests run once more as
# pure Python, the fallback of a machine without a C compiler.
test: extensions
	$(BIN)/python -c 'import sys, glade.extensions as e; warn, line = e.summary(); print(line); sys.exit(warn)'
	$(BIN)/ruff check setup.py src tests bench examples
	$(BIN)/ruff format --check setup.py src tests bench examples
	$(BIN)/python -m glade.config.docs --check docs/settings.md
	$(BIN)/python -m pytest -q
	GLADE_NO_EXTENSIONS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit
	$(BIN)/python tests/run_matrix.py

# The long forms of the "loses nothing" tests: the original report's sizes,
# and 50 repetitions of each stop, reload and recycling scenario; then ten
# minutes of mixed and hostile load, sampled for leaks (its table is printed).
soak: $(STAMP)
	GLADE_FULL_SIZE=1 GLADE_STRESS_RUNS=50 $(BIN)/python -m pytest -q \
		tests/integration/test_no_lost_bytes.py tests/integration/lifecycle/test_no_lost_requests.py
	GLADE_SOAK_SECONDS=600 $(BIN)/python -m pytest -q -s tests/integration/test_soak.py

# Glade behind real HAProxy and nginx (Debian packages): rolling restarts,
# reloads and a binary upgrade under load, with more rounds and clients than
# the short form in `make test`; the counts are printed.
fleet: $(STAMP)
	GLADE_FLEET_ROUNDS=6 GLADE_FLEET_CLIENTS=24 $(BIN)/python -m pytest -q -s tests/fleet

# Hostile clients: the differential tests (against h11, and the compiled
# parser's llhttp binding against httptools) with many more examples, then
# atheris on the HTTP connection's source for FUZZ_SECONDS, its corpus kept in
# .fuzz/ between runs (a crash is written there as .fuzz/crash-<sha1>), then
# that corpus read by the compiled parser and the source alike.
# GLADE_FUZZ_COLLECT is read by the target: see tests/fuzz/fuzz_connection.py
# and tests/fuzz/crashes/README.md.
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 5000
FUZZ_STAMP := $(VENV)/.installed-fuzz

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,fuzz]"
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	GLADE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q \
		tests/unit/http/test_differential_h11.py tests/unit/http/test_llhttp_binding.py
	mkdir -p .fuzz/corpus
	$(BIN)/python tests/fuzz/fuzz_connection.py .fuzz/corpus tests/fuzz/seeds \
		-max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=30 -artifact_prefix=.fuzz/
	GLADE_FUZZ_CORPUS=.fuzz/corpus $(BIN)/python -m pytest -q \
		tests/unit/http/test_llhttp_binding.py -k fuzzing_corpus

lint: $(STAMP)
	$(BIN)/ruff check setup.py src tests bench examples
	$(BIN)/ruff format --check setup.py src tests bench examples

format: $(STAMP)
	$(BIN)/ruff check --fix setup.py src tests bench examples
	$(BIN)/ruff format setup.py src tests bench examples

docs: $(STAMP)
	$(BIN)/python -m glade.config.docs docs/settings.md

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
	find src -name '*.so' -delete -o -name '*.so.sha256' -delete
