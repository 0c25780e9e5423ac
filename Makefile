# Swapzy developer entry points. `make run` and `make test` build .venv on first use (and
# reinstall when pyproject.toml changes); see DEVELOPERS.md for why mediapipe is installed apart.
#
#   make run                                    swap the built-in sample -> out/swapzy-demo.gif
#   make run TARGET=a.gif SOURCE=b.jpg OUT=c.gif  swap your own files (OUT defaults to out/swapzy.gif)
#   make test [PYTEST_ARGS='-k media -x']       the test suite
#   make lint                                   ruff + mypy (strict)
#   make bench-queue [BENCH_ARGS='--json q.json']  queue latency and jobs/s (bench/README.md)
#   make bench-telegram [BENCH_ARGS='--runs 10']  Telegram photo -> clip latency (bench/README.md)
#   make bench-web [BENCH_ARGS='--duration 10']  share page req/s and p99 with wrk (bench/README.md)
#   make bench-fuzz [BENCH_ARGS='--examples 3000']  media intake fuzz, bombs, sandbox cost (bench/README.md)

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.swapzy-installed
# Newest mediapipe whose legacy face_mesh ships its model in the wheel; --no-deps keeps out
# jax/jaxlib and the GUI opencv-contrib-python (its real run-time needs are in pyproject.toml).
MEDIAPIPE := mediapipe==0.10.21
TYPED_PACKAGES := core jobs gpu_worker bots web billing infra cli tests

TARGET ?=
SOURCE ?=
OUT ?= out/swapzy.gif
PYTEST_ARGS ?=

.PHONY: run test lint install bench-queue bench-telegram bench-web bench-fuzz

install: $(STAMP)

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: need python3.11 (or python3) on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --no-deps $(MEDIAPIPE)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

run: $(STAMP)
ifeq ($(strip $(TARGET)$(SOURCE)),)
	$(BIN)/swapzy demo
else
	@test -n "$(TARGET)" && test -n "$(SOURCE)" || \
		{ echo "make run: give both TARGET=clip.gif and SOURCE=face.jpg (OUT=out.gif optional)" >&2; exit 2; }
	$(BIN)/swapzy swap "$(TARGET)" "$(SOURCE)" -o "$(OUT)"
endif

test: $(STAMP)
	bash .ci/ensure-postgres && bash .ci/ensure-chromium
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED_PACKAGES)

bench-queue: $(STAMP)
	$(BIN)/python bench/queue_bench.py $(BENCH_ARGS)

bench-telegram: $(STAMP)
	$(BIN)/python bench/telegram_bench.py $(BENCH_ARGS)

bench-web: $(STAMP)
	$(BIN)/python bench/web_bench.py $(BENCH_ARGS)

bench-fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_media.py $(BENCH_ARGS)
