"""Pure helpers for question text: normalising, word tokens and the stop words of both languages."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just let me more most my myself no nor not of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom why
    with would you your yours yourself yourselves also did does done get got many much one ones s t
    will shall may might must whose whats what's who's tell say said know kind type name called
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было
    вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас
    нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их
    чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой
    совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при
    наконец два об другой хоть после над больше тот через эти нас про всего них какая много разве три
    эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно
    всю между""".split()
)
_TOKEN = re.compile(r"\w+(?:['’]\w+)?", re.U)


def normalise_question(text: str) -> str:
    """NFC, control characters turned into spaces, runs of white space folded."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") else c for c in text)
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; possessive endings dropped."""
    found = _TOKEN.findall(text.lower())
    if "'" not in text and "’" not in text:  # most texts: no token to fix (hot in indexing)
        return found
    return [re.sub(r"['’]s$", "", t).replace("’", "'") if ("'" in t or "’" in t) else t for t in found]
