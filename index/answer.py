"""Extractive answers: one or two sentences quoted verbatim from the best passages, with [n] markers.

Sentences are scored by how much of the question's (IDF-weighted) content they contain, how
close they are to the question in embedding space, and how well their passage ranked. When
the best sentence covers too little of the question, the answer abstains instead of citing noise.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from index import bridge as bridge_mod
from index import calibration, reader
from index.chunking import split_sentences
from index.dates import find_dates
from index.query import Query, UnknownName, key_weights, question_script
from index.search import Hit
from index.terms import NOT_PERSON, NOT_PLACE, PERSON as _PERSON, QueryTerm, date_tokens, fold, person_nouns, persons, stem, text_keys, word_keys, words
from index.text import STOPWORDS

log = logging.getLogger(__name__)

# The first quoted sentence is cut to at most this many characters; a second one, quoted as a hedge or
# to say who "he" is, must fit in SECOND_MAX_CHARS of its own (a long first sentence no longer leaves
# it no room: on XQuAD-en that crowded out the sentence holding the answer in 1.5% of the questions).
MAX_ANSWER_CHARS = 400
SECOND_MAX_CHARS = 300
SENTENCE_PASSAGES = 3
# A second sentence is quoted only when the first holds the answer with less than this estimated
# chance, and the second with at least SECOND_MIN_P (chances from the sentence model, see calibration.py).
SECOND_BELOW = 0.7
SECOND_MIN_P = 0.1
# ... or when the next one is about as likely as the first (at least this share of its chance): the question
# has more than one answer ("Who was detained in Moscow in October?" -- two groups, on 11 and 19 October).
SECOND_TIED = 0.9
# A "who" question's sentence holding a single capitalised word ("Newton"), not a full name, gets this share
# of the answer-kind bonus.
PARTIAL_NAME = 0.6
# A quoted sentence that opens with a pronoun ("He is also the oldest...") brings the sentence before it,
# which says who is meant.
PRONOUN_START = re.compile(r"^\W*(he|she|it|they|his|her|its|their|this|these|those|as a result|therefore|then|thus|"
                           r"after that|because of this|at (?:this|that) (?:point|time|moment)|for (?:this|that) reason|"
                           r"(?:this|that) is why|in response|он|она|оно|они|его|её|ее|их|это|в результате|поэтому|затем|тогда|"
                           r"в (?:этот|тот) момент|по (?:этой|той) причине|в ответ)\b",
                           re.I)
WITH_ANTECEDENT = True
# When the question asks for a date, number, length or name and the quoted sentence holds none, the sentence
# right after it that holds one (at least this much of the answer-kind evidence) is quoted with it: news
# restates the question in one sentence and gives the answer in the next ("A video showing two Russian captives
# has been released ... In the 42-second video ..."). On XQuAD this adds the sentence holding the answer to
# answers that lacked it and a sentence that does not to others (README, "The sentence after"). A runner-up the
# sentence model finds likely enough to quote (``_second``) that holds the asked kind outright is quoted instead.
CONTINUATION_KIND = 0.5
# How many sentences after the chosen one a "who" question looks for the name (see ``_continuation``).
NAME_REACH = 4
NOT_FOUND = "I could not find this in the indexed articles. Try rephrasing, or ask about something the articles cover."


@dataclass
class Citation:
    """A numbered source: the passage, its article, and the quoted spans inside the passage."""

    n: int
    article_id: str
    title: str
    source: str | None
    published: str | None
    date_text: str | None
    url: str | None
    text: str
    start: int
    end: int
    score: float
    passage_id: int
    cited: bool = False
    highlights: list[list[int]] = field(default_factory=list)
    keyword_rank: int | None = None
    keyword_score: float | None = None
    vector_rank: int | None = None
    vector_score: float | None = None
    article_dated: bool = field(default=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out.pop("article_dated", None)
        return out


@dataclass
class Answer:
    """What every front end shows: ``to_dict()`` is the JSON contract of ``newsqa ask --json``."""

    question: str
    found: bool
    answer: str
    citations: list[Citation]
    confidence: float = 0.0
    # What was searched when it differs from the question (a follow-up resolved against the last one).
    resolved: str | None = None
    # Misspelt or unknown words and the index words used instead.
    corrections: list[dict[str, str]] = field(default_factory=list)
    # Dates the question named, as understood (a partial date keeps its unknown year unknown).
    dates: list[str] = field(default_factory=list)
    # Every retrieved article id, best first, even when nothing is cited (for evaluation).
    ranked: list[str] = field(default_factory=list)
    # What the confidence was computed from (for calibration; not part of the JSON contract).
    features: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "found": self.found, "answer": self.answer,
                "confidence": round(self.confidence, 3), "resolved_question": self.resolved,
                "corrections": self.corrections, "dates": self.dates,
                "citations": [c.to_dict() for c in self.citations]}

    def notes(self) -> list[str]:
        """Lines every front end shows above the answer: corrections, dates used, the resolved question."""
        out = []
        if self.corrections:
            out.append("Showing results for " + ", ".join(c["used"] for c in self.corrections)
                       + " (you typed " + ", ".join(c["typed"] for c in self.corrections) + ")")
        if self.dates:
            out.append("Date understood: " + ", ".join(self.dates))
        if self.resolved:
            out.append(f"Understood as: {self.resolved}")
        return out


def coverage(query: Query, sentence: str, article_dated: bool = False, via: dict[QueryTerm, float] | None = None
             ) -> float:
    """Share of the question's IDF weight whose words (any of their keys) or dates occur in ``sentence``;
    a date the article itself carries (``article_dated``) counts for every sentence of it, and a word
    held in translation (``via``: how surely, see index/bridge.py) counts that much."""
    total = sum(query.weights.values())
    if total <= 0:
        return 0.0
    have = text_keys(sentence) | _stated_dates(query, sentence)
    via = via or {}
    return sum(w * (1.0 if have.intersection(t.keys) or (t.is_date and article_dated) else via.get(t, 0.0))
               for t, w in query.weights.items()) / total


def clip(text: str, start: int, end: int, focus: dict[str, float] | set[str],
         limit: int = MAX_ANSWER_CHARS) -> tuple[int, int]:
    """A span of at most ``limit`` characters inside ``[start, end)``, cut at spaces, holding the
    most question weight (rare words count most), so an over-long sentence still quotes verbatim."""
    if end - start <= limit:
        return start, end
    weights = focus if isinstance(focus, dict) else {f: 1.0 for f in focus}
    words = _word_spans(text, start, end)
    best, best_lo = -1.0, start
    j = 0
    for i, (lo, _) in enumerate(words):
        while j < len(words) and words[j][0] + len(words[j][1]) - lo <= limit:
            j += 1
        inside = {stem(w.strip(".,;:!?\"'«»“”()[]")) for _, w in words[i:j]}
        score = sum(weights.get(t, 0.0) for t in inside)
        if score > best:
            best, best_lo = score, lo
    hi = min(end, best_lo + limit)
    if hi < end:
        sp = text.rfind(" ", best_lo, hi)
        hi = sp if sp > best_lo else hi
    return best_lo, hi


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, str]]:
    out, i = [], start
    for w in text[start:end].split(" "):
        if w:
            out.append((i, w))
        i += len(w) + 1
    return out


def _marked(quote: str, cut: tuple[bool, bool] | None) -> str:
    """Show where an over-long sentence was cut."""
    if not cut:
        return quote
    return ("… " if cut[0] else "") + quote + (" …" if cut[1] else "")


def _owner(citations: list[Citation], cited: list[int], ci: int, s: int, e: int) -> tuple[int, int, int]:
    """Move a sentence span of citation ``ci`` to the same text inside an already-cited passage."""
    quote = citations[ci].text[s:e]
    for other in cited:
        at = citations[other].text.find(quote)
        if other != ci and at >= 0:
            return other, at, at + len(quote)
    return ci, s, e


_YEAR_OR_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})(?:s|'s|’s)?\b|\b\d[\d,.]*\s*BP\b|\b(January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b\.?|\bcentur(y|ies)\b|\b\d{1,2}(st|nd|rd|th)\b"
    r"|(?<!\w)(январ|феврал|март|апрел|ма[йяе]|июн|июл|август|сентябр|октябр|ноябр|декабр)\w*|\b\d{1,2}\.\d{1,2}\.\d{4}\b"
    r"|(?<!\w)(век|веке|века)(?!\w)"
    # News says when by the day of the week, or counting back from the day it was written ("three days ago");
    # not by "this year" or "recently", which say as often when something else happened.
    r"|\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tonight|ago)\b"
    r"|(?<!\w)(понедельник|вторник|сред[уаы]|четверг|пятниц[уаы]|суббот[уаы]|воскресень[ея]|вчера|сегодня|назад)(?!\w)",
    re.I,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|"
                     r"million|billion|dozens?|half|twice|thrice)\b|(?<!\w)(один|одна|два|две|три|четыре|пять|шесть|семь|восемь|"
                     r"девять|десять|сто|тысяч\w*|миллион\w*|десятк\w*|половин\w*)(?!\w)", re.I)
# A name: a capitalised word that does not open the sentence, or two capitalised words in a row.
_NAME = re.compile(r"(?<![.!?«“\"]\s)(?<!^)(?<![.!?])\b[A-ZА-ЯЁ][a-zа-яё]+(?:[\s-][A-ZА-ЯЁ][a-zа-яё]+)*"
                   r"|\b[A-ZА-ЯЁ][a-zа-яё]+[\s-][A-ZА-ЯЁ][a-zа-яё]+")
_WHEN = re.compile(r"\s*(when|what year|in what year|what date|which year|what century|in which year|on what date|"
                   r"когда|в каком году|какого числа|в какой день|в каком веке|с какого|до какого)(?!\w)")
_HOW_LONG = re.compile(r"\s*(how long|for how long|как долго|сколько (длил|длит|продолжал|времени)\w*)(?!\w)")
# A length of time or distance: a number and its unit ("42-second", "three weeks", "5 km", "две недели").
_MEASURE = re.compile(r"(\d[\d.,]*|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|forty|fifty|"
                      r"hundred|several|few|many)|(?<!\w)(?:один|одна|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|"
                      r"несколько))[\s-]*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies)|"
                      r"miles?|kilomet(?:er|re)s?|km|met(?:er|re)s?|feet|foot|inch(?:es)?|"
                      r"секунд\w*|минут\w*|час\w*|дн\w*|день|недел\w*|месяц\w*|лет|год\w*|век\w*|километр\w*|км|метр\w*)(?!\w)",
                      re.I)
_HOW_MANY = re.compile(r"\s*(how (many|much|long|old|far|large|big|tall|high)|what (percentage|percent|number|amount|share)|"
                       r"сколько|какое количество|какой процент|какая доля|как долго)(?!\w)")
_WHO = re.compile(r"\s*(who|whom|whose|кто|кого|кому|кем|чей|чья|чьи|как зовут|как звали)(?!\w)")
_WHERE = re.compile(r"\s*(where|which (company|team|country|city|agency|organi[sz]ation|region|village|town)|"
                    r"где|куда|откуда|какая организация|какой город|какая страна|в какой стране|в каком городе)(?!\w)")
# "Where ...?" asks for a place: a name, but not one made only of institution, people or day words ("Islamic
# State", "Russian"); "which agency" asks for any name.
_PLACE = re.compile("(?:" + _NAME.pattern + ")")  # the same names, a distinct kind
_ASKS_PLACE = re.compile(r"\s*(where|which (country|city|region|village|town)|где|куда|откуда|какой город|"
                         r"какая страна|в какой стране|в каком городе)(?!\w)")
_NUMBER_VALUES = {w: v for v, forms in {
    1: "one один одна одно одного одной одним одному", 2: "two два две двух двум двумя двое двоих",
    3: "three три трех трёх трем трём тремя трое троих", 4: "four четыре четырех четырёх четырем четырём "
    "четырьмя четверо", 5: "five пять пяти пятью пятеро", 6: "six шесть шести шестью", 7: "seven семь семи",
    8: "eight восемь восьми", 9: "nine девять девяти", 10: "ten десять десяти", 12: "twelve двенадцать",
    20: "twenty двадцать", 100: "hundred сто", 1000: "thousand тысяча тысячи"}.items() for w in forms.split()}
# A sentence that speaks of someone named before it without naming them ("He spent three months in custody").
_PERSONAL = re.compile(r"(?<!\w)(he|she|him|his|her|hers|they|them|their|он|она|они|его|её|ее|ему|ей|им|их|него|неё|нее|"
                       r"нему|ней|них|ним|ними|нею)(?!\w)", re.I)
# "Which agency ...", "What type of drugs ...": the noun the answer is an instance of.
_HEAD = re.compile(r"\s*(?:in |on |at |for |from |to |of |by |with )?(?:which|what|какой|какая|какое|какие|какую|каком|"
                   r"какого|каких|в какой|в каком|на каком)\s+(?:(?:kind|kinds|type|types|sort|form|forms|part|name) of\s+)?"
                   r"(?:the\s+|a\s+)?([^\W\d_]{3,})", re.I)


def expected_kind(question: str) -> re.Pattern[str] | None:
    """What the answer to a wh-question looks like: a date, a number or a name."""
    q = question.lower().lstrip("«\"' (")
    q = re.sub(r"^(and|so|but|а|и|но)\s+", "", q)
    if _WHEN.match(q):
        return _YEAR_OR_DATE
    if _HOW_LONG.match(q):
        return _MEASURE
    if _HOW_MANY.match(q):
        return _NUMBER
    if _WHO.match(q) or re.search(r"(?<!\w)(names? of|the names?|называ\w*|имена|имя|фамили\w*)(?!\w)", q):
        return _PERSON
    if _ASKS_PLACE.match(q):
        return _PLACE
    if _WHERE.match(q):
        return _NAME
    return None


def number_values(text: str) -> set[float]:
    """The numbers ``text`` states, in digits or words of either language ("two", "двумя", "2")."""
    out = {_NUMBER_VALUES[w] for w in map(fold, words(text)) if w in _NUMBER_VALUES}
    for m in re.finditer(r"\d+(?:[.,]\d+)?", text):
        try:
            out.add(float(m.group(0).replace(",", ".")))
        except ValueError:
            pass
    return {float(v) for v in out}


def kind_bonus(kind: re.Pattern[str] | None, sentence: str, question: str) -> float:
    """1.0 when the sentence holds something of the expected kind that the question does not."""
    if kind is None:
        return 0.0
    q = question.lower()
    asked = text_keys(question)
    asked_numbers = number_values(question)
    patterns = [(kind, 1.0)] + ([(_NAME, PARTIAL_NAME)] if kind is _PERSON else []) + (
        [(_NUMBER, PARTIAL_NAME)] if kind is _MEASURE else [])
    dates = None
    for pattern, value in patterns:
        if pattern is _PERSON:
            found_all = persons(sentence)
        elif pattern in (_NUMBER, _MEASURE):  # "How many ...?" is not answered by the 30 of "Sept. 30"
            dates = [(d.start, d.end) for d in find_dates(sentence)] if dates is None else dates
            found_all = [m.group(0) for m in pattern.finditer(sentence)
                         if not any(s <= m.start() < e for s, e in dates)]
        else:
            found_all = [m.group(0) for m in pattern.finditer(sentence)]
        for found in found_all:
            if re.search(rf"(?<!\w){re.escape(found.lower())}(?!\w)", q):
                continue
            if pattern in (_NAME, _PERSON, _PLACE) and text_keys(found) <= asked:
                continue  # the question's own name, in another case or spelling
            if kind is _PERSON and all(fold(w) in NOT_PERSON for w in words(found)):
                continue  # "Who ...?" is not answered by "Wednesday" or "Kremlin"
            if kind is _PLACE and all(fold(w) in NOT_PLACE for w in words(found)):
                continue  # nor "Where ...?" by "Islamic State" or "Russian"
            stated = number_values(found) if pattern in (_NUMBER, _MEASURE) else set()
            if stated and stated <= asked_numbers:
                continue  # a number the question gives ("the two Russians", "с двумя пленными")
            return value
    return 0.0


@dataclass
class _Candidate:
    ci: int
    start: int
    end: int
    text: str
    cov: float
    dense: float
    kind: float
    read: float = 0.0  # the reader's score (a logit; see index/reader.py)
    score: float = 0.0
    via: dict[QueryTerm, float] = field(default_factory=dict)  # question words it holds in translation
    script: str = field(init=False)  # as question_script reads it: whether the reader can read it

    def __post_init__(self) -> None:
        self.script = question_script(self.text)


Read = Callable[[str, list[str]], np.ndarray]
Bridge = Callable[[list[QueryTerm], list[str]], list[dict[QueryTerm, float]]]


def _candidates(query: Query, citations: list[Citation], sentence_vectors: dict[int, list[tuple[int, int, Any]]],
                query_vector: np.ndarray, encode: Callable[[list[str]], np.ndarray],
                kind: re.Pattern[str] | None, read: Read | None = None, bridge: Bridge | None = None
                ) -> list[_Candidate]:
    """Every sentence of the top passages, with its coverage (in translation too, when it is in another
    script than the question: ``bridge``, default the bundled one), similarity, answer-kind evidence and
    reader score."""
    cands: list[_Candidate] = []
    missing: list[_Candidate] = []
    seen: set[tuple[str, int]] = set()  # a sentence two overlapping passages share is one candidate, of the better
    for ci, c in enumerate(citations[:SENTENCE_PASSAGES]):
        stored = sentence_vectors.get(c.passage_id) or []
        spans = [(s, e, v) for s, e, v in stored] or [(sp.start, sp.end, None) for sp in split_sentences(c.text)]
        for s, e, vec in spans:
            if (c.article_id, c.start + s) in seen:
                continue
            seen.add((c.article_id, c.start + s))
            text = c.text[s:e]
            cand = _Candidate(ci, s, e, text, coverage(query, text, c.article_dated),
                              float(np.frombuffer(vec, dtype="<f2").astype(np.float32) @ query_vector) if vec is not None else 0.0,
                              kind_bonus(kind, text, query.text))
            cands.append(cand)
            if vec is None:
                missing.append(cand)
    if missing:  # an index built before sentence vectors were stored
        for cand, d in zip(missing, encode([m.text for m in missing]) @ query_vector):
            cand.dense = float(d)
    if cands:
        # The reader reads words against words: a sentence in another script than the question is not read
        # (its scores there are noise, and the sentence model ignores them; see sentence_features).
        same = [c for c in cands if c.script == query.script]
        other = [c for c in cands if c.script != query.script]
        if same:
            for cand, r in zip(same, (read or reader.bundled().score)(query.text, [c.text for c in same])):
                cand.read = float(r)
        try:
            held = (bridge or bridge_mod.bundled().held)(list(query.weights), [c.text for c in other]) if other else []
        except Exception:  # noqa: BLE001 -- an answer without translated matches beats no answer
            log.exception("cross-language word matching failed; answering without it")
            held = []
        for cand, via in zip(other, held):
            cand.via = via
            if via:
                cand.cov = coverage(query, cand.text, citations[cand.ci].article_dated, via)
    return cands


def compose(
    query: Query,
    hits: list[Hit],
    query_vector: np.ndarray,
    encode: Callable[[list[str]], np.ndarray],
    sentence_vectors: dict[int, list[tuple[int, int, Any]]] | None = None,
    model: str = "",
    min_confidence: float | None = None,
    read: Read | None = None,
    bridge: Bridge | None = None,
) -> Answer:
    """The answer to ``query`` from ``hits`` (best first); citations are numbered in the order the
    answer cites them, and a question nothing answers cites nothing. ``read`` scores candidate
    sentences (default: the shipped reader)."""
    question = query.text
    ranked = list(dict.fromkeys(h.article_id for h in hits))
    days = [d for d in query.dates if d.date.day]
    day_only = bool(days) and all(t.is_date for t in query.weights)
    if day_only:  # "What happened on 13 October?": an article of that day is told from its lead
        hits = _leads_first(hits)
    citations = [Citation(n=i + 1, article_id=h.article_id, title=h.title, source=h.source,
                          published=h.published, date_text=h.date_text, url=h.url, text=h.text,
                          start=h.start, end=h.end, score=h.score, passage_id=h.passage_id,
                          keyword_rank=h.keyword_rank, keyword_score=h.keyword_score,
                          vector_rank=h.vector_rank, vector_score=h.vector_score,
                          article_dated=h.article_date_match) for i, h in enumerate(hits)]
    if not hits or not query.weights:
        return Answer(question, False, NOT_FOUND, [], ranked=ranked)
    unknown = unknown_people(query)
    if unknown:  # another person with a name in common is not who was asked about
        return Answer(question, False, unknown_names_message(unknown), [], ranked=ranked)
    if days and not any(h.date_match for h in hits[:SENTENCE_PASSAGES]):
        named = ", ".join(d.label() for d in days)
        return Answer(question, False, f"None of the articles that match this question mention {named}. "
                                       "Try another date, or ask without one.", [], ranked=ranked)
    kind = expected_kind(question)
    cands = _candidates(query, citations, sentence_vectors or {}, query_vector, encode, kind, read, bridge)
    if not cands:
        return Answer(question, False, NOT_FOUND, [], ranked=ranked)
    passage_cov = passage_coverage(query, citations, cands)
    rows = sentence_features(query, cands, passage_cov, hits, kind)
    entry = calibration.sentence_entry(model)
    for c, x in zip(cands, rows):
        c.score = calibration.score(entry, x)  # P(this sentence holds the answer)
    order = sorted(range(len(cands)), key=lambda i: -cands[i].score)
    cands = [cands[i] for i in order]
    if day_only:
        lead = _day_sentence(query, cands, citations)
        cands = [lead] + [c for c in cands if c is not lead] if lead is not None else cands
    best = cands[0]
    features = calibration.features(
        cov=max(c.cov for c in cands), passage_cov=max(passage_cov), dense=max(c.dense for c in cands),
        best_dense=best.dense, kind=best.kind, matched=query.matched_share, asked_kind=kind is not None,
        cross_lingual=question_script(question) != question_script(best.text), p_best=best.score,
        p_second=cands[1].score if len(cands) > 1 else 0.0, read_best=best.read)
    confidence = calibration.confidence(model, features)
    # The day is all that was asked, so a sentence stating it, or the lead of an article of that day, answers it
    # (the confidence model, fitted on questions with words to match, sees only a weak similarity).
    states_day = day_only and (citations[best.ci].article_dated or bool(_stated_dates(query, best.text) & query.date_tokens))
    if confidence < (calibration.threshold(model) if min_confidence is None else min_confidence) and not states_day:
        return Answer(question, False, NOT_FOUND, [], confidence=confidence, ranked=ranked, features=features)
    weights = _focus(query, best, MAX_ANSWER_CHARS - 12)
    picked = [(best.ci, *clip(citations[best.ci].text, best.start, best.end, weights, MAX_ANSWER_CHARS - 12))]
    clipped = {picked[0]: (picked[0][1] > best.start, picked[0][2] < best.end)}
    runner = _second(best, cands, SECOND_MAX_CHARS)
    # A runner-up likely enough to be quoted that holds the asked kind outright beats the sentence after.
    second = _continuation(best, cands, kind, SECOND_MAX_CHARS, citations) if runner is None or runner.kind < 1.0 else None
    second = second or (_antecedent(best, cands, SECOND_MAX_CHARS) if WITH_ANTECEDENT else None)
    second = second or runner or _kind_runner(best, cands, kind, SECOND_MAX_CHARS)
    if second is not None:
        picked.append(_owner(citations, [best.ci], second.ci, second.start, second.end))
        if citations[picked[0][0]].article_id == citations[picked[1][0]].article_id:
            picked.sort(key=lambda p: citations[p[0]].start + p[1])  # same article: reading order
    result = _render(question, citations, picked, clipped, confidence, ranked)
    result.features = features
    return result


def _focus(query: Query, best: _Candidate, limit: int) -> dict[str, float]:
    """What a sentence too long to quote whole is clipped around: the question's word keys, and, for a
    sentence in another language, the words that hold the question's words in translation ("Что сказал
    Бортников о беженцах?" keeps "... transporting refugees ..." of a 500-character sentence)."""
    weights = key_weights(query)
    if not best.via or best.end - best.start <= limit:
        return weights
    try:
        (found,) = bridge_mod.bundled().matches(list(best.via), [best.text])
    except Exception:  # noqa: BLE001 -- clipping around the question's own words still quotes verbatim
        log.exception("cross-language word matching failed; clipping without it")
        return weights
    for term, (word, strength) in found.items():
        key = stem(word)
        weights[key] = weights.get(key, 0.0) + query.weights.get(term, 0.0) * strength
    return weights


def unknown_people(query: Query) -> list[UnknownName]:
    """The people the question names that the articles surely do not (they name others with a word in common)."""
    return [u for u in query.unknown_names if u.others]


def unknown_names_message(unknown: list[UnknownName]) -> str:
    """Why a question about someone the articles never name is not answered, and whom they do name."""
    said = "; ".join(f"{u.name} (they name {', '.join(u.others[:3])})" for u in unknown)
    return (f"The indexed articles do not mention {said}, so they cannot say who this is or what they did. "
            "Check the spelling, or ask about someone the articles cover.")


def passage_coverage(query: Query, citations: list[Citation], cands: list[_Candidate]) -> list[float]:
    """The coverage of each of the top passages, counting the words its sentences hold in translation."""
    out = []
    for ci, c in enumerate(citations[:SENTENCE_PASSAGES]):
        via: dict[QueryTerm, float] = {}
        for cand in cands:
            if cand.ci == ci:
                for t, v in cand.via.items():
                    via[t] = max(via.get(t, 0.0), v)
        out.append(coverage(query, c.text, c.article_dated, via))
    return out


def _leads_first(hits: list[Hit]) -> list[Hit]:
    """``hits`` with the passages of each article published on the asked day in reading order, where the
    article's best one stood: all of its passages match the day alike, and only the question's other
    words, when it has none, would order them."""
    by_article: dict[str, list[Hit]] = {}
    for h in hits:
        by_article.setdefault(h.article_id, []).append(h)
    out: list[Hit] = []
    for group in by_article.values():
        out.extend(sorted(group, key=lambda h: h.start) if all(h.article_date_match for h in group) else group)
    return out


def _day_sentence(query: Query, cands: list[_Candidate], citations: list[Citation]) -> _Candidate | None:
    """For a question asking only what happened on a day: the likeliest sentence stating that day, else the
    earliest sentence (of six words or more, not a byline) of a retrieved article published that day: news
    says what happened first."""
    stating = [c for c in cands if _stated_dates(query, c.text) & query.date_tokens]
    if stating:
        return stating[0]  # cands are best first
    dated = [c for c in cands if citations[c.ci].article_dated and len(words(c.text)) >= 6]
    return min(dated, key=lambda c: citations[c.ci].start + c.start, default=None)


def _antecedent(best: _Candidate, cands: list[_Candidate], room: int) -> _Candidate | None:
    """The sentence just before ``best`` in its passage, when ``best`` opens with a pronoun."""
    if not PRONOUN_START.match(best.text):
        return None
    before = [c for c in cands if c.ci == best.ci and c.end <= best.start]
    prev = max(before, key=lambda c: c.end, default=None)
    return prev if prev is not None and prev.end - prev.start <= room else None


def _continuation(best: _Candidate, cands: list[_Candidate], kind: re.Pattern[str] | None, room: int,
                  citations: list[Citation]) -> _Candidate | None:
    """The sentence right after ``best`` in its article, when the question asks for a kind of answer that
    ``best`` does not hold and this one does (``CONTINUATION_KIND``). A "who" question whose ``best`` names
    nobody reads further: news tells what happened to "a man" or "two captives" before it names them, so the
    first of the next ``NAME_REACH`` sentences that names someone and speaks of the same man or captives
    answers it ("In the video, a man ... identifies himself as Roman Zabolotny")."""
    if kind is None or best.kind >= (1.0 if kind is _PERSON else CONTINUATION_KIND):
        return None
    after = _read_on(best, cands, citations)
    if best.kind < CONTINUATION_KIND and after and after[0].kind >= CONTINUATION_KIND \
            and after[0].end - after[0].start <= room:
        return after[0]
    unnamed = person_nouns(best.text) if kind is _PERSON else set()
    return next((c for c in after[:NAME_REACH] if unnamed and c.kind >= 1.0 and c.end - c.start <= room
                 and unnamed & person_nouns(c.text)), None)


def _read_on(best: _Candidate, cands: list[_Candidate], citations: list[Citation]) -> list[_Candidate]:
    """The candidates after ``best`` in its article, in reading order, each sentence once (the retrieved
    passages of an article may overlap or follow one another)."""
    article, end = citations[best.ci].article_id, citations[best.ci].start + best.end
    at: dict[int, _Candidate] = {}
    for c in cands:
        pos = citations[c.ci].start + c.start
        if citations[c.ci].article_id == article and pos >= end:
            at.setdefault(pos, c)
    return [at[p] for p in sorted(at)]


def _kind_runner(best: _Candidate, cands: list[_Candidate], kind: re.Pattern[str] | None,
                 room: int) -> _Candidate | None:
    """When ``best`` lacks the asked kind of answer, it may well not hold the answer however sure the sentence
    model is ("When was the video released?" quoting "A video ... has been released"): the likeliest other
    sentence holding that kind outright, if it is at least ``SECOND_MIN_P`` likely."""
    if kind is None or best.kind >= CONTINUATION_KIND:
        return None
    return _likeliest_after(best, cands, room, SECOND_MIN_P, lambda c: c.kind >= 1.0)


def _second(best: _Candidate, cands: list[_Candidate], room: int) -> _Candidate | None:
    """A second sentence only when the first may well not hold the answer (its estimated chance is
    below ``SECOND_BELOW``) and the next most likely one might (at least ``SECOND_MIN_P``), or when
    the next one is about as likely as the first (``SECOND_TIED``): then both answer."""
    floor = SECOND_MIN_P if best.score < SECOND_BELOW else SECOND_TIED * best.score
    return _likeliest_after(best, cands, room, floor, lambda c: True)


def _likeliest_after(best: _Candidate, cands: list[_Candidate], room: int, floor: float,
                     wanted: Callable[[_Candidate], bool]) -> _Candidate | None:
    """The likeliest of ``cands`` after ``best`` (they are best first) that is ``wanted``, fits in ``room``
    and is not ``best`` again, if its chance is at least ``floor``."""
    for c in cands[1:]:
        if c.score < floor:
            return None
        if wanted(c) and c.end - c.start <= room and c.text.strip() != best.text.strip():
            return c
    return None


def sentence_features(query: Query, cands: list[_Candidate], passage_cov: list[float], hits: list[Hit],
                      kind: re.Pattern[str] | None) -> list[dict[str, float]]:
    """What the sentence model (``calibration.SENTENCE_FEATURES``) reads of each candidate sentence.

    Besides coverage and similarity: coverage weighted by how few candidate sentences hold each
    question word (the article's topic words are in every sentence and tell none apart), the
    share of the question's word pairs that stand together in the sentence, the coverage of the
    sentences around it (an answer often follows the sentence that repeats the question), and
    its length and place in the passage; and the reader's verdict, as its share of the candidates
    in the question's script (a softmax of its scores) and as the distance to the best of them."""
    top = max(c.dense for c in cands)
    # The reader reads words against words, so only a sentence in the question's script gets its verdict
    # (over a Russian question and English sentences its scores are noise); the others get 0.
    readable = np.array([c.script == query.script for c in cands])
    reads = np.array([c.read for c in cands])
    best_read = reads[readable].max() if readable.any() else 0.0
    read_share = np.where(readable, np.exp(np.minimum(reads - best_read, 0.0)), 0.0)
    read_share /= read_share.sum() or 1.0
    low = min(c.dense for c in cands)
    span = (top - low) or 1.0
    asked = text_keys(query.text)
    terms = [t for t, w in query.weights.items() if w > 0]
    term_keys = [frozenset(t.keys) for t in terms]
    word_keys_of = [[set(word_keys(w)) for w in words(c.text)] for c in cands]
    stated = [_stated_dates(query, c.text) for c in cands]
    holds = []  # per sentence, per question term: does the sentence hold it (as coverage() counts)
    for c, keys, dates in zip(cands, word_keys_of, stated):
        have = set(dates).union(*keys)
        holds.append([1.0 if tk & have or (t.is_date and hits[c.ci].article_date_match) else c.via.get(t, 0.0)
                      for t, tk in zip(terms, term_keys)])
    local = [query.weights[t] * math.log((len(cands) + 1) / (sum(h[j] for h in holds) + 0.5))
             for j, t in enumerate(terms)]
    local_cov = [sum(w * h for w, h in zip(local, hh)) / (sum(local) or 1.0) for hh in holds]
    best_cov = max(c.cov for c in cands) or 1.0
    best_local = max(local_cov) or 1.0
    pairs = _question_pairs(query, term_keys)
    head = question_head(query.text)
    total = sum(query.weights[t] for t in terms) or 1.0
    names: dict[int, set[str]] = {}  # the name keys of a sentence (by candidate) or a passage (by ~hit), once each
    out = []
    for i, c in enumerate(cands):
        before = [x for x in cands if x.ci == c.ci and x.end <= c.start]
        after = [x for x in cands if x.ci == c.ci and x.start >= c.end]
        # Names given before this sentence (in its passage, or in a retrieved passage of the article before it)
        # count as held by it when it refers to someone by pronoun.
        named: set[str] = set()
        if _PERSONAL.search(c.text):
            own = hits[c.ci]
            earlier = [(j, x.text) for j, x in enumerate(cands) if x.ci == c.ci and x.end <= c.start]
            earlier += [(~j, h.text) for j, h in enumerate(hits) if h.article_id == own.article_id and h.end <= own.start]
            for j, text in earlier:
                if j not in names:
                    names[j] = _named_keys(text)
                named |= names[j]
        inherited = sum(query.weights[t] for t, tk, h in zip(terms, term_keys, holds[i]) if not h and tk & named)
        out.append({
            "cov": c.cov, "pcov": passage_cov[c.ci], "dnorm": (c.dense - low) / span, "dgap": c.dense - top,
            "rank": 1.0 / (1 + c.ci), "kind": c.kind, "askedkind": float(kind is not None),
            "novel": min(len(text_keys(c.text) - asked), 20) / 20.0,
            "pronoun": float(bool(PRONOUN_START.match(c.text))), "date": float(hits[c.ci].date_match),
            "matched": query.matched_share,
            "lcov": local_cov[i], "lnorm": local_cov[i] / best_local, "cnorm": c.cov / best_cov,
            "pairs": _pairs_together(pairs, word_keys_of[i]) / len(pairs) if pairs else 0.0,
            "prevcov": max(before, key=lambda x: x.end).cov if before else 0.0,
            "nextcov": min(after, key=lambda x: x.start).cov if after else 0.0,
            "length": math.log1p(len(word_keys_of[i])) / 4, "first": float(not before),
            "sdate": float(bool(stated[i] & query.date_tokens)),
            "coref": inherited / total,
            "head": float(bool(head and head & set().union(*word_keys_of[i]))) if word_keys_of[i] else 0.0,
            "reader": float(read_share[i]), "rgap": float(c.read - best_read) if readable[i] else 0.0,
        })
    return out


def question_head(question: str) -> set[str]:
    """The keys of the noun a "which/what N" question asks for an instance of ("which agency" -> agency)."""
    m = _HEAD.match(question.lower().lstrip("«\"' ("))
    if not m or m.group(1) in STOPWORDS:
        return set()
    return set(word_keys(m.group(1)))


def _named_keys(text: str) -> set[str]:
    """Keys of the capitalised words of ``text`` (the names it gives)."""
    return {k for w in words(text) if w[:1].isupper() for k in word_keys(w)}


def _stated_dates(query: Query, text: str) -> set[str]:
    """The date tokens of the dates ``text`` states (only looked for when the question names one)."""
    if not query.dates:
        return set()
    return {tok for mention in find_dates(text) for tok in date_tokens(mention)}


def _question_pairs(query: Query, term_keys: list[frozenset[str]]) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Consecutive content words of the question, as key sets."""
    seq = []
    for w in words(query.text):
        keys = frozenset(word_keys(w))
        if keys and any(tk & keys for tk in term_keys):
            seq.append(keys)
    return list(zip(seq, seq[1:]))


def _pairs_together(pairs: list[tuple[frozenset[str], frozenset[str]]], sentence: list[set[str]]) -> int:
    """How many of the question's word pairs occur in the sentence in order, at most three words apart."""
    n = 0
    for a, b in pairs:
        at_b = {i for i, keys in enumerate(sentence) if keys & b}
        if any(i + d in at_b for i, keys in enumerate(sentence) if keys & a for d in (1, 2, 3)):
            n += 1
    return n


def _render(question: str, citations: list[Citation], picked: list[tuple[int, int, int]],
            clipped: dict[tuple[int, int, int], tuple[bool, bool]], confidence: float, ranked: list[str]) -> Answer:
    """Quote the picked sentences; cited passages are renumbered [1], [2] in the order quoted."""
    order: list[int] = []
    for ci, _, _ in picked:
        if ci not in order:
            order.append(ci)
    order += [i for i in range(len(citations)) if i not in order]
    renumbered = {old: new for new, old in enumerate(order)}
    citations = [citations[i] for i in order]
    for n, c in enumerate(citations, start=1):
        c.n = n
    picked = [(renumbered[ci], s, e) for ci, s, e in picked]
    clipped = {(renumbered[ci], s, e): v for (ci, s, e), v in clipped.items()}
    parts: list[str] = []
    j = 0
    while j < len(picked):
        pci, ps, pe = picked[j]
        c = citations[pci]
        quote = _marked(c.text[ps:pe], clipped.get((pci, ps, pe)))
        c.cited = True
        c.highlights.append([ps, pe])
        if j + 1 < len(picked) and picked[j + 1][0] == pci:
            _, ns, ne = picked[j + 1]
            c.highlights.append([ns, ne])
            gap = c.text[pe:ns]
            quote += (gap if not gap.strip() else " … ") + _marked(c.text[ns:ne], clipped.get((pci, ns, ne)))
            j += 1
        parts.append(f"“{quote}” [{c.n}]")
        j += 1
    return Answer(question, True, " ".join(parts), citations, confidence=confidence, ranked=ranked)
