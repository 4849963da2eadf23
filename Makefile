# Troupe: `make run` starts the app, `make test` runs every check.
# Both create .venv and install the project into it on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

export QT_QPA_PLATFORM ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),,offscreen)
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$$CMAKE_ARGS -DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/troupe

lint: $(STAMP)
	$(BIN)/ruff check agents app ui resources tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/mypy agents app

# The whole-window tests run one process per test: each builds the full
# app on a qasync loop, and Qt objects of one app must not meet the next
# test's widgets.
WINDOW_TESTS := tests/ui/test_main_window.py

test: lint
	$(BIN)/python -m pytest -q --ignore=$(WINDOW_TESTS)
	$(BIN)/python -m tests.support.run_each $(WINDOW_TESTS)

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
