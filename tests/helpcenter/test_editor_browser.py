"""The editor's live preview in a real browser (Chromium via Playwright, a real node): typing
updates the preview without a click, through the public page's sanitiser."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hashdesk.core.auth import SYSTEM, Role
from hashdesk.core.db import Database
from hashdesk.helpcenter import actions
from hashdesk.helpcenter.schemas import ArticleCreate
from tests.conftest import make_agent
from tests.e2e.conftest import Node, sqlite_node
from tests.e2e.test_browser import ACTION_MS, PAYLOAD, chromium, sign_in_agent

pytestmark = pytest.mark.browser
__all__ = ["chromium"]  # the browser fixture, shared with the e2e module


@dataclass(frozen=True)
class EditorDesk:
    node: Node
    lead_email: str
    article_id: int


def _prepare(database_url: str) -> tuple[str, int]:
    database = Database(database_url)
    try:
        with database.session() as session:
            lead = make_agent(session, Role.LEAD, email="lead@desk.example.com")
            data = ArticleCreate(title="Anti-phishing code", body="Set it under **Security**.",
                                 section="security/phishing")  # fmt: skip
            article = actions.check_create_article(session, SYSTEM, data)
            session.commit()
            return lead.email, article.id
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EditorDesk]:
    with sqlite_node(tmp_path_factory, "editor-desk", _prepare) as (node, (email, article_id)):
        yield EditorDesk(node, email, article_id)


@pytest.fixture
def editor_page(chromium: Browser, desk: EditorDesk, tmp_path: Path) -> Iterator[Page]:
    context = chromium.new_context(base_url=desk.node.url, locale="en-US")
    context.set_default_timeout(ACTION_MS)
    try:
        page = sign_in_agent(context, desk.lead_email)
        yield page
    finally:
        context.close()


def test_the_preview_follows_the_typing_and_stays_sanitised(
    editor_page: Page, desk: EditorDesk
) -> None:
    page = editor_page
    page.goto(f"/console/help/articles/{desk.article_id}/en")
    preview = page.get_by_test_id("preview")
    expect(preview.locator("strong")).to_have_text("Security")  # rendered on load
    page.get_by_test_id("body").fill(f"## Typed live\n\nStep {PAYLOAD}\n\n- one\n- two")
    expect(preview.locator("h2")).to_have_text("Typed live")
    expect(preview.locator("li")).to_have_count(2)
    assert page.evaluate("window.__pwned") is None
    assert preview.locator("script").count() == 0
    # Nothing was saved by previewing.
    page.reload()
    expect(page.get_by_test_id("body")).to_have_value("Set it under **Security**.")
