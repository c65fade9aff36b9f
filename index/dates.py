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
