"""Follow-up questions: "Where is he from?" or "And on 19 October?" read against the question before.

Pure text work, no index access: a follow-up is a question that points back (a pronoun, a
leading "and"/"what about", or only a date, place or name) and is rewritten into a question
that stands alone; any other question is left as it is.
"""

from __future__ import annotations

import re

from index.dates import find_dates, spell_months
from index.text import STOPWORDS

_PRONOUNS = {
    "he", "him", "his", "she", "her", "hers", "they", "them", "their", "it", "its", "there", "that", "this",
    "those", "these", "он", "она", "оно", "они", "его", "её", "ее", "ему", "ей", "им", "их", "ним", "ней",
    "нему", "него", "неё", "нее", "нём", "ними", "них", "там", "туда", "оттуда", "это", "этот", "эта", "эти", "этого", "этой", "этих", "тот", "та",
}
_LEAD = re.compile(r"^\s*(and|also|what about|how about|and what about|а|и|а что|а как же|а если|ну а)\b[\s,]*", re.I)
_WH = re.compile(r"^\s*(who|whom|whose|what|which|when|where|why|how|кто|кого|кому|что|чем|какой|какая|какое|какие|"
                 r"когда|где|куда|откуда|почему|зачем|как|сколько|чей|чья|чьи)\b", re.I)
_WORD = re.compile(r"\w+", re.U)
# "How many Russians ...", "Сколько россиян ...": the word asked about, which an "And X?" follow-up swaps out.
_ASKED = re.compile(r"\b(how many|how much|which|сколько|какой|какая|какое|какие|каких|какого|какую|какому|каким)\s+"
                    r"(\w+)", re.I)
_PREPOSITIONS = {"in", "on", "at", "from", "to", "into", "near", "during", "after", "before", "since", "for", "with",
                 "about", "against", "в", "во", "на", "из", "с", "со", "к", "ко", "у", "под", "над", "после", "до",
                 "против", "для", "о", "об", "при", "около"}
_ARTICLES = re.compile(r"^(the|a|an)\s+", re.I)
# One person, pointed back to ("Where is he from?" after "Who heads the FSB?" means the man the answer named).
_ONE_PERSON = re.compile(r"(?<!\w)(he|him|his|she|her|hers|он|его|ему|него|нему|ним|нём|она|её|ее|ей|неё|нее|ней)(?!\w)",
                         re.I)
# The English forms that can stand for a name in place ("he" -> "Alexander Bortnikov", "his" -> "...'s").
_NAME_FOR = {"he": "{}", "him": "{}", "she": "{}", "his": "{}'s"}


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS and w.lower() not in _PRONOUNS
            and not _WH.match(w)]


def is_followup(question: str) -> bool:
    """Whether ``question`` leans on the one before it."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words:
        return False
    if _LEAD.match(question):
        return True
    content = _content(question)
    date_words = {w for d in find_dates(question) for w in _WORD.findall(question[d.start:d.end])}
    rest = [w for w in content if w not in date_words]
    if any(w in _PRONOUNS for w in words) and len(rest) <= 2:
        return True
    if _WH.match(question) and not rest and len(words) <= 3:
        return True  # "Why?", "When exactly?", "How many?": the question word alone asks about the last subject
    return not _WH.match(question) and len(rest) <= 1 and len(words) <= 4


def _replace_dates(previous: str, dates_text: list[str]) -> str | None:
    old = find_dates(previous)
    if not old or not dates_text:
        return None
    out = previous
    for mention in reversed(old[: len(dates_text)]):
        out = out[: mention.start] + dates_text[min(len(dates_text) - 1, old.index(mention))] + out[mention.end:]
    return out


def _replace_phrase(previous: str, fragment: str, dates: list[str]) -> str | None:
    """The previous question with the part ``fragment`` stands in for swapped out, or None when no part matches.

    "And in Nalchik?" after "Who was detained in Moscow in October?" replaces the phrase after the same
    preposition that is not a date ("in Moscow"); "And citizens of Central Asian countries?" after "How many
    Russians ...?" replaces the word the question asks about ("Russians").
    """
    words = fragment.split()
    if not words:
        return None
    lead = words[0].lower()
    if lead in _PREPOSITIONS and len(words) > 1:
        date_spans = [(d.start, d.end) for d in find_dates(previous)]
        for m in re.finditer(rf"\b{re.escape(words[0])}\s+((?:[\w'-]+\s*?)+?)(?=\s*(?:[,?!.;]|$|\b(?:{'|'.join(_PREPOSITIONS)})\b))",
                             previous, re.I):
            if any(s <= m.start(1) < e for s, e in date_spans) or dates:
                continue
            return f"{previous[: m.start()]}{fragment}{previous[m.end():]}".rstrip("?!. ") + "?"
        return None
    if lead in _PREPOSITIONS:
        return None
    asked = _ASKED.search(previous)
    if asked and asked.group(2).lower() not in STOPWORDS:
        noun = _ARTICLES.sub("", fragment)
        return f"{previous[: asked.start(2)]}{noun}{previous[asked.end(2):]}".rstrip("?!. ") + "?"
    return None


def points_to_person(question: str) -> bool:
    """Whether a follow-up asks about one person by pronoun ("Where is he from?", "Сколько ему лет?")."""
    return bool(_ONE_PERSON.search(question)) and is_followup(question)


def resolve_followup(question: str, previous: str, person: str | None = None) -> str | None:
    """The follow-up rewritten to stand alone, or None when ``question`` already does.

    ``person``: whom the answer to ``previous`` named, when it asked who ("Who heads the FSB?" ->
    Alexander Bortnikov); a "he" or "she" of the follow-up is that person."""
    if not previous or not is_followup(question):
        return None
    body = _LEAD.sub("", question).strip()
    dates = [question[d.start:d.end] for d in find_dates(question)]
    fragment = body.rstrip("?!. ")
    if not _WH.match(body):
        # "And on 19 October?" / "And in Nalchik?": the previous question with this in place of its date,
        # or with this added.
        rest = [w for w in _content(fragment) if not any(w in d for d in dates)]
        replaced = _replace_dates(previous, dates) if dates and not rest else None
        if not replaced and rest:
            replaced = _replace_phrase(previous, fragment, dates)
        if replaced:
            return replaced
        return f"{previous.rstrip('?!. ')} {fragment}?"
    # "Where is he from?": keep the new question, add what the previous one was about (its dates in words,
    # so that "19.10.15" is still a date there, not the numbers 19, 10 and 15).
    subject = " ".join(_content(spell_months(previous, russian=bool(re.search(r"[а-яё]", previous, re.I)))))
    body = body.rstrip("?!. ")
    if person:
        m = _ONE_PERSON.search(body)
        form = _NAME_FOR.get(m.group(1).lower()) if m else None
        if form:  # "Where is Alexander Bortnikov from (heads FSB)?"
            body = f"{body[: m.start()]}{form.format(person)}{body[m.end():]}"
        else:  # Russian, or "her", whose form depends on the sentence: the name is added instead
            subject = f"{person}; {subject}" if subject else person
    return f"{body} ({subject})?" if subject else (f"{body}?" if person else None)
