"""``python -m tests.fake_cli ARGS``: the real ``newsqa`` command in a process of its own, with the
fake embedder (so exit codes, pipes and ports are real, and nothing loads a model)."""

from index import cli_common
from tests.conftest import FakeEmbedder

cli_common._embedder = lambda settings: FakeEmbedder()

if __name__ == "__main__":
    from index.cli import main

    main()
