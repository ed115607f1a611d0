# Quick start: `make demo` (the main job, offline) and `make test` (the test suite).
# Both create .venv on first use and install rttgeo into it from the package registries.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint mutation bench clean

$(BIN)/rttgeo: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,test]'
	touch $(BIN)/rttgeo

demo: $(BIN)/rttgeo
	$(BIN)/rttgeo demo

test: $(BIN)/rttgeo
	bash scripts/system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --nbmake tests notebooks

# Mutation testing of the modules that decide correctness (hours; not in the default CI run):
# scores per module in docs/testing.md. One target: `make mutation TARGETS=wire`.
mutation: $(BIN)/rttgeo
	$(BIN)/pip install -q -e '.[mutation,all,test]'
	$(BIN)/python scripts/mutation.py $(TARGETS)

lint: $(BIN)/rttgeo
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build dist src/*.egg-info
