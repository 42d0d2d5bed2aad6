"""In real Chromium pages: an admin sets an agent's routing and builds a queue schedule in the
console (mistakes shown next to the form); a guest proves their email address with the code
the desk mailed, then gets the transcript; and the widget works embedded in another site
that HASHDESK_CHAT_ALLOWED_ORIGINS lists."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hashdesk.chat.models import AgentSkills, ChatQueueSchedule
from hashdesk.chat.records import ChatHandoff
from hashdesk.core.auth import Role
from hashdesk.core.db import Database
from hashdesk.notify.models import OutboxMessage
from tests.chat.test_browser import open_widget, open_workspace
from tests.conftest import free_port, make_agent
from tests.e2e import test_browser as browser
from tests.e2e.conftest import Node, NodeLauncher, node_values, run_hashdesk
from tests.e2e.test_browser import Desk, People, sign_in_agent

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
chromium = browser.chromium
people = browser.people
desk = browser.desk
ADMIN = "admin@desk.example.com"


def add_admin(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.session() as session:
            if session.scalar(select(AgentSkills).limit(0)) is None:  # the schema is there
                make_agent(session, Role.ADMIN, email=ADMIN)
    finally:
        database.dispose()


def test_an_admin_sets_up_routing_in_the_console(people: People, desk: Desk) -> None:
    database_url = desk.node.values["database_url"]
    add_admin(database_url)
    page = sign_in_agent(people.person(), ADMIN)
    page.goto("/console/chats/agents")
    card = page.locator("section.card", has_text=desk.agent_email)
    card.get_by_label("Deutsch").check()
    card.locator("input[name=regions]").fill("Germany")
    card.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("agent-error")).to_contain_text("Region Germany is not a two-letter")
    card = page.locator("section.card", has_text=desk.agent_email)
    card.get_by_label("Deutsch").check()
    card.locator("input[name=regions]").fill("DE AT")
    card.locator("input[name=capacity]").fill("2")
    card.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("agent-saved")).to_be_visible()

    page.goto("/console/chats/schedules")
    new = page.get_by_test_id("queue-form-new")
    new.locator("input[name=name]").fill("emea")
    new.locator("input[name=language]").fill("en")
    new.locator("input[name=regions]").fill("GB DE")
    new.locator("input[name=time_zone]").fill("Europe/London")
    new.locator("input[name=hours-mon]").fill("9-17")
    new.get_by_role("button", name="Add queue").click()
    expect(page.get_by_test_id("queue-error")).to_contain_text("must be like")
    new = page.get_by_test_id("queue-form-new")
    expect(new.locator("input[name=time_zone]")).to_have_value("Europe/London")  # kept
    new.locator("input[name=hours-mon]").fill("08:00-12:00, 13:00-18:00")
    new.get_by_role("button", name="Add queue").click()
    expect(page.get_by_test_id("queue-emea")).to_be_visible()
    expect(page.get_by_test_id("queue-state-emea")).to_have_text(re.compile("open now|closed now"))

    database = Database(database_url)
    try:
        with database.session() as session:
            queue = session.scalars(select(ChatQueueSchedule)).one()
            assert queue.hours == {"mon": ["08:00-12:00", "13:00-18:00"]}
            skills = session.scalars(select(AgentSkills)).one()
            assert (skills.regions, skills.capacity) == (["AT", "DE"], 2)
    finally:
        database.dispose()


def mailed_code(database_url: str, address: str) -> str:
    database = Database(database_url)
    try:
        with database.session() as session:
            mails = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
            mail = next(m for m in mails if m.payload["to"] == address)
            found = re.search(r"\b(\d{6})\b", mail.payload["body"])
            assert found is not None
            return found.group(1)
    finally:
        database.dispose()


def test_a_guest_proves_their_email_before_the_transcript_goes_there(
    people: People, desk: Desk
) -> None:
    agent = open_workspace(people.person(), desk.agent_email)
    guest = open_widget(people.person())
    guest.once("dialog", lambda dialog: dialog.accept("proven@example.com"))
    guest.locator("#hd-human").click()
    agent.get_by_test_id("chat-accept").click()
    expect(guest.locator("#hd-transcript")).to_be_visible()
    guest.locator("#hd-transcript").click()
    form = guest.locator("#hd-code")
    expect(form).to_contain_text("We sent a code to proven@example.com")
    form.locator("input").fill(mailed_code(desk.node.values["database_url"], "proven@example.com"))
    form.locator("button").click()
    expect(guest.locator("#hd-status")).to_have_text("The transcript is on its way to your email.")
    expect(form).to_have_count(0)
    pane = agent.get_by_test_id("chat-pane")
    expect(pane).to_contain_text("Email address confirmed.")


def handoff_count(database_url: str) -> int:
    database = Database(database_url)
    try:
        with database.session() as session:
            return len(session.scalars(select(ChatHandoff)).all())
    finally:
        database.dispose()


# --- embedded in another site ------------------------------------------------------------------


class _ExchangePage(BaseHTTPRequestHandler):
    script_url = ""

    def do_GET(self) -> None:  # the standard library names it so
        body = (f'<!doctype html><html lang="en"><title>Exchange</title><body><h1>Exchange</h1>'
                f'<script src="{self.script_url}"></script></body></html>').encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def exchange_site(tmp_path: Path) -> Iterator[tuple[str, Node]]:
    """An exchange's page on http://localhost:<port> (another origin, another site than the
    desk's http://127.0.0.1:<port>) embedding the widget; the desk lists that origin."""
    port = free_port()
    origin = f"http://localhost:{port}"
    values = node_values(f"sqlite:///{tmp_path / 'hashdesk.sqlite3'}", None,
                         chat_allowed_origins=origin)  # fmt: skip
    run_hashdesk(values, "migrate", cwd=tmp_path)
    launcher = NodeLauncher(tmp_path / "nodes")
    node = launcher.start(values)
    handler = type("Page", (_ExchangePage,), {"script_url": f"{node.url}/api/v1/chat/widget.js"})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin, node
    finally:
        server.shutdown()
        server.server_close()
        launcher.stop_all()


def test_the_widget_embedded_in_a_listed_site_reaches_the_desk(
    people: People, exchange_site: tuple[str, Node]
) -> None:
    origin, node = exchange_site
    guest = people.person().new_page()
    refused: list[str] = []
    guest.on("console", lambda message: refused.append(message.text))
    guest.goto(f"{origin}/")
    guest.locator("#hd-chat-button").click()
    # The assistant answers across sites too (its guest key rides in a header, not a cookie).
    guest.locator("#hd-form input").fill("My deposit has not arrived")
    guest.locator("#hd-form button").click()
    expect(guest.locator("#hd-log .hd-them")).to_have_count(1)
    expect(guest.locator("#hd-status")).to_have_text("")
    guest.once("dialog", lambda dialog: dialog.accept("embedded@example.com"))
    guest.locator("#hd-human").click()
    # Nobody is online at this desk: the chat the socket opened becomes a ticket at once.
    expect(guest.locator("#hd-status")).to_have_text("This chat has ended.")
    expect(guest.locator("#hd-log")).to_contain_text("ticket")
    # The widget's HTTP side, across sites: preflights, credentials, no CSRF cookie there.
    guest.locator("#hd-transcript").click()
    form = guest.locator("#hd-code")
    expect(form).to_contain_text("We sent a code to embedded@example.com")
    form.locator("input").fill(mailed_code(node.values["database_url"], "embedded@example.com"))
    form.locator("button").click()
    expect(guest.locator("#hd-status")).to_have_text("The transcript is on its way to your email.")
    assert not [text for text in refused if "CORS" in text or "origin" in text.lower()]
    assert handoff_count(node.values["database_url"]) == 1  # the start frame named it
