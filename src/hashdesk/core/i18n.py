"""Locales and gettext catalogs.

Catalogs are the ``.po`` files under ``hashdesk/locale/<locale>/LC_MESSAGES/messages.po``,
compiled in memory at first use (no build step). The locale comes from the trader's setting,
then ``Accept-Language``, then English.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES: tuple[str, ...] = (
    "en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "uk", "es", "pt",
    "fr", "de", "it", "tr", "vi", "id", "th", "ar", "fa",
)  # fmt: skip
RIGHT_TO_LEFT = frozenset({"ar", "fa"})
DEFAULT_LOCALE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LOCALE_NAMES: dict[str, str] = {
    "en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文", "ja": "日本語",
    "ko": "한국어", "ru": "Русский", "uk": "Українська", "es": "Español",
    "pt": "Português", "fr": "Français", "de": "Deutsch", "it": "Italiano",
    "tr": "Türkçe", "vi": "Tiếng Việt", "id": "Bahasa Indonesia", "th": "ไทย",
    "ar": "العربية", "fa": "فارسی",
}  # fmt: skip

# Browser tags that name a script or region rather than one of our locale codes.
_TAG_ALIASES = {
    "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans": "zh-Hans",
    "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "zh-hant": "zh-Hant",
    "in": "id", "pt-br": "pt", "pt-pt": "pt",
}  # fmt: skip
_BY_LOWER = {code.lower(): code for code in LOCALES}


def N_(message: str) -> str:
    """Marks ``message`` for extraction; it is translated where it is shown."""
    return message


def match_locale(tag: str | None) -> str | None:
    """Our locale code for a language tag such as ``zh-TW`` or ``pt_BR``; None if unknown."""
    if not tag:
        return None
    lowered = tag.strip().replace("_", "-").lower()
    if lowered in _TAG_ALIASES:
        return _TAG_ALIASES[lowered]
    if lowered in _BY_LOWER:
        return _BY_LOWER[lowered]
    if lowered.startswith("zh-") and any(part in lowered for part in ("-tw", "-hk", "-hant")):
        return "zh-Hant"
    primary = lowered.split("-", 1)[0]
    return _TAG_ALIASES.get(primary) or _BY_LOWER.get(primary)


def parse_accept_language(header: str | None) -> list[str]:
    """Tags from an Accept-Language header, best first (q-values honoured)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_locale(preferred: str | None, accept_language: str | None) -> str:
    for candidate in (preferred, *parse_accept_language(accept_language)):
        matched = match_locale(candidate)
        if matched:
            return matched
    return DEFAULT_LOCALE


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=len(LOCALES))
def get_translations(locale: str) -> gettext.NullTranslations:
    path = catalog_path(locale)
    if locale == DEFAULT_LOCALE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale.replace("-", "_"))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(locale: str) -> gettext.NullTranslations:
    return get_translations(locale if locale in LOCALES else DEFAULT_LOCALE)


def text_direction(locale: str) -> str:
    return "rtl" if locale in RIGHT_TO_LEFT else "ltr"
