"""Search as you type in a real browser (Chromium via Playwright, a real node): typing in the
portal's search box lists matching titles, the arrow keys move through them, Enter opens the
chosen article."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from hashdesk.core.auth import SYSTEM
from hashdesk.core.db import Database
from hashdesk.helpcenter import actions
from hashdesk.helpcenter.models import ArticleStatus
from hashdesk.helpcenter.schemas import ArticleCreate
from tests.e2e.conftest import Node, sqlite_node
from tests.e2e.test_browser import ACTION_MS, chromium

pytestmark = pytest.mark.browser
__all__ = ["chromium"]  # the browser fixture, shared with the e2e module

ARTICLES = [
    ("Withdraw crypto to an external wallet", "Open **Assets**, choose the coin, then Withdraw."),
    ("Withdrawal fees and limits", "Each network charges its own fee; limits depend on KYC."),
    ("Why is my withdrawal pending?", "Withdrawals wait for a security review or the network."),
    ("Set up two-factor authentication (2FA)", "Install an authenticator app and scan the code."),
]


def _prepare(database_url: str) -> dict[str, int]:
    database = Database(database_url)
    try:
        with database.session() as session:
            ids = {}
            for title, body in ARTICLES:
                data = ArticleCreate(title=title, body=body, section="wallet/withdrawals",
                                     status=ArticleStatus.PUBLISHED)  # fmt: skip
                ids[title] = actions.check_create_article(session, SYSTEM, data).id
            session.commit()
            return ids
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, dict[str, int]]]:
    with sqlite_node(tmp_path_factory, "search-desk", _prepare) as (node, ids):
        yield node, ids


@pytest.fixture
def page(chromium: Browser, portal: tuple[Node, dict[str, int]]) -> Iterator[Page]:
    context = chromium.new_context(base_url=portal[0].url, locale="en-US")
    context.set_default_timeout(ACTION_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_typing_suggests_titles_and_the_keyboard_opens_one(
    page: Page, portal: tuple[Node, dict[str, int]]
) -> None:
    ids = portal[1]
    page.goto("/hc/en")
    box = page.get_by_test_id("hc-search-input")
    box.press_sequentially("withdr", delay=40)

    options = page.get_by_test_id("hc-search-option")
    expect(page.get_by_test_id("hc-search-listbox")).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(options).to_have_count(3)  # the three withdrawal titles, not the 2FA one
    titles = options.all_text_contents()
    assert "Set up two-factor authentication (2FA)" not in titles

    box.press("ArrowDown")
    box.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "hc-search-option-1")
    box.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")
    chosen = titles[1]
    box.press("Enter")

    expect(page).to_have_url(re.compile(rf"/hc/en/articles/{ids[chosen]}-"))
    expect(page.get_by_role("heading", level=1)).to_have_text(chosen)


def test_escape_closes_the_list_and_enter_then_searches(page: Page) -> None:
    page.goto("/hc/en")
    box = page.get_by_test_id("hc-search-input")
    box.press_sequentially("2fa", delay=40)
    expect(page.get_by_test_id("hc-search-option")).to_have_count(1)

    box.press("Escape")
    expect(page.get_by_test_id("hc-search-listbox")).to_be_hidden()
    box.press("Enter")  # nothing chosen: the form goes to the results page

    expect(page).to_have_url(re.compile(r"/hc/en/search\?q=2fa"))


def test_the_request_form_offers_articles_that_may_answer_it(
    page: Page, portal: tuple[Node, dict[str, int]]
) -> None:
    page.goto("/portal/guest/new")
    suggested = page.get_by_test_id("suggested-articles")
    expect(suggested).to_be_hidden()
    page.get_by_test_id("subject").press_sequentially("withdraw", delay=20)
    expect(suggested).to_be_hidden()  # too little to go by yet

    page.get_by_test_id("subject").press_sequentially(" still pending since yesterday", delay=20)
    links = page.get_by_test_id("suggested-article")
    expect(suggested).to_be_visible()
    expect(links.first).to_have_text("Why is my withdrawal pending?")
    titles = links.all_text_contents()
    assert len(titles) <= 3 and "Set up two-factor authentication (2FA)" not in titles
    article_id = portal[1]["Why is my withdrawal pending?"]
    expect(links.first).to_have_attribute("href", re.compile(rf"/hc/en/articles/{article_id}-"))
    expect(links.first).to_have_attribute("target", "_blank")  # the form keeps what was written

    page.get_by_test_id("subject").fill("")
    page.get_by_test_id("subject").press_sequentially("x", delay=20)
    expect(suggested).to_be_hidden()
