"""The agents' help-center editor: pages, live preview, history, related articles, images."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from hashdesk.core.audit import list_entries
from hashdesk.core.auth import SYSTEM, Role
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.markdown import render_markdown
from hashdesk.helpcenter.models import ArticleStatus
from hashdesk.helpcenter.schemas import ArticleCreate, RelatedSet, TranslationSave
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader


def tiny_png() -> bytes:
    """A real 1×1 PNG, built here (no binary fixture in the repository)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def make_article(session: Session, title: str, *, section: str = "funds/deposits",
                 internal: bool = False, status: ArticleStatus = ArticleStatus.PUBLISHED) -> int:  # fmt: skip
    data = ArticleCreate(title=title, body=f"{title} body.", section=section, internal=internal,
                         status=status)  # fmt: skip
    article = actions.check_create_article(session, SYSTEM, data)
    session.commit()
    return article.id


def translate(session: Session, article_id: int, locale: str, title: str) -> None:
    save = TranslationSave(title=title, body=f"{title}.", status=ArticleStatus.PUBLISHED)
    actions.check_save_translation(session, SYSTEM, article_id, locale, save)
    session.commit()


def editor_client(client: TestClient, session: Session) -> str:
    return login_agent(client, make_agent(session, Role.LEAD, email="lead@desk.example.com"))


def form(token: str, **values: str) -> dict[str, str]:
    return {"csrf_token": token, "intent": "save", "status": "draft", **values}


def test_only_agents_who_manage_articles_reach_the_editor(
    client: TestClient, another_client: TestClient, session: Session
) -> None:
    assert (
        client.get("/console/help", follow_redirects=False)
        .headers["location"]
        .startswith("/console/login")
    )
    login_agent(client, make_agent(session, Role.FRONTLINE))
    assert client.get("/console/help").status_code == 403
    assert 'data-testid="nav-help-editor"' not in client.get("/console").text
    editor_client(another_client, session)
    page = another_client.get("/console/help")
    assert page.status_code == 200
    assert 'data-testid="nav-help-editor"' in page.text


def test_create_translate_and_list_missing_translations(
    client: TestClient, session: Session
) -> None:
    token = editor_client(client, session)
    assert 'data-testid="new-form"' in client.get("/console/help/new").text
    refused = client.post("/console/help/new", data=form(token, title="x", section="bad", body=""))
    assert refused.status_code == 422
    assert (
        'data-testid="error-section"' in refused.text and 'data-testid="error-body"' in refused.text
    )
    previewed = client.post("/console/help/new", data=form(
        token, intent="preview", title="x", section="a/b", body="*draft*"))  # fmt: skip
    assert "<em>draft</em>" in previewed.text and queries.list_all_articles(session) == []
    created = client.post("/console/help/new", data=form(
        token, locale="en", title="Deposit with a memo", section="funds/memo-tag",
        body="Always add the **memo**.", tags="memo, tag", status="published"),
        follow_redirects=False)  # fmt: skip
    assert created.status_code == 303, created.text
    article_id = int(created.headers["location"].split("/")[4])
    german_page = client.get(f"/console/help/articles/{article_id}/de")
    assert 'data-testid="source"' in german_page.text  # the English text, side by side
    assert f'action="/console/help/articles/{article_id}/de"' in german_page.text
    assert 'lang="de" required data-preview-url' in german_page.text
    assert "Add a translation: Deutsch" in german_page.text
    assert "Deposit with a memo" in german_page.text
    saved = client.post(f"/console/help/articles/{article_id}/de", data=form(
        token, title="Einzahlung mit Memo", body="Immer das **Memo** angeben.", tags="memo",
        section="funds/memo-tag", status="published"), follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    article = queries.get_article(session, article_id)
    assert article is not None
    assert {t.locale: t.status for t in article.translations} == {
        "en": "published", "de": "published"}  # fmt: skip
    history = client.get(f"/console/help/articles/{article_id}/de/history").text
    assert "Version history: Deutsch" in history and "Einzahlung mit Memo" in history
    listing = client.get("/console/help", params={"section": "funds/memo-tag"}).text
    assert f'data-article-id="{article_id}"' in listing
    assert "<summary>16</summary>" in listing  # 18 locales, two written
    assert f'data-article-id="{article_id}"' not in client.get(
        "/console/help", params={"missing": "de"}).text  # fmt: skip
    assert f'data-article-id="{article_id}"' in client.get(
        "/console/help", params={"missing": "fr", "status": "published"}).text  # fmt: skip
    actions_done = [entry.action for entry in list_entries(session, "help_article", article_id)]
    assert actions_done.count("helpcenter.translation_created") == 2
    assert actions_done.count("helpcenter.published") == 2
    assert all(entry.actor_kind == "agent" for entry in list_entries(session, "help_article",
                                                                     article_id))  # fmt: skip


def test_a_refused_save_names_the_field_and_keeps_the_text(
    client: TestClient, session: Session
) -> None:
    token = editor_client(client, session)
    article_id = make_article(session, "Withdrawal pending")
    refused = client.post(f"/console/help/articles/{article_id}/en", data=form(
        token, title="", body="New text I typed", section="Not A Section"))  # fmt: skip
    assert refused.status_code == 422
    assert 'data-testid="error-title"' in refused.text
    assert 'data-testid="error-section"' in refused.text
    assert "New text I typed" in refused.text
    translation = queries.get_translation(session, article_id, "en")
    assert translation is not None and translation.version == 1


def test_live_preview_uses_the_public_sanitiser_and_needs_csrf(
    client: TestClient, session: Session
) -> None:
    editor_client(client, session)
    body = "# Hi\n<script>alert(1)</script>\n[bad](javascript:alert(1)) ![shot](/hc/images/1/a.png)"
    answer = client.post("/console/help/preview", data={"body": body})
    assert answer.status_code == 200
    html = answer.json()["html"]
    assert html == str(render_markdown(body))
    assert "<h1>Hi</h1>" in html and "<script" not in html
    assert 'href="javascript:' not in html  # left as text, never a link
    assert '<img src="/hc/images/1/a.png" alt="shot">' in html
    del client.headers["X-CSRF-Token"]
    assert client.post("/console/help/preview", data={"body": body}).status_code == 403


def test_the_preview_button_works_without_javascript_and_saves_nothing(
    client: TestClient, session: Session
) -> None:
    token = editor_client(client, session)
    article_id = make_article(session, "Fees")
    page = client.post(f"/console/help/articles/{article_id}/en", data=form(
        token, intent="preview", title="Fees", body="Maker **0.1%**", section="funds/deposits"))  # fmt: skip
    assert page.status_code == 200
    assert "Maker <strong>0.1%</strong>" in page.text
    translation = queries.get_translation(session, article_id, "en")
    assert translation is not None and translation.body == "Fees body."


def test_history_shows_versions_and_restores_one_as_a_new_version(
    client: TestClient, session: Session
) -> None:
    token = editor_client(client, session)
    article_id = make_article(session, "Anti-phishing code")
    for title in ("Anti-phishing code v2", "Anti-phishing code v3"):
        client.post(f"/console/help/articles/{article_id}/en", data=form(
            token, title=title, body=f"{title} text", section="funds/deposits",
            status="published"))  # fmt: skip
    history = client.get(f"/console/help/articles/{article_id}/en/history").text
    assert f'action="/console/help/articles/{article_id}/en/history/1/restore"' in history
    assert history.count('data-testid="version-row"') == 2
    old = client.get(f"/console/help/articles/{article_id}/en/history/1")
    assert "Anti-phishing code body." in old.text
    restored = client.post(f"/console/help/articles/{article_id}/en/history/1/restore",
                           data={"csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert restored.status_code == 303
    session.expire_all()
    translation = queries.get_translation(session, article_id, "en")
    assert translation is not None
    assert (translation.version, translation.title, translation.status) == (
        4, "Anti-phishing code", "published")  # fmt: skip
    actions_done = [entry.action for entry in list_entries(session, "help_article", article_id)]
    assert "helpcenter.version_restored" in actions_done
    assert client.post(f"/console/help/articles/{article_id}/en/history/99/restore",
                       data={"csrf_token": token}).status_code == 404  # fmt: skip


def test_images_are_sniffed_stored_and_served_with_caching(
    client: TestClient, session: Session
) -> None:
    token = editor_client(client, session)
    png = tiny_png()
    sent = client.post("/console/help/images", data={"csrf_token": token},
                       files={"files": ("Step 1: scan.png", png, "image/png")},
                       follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["location"]).text
    image = queries.list_images(session)[0]
    assert image.filename == "Step-1-scan.png" and image.content_type == "image/png"
    snippet = f"![Step 1 scan](/hc/images/{image.id}/Step-1-scan.png)"
    assert snippet in page
    served = TestClient(client.app).get(f"/hc/images/{image.id}/Step-1-scan.png")
    assert served.status_code == 200 and served.content == png
    assert served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    again = client.get(f"/hc/images/{image.id}/Step-1-scan.png",
                       headers={"If-None-Match": served.headers["etag"]})  # fmt: skip
    assert again.status_code == 304
    assert client.get(f"/hc/images/{image.id}/other.png").status_code == 404
    assert f'<img src="/hc/images/{image.id}/Step-1-scan.png"' in str(render_markdown(snippet))
    # The same bytes again are the same image; a script named .png is refused by its content.
    client.post("/console/help/images", data={"csrf_token": token},
                files={"files": ("copy.png", png, "image/png")})  # fmt: skip
    assert len(queries.list_images(session)) == 1
    fake = client.post("/console/help/images", data={"csrf_token": token},
                       files={"files": ("x.png", b"<svg onload=alert(1)>", "image/png")})  # fmt: skip
    assert fake.status_code == 415 and 'data-testid="error-image"' in fake.text
    audit = list_entries(session, "help_image", image.id)
    assert [entry.action for entry in audit] == ["helpcenter.image_uploaded"]


def test_oversized_images_are_refused(client: TestClient, session: Session) -> None:
    token = editor_client(client, session)
    big = tiny_png() + b"\x00" * (actions.MAX_IMAGE_BYTES + 1)
    refused = client.post("/console/help/images", data={"csrf_token": token},
                          files={"files": ("big.png", big, "image/png")})  # fmt: skip
    assert refused.status_code == 413
    assert queries.list_images(session) == []


@pytest.mark.parametrize("source", ["mailto:a@b.c", "data:image/png;base64,AAAA", "ftp://x/y.png"])
def test_the_sanitiser_keeps_only_web_image_sources(source: str) -> None:
    html = str(render_markdown(f"![x]({source}) ![y](https://cdn.example.com/y.png) ![z](z.png)"))
    assert source not in html
    assert 'src="https://cdn.example.com/y.png"' in html and 'src="z.png"' in html


def test_related_articles_follow_the_readers_language_and_rights(
    client: TestClient, another_client: TestClient, session: Session, runtime: Runtime
) -> None:
    main = make_article(session, "Deposit not arrived")
    internal = make_article(session, "Manual credit procedure", internal=True)
    draft = make_article(session, "Upcoming networks", status=ArticleStatus.DRAFT)
    memo = make_article(session, "Deposits that need a memo")
    translate(session, memo, "de", "Einzahlungen mit Memo")
    other_section = make_article(session, "Futures funding", section="futures/funding")
    actions.check_set_related(session, SYSTEM, main, RelatedSet(
        related_ids=[other_section, internal, draft, memo]))  # fmt: skip
    session.commit()
    login_trader(client, runtime.settings, make_trader(session))
    page = client.get(f"/hc/de/articles/{main}-deposit-not-arrived").text
    block = page.split('data-testid="related-articles"')[1].split("</nav>")[0]
    assert "Futures funding" in block and "Einzahlungen mit Memo" in block
    assert block.index("Futures funding") < block.index("Einzahlungen mit Memo")
    assert "Manual credit" not in block and "Upcoming networks" not in block
    login_agent(another_client, make_agent(session))
    agent_page = another_client.get(f"/hc/en/articles/{main}-deposit-not-arrived").text
    assert "Manual credit procedure" in agent_page.split('data-testid="related-articles"')[1]
    # None chosen: up to three from the same section, never drafts.
    unrelated = client.get(f"/hc/en/articles/{memo}-deposits-that-need-a-memo").text
    block = unrelated.split('data-testid="related-articles"')[1].split("</nav>")[0]
    assert "Deposit not arrived" in block and "Upcoming networks" not in block
    assert "Futures funding" not in block


def test_related_articles_are_checked_and_audited(client: TestClient, session: Session) -> None:
    token = editor_client(client, session)
    first, second = make_article(session, "First"), make_article(session, "Second")
    refused = client.post(f"/console/help/articles/{first}/related",
                          data={"csrf_token": token, "related": f"{second}, 999"})  # fmt: skip
    assert refused.status_code == 422 and 'data-testid="error-related"' in refused.text
    assert client.post(f"/console/help/articles/{first}/related",
                       data={"csrf_token": token, "related": str(first)}).status_code == 422  # fmt: skip
    saved = client.post(f"/console/help/articles/{first}/related",
                        data={"csrf_token": token, "related": str(second), "locale": "en"},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    assert queries.list_related_ids(session, first) == [second]
    audit = [e for e in list_entries(session, "help_article", first)
             if e.action == "helpcenter.related_set"]  # fmt: skip
    assert len(audit) == 1 and audit[0].after == {"related": [second]}


@contextmanager
def count_queries(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(runtime.database.engine, "before_cursor_execute", record)


def queries_for(client: TestClient, runtime: Runtime, url: str) -> int:
    client.get(url)  # warm up: connections and caches
    with count_queries(runtime) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_the_list_and_related_articles_cost_the_same_queries_however_many_articles(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    editor_client(client, session)
    first = [make_article(session, f"Topic {n}") for n in range(3)]
    actions.check_set_related(session, SYSTEM, first[0], RelatedSet(related_ids=first[1:]))
    session.commit()
    article_url = f"/hc/en/articles/{first[0]}-topic-0"
    few = (queries_for(client, runtime, "/console/help"), queries_for(client, runtime, article_url))
    more = [make_article(session, f"More {n}") for n in range(25)]
    for article_id in more[:5]:
        translate(session, article_id, "de", f"Mehr {article_id}")
    actions.check_set_related(session, SYSTEM, first[0],
                              RelatedSet(related_ids=first[1:] + more[:8]))  # fmt: skip
    session.commit()
    many = (
        queries_for(client, runtime, "/console/help"),
        queries_for(client, runtime, article_url),
    )
    assert few == many


def test_numbers_too_large_for_an_id_are_refused_not_a_server_error(
    client: TestClient, session: Session
) -> None:
    editor_client(client, session)
    huge = 2**63
    for url in (f"/console/help/articles/{huge}/en", f"/hc/images/{huge}/x.png",
                f"/console/help/articles/1/en/history/{huge}"):  # fmt: skip
        assert client.get(url).status_code == 422, url
