"""What a question asks the index for: its words (stemmed by script), its dates, and corrections
of words the index does not know (misspelt names, or Russian spellings of Latin-script names).

:func:`analyse` is the one place a question's text becomes search terms; retrieval and answer
selection both read the resulting :class:`Query`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from index.dates import DateMention, find_dates, spell_months
from index.terms import QueryTerm, date_query_tokens, fold, persons, script, synonym_keys, word_keys, words
from index.text import STOPWORDS

# Words the index does not hold are corrected to an index word this close (edit distance).
MAX_EDITS_SHORT = 1      # words of up to 6 letters
MAX_EDITS_LONG = 2
MIN_CORRECTABLE = 4      # shorter words are never corrected
# A question's unknown name word this alike (rapidfuzz ratio, 0-100) to a word of a name the articles give is
# another spelling of it ("Ezzor"/"Zor" 75, "Petrov"/"Pegov" 73), not another person ("Petrov"/"Khasayev" 29).
SAME_NAME_RATIO = 60
# A lower-case question word is looked up for its capitalised form when at most this share of passages hold it.
RARE_SHARE = 0.02
# Words that only frame a question ("what happened on...", "which arrests took place...").
QUESTION_FILLER = frozenset("""happen happened happens happening occur occurred occurs took take takes taking place
    event events произошло произошли происходило случилось случилась случились было события событие""".split())
_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya",
}


@dataclass
class Correction:
    """A question word the index does not know, and the index word used instead."""

    typed: str
    key: str
    shown: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"typed": self.typed, "used": self.shown or self.key}


@dataclass
class UnknownName:
    """A person's name in a question with words the index does not hold, and the people the articles do
    name with its other words (``others``, filled in from the passages: only then is the name surely not
    in the articles)."""

    name: str
    lacking: list[str]
    others: list[str] = field(default_factory=list)


@dataclass
class Query:
    """A question ready to search: terms with their IDF weights, dates, corrections."""

    text: str
    terms: list[QueryTerm]
    weights: dict[QueryTerm, float] = field(default_factory=dict)
    dates: list[DateMention] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    matched_share: float = 1.0  # share of the question's IDF weight that the index holds at all
    # Rare words typed in lower case that the articles write with a capital ("tsurkanu" -> "Tsurkanu"):
    # the embedding model reads names by their capitals.
    cased: dict[str, str] = field(default_factory=dict)
    script: str = "latin"
    # Passages holding each key of the terms (read once, when the question is analysed).
    frequencies: dict[str, int] = field(default_factory=dict)
    # Names of people the question asks about that the index does not hold, even corrected ("Magomed
    # Petrov" where the articles know only Magomed Khasayev).
    unknown_names: list[UnknownName] = field(default_factory=list)

    @property
    def date_tokens(self) -> set[str]:
        return {k for t in self.terms if t.is_date for k in t.keys}

    def dense_text(self) -> str:
        """The question for the embedding model, with corrected words put in and dates written in figures
        written in words ("19.10.15" as "19 October 2015"): the model reads words, and every form of a date
        should find what the worded one finds."""
        text = spell_months(self.text, self.script == "cyrillic", figures_only=True, mentions=self.dates)
        for c in self.corrections:
            if c.shown:
                text = re.sub(rf"\b{re.escape(c.typed)}\b", c.shown, text)
        for typed, cased in self.cased.items():
            text = re.sub(rf"(?<!\w){re.escape(typed)}(?!\w)", cased, text)
        return text


def namesakes(name: str, texts: list[str], lacking: list[str] | None = None) -> list[str]:
    """The names in ``texts`` that share a word with ``name`` and differ from it in another: the people the
    articles do name where a question asks about ``name`` ("Magomed Khasayev" for "Magomed Petrov"). A name
    the articles give only in part ("Twigg" for "Graham Twigg") has none, nor one whose other word is spelt
    like a ``lacking`` word of the question ("Deir Az Zor" for "Deir Ezzor": another spelling of one name)."""
    from rapidfuzz import fuzz

    own = [set(word_keys(w)) for w in name.split()]
    missing = [fold(w) for w in (lacking or [])]
    out: list[str] = []
    for text in texts:
        for other in persons(text):
            keys = [set(word_keys(w)) for w in other.split()]
            shared = any(k & o for k in keys for o in own)
            foreign = [w for w, k in zip(other.split(), keys) if not any(k & o for o in own)]
            variant = any(fuzz.ratio(fold(f), m) >= SAME_NAME_RATIO for f in foreign for m in missing)
            if shared and foreign and not variant and other not in out:
                out.append(other)
    return out


def transliterate(word: str) -> str:
    """A Russian word in Latin letters, the way English news spells Russian names."""
    w = fold(word)
    w = re.sub(r"(ый|ий)$", "y", w)
    out = []
    for i, ch in enumerate(w):
        if ch == "е" and (i == 0 or w[i - 1] in "аеёиоуыэюяьъ"):
            out.append("ye")
        else:
            out.append(_TRANSLIT.get(ch, ch))
    return "".join(out)


def question_script(text: str) -> str:
    """The script most of the question's letters are in."""
    cyr = sum(1 for c in text if "а" <= c.lower() <= "я" or c.lower() == "ё")
    lat = sum(1 for c in text if "a" <= c.lower() <= "z")
    return "cyrillic" if cyr > lat else "latin"


def parse_terms(text: str) -> tuple[list[QueryTerm], list[DateMention]]:
    """Content words (stop words dropped, in both languages) and dates, in question order."""
    dates = find_dates(text)
    inside = [(d.start, d.end) for d in dates]
    terms: list[QueryTerm] = []
    seen: set[tuple[str, ...]] = set()
    for m in re.finditer(r"\w+(?:['’]\w+)?", text):
        if any(s <= m.start() < e for s, e in inside):
            continue
        w = m.group()
        low = fold(w)
        base = re.sub(r"['’]s$", "", low)
        if low in STOPWORDS or base in STOPWORDS or base in QUESTION_FILLER or (len(low) < 2 and not low.isdigit()):
            continue
        keys = synonym_keys(word_keys(w))
        if keys and keys not in seen:
            seen.add(keys)
            terms.append(QueryTerm(w, keys))
    for d in dates:
        keys = date_query_tokens(d)
        if keys and keys not in seen:
            seen.add(keys)
            terms.append(QueryTerm(text[d.start : d.end], keys, is_date=True))
    return terms, dates


def idf(df: int, n: int) -> float:
    """BM25's IDF; a term no passage contains weighs the most."""
    return math.log((n - df + 0.5) / (df + 0.5) + 1.0)


def analyse(text: str, frequencies: Callable[[list[str]], dict[str, int]], passages: int,
            vocabulary: Callable[[str], list[tuple[str, int]]] | None = None) -> Query:
    """The :class:`Query` for ``text``: ``frequencies`` gives each index key's passage count and
    ``vocabulary(script)`` the index's words in a script, for corrections."""
    terms, dates = parse_terms(text)
    n = max(1, passages)
    dfs = frequencies([k for t in terms for k in t.keys])
    corrections: list[Correction] = []
    if vocabulary is not None:
        fixed = []
        lower_case = text == text.lower()
        first = re.match(r"\W*(\w+)", text)
        for t in terms:
            # Names (capitalised, not the first word), or any longer word of an all-lower-case question.
            name_like = t.text[:1].isupper() and not (first and first.group(1) == t.text)
            if (not t.is_date and (name_like or lower_case and len(t.text) >= 6)
                    and not any(dfs.get(k) for k in t.keys)):
                c = correct(t, vocabulary)
                if c is not None:
                    corrections.append(c)
                    dfs.update(frequencies([c.key]))
                    t = QueryTerm(t.text, (c.key,))
            fixed.append(t)
        terms = fixed
    weights = {}
    matched = total = 0.0
    for t in terms:
        df = sum(dfs.get(k, 0) for k in t.keys) if t.is_date else max((dfs.get(k, 0) for k in t.keys), default=0)
        w = idf(min(df, n), n)
        weights[t] = w
        total += w
        matched += w if df else 0.0
    corrected = {c.typed for c in corrections}
    missing = {t.text for t in terms if not t.is_date and t.text not in corrected
               and not any(dfs.get(k) for k in t.keys)}
    found = {t.text for t in terms if not t.is_date and t.text not in corrected and any(dfs.get(k) for k in t.keys)}
    unknown = []
    if vocabulary is not None:  # without a vocabulary nothing was corrected, so nothing is known to be missing
        for name in persons(text):
            parts = name.split()
            if text.lstrip(" «\"'(").startswith(name) and parts[0] in missing:
                parts = parts[1:]  # an unknown first word may be capitalised only for opening the question ("Кого Нобл ...")
            lacking = [w for w in parts if w in missing]
            # Only with another word of the name found as typed: a Russian spelling of a name the articles write
            # in Latin letters may transliterate too far from it to be corrected ("Хьюза" is "Hughes").
            if lacking and len(parts) >= 2 and any(w in found for w in parts):
                unknown.append(UnknownName(" ".join(parts), lacking))
    return Query(text=text, terms=terms, weights=weights, dates=dates, corrections=corrections,
                 matched_share=matched / total if total else 0.0, script=question_script(text), frequencies=dfs,
                 unknown_names=unknown)


def correct(term: QueryTerm, vocabulary: Callable[[str], list[tuple[str, int]]]) -> Correction | None:
    """The index word closest to a word the index does not know, if one is close enough.

    A Cyrillic word is also tried in Latin letters ("Хасаева" finds "Khasayev"), since news in
    English spells Russian names that way.
    """
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz import process

    word = term.text
    if not word.isalpha() or len(word) < MIN_CORRECTABLE:
        return None
    own = word_keys(word)
    if not own:
        return None
    tries: list[tuple[str, str]] = [(own[-1], script(word))]
    if script(word) == "cyrillic" and word[:1].isupper():
        # The whole word and its stem, in Latin letters: "Сергей" is "sergey", its stem "серг" only "serg".
        for form in dict.fromkeys((word.lower(), own[-1])):
            latin = word_keys(transliterate(form))
            if latin:
                tries.append((latin[0], "latin"))
    best: tuple[int, int, str] | None = None
    for key, kind in tries:
        vocab = vocabulary(kind)
        if not vocab:
            continue
        limit = MAX_EDITS_SHORT if len(key) <= 6 else MAX_EDITS_LONG
        choices = [v for v, _ in vocab]
        for choice, dist, i in process.extract(key, choices, scorer=Levenshtein.distance, score_cutoff=limit,
                                               limit=8):
            if choice[0] != key[0] and dist > 1:
                continue
            cand = (int(dist), -vocab[i][1], choice)
            if best is None or cand < best:
                best = cand
    if best is None:
        return None
    return Correction(typed=word, key=best[2])


def surface_form(key: str, texts: list[str]) -> str:
    """How the index word ``key`` is written in these passages (e.g. "Khasayev" for "khasayev")."""
    for text in texts:
        for w in words(text):
            if key in word_keys(w):
                return w
    return key


def lower_case_rare_words(query: Query, frequencies: dict[str, int], passages: int,
                          share: float = RARE_SHARE) -> list[str]:
    """Question words typed all in lower case whose index key is rare (held by at most ``share`` of
    the passages, and at least one): names, mostly, worth writing as the articles do."""
    corrected = {c.typed for c in query.corrections}
    limit = max(3, int(share * passages))
    out = []
    for t in query.terms:
        if t.is_date or t.text != t.text.lower() or t.text in corrected or not t.text.isalpha():
            continue
        df = max((frequencies.get(k, 0) for k in t.keys), default=0)
        if 0 < df <= limit:
            out.append(t.text)
    return out


def cased_form(word: str, texts: list[str]) -> str | None:
    """``word`` as these passages write it when they mostly capitalise it inside a sentence
    ("Tsurkanu" for "tsurkanu"); None when they do not, or do not hold that form."""
    capital = small = 0
    form = None
    for text in texts:
        for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.I):
            before = text[:m.start()].rstrip()
            if not before or before[-1] in ".!?\"«“":
                continue  # opens a sentence: its capital says nothing
            if m.group(0)[:1].isupper():
                capital += 1
                form = m.group(0)
            else:
                small += 1
    return form if form and capital > small else None


def key_weights(query: Query) -> dict[str, Any]:
    """``{key: weight}`` of every word key, for clipping long sentences around what was asked."""
    out: dict[str, float] = {}
    for t, w in query.weights.items():
        for k in t.keys:
            out[k] = out.get(k, 0.0) + w
    return out
