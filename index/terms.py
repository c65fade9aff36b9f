"""Keyword terms by script: Snowball Russian for Cyrillic, Snowball English for Latin, dates as tokens.

The FTS5 index does not stem itself (its porter tokenizer ignores Cyrillic): every passage
is turned into its terms here, and questions go through the same function, so "Дмитрия
Пегова" meets "Дмитрий Пегов" and "detained" meets "detain". A word may give two keys:
a capitalised Cyrillic word (a likely surname) also keeps a light stem that only strips
case endings, because Snowball reads "Пегов" as a plural and cuts it to "пег".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import Stemmer

from index.dates import DateMention, PartialDate, find_dates

_WORD = re.compile(r"\w+(?:['’]\w+)?", re.U)
_CYRILLIC = re.compile(r"[а-яё]", re.I)
_LATIN = re.compile(r"[a-z]", re.I)
_NAME_ENDINGS = ("ыми", "ими", "ого", "его", "ому", "ему", "ым", "им", "ом", "ем", "ой", "ей", "ою", "ая", "яя",
                 "ую", "юю", "а", "я", "у", "ю", "е", "ы", "и")
# English irregular forms a stemmer cannot join: "lost" must meet "lose".
IRREGULAR = {
    "lost": "lose", "losing": "lose", "took": "take", "taken": "take", "gave": "give", "given": "give",
    "went": "go", "gone": "go", "came": "come", "saw": "see", "seen": "see", "made": "make", "held": "hold",
    "fought": "fight", "caught": "catch", "brought": "bring", "bought": "buy", "built": "build",
    "sent": "send", "spent": "spend", "left": "leave", "met": "meet", "ran": "run", "won": "win",
    "began": "begin", "begun": "begin", "knew": "know", "known": "know", "told": "tell", "found": "find",
    "thought": "think", "became": "become", "shot": "shoot", "struck": "strike", "fled": "flee",
    "led": "lead", "fell": "fall", "fallen": "fall", "wrote": "write", "written": "write", "spoke": "speak",
    "spoken": "speak", "chose": "choose", "chosen": "choose", "drove": "drive", "driven": "drive",
    "flew": "fly", "flown": "fly", "grew": "grow", "grown": "grow", "hid": "hide", "hidden": "hide",
    "kept": "keep", "paid": "pay", "rose": "rise", "risen": "rise", "sold": "sell", "stood": "stand",
    "stole": "steal", "stolen": "steal", "threw": "throw", "thrown": "throw", "understood": "understand",
    "wore": "wear", "worn": "wear", "broke": "break", "broken": "break", "froze": "freeze", "bore": "bear",
    "born": "bear", "slain": "slay", "slew": "slay", "sought": "seek", "taught": "teach", "dealt": "deal",
    "meant": "mean", "felt": "feel", "heard": "hear", "laid": "lay", "lay": "lie", "lain": "lie", "men": "man",
    "women": "woman", "children": "child", "people": "person", "mice": "mouse", "feet": "foot",
    "teeth": "tooth", "better": "good", "best": "good", "worse": "bad", "worst": "bad", "was": "be",
    "were": "be", "been": "be", "is": "be", "are": "be", "am": "be", "did": "do", "done": "do",
    "had": "have", "has": "have", "shown": "show", "drawn": "draw", "drew": "draw", "withdrawn": "withdraw",
    "withdrew": "withdraw", "knelt": "kneel", "beaten": "beat", "bitten": "bite", "sworn": "swear", "swore": "swear",
    "torn": "tear", "tore": "tear", "woke": "wake", "woken": "wake", "shook": "shake", "shaken": "shake",
    "sank": "sink", "sunk": "sink", "swept": "sweep", "wept": "weep", "crept": "creep", "lent": "lend",
    "bent": "bend", "drank": "drink", "drunk": "drink", "rang": "ring", "rung": "ring", "sang": "sing",
    "sung": "sing", "swam": "swim", "swum": "swim", "rode": "ride", "ridden": "ride", "forgot": "forget",
    "forgotten": "forget", "forgave": "forgive", "forgiven": "forgive", "hung": "hang", "dug": "dig",
    "fed": "feed", "bled": "bleed", "overthrew": "overthrow", "overthrown": "overthrow", "mistook": "mistake",
    "mistaken": "mistake", "arose": "arise", "arisen": "arise", "forbade": "forbid", "forbidden": "forbid",
    "sprang": "spring", "sprung": "spring", "stung": "sting", "slid": "slide", "shrank": "shrink",
    "shrunk": "shrink", "undertook": "undertake", "undertaken": "undertake", "overtook": "overtake",
    "overtaken": "overtake", "blew": "blow", "blown": "blow", "stuck": "stick", "spun": "spin",
    "strove": "strive", "striven": "strive", "wove": "weave", "woven": "weave", "sped": "speed",
    "bred": "breed", "bade": "bid", "foresaw": "foresee", "foreseen": "foresee", "withheld": "withhold",
    "upheld": "uphold", "overcame": "overcome", "rebuilt": "rebuild", "ate": "eat", "eaten": "eat",
}


# Words news questions use for what the articles say in other words. A question word whose key is a
# trigger also matches the group's words: "Who heads the FSB?" meets "FSB Director Alexander Bortnikov",
# "Who was arrested ...?" meets "... were detained". Only nouns of office are added for "head" or "chair"
# (not the verbs themselves: "a chair" is no office); "lead" is left out ("What led to ...?").
SYNONYMS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (frozenset({"head", "leader", "chief", "director", "chairman", "chair", "boss", "глав", "возглавля",
                "руководител", "руковод", "директор", "председател", "начальник"}),
     ("head", "leader", "chief", "director", "chairman", "глав", "руководител", "директор", "председател",
      "начальник")),
    (frozenset({"arrest", "detain", "detent", "арест", "арестова", "задержа", "задержан"}),
     ("arrest", "detain", "detent", "арест", "арестова", "задержа", "задержан")),
)


def synonym_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """``keys`` and the keys of the words meaning the same in news questions (see ``SYNONYMS``)."""
    for triggers, group in SYNONYMS:
        if triggers.intersection(keys):
            return keys + tuple(k for k in group if k not in keys)
    return keys


# Capitalised words that make a run of capitals an institution, place, people, day or title, not a person
# ("Islamic State", "Defense Ministry", "Wednesday October"; "FSB Director Alexander Bortnikov" names
# "Alexander Bortnikov"). Titles that are also surnames (King, Major, Judge, Lord) are left out of it.
NOT_PERSON = frozenset("""state states republic union nations ministry committee council service services agency
    office department party group front army forces force federation court house university bank company
    corporation government parliament assembly police guard news times post press airlines airport street
    square river sea ocean mountains region province county city district kingdom empire church institute
    museum organization organisation association commission duma kremlin centre center east west north south
    middle central united national international federal islamic arab russian american syrian soviet european
    british french german chinese ukrainian turkish iranian iraqi israeli chechen caucasus asia asian africa
    african europe america monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december
    director chairman chairwoman president minister secretary spokesman spokeswoman general colonel captain
    lieutenant sergeant commander deputy chief governor mayor senator ambassador prosecutor professor
    dr mr mrs ms sir pope sheikh imam
    государство республика республики союз комитет министерство совет служба армия банк дума думы федерации
    федерация правительство суд понедельник вторник среда четверг пятница суббота воскресенье""".split())
# The words of NOT_PERSON that do not name places either (so "Deir Az Zor province" or "Central Asia" is a place).
NOT_PLACE = NOT_PERSON - frozenset("""republic union nations federation kingdom empire street square river sea ocean
    mountains region province county city district east west north south middle central united states caucasus
    asia africa europe america республика республики союз федерации федерация""".split())
# Nouns news uses for someone before (or instead of) naming them: "a man", "two captives", "the suspect",
# "задержанный". Read as word keys, so "men" is "man" and "пленных" is "пленный".
_PERSON_NOUNS = """man woman person boy girl child captive prisoner hostage detainee suspect defendant soldier
    serviceman servicemen policeman policemen fighter militant gunman gunmen attacker assailant bomber spy
    recruiter citizen resident victim officer official spokesman spokesmen spokeswoman spokesperson worker
    driver pilot passenger student journalist reporter leader member supporter volunteer convert
    мужчина женщина человек люди парень девушка ребенок ребёнок пленный пленник заложник задержанный
    подозреваемый обвиняемый солдат военнослужащий боевик террорист смертник шпион вербовщик гражданин граждане
    житель жертва сотрудник офицер представитель водитель пилот пассажир студент журналист лидер член сторонник
    доброволец"""


def person_nouns(text: str) -> set[str]:
    """The keys of the nouns for people ("a man", "two captives") in ``text``."""
    return {k for w in words(text) for k in word_keys(w)} & _person_noun_keys()


@functools.lru_cache(maxsize=1)
def _person_noun_keys() -> frozenset[str]:
    return frozenset(k for w in _PERSON_NOUNS.split() for k in word_keys(w))


# A person: two or more capitalised words in a row ("Alexander Bortnikov", "Роман Заболотный").
PERSON = re.compile(r"\b[A-ZА-ЯЁ][a-zа-яё'’]+(?:[\s-][A-ZА-ЯЁ][a-zа-яё'’]+)+")


@functools.lru_cache(maxsize=2)
def _stemmer(language: str) -> "Stemmer.Stemmer":
    return Stemmer.Stemmer(language)


def fold(word: str) -> str:
    """Lower case, ё as е, diacritics dropped from Latin letters ("Zürich" meets "Zurich")."""
    w = word.lower().replace("ё", "е").replace("’", "'")
    if w.isascii() or _CYRILLIC.search(w):
        return w
    return "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))


def script(word: str) -> str:
    """``cyrillic``, ``latin``, ``digit`` or ``other`` by the word's letters."""
    if _CYRILLIC.search(word):
        return "cyrillic"
    if _LATIN.search(word):
        return "latin"
    return "digit" if any(c.isdigit() for c in word) else "other"


def _name_stem(w: str) -> str:
    for end in _NAME_ENDINGS:
        if w.endswith(end) and len(w) - len(end) >= 3:
            return w[: -len(end)]
    return w


@functools.lru_cache(maxsize=200_000)
def word_keys(word: str) -> tuple[str, ...]:
    """The index keys of one word: its stem, and for a capitalised Cyrillic word also its light stem."""
    w = fold(re.sub(r"['’]s$", "", word))
    if not w:
        return ()
    kind = script(w)
    if kind == "cyrillic":
        main = _stemmer("russian").stemWord(w)
        if word[:1].isupper() and len(w) > 3:
            light = _name_stem(w)
            return (main, light) if light != main else (main,)
        return (main,)
    if kind == "latin":
        w = IRREGULAR.get(w, w)
        return (_stemmer("english").stemWord(w.replace("'", "")),)
    return (w,)


def stem(word: str) -> str:
    """The main key of a word (what coverage and highlighting compare)."""
    keys = word_keys(word)
    return keys[0] if keys else ""


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def text_keys(text: str) -> set[str]:
    """Every key of every word in ``text`` (for coverage checks)."""
    out: set[str] = set()
    for w in words(text):
        out.update(word_keys(w))
    return out


def date_tokens(mention: DateMention, prefix: str = "", published: PartialDate | None = None) -> list[str]:
    """Canonical tokens for a date: ``dm1019`` (day and month), ``m10``, ``y2015``, ``ym201510``.

    A month without a year takes the year of the article's ``published`` date when that says which (the
    October an article of 3 December 2015 speaks of is October 2015; one of July 2015 means 2014); with no
    year to be had it gets ``mu10`` (October of a year unknown), which a question about October 2015 also
    matches, as it cannot tell.
    """
    d = mention.date
    year = d.year or _year_of_month(d.month, published)
    out = []
    if d.month and d.day:
        out.append(f"{prefix}dm{d.month:02d}{d.day:02d}")
    if d.month:
        out.append(f"{prefix}m{d.month:02d}")
    if year:
        out.append(f"{prefix}y{year}")
        if d.month:
            out.append(f"{prefix}ym{year}{d.month:02d}")
    elif d.month:
        out.append(f"{prefix}mu{d.month:02d}")
    return out


def _year_of_month(month: int | None, published: PartialDate | None) -> int | None:
    """The year of a month an article names without one: the last such month up to its publication."""
    if not month or published is None or not published.year or not published.month:
        return None
    return published.year if month <= published.month else published.year - 1


PUBLISHED = "p"  # prefix of the tokens that say when the article was published


def index_terms(text: str, published: str | None = None, date_text: str | None = None) -> str:
    """The passage as FTS5 sees it: word keys, then date tokens for each date it states, then
    the tokens of its article's own date (published, or the partial date it gives)."""
    keys = [_keys_text(words(text))]
    own = _published_date(published, date_text)
    for mention in find_dates(text):
        keys.extend(date_tokens(mention, published=own.date if own else None))
    keys.extend(_published_tokens(published, date_text))
    return " ".join(filter(None, keys))


_KEYS_TEXT: dict[str, str] = {}  # a word: its keys joined by spaces ("" for none); see _keys_text
KEYS_TEXT_WORDS = 200_000  # words remembered (a build's worker meets a few tens of thousands)


def _keys_text(found: list[str]) -> str:
    """The keys of these words, joined by spaces: :func:`word_keys` of each, one after the other. Each
    word's keys are remembered already joined, so the hottest loop of a build's text work is a dict
    lookup a word and one join, both in C (a tuple of keys a word, chained, took twice as long)."""
    parts = list(map(_KEYS_TEXT.get, found))
    if None in parts:
        if len(_KEYS_TEXT) > KEYS_TEXT_WORDS:
            _KEYS_TEXT.clear()
        for i, part in enumerate(parts):
            if part is None:
                parts[i] = _KEYS_TEXT[found[i]] = " ".join(word_keys(found[i]))
    return " ".join(filter(None, parts))


@functools.lru_cache(maxsize=4096)
def _published_date(published: str | None, date_text: str | None) -> DateMention | None:
    """An article's own date: its published date, else the (partial) date its dateline gives."""
    meta = find_dates(published or "") or find_dates(date_text or "")
    return meta[0] if meta else None


@functools.lru_cache(maxsize=4096)
def _published_tokens(published: str | None, date_text: str | None) -> tuple[str, ...]:
    """The tokens of an article's own date (the same for each of its passages)."""
    own = _published_date(published, date_text)
    return tuple(date_tokens(own, PUBLISHED)) if own else ()


@dataclass(frozen=True)
class QueryTerm:
    """One thing the question asks the index for: a word (one or two keys) or a date (its tokens)."""

    text: str
    keys: tuple[str, ...]
    is_date: bool = False


def fts_group(term: QueryTerm) -> str:
    """The term as an FTS5 expression; every key quoted, so user text is never syntax."""
    quoted = ['"' + k.replace('"', '""') + '"' for k in term.keys]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def fts_expression(terms: list[QueryTerm]) -> str | None:
    groups = [fts_group(t) for t in terms if t.keys]
    return " OR ".join(groups) if groups else None


def date_query_tokens(mention: DateMention) -> tuple[str, ...]:
    """What a date in a question matches: passages stating it, and articles published then.

    The most specific token only: "19 October" matches ``dm1019``, not every October date; "October
    2015" matches October 2015 and an October whose year the articles do not give, not October 2014.
    """
    d = mention.date
    if d.month and d.day:
        base = f"dm{d.month:02d}{d.day:02d}"
    elif d.month and d.year:  # also a month the articles give no year for: it may be this one
        return (f"ym{d.year}{d.month:02d}", f"{PUBLISHED}ym{d.year}{d.month:02d}", f"mu{d.month:02d}",
                f"{PUBLISHED}mu{d.month:02d}")
    elif d.month:
        base = f"m{d.month:02d}"
    elif d.year:
        base = f"y{d.year}"
    else:
        return ()
    return (base, PUBLISHED + base)


def persons(text: str) -> list[str]:
    """The runs of two or more capitalised words in ``text`` that may name a person: "Alexander Bortnikov"
    (also out of "FSB Director Alexander Bortnikov"), not "Islamic State" or "Wednesday October"."""
    out = []
    for m in PERSON.finditer(text):
        run: list[str] = []
        for w in re.split(r"[\s-]", m.group(0)) + [""]:
            if w and fold(w) not in NOT_PERSON:
                run.append(w)
                continue
            if len(run) >= 2:
                out.append(" ".join(run))
            run = []
    return out
