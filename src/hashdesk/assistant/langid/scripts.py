"""What the writing system alone says about a text's language.

A script settles most languages outright (Hangul, kana, Thai, Devanagari); inside Cyrillic,
Arabic and Latin script a few letters that only some languages use narrow the candidates
before any statistical model is asked. Every rule here is a fact about the alphabets, not
something fitted to data.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

# The statistical candidates of each script: the supported languages, then the unsupported
# look-alikes that share the script and would otherwise be taken for one of them.
LATIN_SUPPORTED = ("en", "es", "pt", "fr", "de", "it", "tr", "vi", "id", "pl", "nl")
LATIN_LOOKALIKES = ("ca", "gl")
CYRILLIC_SUPPORTED = ("ru", "uk")
CYRILLIC_LOOKALIKES = ("be", "bg")
ARABIC_SUPPORTED = ("ar", "fa")
ARABIC_LOOKALIKES = ("ur",)

# Letters no other supported language writes.
_UKRAINIAN_ONLY = frozenset("їєґ")
_UKRAINIAN_OR_BELARUSIAN = frozenset("і")
_RUSSIAN_OR_BELARUSIAN = frozenset("ыэё")
_BELARUSIAN_ONLY = frozenset("ў")
_URDU_ONLY = frozenset("ٹڈڑںےھۓ")
_PERSIAN_LETTERS = frozenset("پچژگیک")
_ARABIC_ONLY = frozenset("ةيكىإ")
_VIETNAMESE_ONLY = frozenset("ơưđăạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
# Characters of written Cantonese that written Mandarin does not use (possessive 嘅,
# perfective 咗, locative 喺, plural 哋, third person 佢 ...): such a text is Cantonese.
_CANTONESE_ONLY = frozenset("佢嘅咗喺哋嚟㗎冇啲嗰嘢啱噉揾搵攞瞓睇咩乜")


@dataclass(frozen=True)
class ScriptVerdict:
    """Either a decided language (``lang``) or the candidates a model must choose among."""

    lang: str | None = None
    candidates: tuple[str, ...] = ()
    supported: tuple[str, ...] = ()


def script_of(char: str) -> str | None:
    """The writing system of one character, or None for digits, punctuation and symbols."""
    code = ord(char)
    if 0x3041 <= code <= 0x3096 or 0x30A1 <= code <= 0x30FA or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if _is_han(code):
        return "han"
    if 0x0E00 <= code <= 0x0E7F:
        return "thai"
    if 0x0900 <= code <= 0x097F:
        return "devanagari"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic" if char.isalpha() else None
    if 0x0400 <= code <= 0x052F:
        return "cyrillic" if char.isalpha() else None
    if char.isalpha():
        return "latin" if code < 0x0250 or 0x1E00 <= code <= 0x1EFF else "other"
    return None


def _is_han(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FFFF
        or 0xF900 <= code <= 0xFAFF
    )


def script_counts(text: str) -> Counter[str]:
    return Counter(script for char in text if (script := script_of(char)) is not None)


def judge_script(text: str) -> ScriptVerdict:
    """Decide from the writing system, or narrow the candidates for the models.

    ``lang`` is ``"zh"`` for Chinese (the caller tells Simplified from Traditional) and
    ``"und"`` for text with no letters, a script no supported language uses, or letters that
    only an unsupported look-alike writes (Belarusian ў, Urdu ے, Cantonese 嘅)."""
    counts = script_counts(text)
    if not counts:
        return ScriptVerdict(lang="und")
    if counts["kana"]:
        return ScriptVerdict(lang="ja")
    if counts["hangul"]:
        return ScriptVerdict(lang="ko")
    # Chinese sentences often carry Latin names and numbers: a quarter of Han letters is enough.
    if counts["han"] * 4 >= sum(counts.values()):
        return ScriptVerdict(lang="und" if _CANTONESE_ONLY & set(text) else "zh")
    dominant = _dominant_script(counts)
    letters = set(unicodedata.normalize("NFC", text).lower())
    if dominant == "thai":
        return ScriptVerdict(lang="th")
    if dominant == "devanagari":
        return ScriptVerdict(lang="hi")
    if dominant == "cyrillic":
        return _judge_cyrillic(letters)
    if dominant == "arabic":
        return _judge_arabic(letters)
    if dominant == "latin":
        return _judge_latin(letters)
    return ScriptVerdict(lang="und")


def _dominant_script(counts: Counter[str]) -> str:
    """The script with most letters, except that Latin letters count half against another
    script: names, tickers and transliterations in Latin letters fill many a sentence
    written in another script ("بستنی ... (Bastani ...)"), rarely the other way round."""
    ranked = counts.most_common()
    dominant = ranked[0][0]
    if dominant == "latin" and len(ranked) > 1:
        runner_up, letters = next((s, n) for s, n in ranked if s != "latin")
        if letters * 2 >= counts["latin"]:
            return runner_up
    return dominant


def _verdict(candidates: tuple[str, ...], supported: tuple[str, ...]) -> ScriptVerdict:
    return ScriptVerdict(candidates=candidates, supported=supported)


def _judge_cyrillic(letters: set[str]) -> ScriptVerdict:
    ukrainian = bool(letters & (_UKRAINIAN_ONLY | _UKRAINIAN_OR_BELARUSIAN))
    russian = bool(letters & _RUSSIAN_OR_BELARUSIAN)
    # Belarusian is the only one with ў, and the only one writing both і and ы.
    if letters & _BELARUSIAN_ONLY or (ukrainian and russian):
        return ScriptVerdict(lang="und")
    if letters & _UKRAINIAN_ONLY:
        return ScriptVerdict(lang="uk")
    if ukrainian:
        return _verdict(("uk", "be"), ("uk",))
    if russian:
        return _verdict(("ru", "be"), ("ru",))
    return _verdict(CYRILLIC_SUPPORTED + CYRILLIC_LOOKALIKES, CYRILLIC_SUPPORTED)


def _judge_arabic(letters: set[str]) -> ScriptVerdict:
    if letters & _URDU_ONLY:
        return ScriptVerdict(lang="und")
    persian = bool(letters & _PERSIAN_LETTERS)
    arabic = bool(letters & _ARABIC_ONLY)
    if persian and not arabic:
        return _verdict(("fa", "ur"), ("fa",))
    if arabic and not persian:
        return ScriptVerdict(lang="ar")
    return _verdict(ARABIC_SUPPORTED + ARABIC_LOOKALIKES, ARABIC_SUPPORTED)


def _judge_latin(letters: set[str]) -> ScriptVerdict:
    if letters & _VIETNAMESE_ONLY:
        return ScriptVerdict(lang="vi")
    return _verdict(LATIN_SUPPORTED + LATIN_LOOKALIKES, LATIN_SUPPORTED)
