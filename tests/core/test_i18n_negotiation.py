"""Which locale a person gets: their own setting, then Accept-Language, then English."""

from __future__ import annotations

import pytest

from hashdesk.core.i18n import (
    LOCALES,
    gettext_for,
    match_locale,
    negotiate_locale,
    parse_accept_language,
    text_direction,
)


def test_there_are_eighteen_locales_and_two_read_right_to_left() -> None:
    assert len(LOCALES) == 18
    assert [locale for locale in LOCALES if text_direction(locale) == "rtl"] == ["ar", "fa"]


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("en-US", "en"), ("zh-CN", "zh-Hans"), ("zh", "zh-Hans"), ("zh-TW", "zh-Hant"),
        ("zh-Hant-HK", "zh-Hant"), ("pt_BR", "pt"), ("PT-pt", "pt"), ("in", "id"),
        ("uk-UA", "uk"), ("fa-IR", "fa"), ("ja", "ja"), ("tlh", None), ("", None),
    ],
)  # fmt: skip
def test_browser_tags_map_to_our_locales(tag: str, locale: str | None) -> None:
    assert match_locale(tag) == locale


def test_accept_language_is_read_best_first() -> None:
    header = "fr;q=0.5, de-DE, en;q=0.8, ja;q=0"
    assert parse_accept_language(header) == ["de-DE", "en", "fr"]


@pytest.mark.parametrize(
    ("preferred", "header", "locale"),
    [
        ("ko", "de-DE,de;q=0.9", "ko"),  # the trader's own setting wins
        (None, "tlh, es-MX;q=0.8", "es"),  # unknown tags are skipped
        ("tlh", "x;q=bad", "en"),  # nothing usable: English
        (None, None, "en"),
    ],
)
def test_negotiation_order(preferred: str | None, header: str | None, locale: str) -> None:
    assert negotiate_locale(preferred, header) == locale


def test_an_unknown_locale_falls_back_to_untranslated_english() -> None:
    assert gettext_for("tlh").gettext("Open") == "Open"
