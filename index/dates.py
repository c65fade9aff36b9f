"""Dates as articles state them: keep what is known (a year may be missing), never invent."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
    "января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7,
    "августа": 8, "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12,
}
MONTH_NAMES = [
    "", "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]
_RU_GENITIVE = ["", "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
                "октября", "ноября", "декабря"]
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"

# "September 18", "Sept. 30, 2015", "October 21 2015"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+{_YEAR}\b)?", re.I)
# "18 September 2015", "16 October", "29 декабря 2014"
_DAY_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}})\s+{_MONTH}(?:\s+{_YEAR}\b)?", re.I)
_ISO = re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)(?!\d)")
# "03/12/2015" or "03.12.2015": day first unless the first number cannot be a day of a month
_NUMERIC = re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<year>(?:19|20)\d\d)\b")


@dataclass(frozen=True)
class PartialDate:
    """A date with any of its parts unknown."""

    year: int | None = None
    month: int | None = None
    day: int | None = None

    def iso(self) -> str | None:
        """The ISO date when year, month and day are all known, else None."""
        if self.year and self.month and self.day:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        return None

    def text(self) -> str | None:
        """A readable form that shows only what is known, e.g. ``October 21`` or ``2015-12-03``."""
        if self.iso():
            return self.iso()
        if self.month and self.day:
            return f"{MONTH_NAMES[self.month]} {self.day}"
        if self.month and self.year:
            return f"{MONTH_NAMES[self.month]} {self.year}"
        if self.year:
            return str(self.year)
        return None


def _valid(year: int | None, month: int, day: int) -> bool:
    try:
        dt.date(year or 2000, month, day)  # 2000 is a leap year: February 29 stays valid
    except ValueError:
        return False
    return True


def parse_date(text: str) -> PartialDate | None:
    """The first date stated in ``text``, or None. Numeric dates are read day first."""
    found: list[tuple[int, PartialDate]] = []
    for m in _ISO.finditer(text):
        y, mo, d = int(m["year"]), int(m["month"]), int(m["day"])
        if _valid(y, mo, d):
            found.append((m.start(), PartialDate(y, mo, d)))
    for m in _NUMERIC.finditer(text):
        a, b, y = int(m["a"]), int(m["b"]), int(m["year"])
        day, month = (a, b) if a > 12 or b <= 12 else (b, a)
        if _valid(y, month, day):
            found.append((m.start(), PartialDate(y, month, day)))
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        for m in pattern.finditer(text):
            mo, d = MONTHS[m["month"].lower()], int(m["day"])
            y = int(m["year"]) if m["year"] else None
            if _valid(y, mo, d):
                found.append((m.start(), PartialDate(y, mo, d)))
    if not found:
        return None
    return min(found, key=lambda pair: pair[0])[1]


def parse_iso_or_text(value: object) -> PartialDate | None:
    """A date given as metadata (YAML date, ISO string or free text)."""
    if isinstance(value, dt.datetime):
        return PartialDate(value.year, value.month, value.day)
    if isinstance(value, dt.date):
        return PartialDate(value.year, value.month, value.day)
    if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 2100:
        return PartialDate(value)  # "published: 2020": the year is known, nothing more
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if re.fullmatch(r"(19|20)\d\d", text):
            return PartialDate(int(text))
        return parse_date(text)
    return None


# Every way a month is written in English (full names; "May" only with a capital) or Russian (any case).
_RU_MONTHS = {
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8,
    "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12,
    # abbreviated, after a day: "19 окт.", "3 сент. 2015 г."
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "авг": 8, "сен": 9, "окт": 10, "ноя": 11, "дек": 12,
}
_RU_MONTH = (r"(?P<ru>(?:январ|феврал|апрел|июн|июл|сентябр|октябр|ноябр|декабр)(?:ь|я|е|ю|ём|ем)"
             r"|(?:март|август)(?:а|е|у|ом)?|ма(?:й|я|е|ю|ем))")
_EN_FULL = r"(?P<en>January|February|March|April|May|June|July|August|September|October|November|December)"
_EN_ANY = r"(?P<en>" + "|".join(sorted((m for m in MONTHS if m.isascii()), key=len, reverse=True)) + r")\.?"
_YEAR_WORDS = r"(?:\s*(?:г\.|года|году|год|гг\.))?"
# Each pattern with where it can begin: at a run of one or two digits ("day") or of four or more ("year")
# that follows no digit, or at an English or a Russian month word. find_dates tries a pattern only
# there (see _starts).
_DATE_PATTERNS = [
    # 2015-10-19, 2015/10/19, 2015.10.19
    ("iso", "year", re.compile(r"\b(?P<year>(?:19|20)\d\d)(?P<sep>[-/.])(?P<month>\d\d)(?P=sep)(?P<day>\d\d)(?!\d)")),
    # 19.10.2015, 19/10/2015 (day first unless impossible)
    ("num", "day", re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<year>(?:19|20)\d\d)\b")),
    # 19.10.15: two-digit day, month and year, with dots only (as Russian writes it; "1.2.3" is no date)
    ("num", "day", re.compile(r"\b(?P<a>\d\d)\.(?P<b>\d\d)\.(?P<yy>\d\d)(?![\d]|[.,]\d)")),
    # 19 окт., 3 сент. 2015 г.
    ("dm", "day", re.compile(r"\b(?P<day>\d{1,2})\s+(?P<ru>янв|фев|мар|апр|июн|июл|авг|сент?|окт|нояб?|дек)\.?(?!\w)"
                               rf"(?:\s+(?P<year>(?:19|20)\d\d){_YEAR_WORDS})?", re.I)),
    # Sept. 30, 2015 / October 19th / Oct 19
    ("md", "en", re.compile(rf"\b{_EN_ANY}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>(?:19|20)\d\d)\b)?", re.I)),
    # 30 September 2015 / 19 October / 19th of October
    ("dm", "day", re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_EN_ANY}(?:,?\s+(?P<year>(?:19|20)\d\d)\b)?", re.I)),
    # 19 октября 2015 года / 19-го октября
    ("dm", "day", re.compile(rf"\b(?P<day>\d{{1,2}})(?:-?го)?\s+{_RU_MONTH}(?:\s+(?P<year>(?:19|20)\d\d){_YEAR_WORDS})?", re.I)),
    # October 2015 / in October of 2015 / октябре 2015 года
    ("my", "en", re.compile(rf"\b{_EN_FULL}\s+(?:of\s+)?(?P<year>(?:19|20)\d\d)\b", re.I)),
    ("my", "ru", re.compile(rf"(?<!\w){_RU_MONTH}\s+(?P<year>(?:19|20)\d\d){_YEAR_WORDS}", re.I)),
    # October / в октябре (a month alone; "May" must be capitalised and not open a sentence's "may")
    ("m", "en", re.compile(rf"\b{_EN_FULL}\b")),
    ("m", "ru", re.compile(rf"(?<!\w){_RU_MONTH}(?!\w)", re.I)),
    # 2015 / в 2015 году
    ("y", "year", re.compile(r"(?<![\d.,/-])(?P<year>(?:19|20)\d\d)(?!\d|[.,/-]\d)")),
]
# Where the patterns may begin, found in two scans: digit runs, and month words of either language
# (every English month name or abbreviation opens with one of these prefixes; group 1 is English).
_DIGITS = re.compile(r"\d+")
# The lookahead of first letters lets the scan skip most positions at once: 40% less time.
_MONTH_START = re.compile(r"(?=[adfjmnosадимносфя])(?<!\w)(?:(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
                          r"|январ|феврал|март|апрел|ма|июн|июл|август|сентябр|октябр|ноябр|декабр)", re.I)


# The same prefixes as plain strings ("март" is one of "ма"'s words), looked for with str.find.
_MONTH_PREFIXES = (("en", ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
                   ("ru", ("январ", "феврал", "ма", "апрел", "июн", "июл", "август", "сентябр", "октябр", "ноябр",
                           "декабр")))


def _starts(text: str) -> dict[str, list[int]]:
    """Where each kind of date pattern may begin in ``text``: ``day`` and ``year`` (a run of one or two
    digits, or of four or more, after no digit), ``en`` and ``ru`` (a month word of either language).
    A digit run of another length, or a word that merely opens like a month ("market", "малый"), can
    begin no date: a third of the patterns' tries went to them."""
    out: dict[str, list[int]] = {"day": [], "year": [], "en": [], "ru": []}
    for m in _DIGITS.finditer(text):
        n = m.end() - m.start()
        if n <= 2:
            out["day"].append(m.start())
        elif n >= 4:
            out["year"].append(m.start())
    low = text.lower()
    if len(low) != len(text):  # a letter whose lower case is longer ("İ"): positions would shift
        for m in _MONTH_START.finditer(text):
            out["en" if m.group(1) else "ru"].append(m.start())
    else:
        # What _MONTH_START finds, a quarter of the time: a scan per prefix runs in C, and most find nothing.
        for kind, prefixes in _MONTH_PREFIXES:
            found = out[kind]
            for prefix in prefixes:
                at = low.find(prefix)
                while at >= 0:
                    if not at or not (text[at - 1].isalnum() or text[at - 1] == "_"):
                        found.append(at)
                    at = low.find(prefix, at + len(prefix))
            found.sort()
    for kind, words in (("en", _EN_WORDS), ("ru", _RU_WORDS)):  # every pattern needs the whole word a month's
        if out[kind]:
            out[kind] = [at for at in out[kind] if _WORD.match(text, at).group().lower() in words]
    return out


_WORD = re.compile(r"\w+")
# Every word _EN_ANY and _RU_MONTH match, whole (each pattern needs its month word to end where the
# word does); test_terms checks that patterns tried at these starts find what a full scan finds.
_EN_WORDS = frozenset(m for m in MONTHS if m.isascii())
_RU_WORDS = frozenset([*(stem + end for stem in ("январ", "феврал", "апрел", "июн", "июл", "сентябр", "октябр", "ноябр",
                                                 "декабр") for end in ("ь", "я", "е", "ю", "ём", "ем")),
                       *(stem + end for stem in ("март", "август") for end in ("", "а", "е", "у", "ом")),
                       *("ма" + end for end in ("й", "я", "е", "ю", "ем"))])


def _matches(pattern: re.Pattern[str], text: str, starts: list[int]) -> list[re.Match[str]]:
    """What ``pattern.finditer(text)`` finds, trying the pattern only at ``starts`` (ascending).

    Every pattern can only match at one of its anchor's starts, so this finds the same matches
    at a fraction of the cost: ten scans of every position of every passage were most of the
    time spent turning passages into terms.
    """
    out: list[re.Match[str]] = []
    end = 0
    for at in starts:
        if at < end:
            continue
        m = pattern.match(text, at)
        if m:
            out.append(m)
            end = m.end()
    return out


@dataclass(frozen=True)
class DateMention:
    """A date as written in a text: where it is and what it says (only the parts stated)."""

    start: int
    end: int
    date: PartialDate

    def in_words(self, russian: bool = False) -> str:
        """The date with its month in words, as a sentence would say it ("19 October 2015", "19 октября")."""
        d = self.date
        month = (_RU_GENITIVE[d.month] if russian else MONTH_NAMES[d.month]) if d.month else ""
        return " ".join(str(p) for p in (d.day, month, d.year) if p)

    def label(self) -> str:
        """How an answer names the date it used, e.g. ``19 October`` or ``19 October 2015``."""
        d = self.date
        if d.month and d.day:
            return f"{d.day} {MONTH_NAMES[d.month]}" + (f" {d.year}" if d.year else "")
        if d.month:
            return MONTH_NAMES[d.month] + (f" {d.year}" if d.year else "")
        return str(d.year) if d.year else ""


def _month_of(m: re.Match[str]) -> int | None:
    groups = m.groupdict()
    if groups.get("en"):
        return MONTHS.get(groups["en"].lower().rstrip("."))
    if groups.get("ru"):
        word = groups["ru"].lower()
        for stem in sorted(_RU_MONTHS, key=len, reverse=True):
            if word.startswith(stem):
                return _RU_MONTHS[stem]
    if groups.get("month"):
        return int(groups["month"])
    return None


def find_dates(text: str) -> list[DateMention]:
    """Every date, month-and-year, month or year stated in ``text``, in order, never overlapping.

    The longest reading of a span wins ("19 October 2015" is one date, not a date and a year);
    numeric dates are read day first unless the first number cannot be a day of a month.
    """
    found: list[DateMention] = []
    starts = _starts(text)
    for kind, anchor, pattern in _DATE_PATTERNS:
        for m in _matches(pattern, text, starts[anchor]):
            year = int(m["year"]) if m.groupdict().get("year") else None
            if m.groupdict().get("yy"):
                yy = int(m["yy"])
                year = 2000 + yy if yy < 70 else 1900 + yy
            if kind == "num":
                a, b = int(m["a"]), int(m["b"])
                day, month = (a, b) if a > 12 or b <= 12 else (b, a)
            else:
                month = _month_of(m) if kind != "y" else None
                day = int(m["day"]) if m.groupdict().get("day") else None
            if kind == "m" and m.groupdict().get("en") == "May" and not _may_is_month(text, m.start()):
                continue
            if month is not None and not 1 <= month <= 12:
                continue
            if day is not None and (month is None or not _valid(year, month, day)):
                continue
            found.append(DateMention(m.start(), m.end(), PartialDate(year, month, day)))
    found.sort(key=lambda d: (d.start, -(d.end - d.start)))
    out: list[DateMention] = []
    for mention in found:
        if out and mention.start < out[-1].end:
            continue
        out.append(mention)
    return _with_ranges(text, out)


def spell_months(text: str, russian: bool = False, figures_only: bool = False,
                 mentions: list[DateMention] | None = None) -> str:
    """``text`` with each date that has a month written with the month in words ("19.10.15" -> "19 October
    2015"; "19 октября" for ``russian``); with ``figures_only``, only dates written in figures.
    ``mentions``: the dates of ``text`` when already found."""
    for d in reversed(find_dates(text) if mentions is None else mentions):
        if d.date.month and not (figures_only and any(ch.isalpha() for ch in text[d.start : d.end])):
            text = text[: d.start] + d.in_words(russian) + text[d.end :]
    return text


# The other day of a range or pair: "19-20 октября", "11 and 19 October", "с 11 по 19 октября" (before a
# day-month date) or "October 11-19" (after a month-day one).
_DAY_BEFORE = re.compile(r"(?<![\d.,/:])(?P<day>\d{1,2})(?:st|nd|rd|th|-?го)?"
                         r"(?:[-–—]|\s*[–—]\s*|\s+(?:to|and|or|и|или|по|до)\s+)$", re.I)
_DAY_AFTER = re.compile(r"(?:[-–—]|\s*[–—]\s*|\s+(?:to|and|or)\s+)(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?![.,/:]\d)",
                        re.I)


def _with_ranges(text: str, mentions: list[DateMention]) -> list[DateMention]:
    """``mentions`` and the days that share their month in a range or pair, in order."""
    extra: list[DateMention] = []
    for i, d in enumerate(mentions):
        if not (d.date.month and d.date.day):
            continue
        lo = mentions[i - 1].end if i else 0
        if text[d.start].isdigit():  # "19 October": a day before it
            m = _DAY_BEFORE.search(text, max(lo, d.start - 16), d.start)
            if m and _valid(d.date.year, d.date.month, int(m["day"])):
                extra.append(DateMention(m.start(), m.start() + len(m["day"]),
                                         PartialDate(d.date.year, d.date.month, int(m["day"]))))
        else:  # "October 11": a day after it
            hi = mentions[i + 1].start if i + 1 < len(mentions) else len(text)
            m = _DAY_AFTER.match(text, d.end, hi)
            if m and _valid(d.date.year, d.date.month, int(m["day"])):
                extra.append(DateMention(m.start("day"), m.end("day"),
                                         PartialDate(d.date.year, d.date.month, int(m["day"]))))
    return sorted(mentions + extra, key=lambda d: d.start) if extra else mentions


def _may_is_month(text: str, at: int) -> bool:
    """"May" is the month after "in", "of", "since", "early", a number...; not "May I ask"."""
    before = text[max(0, at - 12) : at].lower().split()
    return bool(before) and before[-1].strip(",") in {"in", "of", "since", "until", "by", "early", "late", "mid",
                                                      "from", "last", "next", "this", "during", "before", "after"}
