"""A guest proves their email address with a code sent through the notify outbox: only then
does the transcript go there, and only then may they come back as that address. Chatting
never waits for it."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.chat import guests
from hashdesk.chat.models import ChatMessage, GuestVerification
from hashdesk.config import Settings
from hashdesk.core.clock import utcnow
from hashdesk.notify.models import OutboxMessage
from tests.chat.conftest import Socket, agent_socket, socket
from tests.conftest import exchange_token, make_agent, make_trader

CHATS = "/api/v1/chat/chats"
GUEST = "visitor@example.com"


def mailed_code(session: Session, address: str) -> str:
    session.expire_all()
    mail = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert mail is not None and mail.payload["to"] == address
    found = re.search(r"\b(\d{6})\b", mail.payload["body"])
    assert found is not None, mail.payload["body"]
    return found.group(1)


def prove_guest_email(client: TestClient, session: Session, chat: int, guest_pass: dict[str, Any],
                      csrf: str) -> str:  # fmt: skip
    """Ask for a code, read it from the outbox and enter it; the guest token."""
    headers = {"X-CSRF-Token": csrf}
    asked = client.post(f"{CHATS}/{chat}/verification", headers=headers, json=guest_pass)
    assert asked.status_code == 202, asked.text
    assert asked.json()["sent_to"] == guest_pass["email"]
    code = mailed_code(session, guest_pass["email"])
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(f"{CHATS}/{chat}/verification/confirm", headers=headers,
                          json={**guest_pass, "code": wrong})  # fmt: skip
    assert refused.status_code == 422 and "wrong or has expired" in refused.text
    proven = client.post(f"{CHATS}/{chat}/verification/confirm", headers=headers,
                         json={**guest_pass, "code": code})  # fmt: skip
    assert proven.status_code == 200, proven.text
    assert proven.json()["verified"] is True
    return str(proven.json()["guest_token"])


def start_guest_chat(client: TestClient, agent: Agent) -> tuple[int, str]:
    with agent_socket(client, agent) as agent_sock, socket(client) as guest:
        guest.send(type="hello", guest_email=GUEST)
        guest.expect("welcome")
        guest.send(type="start", text="Where is my deposit?")
        state = guest.expect("chat")
        agent_sock.expect("offer", chat=state["chat"])
        guest.say(state["chat"], "Unproven guests chat as before.")  # chatting never waits
        return int(state["chat"]), str(state["key"])


def test_a_proven_guest_gets_the_transcript_and_comes_back_to_their_chat(
    client: TestClient, session: Session
) -> None:
    chat, key = start_guest_chat(client, make_agent(session))
    csrf = client.get("/api/v1/chat/widget-session").json()["csrf_token"]
    token = prove_guest_email(client, session, chat, {"email": GUEST, "key": key}, csrf)
    assert guests.is_verified(session, GUEST)
    notices = session.scalars(select(ChatMessage.body).where(ChatMessage.chat_id == chat))
    assert "Email address confirmed." in list(notices)  # the agent sees it too
    sent = client.post(f"{CHATS}/{chat}/transcript", headers={"X-CSRF-Token": csrf},
                       json={"email": GUEST, "key": key})  # fmt: skip
    assert sent.status_code == 202

    # Another tab, no chat key kept: the token brings the guest back to the open chat.
    with socket(client) as again:
        again.send(type="hello", guest_email=GUEST, guest_token=token)
        chats = again.expect("welcome")["chats"]
        assert [(c["chat"], c["key"]) for c in chats] == [(chat, key)]
        again.send(type="resume", chat=chat, last_seq=0, key=chats[0]["key"])
        assert again.expect("message", chat=chat, seq=1)["text"] == "Where is my deposit?"
    for wrong in (token[:-1] + ("0" if token[-1] != "0" else "1"), "garbage"):
        with socket(client) as stranger:
            stranger.send(type="hello", guest_email=GUEST, guest_token=wrong)
            assert stranger.expect("welcome")["chats"] == []
    with socket(client) as other_address:  # a token proves only its own address
        other_address.send(type="hello", guest_email="other@example.com", guest_token=token)
        assert other_address.expect("welcome")["chats"] == []


def test_codes_expire_are_limited_and_only_guests_need_them(
    client: TestClient, session: Session, settings: Settings
) -> None:
    chat, key = start_guest_chat(client, make_agent(session))
    csrf = {"X-CSRF-Token": client.get("/api/v1/chat/widget-session").json()["csrf_token"]}
    guest_pass = {"email": GUEST, "key": key}
    for _ in range(guests.CODES_PER_WINDOW):
        assert client.post(f"{CHATS}/{chat}/verification", headers=csrf,
                           json=guest_pass).status_code == 202  # fmt: skip
    too_many = client.post(f"{CHATS}/{chat}/verification", headers=csrf, json=guest_pass)
    assert too_many.status_code == 429 and "Too many codes" in too_many.text
    code = mailed_code(session, GUEST)
    for _ in range(guests.CODE_ATTEMPTS):
        client.post(f"{CHATS}/{chat}/verification/confirm", headers=csrf,
                    json={**guest_pass, "code": "999999" if code != "999999" else "888888"})  # fmt: skip
    locked = client.post(f"{CHATS}/{chat}/verification/confirm", headers=csrf,
                         json={**guest_pass, "code": code})  # fmt: skip
    assert locked.status_code == 429  # the right code, after all the tries: too late
    session.execute(update(GuestVerification).values(attempts=0, expires_at=utcnow()))
    session.commit()
    expired = client.post(f"{CHATS}/{chat}/verification/confirm", headers=csrf,
                          json={**guest_pass, "code": code})  # fmt: skip
    assert expired.status_code == 422 and not guests.is_verified(session, GUEST)
    malformed = client.post(f"{CHATS}/{chat}/verification/confirm", headers=csrf,
                            json={**guest_pass, "code": "12ab56"})  # fmt: skip
    assert malformed.status_code == 422

    trader: Trader = make_trader(session)
    bearer = {"Authorization": f"Bearer {exchange_token(settings, trader.external_id)}"}
    with socket(client) as trader_sock:
        trader_start(trader_sock, exchange_token(settings, trader.external_id))
        trader_chat = trader_sock.expect("chat")["chat"]
    not_needed = client.post(f"{CHATS}/{trader_chat}/verification", headers=bearer, json={})
    assert not_needed.status_code == 409 and "comes from the exchange" in not_needed.text


def trader_start(sock: Socket, token: str) -> None:
    sock.send(type="hello", token=token)
    sock.expect("welcome")
    sock.send(type="start", text="Hello")
