"""``python -m tests.crash_build CORPUS DATA BATCH_CHARS KILL_AT``: build with the fake embedder in
small batches and SIGKILL this process on its KILL_AT-th embedding call (0: never), once earlier
batches are already written, so no cleanup code of ours runs: a real ``kill -9`` mid-build.
After each batch it prints ``articles written N``, what the build's own connection holds."""

import os
import signal
import sys
from pathlib import Path

from index import build
from tests.conftest import FakeEmbedder


class KillingEmbedder(FakeEmbedder):
    def __init__(self, kill_at: int) -> None:
        super().__init__()
        self.kill_at = kill_at

    def encode_documents(self, texts):
        if self.calls + 1 == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().encode_documents(texts)


def _counting(real):
    def write_batch(db, *args, **kwargs):
        out = real(db, *args, **kwargs)
        print("articles written", db.execute("select count(*) from articles").fetchone()[0], flush=True)
        return out
    return write_batch


if __name__ == "__main__":
    build._finish = _counting(build._finish)
    corpus, data, batch_chars, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    report = build.build_index(corpus, data, KillingEmbedder(kill_at), batch_chars=batch_chars)
    print(report.summary())
