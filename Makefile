# Two commands, set-up included: `make quickstart` and `make test`.
# The virtual environment is (re)built only when pyproject.toml changes; later runs start in seconds.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.groundtune-installed
TORCH_PIN := torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup browser quickstart test lint typecheck bench clean

setup: $(STAMP) browser

# The UI's browser tests drive Debian's Chromium through Playwright (which cannot download browsers
# here). Installed once; skipped when a chromium is already on PATH. apt-get needs root (sudo otherwise).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		$(SUDO) apt-get install -y --no-install-recommends chromium || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned, so no resolver ever pulls a CUDA build.
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[dev]" "$(TORCH_PIN)"
	@touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/groundtune quickstart $(ARGS)

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/groundtune
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src/groundtune

clean:
	rm -rf $(VENV) build *.egg-info
