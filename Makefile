# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment in .venv on first run (pinned in requirements.lock).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE_BAG := rosbags/sample_endoscope
CONFIG := config/pipeline.yaml

.PHONY: demo test lint typecheck unit bench sample-bag clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m stereo_nerf_core replay $(SAMPLE_BAG) --config $(CONFIG) --out results/demo

test: lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) benchmarks/replay_stages.py $(SAMPLE_BAG) --config $(CONFIG)

# Remakes the committed sample bag (deterministic from the seed).
sample-bag: $(STAMP)
	rm -rf $(SAMPLE_BAG)
	$(PY) -m stereo_nerf_core record-synthetic $(SAMPLE_BAG) --preset sample

clean:
	rm -rf $(VENV) results .mypy_cache .ruff_cache .pytest_cache
