"""Plain-text rendering of answers for the terminal (the bot and the web page render their own)."""

from __future__ import annotations

import textwrap

from index.answer import Answer, Citation


def citation_line(c: Citation) -> str:
    """``Title — Source, date`` with only the parts the article states."""
    bits = [c.source] if c.source else []
    if c.published:
        bits.append(c.published)
    elif c.date_text:
        bits.append(f"{c.date_text} (year not stated)")
    return f"{c.title} — {', '.join(bits)}" if bits else c.title


def render_answer(result: Answer, width: int = 88, all_sources: bool = False) -> str:
    """The answer, then its numbered sources; unanswered questions list nothing as a source."""
    lines = [f"({note})" for note in result.notes()]
    lines += textwrap.wrap(result.answer, width=width) or [result.answer]
    if not result.found:
        return "\n".join(lines)
    shown = [c for c in result.citations if c.cited or all_sources]
    lines.append("")
    lines.append("Sources:")
    for c in shown:
        lines.append(f"  [{c.n}] {citation_line(c)}  ({c.article_id}, chars {c.start}-{c.end})")
    return "\n".join(lines)
