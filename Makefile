# Troupe: `make run` starts the app, `make test` runs every check, `make package`
# builds the desktop bundle. All create .venv and install the project on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

export QT_QPA_PLATFORM ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),,offscreen)
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test lint bench package clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$$CMAKE_ARGS -DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/troupe

lint: $(STAMP)
	$(BIN)/ruff check agents app ui resources tests bench scripts packaging
	$(BIN)/lint-imports
	$(BIN)/mypy  # the packages in pyproject.toml: agents, app, ui

# The whole-window tests run one process per test: each builds the full
# app on a qasync loop, and Qt objects of one app must not meet the next
# test's widgets.
WINDOW_TESTS := tests/ui/test_main_window.py tests/ui/test_window_run_path.py tests/ui/test_crash_notice_window.py

test: lint
	$(BIN)/python -m pytest -q $(addprefix --ignore=,$(WINDOW_TESTS))
	$(BIN)/python -m tests.support.run_each $(WINDOW_TESTS)

bench: $(STAMP)
	$(BIN)/python -m bench

# dist/troupe/ (PyInstaller, one folder) and, on Linux, the tar.gz with install.sh.
# dist/troupe.fingerprint names the tree it was built from (tests reuse a fresh one).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

package: $(STAMP)
	rm -f dist/troupe.fingerprint
	@mkdir -p build
	$(BIN)/python packaging/fingerprint.py build/troupe.fingerprint
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/troupe.spec
	@if [ "$$(uname -s)" = Linux ]; then packaging/make_tarball.sh dist $(VERSION); fi
	mv build/troupe.fingerprint dist/troupe.fingerprint

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
