"""Terminal rendering: numbered sources show only what the article states."""

from index.answer import Answer, Citation
from index.render import citation_line, render_answer


def _c(n, **kw):
    base = dict(n=n, article_id=f"a{n}", title=f"Title {n}", source=None, published=None, date_text=None, url=None,
                text="Some passage.", start=0, end=13, score=1.0, passage_id=n)
    base.update(kw)
    return Citation(**base)


def test_citation_line_shows_known_parts_only():
    assert citation_line(_c(1, source="TASS", date_text="September 18")) == "Title 1 — TASS, September 18 (year not stated)"
    assert citation_line(_c(2, source="AP", published="2015-12-03")) == "Title 2 — AP, 2015-12-03"
    assert citation_line(_c(3)) == "Title 3"


def test_only_cited_sources_are_listed_and_not_found_lists_none():
    cited = _c(1, cited=True)
    text = render_answer(Answer("q", True, "“Some passage.” [1]", [cited, _c(2)]))
    assert "[1] Title 1" in text and "Title 2" not in text
    assert "Sources" not in render_answer(Answer("q", False, "I could not find this.", [_c(1)]))
