"""The assistant API and pages: guests and traders, ownership (another's conversation is a
404), CSRF on cookie writes, rate limits, hand-off tickets and the leads' deflection figures."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.assets.demo import real_document
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.assistant.actions import Tools
from hashdesk.assistant.engine import Engine
from hashdesk.assistant.models import AssistantConversation
from hashdesk.assistant.routes import tools_dep
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM, Role
from hashdesk.runtime import Runtime
from hashdesk.tickets.models import Ticket
from tests.assistant.assistant_fakes import (
    ScriptedSearcher,
    article_hit,
    make_corpus,
    word_language,
)
from tests.conftest import exchange_token, login_agent, login_trader, make_agent, make_trader

WITHDRAW = "How do I withdraw USDT?"
PHISHING = "Something about phishing"
OFF_TOPIC = "Can you recommend a pizza place?"


@pytest.fixture
def ids(session: Session) -> dict[str, int]:
    return make_corpus(session)


@pytest.fixture
def tools(ids: dict[str, int]) -> Tools:
    searcher = ScriptedSearcher({
        WITHDRAW: [article_hit(ids, "withdraw", 0.88, lexical=0.9, score=1.0), article_hit(ids, "fees", 0.5, score=0.4)],
        PHISHING: [article_hit(ids, "anti_phishing", 0.74, lexical=1.0, score=1.0), article_hit(ids, "phishing_report", 0.735, lexical=0.9, score=0.97)],
        OFF_TOPIC: [article_hit(ids, "liquidation", 0.1, lexical=0.0, score=1.0)],
    })  # fmt: skip
    return Tools(Engine(searcher, detect=word_language), predict=lambda text: ("kyc", 0.77))


@pytest.fixture
def app_client(client: TestClient, tools: Tools) -> Iterator[TestClient]:
    client.app.dependency_overrides[tools_dep] = lambda: tools  # type: ignore[attr-defined]
    yield client
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]


def page_token(client: TestClient, url: str = "/hc/en/assistant") -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def bearer(settings: Settings, external_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {exchange_token(settings, external_id)}"}


def new_conversation(client: TestClient, headers: dict[str, str]) -> str:
    """A new assistant conversation's address."""
    created = client.post("/api/v1/assistant/conversations", json={}, headers=headers)
    return f"/api/v1/assistant/conversations/{created.json()['id']}"


# --- guests ---------------------------------------------------------------------------------


def test_a_guest_converses_with_the_pages_csrf_token(
    app_client: TestClient, ids: dict[str, int]
) -> None:
    refused = app_client.post("/api/v1/assistant/conversations", json={"message": WITHDRAW})
    assert refused.status_code == 403
    headers = {"X-CSRF-Token": page_token(app_client)}
    created = app_client.post("/api/v1/assistant/conversations", json={"message": WITHDRAW},
                              headers=headers)  # fmt: skip
    assert created.status_code == 201, created.text
    conversation = created.json()
    answer = conversation["messages"][-1]
    assert answer["author"] == "assistant" and answer["data"]["article"]["id"] == ids["withdraw"]
    reply = app_client.post(f"/api/v1/assistant/conversations/{conversation['id']}/messages",
                            json={"body": PHISHING}, headers=headers)  # fmt: skip
    assert reply.status_code == 201 and reply.json()["data"]["decision"] == "clarify"
    assert (
        app_client.get(f"/api/v1/assistant/conversations/{conversation['id']}").status_code == 200
    )


def test_another_browser_cannot_see_a_guests_conversation(
    app_client: TestClient, another_client: TestClient, tools: Tools
) -> None:
    headers = {"X-CSRF-Token": page_token(app_client)}
    conversation_id = app_client.post("/api/v1/assistant/conversations", json={},
                                      headers=headers).json()["id"]  # fmt: skip
    another_client.app.dependency_overrides[tools_dep] = lambda: tools  # type: ignore[attr-defined]
    other_headers = {"X-CSRF-Token": page_token(another_client)}
    assert (
        another_client.get(f"/api/v1/assistant/conversations/{conversation_id}").status_code == 404
    )
    posted = another_client.post(f"/api/v1/assistant/conversations/{conversation_id}/messages",
                                 json={"body": WITHDRAW}, headers=other_headers)  # fmt: skip
    assert posted.status_code == 404


def test_a_guest_hand_off_needs_an_email_and_opens_a_guest_ticket(
    app_client: TestClient, session: Session
) -> None:
    headers = {"X-CSRF-Token": page_token(app_client)}
    conversation = app_client.post("/api/v1/assistant/conversations", json={"message": OFF_TOPIC},
                                   headers=headers).json()  # fmt: skip
    url = f"/api/v1/assistant/conversations/{conversation['id']}/handoff"
    missing = app_client.post(url, json={}, headers=headers)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "email"
    bad = app_client.post(url, json={"email": "not-an-address"}, headers=headers)
    assert bad.status_code == 422
    done = app_client.post(url, json={"email": "guest@example.com"}, headers=headers)
    assert done.status_code == 201, done.text
    ticket = session.scalars(select(Ticket)).one()
    assert (
        ticket.tracking_id == done.json()["tracking_id"]
        and ticket.guest_email == "guest@example.com"
    )
    assert (ticket.predicted_category, ticket.predicted_confidence) == ("kyc", 0.77)
    assert ticket.category == "kyc"  # a predicted category that needs no fields is used
    assert f"Trader: {OFF_TOPIC}" in ticket.description
    assert done.json()["conversation"]["outcome"] == "handed_off"
    again = app_client.post(url, json={"email": "guest@example.com"}, headers=headers)
    assert again.status_code == 409
    login_agent(app_client, make_agent(session, Role.FRONTLINE))
    console = app_client.get(f"/console/tickets/{ticket.tracking_id}")
    assert console.status_code == 200
    assert "Predicted category: kyc (77%)" in console.text


def test_a_widget_on_another_site_carries_the_guest_key_in_a_header(
    app_client: TestClient, another_client: TestClient, tools: Tools
) -> None:
    # On an exchange's own site the browser keeps our session cookie back: the widget keeps
    # the key the first answer gave it and sends it instead (no cookie, so no CSRF token).
    created = app_client.post("/api/v1/assistant/conversations", json={"message": WITHDRAW},
                              headers={"X-Assistant-Key": "k" * 32})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["guest_key"] == "k" * 32
    conversation_id = created.json()["id"]
    another_client.app.dependency_overrides[tools_dep] = lambda: tools  # type: ignore[attr-defined]
    url = f"/api/v1/assistant/conversations/{conversation_id}"
    assert another_client.get(url, headers={"X-Assistant-Key": "k" * 32}).status_code == 200
    reply = another_client.post(f"{url}/messages", json={"body": PHISHING},
                                headers={"X-Assistant-Key": "k" * 32})  # fmt: skip
    assert reply.status_code == 201, reply.text
    assert another_client.get(url, headers={"X-Assistant-Key": "x" * 32}).status_code == 404
    assert another_client.get(url).status_code == 404
    bad = another_client.get(url, headers={"X-Assistant-Key": "short"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "X-Assistant-Key"


def test_a_guest_without_a_key_gets_one_with_the_conversation(app_client: TestClient) -> None:
    headers = {"X-CSRF-Token": page_token(app_client)}
    created = app_client.post("/api/v1/assistant/conversations", json={}, headers=headers).json()
    key = created["guest_key"]
    assert len(key) >= 16
    seen = app_client.get(f"/api/v1/assistant/conversations/{created['id']}").json()
    assert seen["guest_key"] is None  # only the answer that starts it tells the key


# --- traders ----------------------------------------------------------------------------------


def test_a_trader_owns_their_conversations_and_no_one_else_sees_them(
    app_client: TestClient, session: Session, settings: Settings
) -> None:
    alice, bob = make_trader(session, "u-alice"), make_trader(session, "u-bob")
    as_alice, as_bob = bearer(settings, alice.external_id), bearer(settings, bob.external_id)
    created = app_client.post("/api/v1/assistant/conversations", json={"message": WITHDRAW},
                              headers=as_alice)  # fmt: skip
    assert created.status_code == 201, created.text
    url = f"/api/v1/assistant/conversations/{created.json()['id']}"
    assert app_client.get(url, headers=as_alice).status_code == 200
    assert app_client.get(url, headers=as_bob).status_code == 404
    assert (
        app_client.post(f"{url}/messages", json={"body": "hi"}, headers=as_bob).status_code == 404
    )
    assert app_client.post(f"{url}/handoff", json={}, headers=as_bob).status_code == 404
    solved = app_client.post(f"{url}/feedback", json={"solved": True}, headers=as_alice)
    assert solved.status_code == 201
    assert app_client.get(url, headers=as_alice).json()["outcome"] == "resolved"


def test_a_trader_hand_off_is_their_own_ticket(
    app_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    headers = bearer(settings, trader.external_id)
    conversation = app_client.post("/api/v1/assistant/conversations", json={"message": OFF_TOPIC},
                                   headers=headers).json()  # fmt: skip
    done = app_client.post(f"/api/v1/assistant/conversations/{conversation['id']}/handoff",
                           json={"note": "urgent"}, headers=headers)  # fmt: skip
    assert done.status_code == 201, done.text
    ticket = app_client.get(f"/api/v1/tickets/{done.json()['tracking_id']}", headers=headers)
    assert ticket.status_code == 200 and "urgent" in ticket.json()["description"]


def test_a_field_the_ticket_refuses_does_not_stop_the_hand_off(
    app_client: TestClient, session: Session, settings: Settings
) -> None:
    headers = bearer(settings, make_trader(session).external_id)
    url = new_conversation(app_client, headers)
    conversation = session.get(AssistantConversation, int(url.rsplit("/", 1)[1]))
    assert conversation is not None
    # A memo read on chain in no format XRP's tags have: an address sent as the tag.
    address = "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk59"
    conversation.handoff_draft = {"category": "deposit", "fields": {
        "network": "xrp", "asset": "XRP", "memo": address}}  # fmt: skip
    session.commit()

    done = app_client.post(f"{url}/handoff", json={"note": ""}, headers=headers)

    assert done.status_code == 201, done.text
    session.expire_all()
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.fields == {"network": "xrp", "asset": "XRP"}
    assert f"Not kept as the memo field: {address} (A destination tag" in ticket.description


def test_cookie_signed_in_traders_need_csrf(app_client: TestClient, session: Session,
                                           settings: Settings) -> None:  # fmt: skip
    trader = make_trader(session)
    login_trader(app_client, settings, trader)
    assert app_client.post("/api/v1/assistant/conversations", json={}).status_code == 201
    token = app_client.headers.pop("X-CSRF-Token")
    assert app_client.post("/api/v1/assistant/conversations", json={}).status_code == 403
    app_client.headers["X-CSRF-Token"] = token


def test_messages_are_rate_limited(app_client: TestClient, session: Session,
                                   settings: Settings) -> None:  # fmt: skip
    trader = make_trader(session)
    headers = bearer(settings, trader.external_id)
    conversation = app_client.post(
        "/api/v1/assistant/conversations", json={}, headers=headers
    ).json()
    url = f"/api/v1/assistant/conversations/{conversation['id']}/messages"
    # A fixed 60-second window: 61 tries meet the limit even when a window ends mid-test.
    refused = None
    for attempt in range(61):
        answer = app_client.post(url, json={"body": WITHDRAW}, headers=headers)
        if answer.status_code == 429:
            refused = attempt
            break
        assert answer.status_code == 201
    assert refused is not None and refused >= 29
    assert int(answer.headers["Retry-After"]) <= 60


def test_bad_input_is_a_clear_4xx(app_client: TestClient, session: Session,
                                  settings: Settings) -> None:  # fmt: skip
    headers = bearer(settings, make_trader(session).external_id)
    unknown = app_client.post(
        "/api/v1/assistant/conversations", json={"locale": "xx"}, headers=headers
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "locale"
    url = new_conversation(app_client, headers)
    assert app_client.post(f"{url}/messages", json={"body": ""}, headers=headers).status_code == 422
    assert (
        app_client.post(f"{url}/flow", json={"flow_id": "nope"}, headers=headers).status_code == 422
    )
    assert (
        app_client.post(f"{url}/choice", json={"article_id": 1}, headers=headers).status_code == 422
    )
    assert app_client.post(f"{url}/flow/stop", headers=headers).status_code == 409
    assert (
        app_client.get("/api/v1/assistant/conversations/999999", headers=headers).status_code == 404
    )


def test_a_flow_through_the_api(app_client: TestClient, session: Session,
                                settings: Settings) -> None:  # fmt: skip
    headers = bearer(settings, make_trader(session).external_id)
    flows = app_client.get("/api/v1/assistant/flows").json()
    assert {"id": "api_error_codes", "title": "I get an API error code"} in flows
    url = new_conversation(app_client, headers)
    first = app_client.post(f"{url}/flow", json={"flow_id": "api_error_codes"}, headers=headers)
    assert first.status_code == 201 and first.json()["data"]["step"] == "code"
    explained = app_client.post(f"{url}/messages", json={"body": "-1021"}, headers=headers).json()
    assert "recvWindow" in explained["body"] and explained["data"]["kind"] == "flow_message"


def test_a_question_in_spanish_starts_its_flow_in_spanish(
    app_client: TestClient, session: Session, settings: Settings
) -> None:
    headers = bearer(settings, make_trader(session).external_id)
    url = new_conversation(app_client, headers)
    asked = app_client.post(
        f"{url}/messages", json={"body": "Mi depósito de USDT no ha llegado"}, headers=headers
    ).json()
    assert asked["data"]["step"] == "network"
    assert asked["body"].startswith("¿En qué red enviaste el depósito")


def test_a_first_message_that_names_network_and_coin_is_not_asked_them_again(
    app_client: TestClient, session: Session, settings: Settings, runtime: Runtime
) -> None:
    document = real_document()
    with runtime.database.transaction() as writing:
        import_document(writing, SYSTEM, RegistryDocument(networks=document.networks,
                                                          assets=document.assets))  # fmt: skip
    headers = bearer(settings, make_trader(session).external_id)
    url = new_conversation(app_client, headers)
    asked = app_client.post(
        f"{url}/messages", json={"body": "Mi depósito de USDT por TRC20 no ha llegado"},
        headers=headers,
    ).json()  # fmt: skip
    assert asked["data"]["step"] == "memo"  # the network and the coin were in the message


def test_the_one_shot_answer(app_client: TestClient, ids: dict[str, int]) -> None:
    answer = app_client.get("/api/v1/assistant/answer", params={"q": WITHDRAW}).json()
    assert answer["answered"] is True and answer["decision"] == "answer"
    assert answer["article"]["id"] == ids["withdraw"]
    clarify = app_client.get("/api/v1/assistant/answer", params={"q": PHISHING}).json()
    assert clarify["decision"] == "clarify" and len(clarify["candidates"]) == 2
    assert app_client.get("/api/v1/assistant/answer", params={"q": ""}).status_code == 422


def test_deflection_figures_are_for_leads(app_client: TestClient, session: Session) -> None:
    login_agent(app_client, make_agent(session, Role.FRONTLINE))
    assert app_client.get("/api/v1/assistant/stats/deflection").status_code == 403
    assert app_client.get("/console/assistant").status_code == 403
    login_agent(app_client, make_agent(session, Role.LEAD, email="lead@desk.example.com"))
    figures = app_client.get("/api/v1/assistant/stats/deflection", params={"days": 7})
    assert figures.status_code == 200 and figures.json()["conversations"] == 0
    assert figures.json()["deflection_rate"] is None
    page = app_client.get("/console/assistant")
    assert page.status_code == 200 and 'data-testid="deflection-rate-7"' in page.text


# --- the page (no JavaScript) -----------------------------------------------------------------


def test_the_page_answers_votes_and_hands_off(app_client: TestClient, session: Session,
                                              ids: dict[str, int]) -> None:  # fmt: skip
    token = page_token(app_client)
    assert app_client.post("/hc/en/assistant/ask", data={"body": WITHDRAW}).status_code == 403
    asked = app_client.post("/hc/en/assistant/ask", data={"body": WITHDRAW, "csrf_token": token},
                            follow_redirects=False)  # fmt: skip
    assert asked.status_code == 303
    page = app_client.get("/hc/en/assistant").text
    assert "How to withdraw crypto" in page and 'data-testid="assistant-solved"' in page
    voted = app_client.post("/hc/en/assistant/feedback",
                            data={"solved": "no", "article_id": str(ids["withdraw"]), "csrf_token": token})  # fmt: skip
    assert voted.status_code == 200 and "Sorry that did not help" in voted.text
    refused = app_client.post("/hc/en/assistant/handoff", data={"csrf_token": token})
    assert "Give the email address" in refused.text  # shown on the page, nothing created
    assert session.scalars(select(Ticket)).first() is None
    handed = app_client.post("/hc/en/assistant/handoff",
                             data={"email": "guest@example.com", "csrf_token": token})  # fmt: skip
    assert 'data-testid="assistant-tracking-id"' in handed.text
    assert session.scalars(select(Ticket)).one().guest_email == "guest@example.com"
    assert app_client.get("/hc/xx/assistant").status_code == 404


def test_the_page_runs_a_flow_with_choice_buttons(app_client: TestClient) -> None:
    token = page_token(app_client)
    page = app_client.post(
        "/hc/en/assistant/flow", data={"flow_id": "login_2fa", "csrf_token": token}
    ).text
    assert "What is stopping you from logging in?" in page
    assert 'value="lost_2fa"' in page and 'data-testid="assistant-stop-flow"' in page
    stopped = app_client.post("/hc/en/assistant/stop", data={"csrf_token": token}).text
    assert "Stopped." in stopped


def test_the_panel_script_is_served_from_our_origin(app_client: TestClient) -> None:
    script = app_client.get("/assistant/assistant.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert "/api/v1/assistant/answer" in script.text
