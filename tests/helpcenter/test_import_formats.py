"""``hashdesk helpcenter import`` for a Zendesk Help Center export and a FAQ bank."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.cli import main
from hashdesk.core.auth import SYSTEM
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.models import Article, ArticleVersion
from hashdesk.helpcenter.schemas import ArticleCreate
from hashdesk.helpcenter.transfer import ImportFailed, html_to_markdown, read_source
from tests.conftest import shared_data

FIXTURES = Path(__file__).parent / "fixtures"
ZENDESK = FIXTURES / "zendesk_export"


def run_import(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(main, ["helpcenter", "import", *args])
    return result.exit_code, result.stdout, result.stderr


def count(session: Session, model: type[Article] | type[ArticleVersion]) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_zendesk_export_imports_with_sections_translations_and_stable_ids(
    cli: CliRunner, session: Session
) -> None:
    code, out, err = run_import(cli, str(ZENDESK))
    assert code == 0, err
    assert "2 new articles, 4 translations" in out
    mapping = queries.imported_ids(session, "zendesk")
    assert mapping["42"] == 42  # free here: kept, so its address stays the same
    big = mapping["360000111222"]  # too large for our id column: a new one, recorded
    assert big not in (42, 360000111222)
    deposit = queries.get_article(session, big)
    assert deposit is not None and not deposit.internal
    assert deposit.section.path == "funds/deposits-withdrawals"
    assert (deposit.section.category.name, deposit.section.name) == (
        "Funds", "Deposits & Withdrawals")  # fmt: skip
    by_locale = {t.locale: t for t in deposit.translations}
    assert {code: t.status for code, t in by_locale.items()} == {
        "en": "published", "de": "published", "zh-Hant": "draft"}  # fmt: skip
    english = by_locale["en"]
    assert english.tags == ["deposit", "confirmations"]
    assert "## Check the confirmations" in english.body
    assert "**12 confirmations**" in english.body
    assert "- Find the TxID" in english.body
    assert "[block explorer](https://explorer.example.com/tx)" in english.body
    assert (
        "![Confirmations](https://help.example.com/hc/article_attachments/1/confirmations.png)"
        in english.body
    )
    assert "steal()" not in english.body and "javascript" not in english.body
    assert "*12 Bestätigungen*" in by_locale["de"].body
    manual = queries.get_article(session, 42)
    assert manual is not None and manual.internal  # a user segment: not for the public
    assert manual.translations[0].status == "draft"
    # Links between the exported articles now lead to their addresses here.
    assert f"[deposit guide](/hc/en/articles/{big})" in manual.translations[0].body
    assert "(https://help.example.com/hc/en-us/articles/999-Gone)" in manual.translations[0].body
    # The same export again changes nothing: same ids, no new articles or versions.
    code, out, err = run_import(cli, str(ZENDESK))
    assert code == 0, err
    assert "0 new articles" in out
    assert queries.imported_ids(session, "zendesk") == mapping
    assert count(session, Article) == 2 and count(session, ArticleVersion) == 0


def test_a_zendesk_id_taken_here_gets_a_new_one(cli: CliRunner, session: Session) -> None:
    ours = ArticleCreate(id=42, title="Our own article", body="Ours.", section="own/articles")
    actions.check_create_article(session, SYSTEM, ours)
    session.commit()
    code, _, err = run_import(cli, str(ZENDESK / "articles.json"))
    assert code == 0, err
    mapping = queries.imported_ids(session, "zendesk")
    assert mapping["42"] != 42
    session.expire_all()
    own = queries.get_article(session, 42)
    assert own is not None and own.translations[0].title == "Our own article"
    imported = queries.get_article(session, mapping["42"])
    assert imported is not None and imported.section.path == "help/section-7002"


def test_a_bad_zendesk_export_names_each_item_and_field_and_imports_nothing(
    cli: CliRunner, session: Session, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    shutil.copytree(ZENDESK, export)
    articles = json.loads((export / "articles.json").read_text(encoding="utf-8"))
    articles["articles"][1]["title"] = ""
    articles["articles"][0]["section_id"] = 999
    (export / "articles.json").write_text(json.dumps(articles), encoding="utf-8")
    translations = json.loads((export / "translations.json").read_text(encoding="utf-8"))
    translations["translations"][0]["locale"] = "xx-yy"
    (export / "translations.json").write_text(json.dumps(translations), encoding="utf-8")
    code, _, err = run_import(cli, str(export))
    assert code != 0
    assert "articles.json: articles[1] (id 42): title: required" in err
    assert "articles.json: articles[0] (id 360000111222): section_id: no section 999" in err
    assert "translations.json: translations[0]: locale: 'xx-yy' is not one of ours" in err
    assert "Nothing imported: 3 problem(s)" in err
    assert count(session, Article) == 0


def test_a_translation_of_an_unknown_article_is_refused(cli: CliRunner, tmp_path: Path) -> None:
    lone = {"translations": [{"source_id": 5, "source_type": "article", "locale": "fr",
                              "title": "Frais", "body": "<p>Les frais.</p>"}]}  # fmt: skip
    (tmp_path / "translations.json").write_text(json.dumps(lone), encoding="utf-8")
    code, _, err = run_import(cli, str(tmp_path / "translations.json"))
    assert code != 0
    assert "source_id: no article 5 in this export or an earlier import" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"users": []}', "format: unknown: expected a Zendesk Help Center export"),
        ('{"articles": [', "file: not valid JSON (line 1"),
        ('{"articles": {"id": 1}}', "articles: must be a list"),
        ("[1, 2]", "format: unknown"),
    ],
)
def test_unknown_or_broken_json_is_refused_clearly(
    cli: CliRunner, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "export.json").write_text(content, encoding="utf-8")
    code, out, err = run_import(cli, str(tmp_path / "export.json"))
    assert code != 0 and message in err, err
    assert "Traceback" not in out + err


def test_a_folder_mixing_formats_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nid: 1\n---\nx\n", encoding="utf-8")
    shutil.copy(ZENDESK / "articles.json", tmp_path)
    with pytest.raises(ImportFailed, match=r"both \.md and \.json"):
        read_source(tmp_path)


def test_a_faq_bank_becomes_english_articles_with_stable_ids(
    cli: CliRunner, session: Session
) -> None:
    code, out, err = run_import(cli, str(FIXTURES / "faq_bank.json"))
    assert code == 0, err
    assert "3 new articles" in out
    mapping = queries.imported_ids(session, "faq")
    assert mapping["7"] == 7  # free: kept
    assert mapping["0"] not in (0, 7) and mapping["api-1"] not in (0, 7, mapping["0"])
    withdrawal = queries.get_article(session, mapping["0"])
    assert withdrawal is not None and withdrawal.section.path == "faq/general"
    translation = withdrawal.translations[0]
    assert (translation.locale, translation.status) == ("en", "published")
    assert translation.title == "How long does a Bitcoin withdrawal take?"
    assert translation.body == (
        "Most withdrawals are sent within 30 minutes.\n\n"
        "Large amounts may wait for a manual review.\n"
    )
    code, out, _ = run_import(cli, str(FIXTURES / "faq_bank.json"), "--section", "faq/other")
    assert code == 0 and "0 new articles" in out
    assert queries.imported_ids(session, "faq") == mapping
    session.expire_all()
    moved = queries.get_article(session, mapping["7"])
    assert moved is not None and moved.section.path == "faq/other"


def test_faq_bank_problems_are_named_per_entry(tmp_path: Path) -> None:
    bank = [{"faq_id": 1, "question": "", "answers": ["a"]},
            {"faq_id": 2, "question": "Fine?", "answers": []},
            {"faq_id": 1, "question": "Again?", "answers": ["b"]}]  # fmt: skip
    (tmp_path / "bank.json").write_text(json.dumps(bank), encoding="utf-8")
    with pytest.raises(ImportFailed) as failure:
        read_source(tmp_path / "bank.json")
    problems = {(p.file.split(" (")[0], p.field) for p in failure.value.problems}
    assert problems == {("bank.json: [0]", "question"), ("bank.json: [1]", "answers"),
                        ("bank.json: [2]", "faq_id")}  # fmt: skip


def test_the_shared_faq_bank_reads_without_problems() -> None:
    bank = shared_data("stackfaq/faq_bank.json")
    source = read_source(bank)
    entries = json.loads(bank.read_text(encoding="utf-8"))
    assert source.format == "faq" and len(source.files) == len(entries)
    assert {item.title for item in source.files} == {e["question"].strip() for e in entries}


def test_html_to_markdown_keeps_structure_and_drops_what_is_unsafe() -> None:
    html = ('<h3>Steps</h3><ol><li>One</li><li>Two</li></ol><table><tr><th>Fee</th></tr>'
            '<tr><td>0.1%</td></tr></table><p onclick="x()">Hi <code>GET /api</code>'
            '<iframe src="https://evil.example"></iframe><style>p{}</style></p>')  # fmt: skip
    markdown = html_to_markdown(html)
    assert "### Steps" in markdown and "1. One" in markdown and "2. Two" in markdown
    assert "| Fee |" in markdown and "`GET /api`" in markdown
    assert "onclick" not in markdown and "iframe" not in markdown and "p{}" not in markdown


def test_a_markdown_id_too_large_for_the_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "big.md").write_text(
        "---\nid: 3000000000\nlocale: en\ntitle: Big\nsection: a/b\n---\nText\n", encoding="utf-8"
    )
    with pytest.raises(ImportFailed, match=r"big\.md: id: must be at most 2147483647"):
        read_source(tmp_path)
