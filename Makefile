# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment in .venv on first run: requirements.lock, then the ROS 2 Jazzy
# wheels of requirements-ros.lock (exact versions with their hashes). ../shared/ros2 (launch, launch_ros,
# message_filters) is put on the path by the ROS tests and the live benchmark themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE_BAG := rosbags/sample_endoscope
CONFIG := config/replay.yaml
NODES_CONFIG := config/pipeline.yaml

.PHONY: demo test lint typecheck unit bench live-bench live-soak sample-bag clean

$(STAMP): requirements.lock requirements-ros.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-ros.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e ".[all]"
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

# The live graph (colcon build, launch file, bag player, probe) at 1x, 2x and 4x the bag's rate.
live-bench: $(STAMP)
	$(PY) benchmarks/live_graph.py $(SAMPLE_BAG) --config $(NODES_CONFIG)

# The live graph for 20 minutes with the trainer killed half-way (memory, delivery, respawn).
live-soak: $(STAMP)
	$(PY) benchmarks/live_soak.py $(SAMPLE_BAG) --config $(NODES_CONFIG) --minutes 20

# Remakes the committed sample bag (deterministic from the seed).
sample-bag: $(STAMP)
	rm -rf $(SAMPLE_BAG) rosbags/breathing_endoscope
	$(PY) -m stereo_nerf_core record-synthetic $(SAMPLE_BAG) --preset sample
	$(PY) -m stereo_nerf_core record-synthetic rosbags/breathing_endoscope --preset breathing

clean:
	rm -rf $(VENV) results .mypy_cache .ruff_cache .pytest_cache
