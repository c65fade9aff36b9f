# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU build of torch; an unpinned torch would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: run test install index eval bench bench-bot bench-api bench-index bench-scale clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Refresh the index from corpus/ and start the bot (or the terminal chat without a token).
run: $(STAMP)
	$(BIN)/newsqa run

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

index: $(STAMP)
	$(BIN)/newsqa index

## Quality on XQuAD English (the outside yardstick).
eval: $(STAMP)
	$(BIN)/newsqa eval --squad ../shared/benchmarks/xquad/xquad.en.json
	$(BIN)/newsqa eval --qa tests/data/corpus_qa.jsonl

## Benchmarks that print figures (no network; loopback only).
bench-bot: $(STAMP)
	$(BIN)/python scripts/bench_bot.py
bench-api: $(STAMP)
	$(BIN)/python scripts/bench_api.py --clients 8 --seconds 20
bench-index: $(STAMP)
	$(BIN)/python scripts/bench_index.py --articles 10000

## NewsQA vs txtai vs bm25s at 10k and 100k passages (3 repeats; add SIZES=1000000 REPEATS=1 for 1M).
SIZES   ?= 10000,100000
REPEATS ?= 3
bench-scale: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	nice $(BIN)/python scripts/bench_scale.py --sizes $(SIZES) --repeats $(REPEATS)

clean:
	rm -rf data .pytest_cache
