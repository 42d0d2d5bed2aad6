"""The console's lookup in a real browser (Chromium via Playwright, a real node): results
follow the typing, with no form submitted."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from hashdesk.assets.demo import real_document
from hashdesk.assets.transfer import import_document
from hashdesk.core.auth import SYSTEM, Role
from hashdesk.core.db import Database
from tests.conftest import make_agent
from tests.e2e.conftest import Node, sqlite_node
from tests.e2e.test_browser import ACTION_MS, PAYLOAD, chromium, sign_in_agent

pytestmark = pytest.mark.browser
__all__ = ["chromium"]  # the browser fixture, shared with the e2e module


@dataclass(frozen=True)
class Desk:
    node: Node
    agent_email: str


def _prepare(database_url: str) -> str:
    database = Database(database_url)
    try:
        with database.transaction() as session:
            import_document(session, SYSTEM, real_document())
        with database.session() as session:
            return make_agent(session, Role.FRONTLINE, email="frontline@desk.example.com").email
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with sqlite_node(tmp_path_factory, "registry-desk", _prepare) as (node, email):
        yield Desk(node, email)


@pytest.fixture
def agent_page(chromium: Browser, desk: Desk, tmp_path: Path) -> Iterator[Page]:
    context = chromium.new_context(base_url=desk.node.url, locale="en-US")
    context.set_default_timeout(ACTION_MS)
    try:
        yield sign_in_agent(context, desk.agent_email)
    finally:
        context.close()


def test_results_follow_the_typing(agent_page: Page) -> None:
    page = agent_page
    page.get_by_test_id("nav-assets").click()
    box = page.get_by_test_id("asset-search")
    box.press_sequentially("usdt trc20", delay=20)
    rows = page.get_by_test_id("asset-results").get_by_test_id("deployment")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
    box.fill("rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh")
    box.dispatch_event("input")
    expect(page.get_by_test_id("hit-network")).to_have_text("XRP Ledger")
    box.fill(PAYLOAD)
    box.dispatch_event("input")
    expect(page.get_by_test_id("no-asset-hits")).to_be_visible()
    assert page.evaluate("window.__pwned") is None
