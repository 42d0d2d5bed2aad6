"""The assistant in a real browser: a trader asks in Spanish, gets the Spanish article, votes
on it, then talks to a human; the ticket carries the transcript and the predicted category.

The node is a real ``hashdesk serve`` on a fresh SQLite file, with a triage model trained by
``hashdesk triage train`` on a small labelled file, and a help center holding the article in
English and Spanish (created before the node first searches, so its index starts with it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from hashdesk.assistant.models import AssistantConversation
from hashdesk.core.db import Database
from hashdesk.helpcenter.models import ArticleVote
from hashdesk.tickets.models import Ticket
from tests.assistant.assistant_fakes import make_corpus
from tests.e2e import test_browser as browser
from tests.e2e.conftest import NodeLauncher, node_values, run_hashdesk
from tests.e2e.test_browser import Desk, People, push_trader, sign_in_trader

pytestmark = pytest.mark.browser
# The browser and the people who use it, as the pages' browser tests set them up.
chromium = browser.chromium
people = browser.people

QUESTION = "¿Cómo restablezco mi contraseña olvidada?"
SPANISH_TITLE = "Restablecer una contraseña olvidada"
WARM_UP_SECONDS = 120.0  # the node embeds its articles in the background after starting
TRIAGE_EXAMPLES = {
    "login_2fa": ["I forgot my password", "reset my password please", "cannot log in to my account",
                  "olvidé mi contraseña", "no puedo iniciar sesión", "restablecer la contraseña",
                  "my 2FA code does not work", "lost my authenticator app"],
    "deposit": ["my deposit has not arrived", "USDT deposit missing", "where is my deposit",
                "mi depósito no ha llegado", "deposit pending for hours", "sent BTC not credited",
                "deposit to wrong network", "forgot the memo on my deposit"],
    "withdrawal": ["withdrawal is stuck", "my withdrawal is pending", "withdraw not received",
                   "mi retiro está pendiente", "how long does a withdrawal take", "withdrawal fee",
                   "cancel my withdrawal", "withdrawal under review"],
}  # fmt: skip


def _train_triage(workdir: Path, values: dict[str, str]) -> Path:
    data = workdir / "triage.csv"
    rows = ["text,category"] + [f'"{text}",{label}' for label, texts in TRIAGE_EXAMPLES.items()
                                for text in texts]  # fmt: skip
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = workdir / "triage-model"
    run_hashdesk(values, "triage", "train", "--data", str(data), "--model", str(model), cwd=workdir)
    return model


def _wait_until_answered(url: str) -> None:
    deadline = time.monotonic() + WARM_UP_SECONDS
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/api/v1/assistant/answer", params={"q": QUESTION}, timeout=30)
        if answer.status_code == 200 and answer.json()["answered"]:
            return
        time.sleep(1.0)
    pytest.fail(f"the node did not answer {QUESTION!r} within {WARM_UP_SECONDS}s")


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    workdir = tmp_path_factory.mktemp("assistant-desk")
    values = node_values(f"sqlite:///{workdir / 'hashdesk.sqlite3'}", None)
    run_hashdesk(values, "migrate", cwd=workdir)
    values["triage_model_dir"] = str(_train_triage(workdir, values))
    database = Database(values["database_url"])
    try:
        with database.session() as session:
            make_corpus(session)
    finally:
        database.dispose()
    launcher = NodeLauncher(workdir / "nodes")
    try:
        node = launcher.start(values)
        _wait_until_answered(node.url)
        yield Desk(node, "editor@desk.example.com")
    finally:
        launcher.stop_all()


def test_a_trader_asks_in_spanish_votes_and_hands_off(people: People, desk: Desk) -> None:
    external_id = push_trader(desk.node)
    trader = people.person()
    page = sign_in_trader(trader, desk.node, external_id)
    page.goto("/hc/es/assistant")
    expect(page.get_by_test_id("assistant-talk-to-human")).to_be_visible()  # one click away
    page.get_by_test_id("assistant-input").fill(QUESTION)
    page.get_by_test_id("assistant-send").click()

    answer = page.get_by_test_id("assistant-message-assistant").last
    expect(answer.get_by_test_id("assistant-article-link")).to_have_text(SPANISH_TITLE)
    expect(answer.get_by_test_id("assistant-message-body")).to_contain_text("contraseña")
    expect(answer.get_by_test_id("assistant-message-body")).to_have_attribute("lang", "es")

    answer.get_by_test_id("assistant-not-solved").click()
    expect(page.get_by_test_id("assistant-message-assistant").last).to_have_attribute(
        "data-kind", "feedback"
    )
    page.get_by_test_id("assistant-talk-to-human").click()
    tracking = page.get_by_test_id("assistant-tracking-id")
    expect(tracking).to_have_text(re.compile(r"^HD-[0-9A-Z]{4}-[0-9A-Z]{4}$"))
    tracking_id = tracking.inner_text().strip()

    database = Database(desk.node.values["database_url"])
    try:
        with database.session() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.tracking_id == tracking_id)).one()
            vote = session.scalars(select(ArticleVote)).one()
            conversation = session.scalars(
                select(AssistantConversation).where(AssistantConversation.ticket_id == ticket.id)
            ).one()
    finally:
        database.dispose()
    assert ticket.language == "es" and conversation.outcome == "handed_off"
    assert f"Trader: {QUESTION}" in ticket.description
    assert "Assistant: " in ticket.description and SPANISH_TITLE in ticket.description
    assert ticket.predicted_category == "login_2fa"
    assert ticket.predicted_confidence is not None and 0 < ticket.predicted_confidence <= 1
    assert (vote.locale, vote.helpful) == ("es", False)

    page.goto(f"/portal/tickets/{tracking_id}")  # the trader's own request, transcript inside
    expect(page.get_by_text(QUESTION).first).to_be_visible()


def test_the_help_center_panel_answers_in_place(people: People, desk: Desk) -> None:
    page = people.person().new_page()
    page.goto("/hc/es")
    page.get_by_test_id("assistant-panel-input").fill(QUESTION)
    page.get_by_test_id("assistant-panel-send").click()
    expect(page.get_by_test_id("assistant-panel-article")).to_have_text(SPANISH_TITLE)
    expect(page).to_have_url(re.compile(r"/hc/es$"))  # answered in place, no navigation
    expect(page.get_by_test_id("assistant-panel-human")).to_be_visible()
