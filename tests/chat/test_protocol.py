"""The chat socket's protocol: sign-in, sequence numbers, resume without loss or duplicates,
error frames that keep the connection open, and who may join which chat."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.chat.models import ChatMessage
from hashdesk.chat.protocol import MAX_FRAME_BYTES, MAX_TEXT_CHARS
from hashdesk.config import Settings
from tests.chat.conftest import agent_socket, socket, start_accepted_chat, trader_socket
from tests.conftest import make_agent, make_trader

# A frame that never comes must fail the test, not hang the run (receive has no timeout).
pytestmark = pytest.mark.timeout(60)


def test_frames_before_hello_are_refused_and_the_socket_stays_open(client: TestClient) -> None:
    with socket(client) as sock:
        sock.send(type="start", text="hello?")
        error = sock.expect("error")
        assert error["code"] == "not_authenticated"
        sock.send(type="ping")
        sock.expect("pong")


def test_a_bad_token_is_an_error_frame_naming_why(client: TestClient) -> None:
    with socket(client) as sock:
        sock.send(type="hello", token="not-a-jwt")
        error = sock.expect("error")
        assert error["code"] == "not_authenticated"
        assert "not valid" in error["message"]


def test_malformed_oversized_and_binary_frames_get_error_frames(client: TestClient) -> None:
    with socket(client) as sock:
        sock.send_raw("{not json")
        assert sock.expect("error")["code"] == "bad_json"
        sock.send_raw("[1, 2]")
        assert sock.expect("error")["code"] == "bad_json"
        sock.send(type="shout")
        unknown = sock.expect("error")
        assert (unknown["code"], unknown["field"]) == ("bad_frame", "type")
        sock.send(type="resume", chat="seven")
        wrong = sock.expect("error")
        assert (wrong["code"], wrong["field"]) == ("bad_frame", "chat")
        sock.send_raw(json.dumps({"type": "ping", "pad": "x" * MAX_FRAME_BYTES}))
        assert sock.expect("error")["code"] == "frame_too_large"
        sock.ws.send_bytes(b"\x00\x01")
        assert sock.expect("error")["code"] == "binary_frame"
        sock.send(type="ping")
        sock.expect("pong")


def test_too_many_frames_are_refused_with_retry_after_not_a_dropped_socket(
    client: TestClient,
) -> None:
    with socket(client) as sock:
        for _ in range(30):
            sock.send(type="ping")
        limited = sock.expect("error", code="rate_limited")
        assert limited["retry_after"] > 0


def test_messages_carry_the_chat_sequence_and_a_resend_is_not_stored_twice(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    agent = make_agent(session)
    trader = make_trader(session)
    with agent_socket(another_client, agent), trader_socket(client, settings, trader) as sock:
        sock.send(type="start", text="My withdrawal is stuck", client_id="first")
        started = sock.expect("chat")
        chat = started["chat"]
        assert started["status"] == "offered"
        assert sock.expect("message")["seq"] == 1
        acks = [sock.say(chat, f"detail {n}") for n in range(3)]
        assert [ack["seq"] for ack in acks] == [2, 3, 4]
        again = sock.say(chat, "detail 0", client_id=acks[0]["client_id"])
        assert again == {**acks[0], "duplicate": True}
        stored = session.scalar(select(func.count()).where(ChatMessage.chat_id == chat))
        assert stored == 4
        sock.send(type="message", chat=chat, text="x" * (MAX_TEXT_CHARS + 1), client_id="long")
        too_long = sock.expect("error")
        assert (too_long["code"], too_long["field"]) == ("bad_frame", "text")


def test_resume_sends_only_what_came_after_the_last_seen_seq_then_live_ones(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    agent = make_agent(session)
    trader = make_trader(session)
    with agent_socket(another_client, agent) as desk:
        with trader_socket(client, settings, trader) as first:
            first.send(type="start", text="one")
            chat = first.expect("chat")["chat"]
            for text in ("two", "three", "four"):
                first.say(chat, text)
        desk.expect("offer", chat=chat)
        desk.send(type="accept", chat=chat)
        desk.expect("message", seq=5)  # "<agent> joined the chat."
        with trader_socket(client, settings, trader) as again:
            again.send(type="resume", chat=chat, last_seq=2)
            replayed = [again.expect("message")["seq"] for _ in range(3)]
            assert replayed == [3, 4, 5]
            desk.say(chat, "Hello, I am looking at it.")
            live = again.expect("message", seq=6)
            assert live["sender"]["kind"] == "agent"
            again.send(type="ping")
            again.expect("pong")
            seqs = [frame["seq"] for frame in again.messages()]
            assert seqs == sorted(set(seqs)), "a message came twice or out of order"


def test_a_sender_gets_its_ack_in_its_messages_place_and_never_an_echo(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    """The ack stands in for the sender's own message, in the chat's order; the sender's
    other socket and a later resume get the message itself: nothing lost, nothing twice."""
    agent = make_agent(session)
    trader = make_trader(session)
    with (
        agent_socket(another_client, agent) as desk,
        trader_socket(client, settings, trader) as sock,
        trader_socket(client, settings, trader) as other_tab,
    ):
        chat = start_accepted_chat(sock, desk, "hello")
        other_tab.send(type="resume", chat=chat, last_seq=0)
        acks = [sock.say(chat, f"line {n}") for n in range(3)]
        assert [ack["duplicate"] for ack in acks] == [False] * 3 and all(a["at"] for a in acks)
        reply = desk.say(chat, "Hi, looking at it.")
        sock.expect("message", seq=reply["seq"])
        other_tab.expect("message", seq=reply["seq"])
        sent = {ack["client_id"] for ack in acks}
        assert not [f for f in sock.seen if f.get("type") == "message" and f["client_id"] in sent]
        stream = [f["seq"] for f in sock.seen if f.get("type") in ("message", "ack")]
        assert stream == list(range(1, reply["seq"] + 1)), "out of order, repeated or lost"
        assert [f["text"] for f in other_tab.messages() if f["client_id"] in sent] == [
            "line 0", "line 1", "line 2",
        ]  # fmt: skip
        resent = sock.say(chat, "line 0", client_id=acks[0]["client_id"])
        assert resent == {**acks[0], "duplicate": True}
    with trader_socket(client, settings, trader) as again:
        again.send(type="resume", chat=chat, last_seq=0)
        again.expect("message", seq=reply["seq"])
        replayed = [f["seq"] for f in again.messages()]
        assert replayed == list(range(1, reply["seq"] + 1))


def test_a_trader_cannot_join_or_post_to_another_traders_chat(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    owner = make_trader(session, "u-owner")
    stranger = make_trader(session, "u-stranger")
    make_agent(session)
    with trader_socket(client, settings, owner) as sock:
        sock.send(type="start", text="private matter")
        chat = sock.expect("chat")["chat"]
    with trader_socket(another_client, settings, stranger) as other:
        other.send(type="resume", chat=chat, last_seq=0)
        assert other.expect("error")["code"] == "not_found"
        other.send(type="message", chat=chat, text="let me in", client_id="x1")
        assert other.expect("error")["code"] == "not_found"
        other.send(type="resume", chat=chat + 1000, last_seq=0)
        assert other.expect("error")["code"] == "not_found"


def test_a_guest_needs_the_chat_key_to_rejoin_after_a_reconnect(
    client: TestClient, another_client: TestClient, session: Session
) -> None:
    agent = make_agent(session)
    with agent_socket(another_client, agent), socket(client) as sock:
        sock.send(type="hello", guest_email="Guest@Example.com")
        sock.expect("welcome")
        sock.send(type="start", text="I cannot sign in")
        started = sock.expect("chat")
        chat, key = started["chat"], started["key"]
        assert key
    for email, shown_key, allowed in (("guest@example.com", key, True),
                                      ("guest@example.com", None, False),
                                      ("other@example.com", key, False)):  # fmt: skip
        with socket(client) as again:
            again.send(type="hello", guest_email=email)
            again.expect("welcome")
            again.send(type="resume", chat=chat, last_seq=0, key=shown_key)
            if allowed:
                assert again.expect("message", seq=1)["text"] == "I cannot sign in"
            else:
                assert again.expect("error")["code"] == "not_found"


def test_an_agent_sees_only_chats_offered_to_them(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    chosen = make_agent(session, email="chosen@desk.example.com")
    trader = make_trader(session)
    with (
        agent_socket(another_client, chosen) as desk,
        trader_socket(client, settings, trader) as sock,
    ):
        sock.send(type="start", text="help")
        chat = sock.expect("chat")["chat"]
        desk.expect("offer", chat=chat)
    bystander = make_agent(session, email="bystander@desk.example.com")
    with agent_socket(another_client, bystander, online=False) as other:
        other.send(type="resume", chat=chat, last_seq=0)
        assert other.expect("error")["code"] == "not_found"
        other.send(type="accept", chat=chat)
        assert other.expect("error")["code"] == "not_found"


def test_a_cookie_sign_in_from_another_site_is_refused(
    another_client: TestClient, session: Session
) -> None:
    from tests.conftest import login_agent

    agent = make_agent(session)
    login_agent(another_client, agent)
    with socket(another_client, origin="https://evil.example") as sock:
        sock.send(type="hello")
        assert sock.expect("error")["code"] == "permission_denied"


def test_traders_may_not_send_agent_frames(
    client: TestClient, settings: Settings, session: Session
) -> None:
    trader = make_trader(session)
    with trader_socket(client, settings, trader) as sock:
        sock.send(type="presence", status="online")
        assert sock.expect("error")["code"] == "permission_denied"


def test_typing_reaches_the_other_side_only_and_read_receipts_are_stored(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    from hashdesk.chat.models import ChatParticipant

    agent = make_agent(session)
    trader = make_trader(session)
    with (
        agent_socket(another_client, agent) as desk,
        trader_socket(client, settings, trader) as sock,
    ):
        chat = start_accepted_chat(sock, desk, "hello")
        desk.expect("message", seq=2)
        sock.send(type="typing", chat=chat)
        typing = desk.expect("typing", chat=chat)
        assert typing["by"] == {"kind": "trader", "id": trader.id, "name": trader.name}
        desk.send(type="read", chat=chat, seq=99)  # past the end: capped at the last message
        receipt = sock.expect("read", chat=chat)
        assert (receipt["seq"], receipt["by"]["kind"]) == (2, "agent")
        sock.send(type="ping")
        sock.expect("pong")
        assert not [f for f in sock.seen if f.get("type") == "typing"], "own typing echoed"
    stored = session.query(ChatParticipant).filter_by(chat_id=chat, kind="agent").one()
    assert stored.last_read_seq == 2


def test_the_workspace_page_is_for_agents(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    from tests.conftest import login_agent, login_trader

    login_trader(client, settings, make_trader(session))
    refused = client.get("/console/chats", follow_redirects=False)
    assert refused.status_code in (302, 303) and "/console/login" in refused.headers["location"]
    login_agent(another_client, make_agent(session))
    page = another_client.get("/console/chats")
    assert page.status_code == 200
    assert 'id="ws-strings"' in page.text and "/console/chats/static/workspace.js" in page.text
    script = another_client.get("/console/chats/static/workspace.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert another_client.get("/console/chats/static/nope.js").status_code == 404


def test_the_agent_turns_a_chat_into_a_ticket_that_keeps_the_transcript(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    from hashdesk.tickets.models import Ticket

    agent = make_agent(session)
    trader = make_trader(session)
    with (
        agent_socket(another_client, agent) as desk,
        trader_socket(client, settings, trader) as sock,
    ):
        sock.send(type="start", text="My futures position was liquidated too early")
        chat = sock.expect("chat")["chat"]
        desk.expect("offer", chat=chat)
        sock.send(type="ticket", chat=chat)
        assert sock.expect("error")["code"] == "permission_denied"
        desk.send(type="ticket", chat=chat)
        assert desk.expect("error")["code"] == "conflict"  # not accepted yet
        desk.send(type="accept", chat=chat)
        desk.send(type="ticket", chat=chat)
        state = sock.expect("chat", status="ticketed")
        notice = sock.expect("message", seq=3)
    ticket = session.get(Ticket, state["ticket"])
    assert ticket is not None and ticket.trader_id == trader.id
    assert "liquidated too early" in ticket.description
    assert ticket.tracking_id in notice["text"] and agent.name in notice["text"]


def test_the_workspace_shows_first_response_and_the_share_closed_without_escalation(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    agent = make_agent(session)
    with agent_socket(another_client, agent) as desk:
        for n, ending in enumerate(("close", "close", "ticket")):
            with trader_socket(client, settings, make_trader(session, f"u-{n}")) as sock:
                chat = start_accepted_chat(sock, desk, f"question {n}")
                desk.say(chat, "Hello!")
                desk.send(type=ending, chat=chat)
                sock.expect("chat", status="closed" if ending == "close" else "ticketed")
    page = another_client.get("/console/chats")
    assert page.status_code == 200
    assert '<dd data-testid="metric-chats">3</dd>' in page.text
    assert '<dd data-testid="metric-no-escalation">66.7 %</dd>' in page.text
    assert 'data-testid="metric-first-response">—' not in page.text
