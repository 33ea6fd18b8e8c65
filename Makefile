# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test data bench clean qt-libs imports

# What Qt's xcb platform plugin needs to open a window on Debian/Ubuntu (the tests draw offscreen)
QT_LIBS := libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 \
	libxcb-shape0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 \
	libfontconfig1 libdbus-1-3

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned, so pip takes the local CPU build where there is one
	$(BIN)/pip install -q -c constraints.txt torch
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/collabsheet prepare

qt-libs:
	@if command -v dpkg-query >/dev/null 2>&1 && ! dpkg-query -W $(QT_LIBS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(QT_LIBS); \
	  else echo "Qt needs these system libraries: sudo apt-get install $(QT_LIBS)"; fi; \
	fi

run: data qt-libs
	# the project's own modules as bytecode, as pip leaves installed packages (their source compiled at every start
	# costs ~0.15 s where PYTHONDONTWRITEBYTECODE is set); quick when nothing changed
	$(BIN)/python -m compileall -q engine gui
	$(BIN)/collabsheet

# A second machine inside `make test`: MKL's compatible code path and ATen's plain kernels round as another CPU
# would, so a numeric test that only holds on this CPU fails here before it lands.
SECOND_KERNELS := MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=default

test: data
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -ra
	$(SECOND_KERNELS) QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -ra -q -m numeric -p no:cacheprovider
	$(MAKE) --no-print-directory imports

# import-linter reads a package from one folder: it checks the contracts on the wheel's layout (collabsheet/ with
# engine/ and gui/ linked inside), assembled in a temporary folder
imports: $(STAMP)
	@tree=$$(mktemp -d) && mkdir $$tree/collabsheet && cp collabsheet/__init__.py $$tree/collabsheet/ && \
	  ln -s $(CURDIR)/engine $(CURDIR)/gui $$tree/collabsheet/ && \
	  (cd $$tree && PYTHONPATH=$$tree $(CURDIR)/$(BIN)/lint-imports --config $(CURDIR)/pyproject.toml); \
	  status=$$?; rm -rf $$tree; exit $$status

bench: data
	# scikit-surprise (a side-by-side figure in bench/train.py) builds from source; without it that line says so
	-$(BIN)/pip install -q -c constraints.txt "scikit-surprise"
	$(BIN)/python bench/sheet.py
	$(BIN)/python bench/xlsx.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/timeline.py
	$(BIN)/python bench/race.py

clean:
	rm -rf $(VENV) .pytest_cache
