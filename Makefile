# `make quickstart` runs the quickstart grid; `make test` runs every test. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dense,rerank,splade,dsi,ray,pyserini,dev
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export TIR_DATA_PATH ?= $(SHARED_DATA)
endif

.PHONY: install quickstart test test-fast clean

install: $(VENV)/.installed

# torch first, from the local CPU wheel, then kept pinned by constraints.txt (an unpinned torch pulls CUDA builds).
$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

quickstart: install
	$(BIN)/tir run configs/quickstart.yaml

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) results *.egg-info
