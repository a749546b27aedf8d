# `make quickstart` runs the quickstart grid; `make test` runs every test. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dense,rerank,splade,dsi,ray,pyserini,dev
SHARED_DATA := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export TIR_DATA_PATH ?= $(SHARED_DATA)
endif

.PHONY: install quickstart test test-fast test-minimal clean

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

# `pip install transformers-ir` without extras (core dependencies only, no torch) runs the quickstart and writes
# every output file.
MINIMAL := .venv-minimal
test-minimal:
	rm -rf $(MINIMAL) results/minimal
	$(PYTHON) -m venv $(MINIMAL)
	$(MINIMAL)/bin/pip install --quiet --upgrade pip
	$(MINIMAL)/bin/pip install --quiet -c constraints.txt .
	! $(MINIMAL)/bin/python -c "import torch" 2>/dev/null
	TIR_CACHE_DIR=$(abspath results/minimal/cache) HF_HUB_OFFLINE=1 $(MINIMAL)/bin/tir run configs/quickstart.yaml \
		--output results/minimal --quiet
	cd results/minimal && ls results.csv perquery.csv stages.csv indexes.csv table.md table.tex pareto.svg \
		manifest.json runs/vaswani runs/scifact > /dev/null

clean:
	rm -rf $(VENV) .venv-minimal results *.egg-info
