"""``python -m tests.fake_bot``: the real ``python -m bot`` start-up with the fake embedder."""

import sys

from index import cli_common
from tests.conftest import FakeEmbedder

cli_common._embedder = lambda settings: FakeEmbedder()

if __name__ == "__main__":
    from bot.__main__ import main

    sys.exit(main())
