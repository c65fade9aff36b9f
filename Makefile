# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Any Python 3.11-3.13: `make test PYTHON=python3.12` (pyenv versions are found even when not active).
PYTHON ?= python3
PY     := $(shell scripts/find-python.sh $(PYTHON))
PYVER  := $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
# The stamp names the interpreter: switching PYTHON rebuilds .venv instead of reusing another one's.
STAMP  := $(VENV)/.installed-$(PYVER)
# The CPU build of torch (scripts/install_torch.py says where it comes from); an unpinned
# torch from PyPI is the CUDA build with about 2.7 GB of NVIDIA libraries.
TORCH_VERSION ?= 2.13.0

.PHONY: run test install index eval bench bench-bot bench-api bench-index bench-scale clean

$(STAMP): pyproject.toml
	@test -n "$(PY)" || { echo "no interpreter for PYTHON=$(PYTHON)" >&2; exit 1; }
	@if [ -d $(VENV) ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PYVER)".split("."))))' 2>/dev/null; then \
	    echo "removing $(VENV): it was made by another Python than $(PY)"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python scripts/install_torch.py $(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed*
	@echo "$(PY)" > $(STAMP)

install: $(STAMP)

## Refresh the index from corpus/ and start the bot (or the terminal chat without a token).
run: $(STAMP)
	$(BIN)/newsqa run

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

index: $(STAMP)
	$(BIN)/newsqa index

## Quality on XQuAD English (the outside yardstick), then on the seed articles shipped in tests/data.
XQUAD ?= ../shared/benchmarks/xquad/xquad.en.json
eval: $(STAMP)
	@if [ -f "$(XQUAD)" ]; then $(BIN)/newsqa eval --squad "$(XQUAD)"; else \
	    echo "*** XQuAD skipped: $(XQUAD) is missing. XQuAD (its English file, xquad.en.json) comes from the public" >&2; \
	    echo "*** repository google-deepmind/xquad (licence CC BY-SA 4.0); put it there, or: make eval XQUAD=/path/to/xquad.en.json" >&2; \
	    echo "*** Running the in-repo evaluation only." >&2; fi
	@if [ -f "$(XQUAD)" ]; then echo "--- Russian XQuAD questions over the English paragraphs"; \
	    $(BIN)/newsqa eval --squad "$(XQUAD)" --questions benchmarks/xquad-ru/questions.ru.json; fi
	@echo "--- Russian XQuAD (benchmarks/xquad-ru, 24 articles) over its Russian paragraphs"
	$(BIN)/newsqa eval --squad benchmarks/xquad-ru/xquad.ru-proxy.json
	$(BIN)/newsqa eval --qa tests/data/corpus_qa.jsonl --corpus tests/data/corpus
	$(BIN)/newsqa eval --qa tests/data/corpus_questions.jsonl --corpus tests/data/corpus

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

## Everything make built: the index in data/, caches and .venv (whichever Python made it).
clean:
	rm -rf data .pytest_cache $(VENV)
