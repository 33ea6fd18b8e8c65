# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test data bench lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned, so pip takes the local CPU build where there is one
	$(BIN)/pip install -q -c constraints.txt torch
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/collabsheet prepare

run: data
	$(BIN)/collabsheet

test: data
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -ra
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/sheet.py

clean:
	rm -rf $(VENV) .pytest_cache
