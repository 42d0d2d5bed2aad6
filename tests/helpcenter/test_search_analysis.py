"""Search analysis per language, synonyms and plain text: no database, no models."""

from __future__ import annotations

import pytest

from hashdesk.helpcenter.search.analysis import analyzer_for
from hashdesk.helpcenter.search.documents import clip, plain_text
from hashdesk.helpcenter.search.semantic import body_chunks
from hashdesk.helpcenter.search.synonyms import SYNONYM_WEIGHT, SYNONYMS, expand


def terms(locale: str, text: str) -> list[str]:
    return analyzer_for(locale).terms(text)


@pytest.mark.parametrize(
    ("locale", "forms"),
    [
        ("es", ["retiros", "retirar", "Retiro"]),
        ("es", ["contraseña", "contrasena", "CONTRASEÑAS"]),
        ("de", ["Auszahlungen", "Auszahlung"]),
        ("de", ["Gebühren", "gebuhren"]),
        ("ru", ["вывода", "вывод", "Выводы"]),
        ("fr", ["dépôts", "dépôt", "depots"]),
        ("pt", ["depósitos", "deposito"]),
        ("tr", ["HESABIM", "hesabım"]),
        ("uk", ["виведення", "виведенню"]),
        ("ar", ["أمان", "امان"]),
        ("fa", ["كارت", "کارت"]),
    ],
)
def test_inflections_and_spellings_of_one_word_meet_in_one_term(
    locale: str, forms: list[str]
) -> None:
    found = {tuple(terms(locale, form)) for form in forms}
    assert len(found) == 1, found


def test_stemming_keeps_different_words_apart() -> None:
    assert terms("es", "retiro") != terms("es", "depósito")
    assert terms("de", "Einzahlung") != terms("de", "Auszahlung")


def test_chinese_gets_character_bigrams_and_unigrams() -> None:
    found = terms("zh-Hans", "如何提现USDT")
    assert {"如何", "何提", "提现", "如", "提", "现"} <= set(found)
    assert "usdt" in found  # Latin inside CJK goes the English way, case-folded


def test_japanese_korean_and_thai_without_spaces_are_cut_into_bigrams() -> None:
    assert "出金" in terms("ja", "出金が届かない")
    assert "출금" in terms("ko", "출금하기")
    assert "ถอ" in terms("th", "ถอนเงิน")


def test_query_bigrams_outweigh_single_characters() -> None:
    weights = {term.text: term.weight for term in analyzer_for("zh-Hant").query_terms("提現")}
    assert weights["提現"] == 1.0
    assert weights["提"] < weights["提現"]


def test_nfkc_and_digits_fold_lookalike_forms() -> None:
    assert terms("en", "ＡＰＩ") == terms("en", "api")
    assert terms("fa", "خطای ۴۲۹") == terms("fa", "خطای 429")


def test_synonyms_add_the_other_phrases_of_a_group_at_lower_weight() -> None:
    analyzer = analyzer_for("en")
    expanded = {term.text: term.weight for term in expand("en", analyzer.query_terms("memo"))}
    assert expanded[terms("en", "memo")[0]] == 1.0
    assert terms("en", "tag")[0] in expanded
    assert 0 < expanded[terms("en", "tag")[0]] <= SYNONYM_WEIGHT


def test_two_factor_synonyms_reach_authenticator() -> None:
    analyzer = analyzer_for("en")
    expanded = {term.text for term in expand("en", analyzer.query_terms("reset 2FA"))}
    assert terms("en", "authenticator")[0] in expanded


def test_locale_synonyms_apply_only_in_their_locale() -> None:
    spanish = {t.text for t in expand("es", analyzer_for("es").query_terms("retirar"))}
    assert terms("es", "sacar")[0] in spanish
    english = {t.text for t in expand("en", analyzer_for("en").query_terms("retirar"))}
    assert terms("en", "sacar")[0] not in english


def test_the_synonym_table_is_large_and_covers_several_locales() -> None:
    assert len(SYNONYMS["*"]) >= 40
    assert {"es", "de", "ru", "zh-Hans", "ja"} <= set(SYNONYMS)


def test_plain_text_drops_markdown() -> None:
    markdown = (
        "## Steps\n\n1. Open **Assets** and select [Withdraw](/hc/en/articles/9).\n"
        "2. Paste the `address`.\n\n![screenshot](/img/a.png)\n\n| Network | Fee |\n|---|---|\n"
        "| TRC20 | 1 USDT |\n\n```\ncode sample\n```"
    )
    text = plain_text(markdown)
    assert "Open Assets and select Withdraw." in text
    for markup in ("**", "](", "##", "`", "![", "|---"):
        assert markup not in text
    assert "TRC20" in text and "code sample" in text


def test_clip_cuts_at_a_word_with_an_ellipsis() -> None:
    clipped = clip("word " * 100, 240)
    assert len(clipped) <= 240 and clipped.endswith("…") and "wor…" not in clipped


def test_body_chunks_are_bounded() -> None:
    chunks = body_chunks("A sentence about deposits. " * 80)
    assert 1 <= len(chunks) <= 3
    assert all(len(chunk) <= 300 for chunk in chunks)
