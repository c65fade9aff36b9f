"""The worker processes of a build: results in order, and a build that goes on when they fail."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

from index import prepare
from index.prepare import Workers

from tests.conftest import ROOT


def test_workers_give_results_in_order():
    with Workers(2) as workers:
        assert list(workers.map(abs, range(0, -40, -1))) == [(-i, i) for i in range(40)]


class _DyingPool:
    """A pool whose workers die after the first task."""

    def __init__(self, *args, **kwargs) -> None:
        self.tasks = 0

    def submit(self, fn, *args):
        self.tasks += 1
        if self.tasks > 3:
            raise BrokenProcessPool("the pool is broken")
        future = Future()
        if self.tasks == 1:
            future.set_result(fn(*args))
        else:
            future.set_exception(BrokenProcessPool("a worker died"))
        return future

    def shutdown(self, **kwargs) -> None: ...


def test_when_workers_die_the_rest_is_done_in_this_process(monkeypatch, caplog):
    monkeypatch.setattr(prepare, "ProcessPoolExecutor", _DyingPool)
    with Workers(2) as workers:
        assert list(workers.map(abs, range(0, -10, -1))) == [(-i, i) for i in range(10)]
    assert "build workers failed" in caplog.text


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path):
    """Spawned workers would import the parent's script again: an unguarded build would run twice."""
    script = tmp_path / "build_it.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from index.prepare import Workers
        print("script ran", flush=True)
        with Workers(2) as workers:
            print(sum(r for _, r in workers.map(abs, range(-50, 0))), flush=True)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["script ran", "1275"]
    assert out.stdout.count("script ran") == 1 and "build workers failed" not in out.stderr
