# Two commands do all the set-up on a fresh machine:
#   make report   -> venv + install + `denselab all --preset quick` -> runs/quick/report.html
#   make test     -> venv + install + the test suite (`make test-slow`: the opt-in slow tests)
PY ?= python3
VENV ?= .venv
# Where mnist/ and speech/ live: $DENSELAB_DATA, else ../shared/data when present, else ./data.
DATA ?= $(or $(DENSELAB_DATA),$(if $(wildcard ../shared/data),../shared/data,data))
PRESET ?= quick
# extras installed with the package (CI adds `ray` so the Ray executor's tests run)
EXTRAS ?= test
OUT ?= runs/$(PRESET)

.PHONY: install report test test-slow clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, pinned: pip then takes the CPU build on disk instead of pulling a multi-GB CUDA build.
	$(VENV)/bin/pip install torch==2.13.0
	$(VENV)/bin/pip install -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

report: install
	$(VENV)/bin/denselab all --preset $(PRESET) --data-dir $(DATA) --out $(OUT)

test: install
	DENSELAB_DATA=$(DATA) MPLBACKEND=Agg $(VENV)/bin/python -m pytest

# opt-in: minutes-long accuracy checks of full presets (Study 1 reaches 98.5 %)
test-slow: install
	DENSELAB_DATA=$(DATA) MPLBACKEND=Agg $(VENV)/bin/python -m pytest -m slow

clean:
	rm -rf $(VENV) runs
