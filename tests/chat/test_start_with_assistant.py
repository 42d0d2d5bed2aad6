"""A ``start`` frame may name the assistant conversation the trader leaves: the chat is routed
with that conversation's predicted category from the very first offer (agent skills include
categories), instead of learning it from a hand-off after the offer went out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.assistant.actions import Prediction, Tools
from hashdesk.assistant.engine import Engine
from hashdesk.assistant.models import AssistantConversation
from hashdesk.assistant.routes import tools_dep
from hashdesk.chat.models import AgentSkills, Chat
from hashdesk.chat.records import ChatHandoff
from hashdesk.config import Settings
from hashdesk.runtime import Runtime
from tests.assistant.assistant_fakes import ScriptedSearcher, word_language
from tests.chat.conftest import agent_socket, socket, trader_socket
from tests.chat.test_desk import LOST_2FA, bearer, classifier
from tests.conftest import make_agent, make_trader

__all__ = ["classifier"]  # the module fixture, used by name
CHATS = "/api/v1/chat/chats"


@pytest.fixture
def predicting(
    client: TestClient, runtime: Runtime, classifier: object, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The assistant's HTTP routes and the chat socket predict with the demo triage model."""

    def predict(text: str) -> Prediction:
        guess = classifier.predict_one(text)  # type: ignore[attr-defined]
        return guess.label, float(guess.confidence)

    tools = Tools(Engine(ScriptedSearcher(), detect=word_language), predict=predict)
    client.app.dependency_overrides[tools_dep] = lambda: tools  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime, "_assistant_tools", tools, raising=False)  # get_tools' cache
    yield client
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def test_the_first_offer_goes_to_the_agent_with_the_predicted_category(
    predicting: TestClient, settings: Settings, session: Session
) -> None:
    trader = make_trader(session)
    plain = make_agent(session, email="plain@desk.example.com")
    security = make_agent(session, email="2fa@desk.example.com")
    session.add(AgentSkills(agent_id=security.id, categories=["login_2fa"], regions=[]))
    session.commit()
    asked = predicting.post("/api/v1/assistant/conversations", headers=bearer(settings, trader),
                            json={"message": LOST_2FA, "locale": "en"})  # fmt: skip
    conversation = asked.json()["id"]
    with (
        agent_socket(predicting, plain) as plain_sock,
        agent_socket(predicting, security) as security_sock,
        trader_socket(predicting, settings, trader) as trader_sock,
    ):
        trader_sock.send(type="start", text=LOST_2FA, assistant=conversation)
        chat = int(trader_sock.expect("chat")["chat"])
        offer = security_sock.expect("offer", chat=chat)
        assert offer["reason"] == "category_skill"  # the plain agent, idle too, came second
        plain_sock.send(type="ping")
        plain_sock.expect("pong")
        assert not [f for f in plain_sock.seen if f.get("type") == "offer"]
    handoff = session.get(ChatHandoff, chat)
    assert handoff is not None and handoff.predicted_category == "login_2fa"
    stored = session.get(AssistantConversation, conversation)
    assert stored is not None and stored.outcome == "handed_off"
    # The widget's later hand-off call finds it done.
    again = predicting.post(f"{CHATS}/{chat}/assistant", headers=bearer(settings, trader),
                            json={"conversation": conversation})  # fmt: skip
    assert again.status_code == 409


def test_a_start_naming_someone_elses_conversation_starts_nothing(
    predicting: TestClient, settings: Settings, session: Session
) -> None:
    trader = make_trader(session)
    other = make_trader(session, "u-2002")
    theirs = predicting.post("/api/v1/assistant/conversations", headers=bearer(settings, other),
                             json={"message": LOST_2FA}).json()["id"]  # fmt: skip
    with trader_socket(predicting, settings, trader) as trader_sock:
        trader_sock.send(type="start", text="hello", assistant=theirs)
        assert trader_sock.expect("error")["code"] == "not_found"
        trader_sock.send(type="start", text="hello", assistant=0)
        assert trader_sock.expect("error")["field"] == "assistant"
    with socket(predicting) as guest:  # a guest's conversation is their browser's: not this one
        guest.send(type="hello", guest_email="g@example.com")
        guest.expect("welcome")
        guest.send(type="start", text="hello", assistant=theirs)
        assert guest.expect("error")["code"] == "not_found"
    assert session.scalar(select(func.count()).select_from(Chat)) == 0


def test_a_guest_widget_on_another_site_names_its_conversation_by_key(
    predicting: TestClient, session: Session, another_client: TestClient
) -> None:
    # The widget keeps a random key for its assistant requests (no session cookie reaches
    # the desk from an exchange's own site) and shows it again on the start frame.
    key = "f" * 48
    asked = predicting.post("/api/v1/assistant/conversations", headers={"X-Assistant-Key": key},
                            json={"message": LOST_2FA, "locale": "en"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    conversation = asked.json()["id"]
    security = make_agent(session, email="2fa@desk.example.com")
    session.add(AgentSkills(agent_id=security.id, categories=["login_2fa"], regions=[]))
    session.commit()
    with agent_socket(predicting, security) as security_sock, socket(another_client) as guest:
        guest.send(type="hello", guest_email="g@example.com")
        guest.expect("welcome")
        guest.send(type="start", text="hello", assistant=conversation, assistant_key="e" * 48)
        assert guest.expect("error")["code"] == "not_found"  # another key: not theirs
        guest.send(type="start", text="hello", assistant=conversation, assistant_key="short")
        assert guest.expect("error")["field"] == "assistant_key"
        guest.send(type="start", text=LOST_2FA, assistant=conversation, assistant_key=key)
        chat = int(guest.expect("chat")["chat"])
        assert security_sock.expect("offer", chat=chat)["reason"] == "category_skill"
    handoff = session.get(ChatHandoff, chat)
    assert handoff is not None and handoff.predicted_category == "login_2fa"
