"""The desk in two real Chromium pages: a guest talks to the assistant and hands off; the agent
sees that conversation in the context panel, writes an internal note the guest never sees;
the guest sends a file; the agent ends the chat and the guest rates it in the survey."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hashdesk.chat.models import Chat
from hashdesk.chat.records import ChatNote, ChatOutcome
from hashdesk.core.db import Database
from tests.chat.test_browser import open_widget, open_workspace
from tests.e2e import test_browser as browser
from tests.e2e.test_browser import Desk, People

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
chromium = browser.chromium
people = browser.people
desk = browser.desk

QUESTION = "How long does a USDT withdrawal take?"
NOTE = "Checked the hot wallet queue by hand; nothing stuck."


def test_hand_off_context_note_and_survey(people: People, desk: Desk) -> None:
    agent = open_workspace(people.person(), desk.agent_email)
    guest = open_widget(people.person())
    guest.once("dialog", lambda dialog: dialog.accept("rater@example.com"))
    guest.locator("#hd-form input").fill(QUESTION)
    guest.locator("#hd-form button").click()
    expect(guest.locator("#hd-log .hd-them").first).to_be_visible()  # the assistant answered
    guest.locator("#hd-human").click()

    agent.get_by_test_id("chat-accept").click()
    pane = agent.get_by_test_id("chat-pane")
    expect(pane.get_by_test_id("chat-assistant")).to_contain_text(QUESTION)
    expect(pane.get_by_test_id("chat-profile")).to_contain_text("rater@example.com")
    pane.get_by_test_id("chat-note-input").fill(NOTE)
    pane.get_by_test_id("chat-note-add").click()
    expect(pane.get_by_test_id("chat-notes")).to_contain_text(NOTE)
    pane.get_by_test_id("chat-input").fill("About 10 minutes once approved.")
    pane.get_by_test_id("chat-send").click()
    expect(guest.locator("#hd-log")).to_contain_text("About 10 minutes once approved.")
    guest.locator("#hd-tools input[type=file]").set_input_files(
        files=[{"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"tx 0xabc confirmed"}]
    )
    expect(pane.get_by_test_id("chat-file")).to_have_text("📎 receipt.txt")
    expect(guest.locator("#hd-log .hd-file")).to_have_text("📎 receipt.txt")
    pane.get_by_test_id("chat-close").click()

    survey = guest.locator("#hd-survey")
    expect(survey).to_be_visible()
    survey.locator(".hd-star").nth(3).click()
    survey.locator("textarea").fill("Clear answer.")
    survey.locator("button[type=submit]").click()
    expect(survey).to_contain_text("Thank you for your feedback.")
    assert NOTE not in guest.content()

    database = Database(desk.node.values["database_url"])
    try:
        with database.session() as session:
            chat = session.query(Chat).filter(Chat.guest_email == "rater@example.com").one()
            outcome = session.get(ChatOutcome, chat.id)
            assert outcome is not None and (outcome.satisfaction, outcome.comment) == (
                4,
                "Clear answer.",
            )
            assert [n.body for n in session.query(ChatNote).filter_by(chat_id=chat.id)] == [NOTE]
    finally:
        database.dispose()
