# The dev loop. `make check` is what CI runs (in a fresh environment: see .ci/run).
PY ?= .venv/bin/python

.PHONY: install test lint fmt check sample bench ci screenshot

install:
	python3 -m venv .venv && $(PY) -m pip install -q -e '.[dev]'

test:
	$(PY) -m pytest -q

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check bubbleup
	$(PY) -m mypy
	.venv/bin/lint-imports

fmt:
	$(PY) -m ruff format bubbleup
	$(PY) -m ruff check --fix .

check: lint test

sample:
	$(PY) sample_data/generate.py

screenshot:
	$(PY) tools/make_screenshot.py
	$(PY) tools/make_explore_screenshot.py

bench:
	$(PY) bench/bench_core.py bench/data/events_1m_50.parquet

ci:
	bash .ci/run
