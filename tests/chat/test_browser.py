"""The widget and the agent workspace in two real Chromium pages: a guest opens the widget,
asks, hands off to a person; the agent accepts in the workspace; messages go both ways; the
guest's page reloads mid-chat and loses nothing (and shows nothing twice); the agent transfers
the chat to a colleague, who takes it from there."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from hashdesk.core.auth import Role
from hashdesk.core.db import Database
from tests.conftest import make_agent
from tests.e2e import test_browser as browser
from tests.e2e.test_browser import Desk, People, sign_in_agent

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
chromium = browser.chromium
people = browser.people
desk = browser.desk


def open_workspace(context: BrowserContext, email: str) -> Page:
    page = sign_in_agent(context, email)
    page.get_by_test_id("nav-chats").click()
    expect(page.get_by_test_id("chat-connection")).to_have_text("Connected")
    page.get_by_test_id("chat-status").select_option("online")
    return page


def open_widget(context: BrowserContext, page: Page | None = None) -> Page:
    """A page of the site with the widget's one script tag, opened (a new page, or ``page``
    again after a reload)."""
    page = page or context.new_page()
    if page.url == "about:blank":
        page.goto("/portal/track")
    page.add_script_tag(url="/api/v1/chat/widget.js")
    page.locator("#hd-chat-button").click()
    return page


def widget_lines(page: Page) -> list[str]:
    return page.locator("#hd-log .hd-msg").all_inner_texts()


def test_guest_and_agent_chat_through_a_reload_and_a_transfer(people: People, desk: Desk) -> None:
    database = Database(desk.node.values["database_url"])
    try:
        with database.session() as session:
            colleague = make_agent(session, Role.FRONTLINE, email="colleague@desk.example.com")
            colleague_email, colleague_name = colleague.email, colleague.name
    finally:
        database.dispose()
    agent = open_workspace(people.person(), desk.agent_email)

    guest = open_widget(people.person())
    guest.once("dialog", lambda dialog: dialog.accept("guest@example.com"))
    guest.locator("#hd-form input").fill("My deposit has not arrived")
    guest.locator("#hd-form button").click()
    guest.locator("#hd-human").click()

    agent.get_by_test_id("chat-accept").click()
    pane = agent.get_by_test_id("chat-pane")
    expect(pane.get_by_test_id("chat-log")).to_contain_text("My deposit has not arrived")
    pane.get_by_test_id("chat-input").fill("Hello, which network did you use?")
    pane.get_by_test_id("chat-send").click()
    expect(guest.locator("#hd-log")).to_contain_text("Hello, which network did you use?")

    guest.locator("#hd-form input").fill("TRON, <b>TRC-20</b>")
    guest.locator("#hd-form button").click()
    expect(pane.get_by_test_id("chat-log")).to_contain_text("TRON, <b>TRC-20</b>")  # as text

    guest.reload()  # the socket drops; meanwhile the agent writes
    pane.get_by_test_id("chat-input").fill("Found it, crediting now.")
    pane.get_by_test_id("chat-send").click()
    open_widget(guest.context, guest)
    expect(guest.locator("#hd-log")).to_contain_text("Found it, crediting now.")
    lines = widget_lines(guest)
    assert lines.count("Found it, crediting now.") == 1, lines
    assert lines.count("Hello, which network did you use?") == 1, lines

    other = open_workspace(people.person(), colleague_email)
    pane.get_by_test_id("chat-transfer-target").select_option(label=colleague_name)
    pane.get_by_test_id("chat-transfer").click()
    other.get_by_test_id("chat-accept").click()
    other_pane = other.get_by_test_id("chat-pane")
    expect(other_pane.get_by_test_id("chat-log")).to_contain_text("TRON, <b>TRC-20</b>")
    other_pane.get_by_test_id("chat-input").fill("I take over from here.")
    other_pane.get_by_test_id("chat-send").click()
    expect(guest.locator("#hd-log")).to_contain_text("I take over from here.")
    expect(agent.get_by_test_id("chat-input")).to_have_count(0)  # the first agent is out
