"""The help-center store, its public pages and the folder import/export."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.cli import main
from hashdesk.config import get_settings
from hashdesk.core.audit import list_entries
from hashdesk.core.auth import SYSTEM
from hashdesk.core.ratelimit import ARTICLE_VOTE
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.models import ArticleStatus, ArticleTranslation, ArticleVote
from hashdesk.helpcenter.schemas import ArticleCreate, TranslationSave
from hashdesk.helpcenter.search import SearchIndex, VectorCache
from hashdesk.helpcenter.search.documents import load_documents
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader

SOURCE = """---
id: 41
locale: en
title: Set up two-factor authentication
section: security/two-factor
tags: [2fa, authenticator]
---
Open **Security** and scan the QR code.
"""
GERMAN = """---
translation_of: 41
locale: de
title: Zwei-Faktor-Authentifizierung einrichten
tags: [2fa]
---
Öffnen Sie **Sicherheit**.
"""


def make_article(session: Session, title: str = "Deposit not arrived", *, locale: str = "en",
                 internal: bool = False, status: ArticleStatus = ArticleStatus.PUBLISHED,
                 body: str = "Check the network.") -> int:  # fmt: skip
    data = ArticleCreate(title=title, body=body, section="funds/deposits", locale=locale,
                         internal=internal, status=status)  # fmt: skip
    article = actions.check_create_article(session, SYSTEM, data)
    session.commit()
    return article.id


def add_translation(session: Session, article_id: int, locale: str, title: str) -> None:
    save = TranslationSave(title=title, body=f"{title} body", status=ArticleStatus.PUBLISHED)
    actions.check_save_translation(session, SYSTEM, article_id, locale, save)
    session.commit()


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_fallback_chain_goes_through_simplified_chinese_to_english(session: Session) -> None:
    assert queries.fallback_chain("zh-Hant") == ("zh-Hant", "zh-Hans", "en")
    assert queries.fallback_chain("de") == ("de", "en")
    assert queries.fallback_chain("en") == ("en",)
    article_id = make_article(session)
    add_translation(session, article_id, "zh-Hans", "充值未到账")
    article = queries.get_article(session, article_id)
    assert article is not None
    assert queries.pick_translation(article, "zh-Hant").locale == "zh-Hans"  # type: ignore[union-attr]
    assert queries.pick_translation(article, "de").locale == "en"  # type: ignore[union-attr]


def test_article_page_falls_back_and_redirects_to_its_slug(
    client: TestClient, session: Session
) -> None:
    article_id = make_article(session)
    add_translation(session, article_id, "zh-Hans", "充值未到账")
    page = client.get(f"/hc/zh-Hant/articles/{article_id}", follow_redirects=False)
    assert page.status_code == 303
    page = client.get(page.headers["location"])
    assert page.status_code == 200
    assert "充值未到账" in page.text and 'data-testid="fallback-note"' in page.text
    english = client.get(f"/hc/en/articles/{article_id}-deposit-not-arrived")
    assert english.status_code == 200 and "fallback-note" not in english.text


def test_drafts_are_hidden_from_everyone_on_the_public_pages(
    client: TestClient, session: Session
) -> None:
    draft = make_article(session, "Secret launch", status=ArticleStatus.DRAFT)
    login_agent(client, make_agent(session))
    assert client.get(f"/hc/en/articles/{draft}-secret-launch").status_code == 404
    assert "Secret launch" not in client.get("/hc/en").text


def test_internal_articles_are_for_agents_only(
    client: TestClient, another_client: TestClient, session: Session, runtime: Runtime
) -> None:
    internal = make_article(session, "Manual 2FA reset procedure", internal=True)
    url = f"/hc/en/articles/{internal}-manual-2fa-reset-procedure"
    assert client.get(url).status_code == 404
    assert "Manual 2FA reset" not in client.get("/hc/en").text
    login_trader(client, runtime.settings, make_trader(session))
    assert client.get(url).status_code == 404
    login_agent(another_client, make_agent(session))
    assert another_client.get(url).status_code == 200
    assert "Manual 2FA reset" in another_client.get("/hc/en").text


def test_script_in_markdown_is_never_rendered_as_a_script(
    client: TestClient, session: Session
) -> None:
    body = "Hello <script>alert(1)</script>\n\n[click](javascript:alert(2))\n\n<img src=x onerror=alert(3)>"
    article_id = make_article(session, "Unsafe", body=body)
    page = client.get(f"/hc/en/articles/{article_id}-unsafe").text
    article = page.split('data-testid="article-body">', 1)[1].split("</div>", 1)[0]
    assert "<script" not in article and "onerror=" not in article.replace(
        "onerror=alert(3)&gt;", ""
    )
    assert "&lt;script&gt;" in article and 'href="javascript' not in article


def test_every_save_keeps_the_previous_version_and_is_audited(
    session: Session, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(runtime.bus, "publish", lambda channel, message: published.append(message))
    article_id = make_article(session)
    save = TranslationSave(title="Deposit not arrived yet", body="New text",
                           status=ArticleStatus.PUBLISHED)  # fmt: skip
    translation = actions.check_save_translation(session, SYSTEM, article_id, "en", save)
    session.commit()
    assert translation.version == 2
    versions = queries.list_versions(session, translation.id)
    assert [(v.version, v.title, v.body) for v in versions] == [
        (1, "Deposit not arrived", "Check the network.")]  # fmt: skip
    actions.check_save_translation(session, SYSTEM, article_id, "en", save)  # unchanged
    session.commit()
    assert len(queries.list_versions(session, translation.id)) == 1
    actions.check_set_status(session, SYSTEM, article_id, "en", ArticleStatus.DRAFT)
    session.rollback()  # a rolled-back change announces nothing
    actions_seen = [entry.action for entry in list_entries(session, "help_article", article_id)]
    assert actions_seen == ["helpcenter.article_created", "helpcenter.translation_created",
                            "helpcenter.published", "helpcenter.translation_saved"]  # fmt: skip
    assert [m["type"] for m in published] == ["article.published", "article.published"]


def test_votes_need_csrf_are_counted_and_rate_limited(client: TestClient, session: Session) -> None:
    article_id = make_article(session)
    url = f"/hc/en/articles/{article_id}-deposit-not-arrived"
    page = client.get(url).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    vote_url = f"/hc/en/articles/{article_id}/votes"
    refused = client.post(vote_url, data={"helpful": "yes"})
    assert refused.status_code == 403
    sent = client.post(vote_url, data={"helpful": "no", "reason": "Too short",
                                       "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303 and sent.headers["location"].endswith("?voted=1#feedback")
    assert client.get(sent.headers["location"]).text.count('data-testid="vote-thanks"') == 1
    assert client.post(vote_url, data={"helpful": "maybe", "csrf_token": token}).status_code == 422
    assert queries.vote_counts(session, article_id) == {True: 0, False: 1}
    assert session.scalars(select(ArticleVote.reason)).all() == ["Too short"]
    statuses = {client.post(vote_url, data={"helpful": "yes", "csrf_token": token},
                            follow_redirects=False).status_code
                for _ in range(ARTICLE_VOTE.count)}  # fmt: skip
    assert 429 in statuses


def test_import_export_round_trip(cli: CliRunner, session: Session, tmp_path: Path) -> None:
    source = tmp_path / "in"
    write(source, "41.en.md", SOURCE)
    write(source, "41.de.md", GERMAN)
    result = cli.invoke(main, ["helpcenter", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "1 new articles, 2 translations" in result.output
    exported = tmp_path / "out"
    result = cli.invoke(main, ["helpcenter", "export", str(exported)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in exported.iterdir()) == ["41.de.md", "41.en.md"]
    german = (exported / "41.de.md").read_text(encoding="utf-8")
    assert "translation_of: 41" in german and "Öffnen Sie **Sicherheit**." in german
    again = cli.invoke(main, ["helpcenter", "import", str(exported)])
    assert again.exit_code == 0, again.output
    translations = session.scalars(select(ArticleTranslation)).all()
    assert sorted((t.article_id, t.locale, t.version) for t in translations) == [
        (41, "de", 1), (41, "en", 1)]  # fmt: skip
    # New articles after an import with explicit ids get fresh ids (the sequence moved on).
    assert make_article(session, "Another") > 41


def _embed(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, cache_setting: str) -> Any:
    monkeypatch.setenv("HASHDESK_SEARCH_VECTOR_CACHE", cache_setting)
    get_settings.cache_clear()
    return cli.invoke(main, ["helpcenter", "embed"])


def test_embed_fills_the_vector_cache_a_starting_node_reads(
    cli: CliRunner, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_article(session, "Reset two-factor authentication", body="Open Security.")
    make_article(session, "Deposit not arrived")
    make_article(session, "Unfinished", status=ArticleStatus.DRAFT)
    cache = tmp_path / "node-vectors.sqlite3"

    first = _embed(cli, monkeypatch, str(cache))

    assert first.exit_code == 0, first.output
    assert "ready for 2 pages" in first.output
    computed = re.search(r"(\d+) passage vectors computed", first.output)
    assert computed is not None and int(computed.group(1)) > 0
    again = _embed(cli, monkeypatch, str(cache))
    assert "0 passage vectors computed" in again.output
    # What `hashdesk serve` does at start: words now, vectors later, unless they are cached.
    starting = SearchIndex(vector_cache=VectorCache(cache))
    starting.add_documents(load_documents(session), embed=False)
    assert starting.pending_embeddings() == 0


def test_embed_says_when_there_is_nowhere_to_keep_the_vectors(
    cli: CliRunner, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_article(session)
    off = _embed(cli, monkeypatch, "")
    assert off.exit_code == 1
    assert "No vector cache is configured (HASHDESK_SEARCH_VECTOR_CACHE is empty)" in off.output
    unwritable = _embed(cli, monkeypatch, str(tmp_path))  # a folder, not a file
    assert unwritable.exit_code == 1
    assert f"Cannot use the vector cache {tmp_path.resolve()}" in unwritable.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no front matter\n", "41.en.md: front matter: the file must start"),
        ("---\nid: [1\n---\nbody\n", "41.en.md: front matter: not valid YAML"),
        (SOURCE.replace("locale: en", "locale: xx"), "41.en.md: locale: must be one of"),
        (SOURCE.replace("id: 41", "id: forty-one"), "41.en.md: id: must be a positive"),
        (SOURCE.replace("title:", "titel:"), "41.en.md: titel: unknown field"),
        (
            SOURCE.replace("tags: [2fa, authenticator]", "tags: 2fa"),
            "41.en.md: tags: must be a list",
        ),
        (SOURCE.replace("section: security/two-factor\n", ""), "41.en.md: section: required"),
    ],
)
def test_bad_front_matter_names_the_file_and_field_and_imports_nothing(
    cli: CliRunner, session: Session, tmp_path: Path, text: str, expected: str
) -> None:
    write(tmp_path, "40.en.md", SOURCE.replace("id: 41", "id: 40"))  # a good file, not imported
    write(tmp_path, "41.en.md", text)
    result = cli.invoke(main, ["helpcenter", "import", str(tmp_path)])
    assert result.exit_code == 1
    assert expected in result.output and "Traceback" not in result.output
    assert "Nothing imported" in result.output
    assert session.scalars(select(ArticleTranslation)).all() == []


def test_a_translation_of_an_unknown_article_rolls_back_the_whole_import(
    cli: CliRunner, session: Session, tmp_path: Path
) -> None:
    write(tmp_path, "41.en.md", SOURCE)
    write(tmp_path, "99.de.md", GERMAN.replace("translation_of: 41", "translation_of: 99"))
    result = cli.invoke(main, ["helpcenter", "import", str(tmp_path)])
    assert result.exit_code == 1
    assert "99.de.md: translation_of: no article 99" in result.output
    assert session.scalars(select(ArticleTranslation)).all() == []


def test_help_center_addresses_use_our_locale_codes(client: TestClient, session: Session) -> None:
    article_id = make_article(session)
    assert client.get("/hc", follow_redirects=False).headers["location"] == "/hc/en"
    moved = client.get(f"/hc/zh-tw/articles/{article_id}", follow_redirects=False)
    assert moved.headers["location"] == f"/hc/zh-Hant/articles/{article_id}"
    assert client.get("/hc/xx").status_code == 404
    assert client.get("/hc/en/articles/not-a-number").status_code == 404
    home = client.get("/hc/de")
    assert home.status_code == 200 and "Hilfe-Center" in home.text
    assert f"/hc/de/articles/{article_id}-deposit-not-arrived" in home.text


def test_reimporting_an_original_moves_it_and_can_make_it_internal(
    cli: CliRunner, client: TestClient, session: Session, tmp_path: Path
) -> None:
    write(tmp_path, "41.en.md", SOURCE)
    assert cli.invoke(main, ["helpcenter", "import", str(tmp_path)]).exit_code == 0
    url = "/hc/en/articles/41-set-up-two-factor-authentication"
    assert client.get(url).status_code == 200
    write(tmp_path, "41.en.md", SOURCE.replace("security/two-factor", "security/staff")
          .replace("tags:", "internal: true\ntags:"))  # fmt: skip
    result = cli.invoke(main, ["helpcenter", "import", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert client.get(url).status_code == 404
    article = queries.get_article(session, 41)
    assert article is not None and article.internal and article.section.path == "security/staff"
