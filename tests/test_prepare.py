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


def _postings_by_name(p: prepare.Prepared) -> list[tuple]:
    k = p.keys
    return sorted((p.passages[r].article_id, p.passages[r].seq, k.vocab[key], tf, ttf)
                  for key, r, tf, ttf in zip(k.keys.tolist(), k.rows.tolist(), k.tf.tolist(), k.title_tf.tolist()))


def test_a_prepared_batch_without_some_articles_is_the_batch_prepared_without_them():
    """A new build prepares batches before it knows the duplicate stories, then drops them (Prepared.only)."""
    from index.ingest import Article

    texts = ["Moscow police detained two men on 19 October. They were released later. " * 12,
             "A short note about the weather in Kazan.",
             "Zebra herds crossed the Mara river at dawn. Rangers counted them. " * 20,
             "Another short note, about traffic on the ring road. It was slow."]
    batch = [(Article(f"a{i}", "x.jsonl", f"Headline {i}", text), b"") for i, text in enumerate(texts)]
    whole = prepare.prepare((batch, ["a1", "a2"]), 300)
    whole.articles = batch  # as the build sets them
    assert len({p.article_id for p in whole.passages}) == 4 and len(whole.passages) > 6
    for keep in ({"a0", "a2"}, {"a1", "a3"}, {"a3"}, set()):
        got = whole.only(keep)
        expected = prepare.prepare(([x for x in batch if x[0].id in keep], [r for r in ("a1", "a2") if r in keep]),
                                   300)
        assert [a.id for a, _ in got.articles] == [a.id for a, _ in batch if a.id in keep]
        assert got.passages == expected.passages and got.replaced == expected.replaced
        assert got.sentences.tolist() == expected.sentences.tolist()
        assert got.sentence_hashes == expected.sentence_hashes
        assert got.keys.lengths.tolist() == expected.keys.lengths.tolist()
        assert _postings_by_name(got) == _postings_by_name(expected)
    assert whole.only({"a0", "a1", "a2", "a3"}) is whole


def test_the_first_items_go_to_the_workers_before_a_result_is_asked_for():
    handed = []

    def items():
        for i in range(10):
            handed.append(i)
            yield i

    with Workers(2) as workers:
        results = workers.map(abs, items())
        assert handed == [0, 1, 2]  # workers + AHEAD, before any result is read
        assert [r for _, r in results] == list(range(10))
