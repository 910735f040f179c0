# vbgcam: every command a user or CI needs. The first use of any target builds .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: setup run demo test lint bench soak quality clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vbgcam needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/vbgcam models pull
	@touch $(STAMP)

setup: $(STAMP) ## create .venv, install vbgcam with its test tools, download the segmentation models (RVM after asking)

run: setup ## start the virtual camera with the default settings (add options with ARGS="...")
	@$(BIN)/vbgcam run $(ARGS) || { status=$$?; \
	  echo "vbgcam stopped (exit $$status). No webcam or virtual camera here? 'make demo' renders the demo scene to demo-out/demo.mp4,"; \
	  echo "and 'make run ARGS=\"--camera demo --device none --record demo-out/run.mp4 --frames 150\"' runs the live pipeline without either."; \
	  exit $$status; }

demo: setup ## render the demo scenes with a beach background to demo-out/; before/after pictures to docs/demo.png and docs/framing.png (auto-framing)
	@mkdir -p demo-out
	$(BIN)/vbgcam render demo --bg examples/beach.jpg -o demo-out/demo.mp4 --mask-out demo-out/masks --compare docs/demo.png
	$(BIN)/vbgcam render demo-offcentre --framing auto --bg examples/beach.jpg -o demo-out/framing.mp4 --compare docs/framing.png

test: setup ## run the test suite (what CI runs)
	$(BIN)/python -m pytest

lint: setup ## ruff (checks and formatting) and mypy --strict (what CI runs before the tests)
	$(BIN)/ruff check vbgcam tests
	$(BIN)/ruff format --check vbgcam tests
	$(BIN)/mypy vbgcam

bench: setup ## speed and whole-process CPU: compositor, each network, live path, `vbgcam run` itself, PipeWire camera
	$(BIN)/python -m vbgcam.devtools.bench
	$(BIN)/python -m vbgcam.devtools.bench --idle
	$(BIN)/python -m vbgcam.devtools.bench_networks
	$(BIN)/python -m vbgcam.devtools.bench_pipeline
	$(BIN)/python -m vbgcam.devtools.bench_run
	$(BIN)/python -m vbgcam.devtools.bench_pipewire

soak: setup ## 10 minutes of the live pipeline: RSS growth, output fps, dropped frames, warnings (not in CI)
	$(BIN)/python -m vbgcam.devtools.soak $(ARGS)

quality: setup ## mask quality on ../shared/data: human-seg photos and generated webcam clips
	$(BIN)/vbgcam eval $(ARGS)

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache .mypy_cache *.egg-info
