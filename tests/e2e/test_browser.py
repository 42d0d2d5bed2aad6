"""The pages in a real browser: Debian's Chromium, driven by Playwright, against a real
``hashdesk serve`` process on a fresh SQLite file (so these run in both CI passes).

A trader and an agent are two browser contexts (two people, two cookie jars). The node is
shared by the module's tests; every test pushes its own trader through the signed connector
API. When a test fails, every page it opened is saved as a screenshot in its tmp folder.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from hashdesk.core.auth import Role
from hashdesk.core.db import Database
from tests.conftest import (
    AGENT_PASSWORD,
    connector_headers,
    exchange_token,
    make_agent,
    need_service,
)
from tests.e2e.conftest import Node, failed, sqlite_node

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that would reach the internet or wait for a GPU on a CI machine.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ACTION_MS = 15_000  # a click or a page load; generous for a busy 2-core machine
LIVE_MS = 15_000  # an event's way: commit, bus, stream, debounce, fragment fetch
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
TRON_TX_HASH = "7c2d1a4b9e8f3a6d5c0b1e2f4a7d9c8b3e6f1a0d2c5b8e7f9a4d6c3b1e0f2a5d"
ARABIC = re.compile("[\u0600-\u06ff]")


# --- the node and its people -----------------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    node: Node
    agent_email: str


def create_frontline_agent(database_url: str) -> str:
    database = Database(database_url)
    try:
        with database.session() as session:
            return make_agent(session, Role.FRONTLINE, email="frontline@desk.example.com").email
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One node for the module: starting one per test would cost more than the tests."""
    with sqlite_node(tmp_path_factory, "browser-desk", create_frontline_agent) as (node, email):
        yield Desk(node, email)


def push_trader(node: Node) -> str:
    """The exchange's connector pushes a new trader; their external id."""
    external_id = f"u-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"email": f"{external_id}@example.com", "name": "Satoshi Trader",
                       "region": "EU", "language": "en", "vip_level": 1}).encode()  # fmt: skip
    headers = connector_headers(node.settings.connector_secret, external_id, body)
    response = httpx.put(f"{node.url}/api/v1/connector/traders/{external_id}", content=body,
                         headers=headers, timeout=10)  # fmt: skip
    assert response.status_code == 200, response.text
    return external_id


# --- browsers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        need_service(
            "Chromium", f"{CHROMIUM} is missing (Debian packages chromium, fonts-noto-cjk)"
        )
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except PlaywrightError as error:
            need_service("Chromium", str(error).splitlines()[0])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class People:
    """Opens one browser context per person; screenshots of every page on failure."""

    chromium: Browser
    base_url: str
    contexts: list[BrowserContext] = field(default_factory=list)

    def person(self, *, bypass_csp: bool = False) -> BrowserContext:
        context = self.chromium.new_context(base_url=self.base_url, locale="en-US",
                                            bypass_csp=bypass_csp)  # fmt: skip
        context.set_default_timeout(ACTION_MS)
        self.contexts.append(context)
        return context

    def screenshots(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        for number, context in enumerate(self.contexts):
            for tab, page in enumerate(context.pages):
                path = folder / f"person{number}-page{tab}.png"
                try:
                    page.screenshot(path=str(path), full_page=True, timeout=5_000)
                except PlaywrightError:
                    continue  # a closed or hung page: the others still help
                saved.append(path)
        return saved

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(chromium: Browser, desk: Desk, request: pytest.FixtureRequest,
           tmp_path: Path) -> Iterator[People]:  # fmt: skip
    opened = People(chromium, desk.node.url)
    try:
        yield opened
        if failed(request.node):
            for path in opened.screenshots(tmp_path / "screenshots"):
                print(f"screenshot: {path}")  # shown with the failure's captured output
    finally:
        opened.close()


# --- what people do on the pages ------------------------------------------------------------


def sign_in_trader(context: BrowserContext, node: Node, external_id: str) -> Page:
    """The exchange sends the trader to HashDesk with a token it signed."""
    page = context.new_page()
    page.goto(f"/auth/exchange?token={exchange_token(node.settings, external_id)}")
    expect(page).to_have_url(re.compile(r"/portal$"))
    return page


def sign_in_agent(context: BrowserContext, email: str) -> Page:
    page = context.new_page()
    page.goto("/console/login")
    page.fill("#login-email", email)
    page.fill("#login-password", AGENT_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    return page


def fill_ticket_form(page: Page, category: str, subject: str, description: str,
                     fields: dict[str, str]) -> None:  # fmt: skip
    page.goto("/portal/new")
    page.select_option("#category", category)  # shows the category's fields
    page.get_by_test_id("subject").fill(subject)
    page.get_by_test_id("description").fill(description)
    for name, value in fields.items():
        if name == "network":
            page.select_option("#field-network", value)
        else:
            page.fill(f"#field-{name}", value)


def submit_ticket(page: Page) -> str:
    """Send the form; the tracking ID the trader is shown."""
    page.get_by_test_id("submit-ticket").click()
    expect(page.get_by_test_id("created-notice")).to_be_visible()
    tracking_id = page.get_by_test_id("tracking-id").inner_text().strip()
    assert re.fullmatch(r"HD-[0-9A-Z]{4}-[0-9A-Z]{4}", tracking_id), tracking_id
    expect(page.get_by_test_id("created-notice")).to_contain_text(tracking_id)
    return tracking_id


def keep_open(page: Page, region: str) -> None:
    """Wait until the page's live region listens, then mark the window: a reload or a
    navigation would lose the mark."""
    expect(page.get_by_test_id(region)).to_have_attribute("data-live-connected", "true",
                                                          timeout=LIVE_MS)  # fmt: skip
    page.evaluate("window.__stillTheSamePage = true")


def assert_not_reloaded(page: Page, region: str) -> None:
    assert page.evaluate("window.__stillTheSamePage === true"), f"{page.url} was reloaded"
    expect(page.get_by_test_id(region)).to_have_attribute("data-live-updated", re.compile(r"\d+"))


def ticket_row(page: Page, tracking_id: str) -> Locator:
    """The ticket's row in the portal's list or the console's table."""
    return page.locator(f"[data-testid=ticket-row][data-tracking-id='{tracking_id}']")


def assert_nothing_injected(page: Page) -> None:
    """Neither the script nor the image's handler ran, and the page holds no element built
    from the text: the only script is HashDesk's own file."""
    assert page.evaluate("typeof window.__pwned") == "undefined"
    sources = page.evaluate("Array.from(document.scripts, (script) => script.src)")
    assert [re.sub(r"^https?://[^/]+", "", source) for source in sources] == ["/static/hashdesk.js"]
    assert page.locator("main img").count() == 0


# --- the tests ---------------------------------------------------------------------------------


def test_trader_sees_the_reply_and_the_handoff_on_open_pages_without_reload(
    people: People, desk: Desk
) -> None:
    external_id = push_trader(desk.node)
    trader = people.person()
    ticket_page = sign_in_trader(trader, desk.node, external_id)
    # "Other" is routed to frontline, so the hand-off to the technicians is a real move.
    fill_ticket_form(ticket_page, "other", "My USDT from another exchange has not arrived",
                     "I sent 250 USDT to my deposit address two hours ago.",
                     {"asset": "USDT", "order_id": "W-20240518-0042"})  # fmt: skip
    tracking_id = submit_ticket(ticket_page)
    dashboard = trader.new_page()
    dashboard.goto("/portal")
    status = ticket_row(dashboard, tracking_id).get_by_test_id("status")
    expect(status).to_have_class(re.compile(r"\bstatus-new\b"))
    keep_open(dashboard, "live-ticket-list")
    keep_open(ticket_page, "live-timeline")
    expect(ticket_page.get_by_test_id("ticket-state")).to_contain_text("Frontline support")

    agent = people.person()
    console = sign_in_agent(agent, desk.agent_email)
    console.get_by_test_id("search").fill(tracking_id)
    console.get_by_test_id("search").press("Enter")  # one match: straight to the ticket
    expect(console).to_have_url(re.compile(rf"/console/tickets/{tracking_id}$"))
    reply = "We found your deposit; it is waiting for more confirmations."
    console.get_by_test_id("reply-body").fill(reply)
    console.get_by_test_id("send-reply").click()
    expect(console.get_by_test_id("entry-message")).to_contain_text(reply)

    expect(ticket_page.get_by_test_id("entry-message")).to_contain_text(reply, timeout=LIVE_MS)
    expect(status).to_have_class(re.compile(r"\bstatus-open\b"), timeout=LIVE_MS)

    note = "Internal: TRON node lags behind, check block 61234567."
    console.select_option("[data-testid=handoff-department]", "blockchain")
    console.get_by_test_id("handoff-note").fill(note)
    console.get_by_test_id("handoff").click()
    expect(console.get_by_test_id("department")).to_have_text("Blockchain technicians")
    expect(console.get_by_test_id("entry-note")).to_contain_text(note)
    expect(console.get_by_test_id("internal-badge")).to_be_visible()

    expect(status).to_have_class(re.compile(r"\bstatus-escalated\b"), timeout=LIVE_MS)
    expect(status).to_have_text("Escalated")
    handoff = ticket_page.get_by_test_id("entry-handoff")
    expect(handoff).to_contain_text("Blockchain technicians", timeout=LIVE_MS)
    expect(ticket_page.get_by_test_id("ticket-state")).to_contain_text("Blockchain technicians")
    expect(ticket_page.get_by_test_id("entry-message")).to_have_count(1)  # the reply, once
    for page, region in ((dashboard, "live-ticket-list"), (ticket_page, "live-timeline")):
        assert_not_reloaded(page, region)
        expect(page.locator("body")).not_to_contain_text("TRON node lags")
    assert ticket_page.get_by_test_id("entry-note").count() == 0
    assert ticket_page.get_by_test_id("internal-badge").count() == 0


def test_script_tags_in_user_text_are_shown_as_text(people: People, desk: Desk) -> None:
    # The Content-Security-Policy would stop inline scripts anyway: bypass it, so that only
    # the escaping stands between the text and the page.
    external_id = push_trader(desk.node)
    trader = people.person(bypass_csp=True)
    page = sign_in_trader(trader, desk.node, external_id)
    fill_ticket_form(page, "login_2fa", PAYLOAD, f"Before {PAYLOAD} after", {})
    tracking_id = submit_ticket(page)

    expect(page.get_by_test_id("ticket-subject")).to_have_text(PAYLOAD)
    expect(page.get_by_test_id("entry-created").get_by_test_id("entry-body")).to_have_text(
        f"Before {PAYLOAD} after"
    )
    assert page.title().startswith(f"{tracking_id} · {PAYLOAD}")
    assert_nothing_injected(page)
    keep_open(page, "live-timeline")

    agent = people.person(bypass_csp=True)
    console = sign_in_agent(agent, desk.agent_email)
    expect(ticket_row(console, tracking_id).locator(".subject-cell")).to_have_text(PAYLOAD)
    assert_nothing_injected(console)
    console.goto(f"/console/tickets/{tracking_id}")
    expect(console.get_by_test_id("ticket-subject")).to_have_text(PAYLOAD)
    expect(console.get_by_test_id("entry-created").get_by_test_id("entry-body")).to_have_text(
        f"Before {PAYLOAD} after"
    )
    assert_nothing_injected(console)

    # The agent quotes it back: the trader's open page inserts the new fragment with
    # innerHTML, where an unescaped <img onerror> would run.
    console.get_by_test_id("reply-body").fill(PAYLOAD)
    console.get_by_test_id("send-reply").click()
    expect(console.get_by_test_id("entry-message").get_by_test_id("entry-body")).to_have_text(
        PAYLOAD
    )
    assert_nothing_injected(console)
    message = page.get_by_test_id("entry-message").get_by_test_id("entry-body")
    expect(message).to_have_text(PAYLOAD, timeout=LIVE_MS)
    assert_not_reloaded(page, "live-timeline")
    assert_nothing_injected(page)

    page.goto("/portal")
    expect(ticket_row(page, tracking_id).locator(".ticket-subject")).to_have_text(PAYLOAD)
    assert_nothing_injected(page)


def test_a_malformed_transaction_hash_is_refused_next_to_the_field(
    people: People, desk: Desk
) -> None:
    external_id = push_trader(desk.node)
    page = sign_in_trader(people.person(), desk.node, external_id)
    typed = {"network": "tron", "asset": "USDT", "tx_hash": f"0x{TRON_TX_HASH}", "memo": "7781"}
    fill_ticket_form(page, "deposit", "USDT deposit on TRON not credited",
                     "The transfer shows as confirmed on Tronscan.", typed)  # fmt: skip
    page.get_by_test_id("submit-ticket").click()

    tx_hash = page.locator("#field-tx_hash")
    error = page.locator("[data-ticket-field=tx_hash]").get_by_test_id("error-fields.tx_hash")
    expect(error).to_have_text("This network's transaction hashes have no 0x prefix.")
    expect(tx_hash).to_have_attribute("aria-invalid", "true")
    expect(tx_hash).to_have_attribute("aria-describedby", "fields-tx_hash-error")
    expect(page.get_by_test_id("form-errors")).to_be_focused()
    expect(page.locator("#category")).to_have_value("deposit")
    expect(page.get_by_test_id("subject")).to_have_value("USDT deposit on TRON not credited")
    expect(page.get_by_test_id("description")).to_have_value(
        "The transfer shows as confirmed on Tronscan."
    )
    for name, value in typed.items():
        expect(page.locator(f"#field-{name}")).to_have_value(value)
    assert page.get_by_test_id("created-notice").count() == 0

    tx_hash.fill(TRON_TX_HASH)
    submit_ticket(page)
    fields = page.get_by_test_id("ticket-fields")
    expect(fields).to_contain_text(TRON_TX_HASH)
    expect(fields).to_contain_text("USDT")
    expect(page.get_by_test_id("ticket-state")).to_contain_text("Blockchain technicians")


def test_arabic_pages_are_right_to_left(people: People, desk: Desk) -> None:
    external_id = push_trader(desk.node)
    page = sign_in_trader(people.person(), desk.node, external_id)
    page.goto("/portal/new?lang=ar")

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    heading = page.locator("h1")
    expect(heading).to_have_text(ARABIC)
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    # Mirrored: the brand, first in the header, sits at the right edge.
    brand, nav = page.locator(".brand").bounding_box(), page.locator(".site-nav").bounding_box()
    assert brand is not None and nav is not None
    assert brand["x"] > nav["x"], (brand, nav)
    assert heading.bounding_box() is not None
    # Hashes and addresses stay left-to-right inside the right-to-left page.
    page.select_option("#category", "deposit")
    direction = page.locator("#field-tx_hash").evaluate(
        "(node) => getComputedStyle(node).direction"
    )
    assert direction == "ltr"
