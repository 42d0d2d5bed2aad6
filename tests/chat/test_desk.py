"""The desk around a chat: the assistant hand-off, internal notes, canned replies, tickets and
escalation, the context panel, the satisfaction survey and the transcript by email.

The triage prediction is the real classifier trained on the shipped demo examples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import AccountTransfer, Agent, Trader
from hashdesk.assistant.actions import Prediction, Tools
from hashdesk.assistant.engine import Engine
from hashdesk.assistant.models import AssistantConversation
from hashdesk.assistant.routes import tools_dep
from hashdesk.assistant.triage.model import Classifier
from hashdesk.assistant.triage.training import ValidationReport
from hashdesk.chat.models import Chat
from hashdesk.chat.records import ChatOutcome
from hashdesk.config import Settings
from hashdesk.core.clock import utcnow
from hashdesk.notify.models import OutboxMessage
from hashdesk.tickets.models import Macro, Ticket
from tests.assistant.assistant_fakes import ScriptedSearcher, word_language
from tests.chat.conftest import agent_socket, socket, start_accepted_chat, trader_socket
from tests.chat.test_guard import HEX_64
from tests.chat.test_guests import prove_guest_email
from tests.conftest import exchange_token, make_agent, make_trader, open_ticket

pytestmark = pytest.mark.timeout(120)

LOST_2FA = "my authenticator app is gone after I reset my phone, can't sign in"
CHATS = "/api/v1/chat/chats"


@pytest.fixture(scope="module")
def classifier(demo_triage_model: tuple[Path, ValidationReport]) -> Classifier:
    return Classifier.load(demo_triage_model[0])


@pytest.fixture
def desk_client(client: TestClient, classifier: Classifier) -> Iterator[TestClient]:
    def predict(text: str) -> Prediction:
        guess = classifier.predict_one(text)
        return guess.label, float(guess.confidence)

    tools = Tools(Engine(ScriptedSearcher(), detect=word_language), predict=predict)
    client.app.dependency_overrides[tools_dep] = lambda: tools  # type: ignore[attr-defined]
    yield client
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def bearer(settings: Settings, trader: Trader) -> dict[str, str]:
    return {"Authorization": f"Bearer {exchange_token(settings, trader.external_id)}"}


def forget_the_agent(client: TestClient) -> None:
    """Drop the agent's sign-in: the client is a plain visitor's browser again."""
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)


@pytest.fixture
def people(session: Session) -> tuple[Trader, Agent]:
    trader = make_trader(session, name="Ada Trader", vip_level=2, region="DE")
    return trader, make_agent(session)


def test_the_hand_off_carries_the_assistant_conversation_into_the_chat_and_its_ticket(
    desk_client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    headers = bearer(settings, trader)
    asked = desk_client.post("/api/v1/assistant/conversations", headers=headers,
                             json={"message": LOST_2FA, "locale": "en"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    conversation = asked.json()["id"]
    with (
        agent_socket(desk_client, agent) as agent_sock,
        trader_socket(desk_client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, LOST_2FA)
        link = desk_client.post(f"{CHATS}/{chat}/assistant", headers=headers,
                                json={"conversation": conversation})  # fmt: skip
        assert link.status_code == 201, link.text
        assert link.json()["predicted_category"] == "login_2fa"
        again = desk_client.post(f"{CHATS}/{chat}/assistant", headers=headers,
                                 json={"conversation": conversation})  # fmt: skip
        assert again.status_code == 409
        agent_sock.expect("context", chat=chat)

        context = desk_client.get(f"{CHATS}/{chat}/context").json()
        assert context["assistant"]["predicted_category"] == "login_2fa"
        assert context["assistant"]["language"] == "en"
        assert LOST_2FA in context["assistant"]["transcript"]
        assert context["profile"]["vip_level"] == 2 and context["profile"]["region"] == "DE"
        agent_sock.say(chat, "Let me open a case for the security team.")

        made = desk_client.post(f"{CHATS}/{chat}/ticket", json={})
        assert made.status_code == 201, made.text
        trader_sock.expect("chat", chat=chat, status="ticketed")
    ticket = session.get(Ticket, made.json()["ticket"])
    assert ticket is not None and ticket.category == "login_2fa"
    assert ticket.predicted_category == "login_2fa" and ticket.trader_id == trader.id
    assert "Conversation with the assistant:" in ticket.description
    assert "Let me open a case for the security team." in ticket.description
    stored = session.get(AssistantConversation, conversation)
    assert stored is not None and stored.outcome == "handed_off"


def test_someone_elses_assistant_conversation_cannot_be_attached(
    desk_client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    other = make_trader(session, "u-2002")
    theirs = desk_client.post("/api/v1/assistant/conversations", headers=bearer(settings, other),
                              json={"message": LOST_2FA}).json()["id"]  # fmt: skip
    with (
        agent_socket(desk_client, agent) as agent_sock,
        trader_socket(desk_client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "hello")
        refused = desk_client.post(f"{CHATS}/{chat}/assistant", headers=bearer(settings, trader),
                                   json={"conversation": theirs})  # fmt: skip
        assert refused.status_code == 404
        not_mine = desk_client.post(f"{CHATS}/{chat}/assistant", headers=bearer(settings, other),
                                    json={"conversation": theirs})  # fmt: skip
        assert not_mine.status_code == 404


def test_internal_notes_reach_agents_and_never_the_trader(
    client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    secret_note = "Trader is on the watch list; check the withdrawal by hand."
    with (
        agent_socket(client, agent) as agent_sock,
        trader_socket(client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "My withdrawal is stuck")
        note = client.post(f"{CHATS}/{chat}/notes", json={"body": secret_note})
        assert note.status_code == 201, note.text
        assert client.post(f"{CHATS}/{chat}/notes", json={"body": "   "}).status_code == 422
        agent_sock.say(chat, "Looking at it now.")
        trader_sock.expect("message", chat=chat, text="Looking at it now.")
        agent_sock.expect("context", chat=chat, changed="note")
        assert client.get(f"{CHATS}/{chat}/context").json()["notes"][0]["body"] == secret_note
        pasted = client.post(
            f"{CHATS}/{chat}/notes", json={"body": f"Trader sent private key {HEX_64}"}
        )
        assert pasted.status_code == 201 and HEX_64 not in pasted.text  # the guard applies
        traders_view = client.get(f"{CHATS}/{chat}/context", headers=bearer(settings, trader))
        assert traders_view.status_code == 403
    with trader_socket(client, settings, trader) as again:  # a resume replays everything
        again.send(type="resume", chat=chat, last_seq=0)
        again.expect("message", chat=chat, text="Looking at it now.")
        seen = [*again.seen, *trader_sock.seen]
    assert all(secret_note not in str(frame) for frame in seen)


def test_canned_replies_come_in_the_chats_language_with_the_names_filled_in(
    client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    trader.language = "de"
    session.merge(trader)
    session.add_all([
        Macro(name="Gruss", body="Hallo {trader_name}, hier ist {agent_name}.", language="de"),
        Macro(name="Greeting", body="Hello {trader_name}!", language="en"),
    ])  # fmt: skip
    session.commit()
    with (
        agent_socket(client, agent) as agent_sock,
        trader_socket(client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "Hallo")
        replies = client.get(f"{CHATS}/{chat}/canned").json()
    assert [r["name"] for r in replies] == ["Gruss"]
    assert replies[0]["body"] == f"Hallo Ada Trader, hier ist {agent.name}."


def test_escalating_to_a_department_makes_a_ticket_there_and_counts_as_escalated(
    client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    with (
        agent_socket(client, agent) as agent_sock,
        trader_socket(client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "The API returns 500 on orders")
        wrong = client.post(f"{CHATS}/{chat}/ticket", json={"department": "kitchen"})
        assert wrong.status_code == 422 and "kitchen" in wrong.text
        no_fields = client.post(f"{CHATS}/{chat}/ticket", json={"category": "deposit"})
        assert no_fields.status_code == 422 and "network" in no_fields.text
        made = client.post(f"{CHATS}/{chat}/ticket",
                           json={"department": "engineering", "category": "api"})  # fmt: skip
        assert made.status_code == 201, made.text
        notice = trader_sock.expect("message", chat=chat, sender={"kind": "system", "id": 0,
                                                                 "name": ""})  # fmt: skip
        while made.json()["tracking_id"] not in notice["text"]:
            notice = trader_sock.expect("message", chat=chat)
        assert "engineering" in notice["text"]
    ticket = session.get(Ticket, made.json()["ticket"])
    assert ticket is not None and (ticket.department, ticket.category) == ("engineering", "api")
    record = client.get(f"{CHATS}/{chat}/context").json()["record"]
    assert record["escalated"] is True and record["escalated_to"] == "engineering"
    assert record["wait_seconds"] is not None and record["transfers"] == 0


def test_the_context_panel_shows_open_tickets_and_recent_transfers(
    client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    ticket = open_ticket(session, trader)
    now = utcnow()
    session.add_all([
        AccountTransfer(kind="deposit", external_id="d-1", trader_id=trader.id, network="TRON",
                        asset="USDT", amount=Decimal("250.5"), address="T9x", tx_hash="ab12",
                        status="pending", occurred_at=now - timedelta(hours=1)),
        AccountTransfer(kind="withdrawal", external_id="w-1", trader_id=trader.id,
                        network="BTC", asset="BTC", amount=Decimal("0.01"), address="bc1q",
                        tx_hash=None, status="completed", occurred_at=now - timedelta(days=2)),
    ])  # fmt: skip
    session.commit()
    with (
        agent_socket(client, agent) as agent_sock,
        trader_socket(client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "Where is my USDT?")
        context = client.get(f"{CHATS}/{chat}/context").json()
    assert [t["tracking_id"] for t in context["open_tickets"]] == [ticket.tracking_id]
    assert [(t["kind"], t["amount"]) for t in context["transfers"]] == [
        ("deposit", "250.5"), ("withdrawal", "0.01")]  # fmt: skip
    assert context["profile"]["name"] == "Ada Trader" and context["profile"]["kind"] == "trader"


def test_the_survey_opens_when_the_chat_ends_and_is_answered_once(
    client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    headers = bearer(settings, trader)
    with (
        agent_socket(client, agent) as agent_sock,
        trader_socket(client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "Thanks for the help earlier")
        early = client.post(f"{CHATS}/{chat}/survey", headers=headers, json={"rating": 5})
        assert early.status_code == 409
        agent_sock.say(chat, "You're welcome!")
        agent_sock.send(type="close", chat=chat)
        trader_sock.expect("chat", chat=chat, status="closed")
    assert client.post(f"{CHATS}/{chat}/survey", headers=headers,
                       json={"rating": 9}).status_code == 422  # fmt: skip
    answered = client.post(f"{CHATS}/{chat}/survey", headers=headers,
                           json={"rating": 4, "comment": "Quick and kind."})  # fmt: skip
    assert answered.status_code == 201, answered.text
    assert client.post(f"{CHATS}/{chat}/survey", headers=headers,
                       json={"rating": 1}).status_code == 409  # fmt: skip
    outcome = session.get(ChatOutcome, chat)
    assert outcome is not None and (outcome.satisfaction, outcome.comment) == (4, "Quick and kind.")
    record = client.get(f"{CHATS}/{chat}/context").json()["record"]
    assert record["satisfaction"] == 4 and record["escalated"] is False
    assert record["handle_seconds"] is not None and record["first_response_seconds"] is not None
    page = client.get("/console/chats")
    assert page.status_code == 200
    assert 'data-testid="metric-satisfaction">4.0' in page.text
    assert 'data-testid="metric-no-escalation">100.0' in page.text


def test_a_guest_gets_the_transcript_by_email_in_the_chats_language(
    client: TestClient, session: Session, people: tuple[Trader, Agent]
) -> None:
    _trader, agent = people
    with agent_socket(client, agent) as agent_sock, socket(client) as guest:
        guest.send(type="hello", guest_email="visitor@example.com", language="de")
        guest.expect("welcome")
        guest.send(type="start", text="Wo ist meine Einzahlung?", language="de")
        state = guest.expect("chat")
        chat, key = int(state["chat"]), state["key"]
        agent_sock.expect("offer", chat=chat)
        agent_sock.send(type="accept", chat=chat)
        guest.expect("chat", chat=chat, status="active")
        agent_sock.say(chat, "Ich schaue nach.")
        guest.expect("message", chat=chat, text="Ich schaue nach.")
    forget_the_agent(client)  # from here on, the guest's own browser
    csrf = client.get("/api/v1/chat/widget-session").json()["csrf_token"]
    guest_headers = {"X-CSRF-Token": csrf, "X-Chat-Email": "visitor@example.com", "X-Chat-Key": key}
    upload = client.post(f"{CHATS}/{chat}/attachments?name=beleg.pdf", content=b"%PDF-1.4 x",
                         headers=guest_headers)  # fmt: skip
    assert upload.status_code == 201, upload.text
    download = f"{CHATS}/{chat}/attachments/{upload.json()['id']}"
    assert client.get(download, headers=guest_headers).content == b"%PDF-1.4 x"
    assert (
        client.get(download, headers={**guest_headers, "X-Chat-Key": "f" * 40}).status_code == 404
    )
    no_key = client.post(f"{CHATS}/{chat}/transcript", headers={"X-CSRF-Token": csrf},
                                 json={"email": "visitor@example.com", "key": "0" * 40})  # fmt: skip
    assert no_key.status_code == 404
    guest_pass = {"email": "visitor@example.com", "key": key}
    unproven = client.post(f"{CHATS}/{chat}/transcript", headers={"X-CSRF-Token": csrf},
                           json=guest_pass)  # fmt: skip
    assert unproven.status_code == 409 and "Confirm your email address first" in unproven.text
    prove_guest_email(client, session, chat, guest_pass, csrf)
    sent = client.post(f"{CHATS}/{chat}/transcript", headers={"X-CSRF-Token": csrf},
                               json=guest_pass)  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert session.get(Chat, chat) is not None
    mail = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert mail is not None and mail.payload["to"] == "visitor@example.com"
    assert "Wo ist meine Einzahlung?" in mail.payload["body"]
    assert "Ich schaue nach." in mail.payload["body"] and "beleg.pdf" in mail.payload["body"]
    assert str(chat) in mail.payload["subject"]


def test_guest_requests_need_the_csrf_token_and_the_chat_key(client: TestClient) -> None:
    refused = client.post(f"{CHATS}/1/transcript", json={"email": "a@example.com"})
    assert refused.status_code == 403
    csrf = client.get("/api/v1/chat/widget-session").json()["csrf_token"]
    keyless = client.post(f"{CHATS}/1/transcript", headers={"X-CSRF-Token": csrf},
                                  json={"email": "a@example.com"})  # fmt: skip
    assert keyless.status_code == 401


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_files_go_both_ways_checked_like_ticket_attachments(
    client: TestClient, settings: Settings, session: Session, people: tuple[Trader, Agent]
) -> None:
    trader, agent = people
    headers = bearer(settings, trader)
    with (
        agent_socket(client, agent) as agent_sock,
        trader_socket(client, settings, trader) as trader_sock,
    ):
        chat = start_accepted_chat(trader_sock, agent_sock, "Here is the screenshot")
        sent = client.post(f"{CHATS}/{chat}/attachments?name=../../shot.png", content=PNG,
                           headers=headers)  # fmt: skip
        assert sent.status_code == 201, sent.text
        assert sent.json()["filename"] == "shot.png"
        assert sent.json()["content_type"] == "image/png"
        file_id = sent.json()["id"]
        seen = agent_sock.expect("message", chat=chat, client_id=f"file:{file_id}")
        assert seen["text"] == "📎 shot.png" and seen["sender"]["kind"] == "trader"

        program = client.post(f"{CHATS}/{chat}/attachments?name=tool.exe", content=b"MZ\x90\x00",
                              headers=headers)  # fmt: skip
        assert program.status_code == 415 and "tool.exe" in program.text
        empty = client.post(f"{CHATS}/{chat}/attachments?name=a.txt", content=b"",
                            headers=headers)  # fmt: skip
        assert empty.status_code == 422

        downloaded = client.get(f"{CHATS}/{chat}/attachments/{file_id}")  # the agent's cookie
        assert downloaded.status_code == 200 and downloaded.content == PNG
        assert "attachment" in downloaded.headers["content-disposition"]
        reply = client.post(f"{CHATS}/{chat}/attachments?name=steps.txt",
                            content=b"1. Open Wallet\n2. Choose TRC-20")  # fmt: skip
        assert reply.status_code == 201, reply.text
        trader_sock.expect("message", chat=chat, client_id=f"file:{reply.json()['id']}")
    stranger = bearer(settings, make_trader(session, "u-3003"))
    assert client.get(f"{CHATS}/{chat}/attachments/{file_id}", headers=stranger).status_code == 404
