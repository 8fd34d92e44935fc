# Two commands do all the set-up on a fresh machine:
#   make report   -> venv + install + `denselab all --preset quick` -> runs/quick/report.html
#   make test     -> venv + install + lint + the test suite (`make test-slow`: the opt-in slow tests)
#
# Which torch: TORCH is the requirement and TORCH_INDEX the package index it comes from (empty: pip's own).
# CPU-only Linux:  make report TORCH=torch TORCH_INDEX=https://download.pytorch.org/whl/cpu
# CUDA 12.6:       make report TORCH=torch TORCH_INDEX=https://download.pytorch.org/whl/cu126
PY ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# Where mnist/ and speech/ live: $DENSELAB_DATA, else ./data (MNIST is downloaded there when absent).
DATA ?= $(or $(DENSELAB_DATA),data)
PRESET ?= quick
# extras installed with the package: test tools; add `pesq` (needs a C compiler) and `ray` as you like
EXTRAS ?= test
OUT ?= runs/$(PRESET)

.PHONY: install report test lint test-slow clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, so the package's `torch>=2.2` is already met by the build chosen here
	$(VENV)/bin/pip install '$(TORCH)' $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(VENV)/bin/pip install -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

report: install
	$(VENV)/bin/denselab all --preset $(PRESET) --data-dir $(DATA) --out $(OUT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	DENSELAB_DATA=$(DATA) MPLBACKEND=Agg $(VENV)/bin/python -m pytest

# opt-in: minutes-long accuracy checks of full presets (Study 1 reaches 98.5 %)
test-slow: install
	DENSELAB_DATA=$(DATA) MPLBACKEND=Agg $(VENV)/bin/python -m pytest -m slow

clean:
	rm -rf $(VENV) runs
