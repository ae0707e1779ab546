PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# The CPU build of torch for CI and make; the package itself asks only for torch>=2.4.
PIP_INSTALL := $(PIP) install -q -c constraints.txt

.PHONY: demo test bench bench-peers clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP_INSTALL) torch==2.13.0

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/analogue demo --out results

test: $(VENV)/.installed
	$(BIN)/python -m pytest tests

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run_all.py

# analogue against IBM aihwkit-lightning (pure Python; the constraints keep the CPU torch)
bench-peers: $(VENV)/.installed
	$(PIP_INSTALL) aihwkit-lightning==2.1.0
	$(BIN)/python benchmarks/bench_peers.py

clean:
	rm -rf $(VENV) results .pytest_cache
