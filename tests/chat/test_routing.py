"""Routing: the pure rules first, then the same rules through real sockets and the sweep
(offer time-out to the next agent, overflow to English, ticket when nobody is online, VIP)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.chat.actions import Opening, choose_language, do_set_account_manager
from hashdesk.chat.geo import client_ip, region_of
from hashdesk.chat.jobs import sweep
from hashdesk.chat.models import Chat, ChatStatus
from hashdesk.chat.presence import AgentPresence, MemoryPresence, RedisPresence
from hashdesk.chat.routing import ChatNeeds, Decision, Floor, decide, queue_name
from hashdesk.chat.services import services_for
from hashdesk.config import Settings
from hashdesk.core.auth import Role
from hashdesk.runtime import Runtime
from hashdesk.tickets.models import Ticket
from tests.chat.conftest import agent_socket, socket, trader_socket
from tests.conftest import make_agent, make_trader

pytestmark = pytest.mark.timeout(60)
EARLY = datetime(2026, 1, 1, tzinfo=UTC)


def agent(agent_id: int, *languages: str, status: str = "online", capacity: int = 2,
          department: str = "frontline") -> AgentPresence:  # fmt: skip
    return AgentPresence(agent_id, status, capacity, list(languages or ("en",)), department)


# --- the rules ----------------------------------------------------------------------------------


def test_least_busy_first_then_whoever_waited_longest_for_an_offer() -> None:
    floor = Floor([agent(1), agent(2), agent(3)], loads={1: 1, 2: 0, 3: 0},
                  last_offers={2: EARLY + timedelta(minutes=5), 3: EARLY})  # fmt: skip
    assert decide(ChatNeeds("en"), floor).agent_id == 3
    floor.loads[3] = 1
    assert decide(ChatNeeds("en"), floor).agent_id == 2


def test_round_robin_among_equals_by_id_when_nobody_had_an_offer() -> None:
    assert decide(ChatNeeds("en"), Floor([agent(5), agent(4)])).agent_id == 4


def test_agents_at_capacity_leave_the_chat_queued() -> None:
    floor = Floor([agent(1, capacity=1)], loads={1: 1})
    assert decide(ChatNeeds("en"), floor).decision is Decision.QUEUE


def test_language_match_uses_the_primary_subtag() -> None:
    floor = Floor([agent(1, "en"), agent(2, "zh-Hans")])
    assert decide(ChatNeeds("zh-Hant"), floor).agent_id == 2


def test_no_speaker_online_overflows_to_english() -> None:
    route = decide(ChatNeeds("ko"), Floor([agent(1, "en"), agent(2, "ja")]))
    assert (route.decision, route.agent_id, route.overflow_to) == (Decision.OFFER, 1, "en")


def test_away_and_passed_over_agents_do_not_count_as_online() -> None:
    floor = Floor([agent(1, status="away"), agent(2)])
    assert decide(ChatNeeds("en", passed_over=frozenset({2})), floor).decision is Decision.TICKET


def test_vip_goes_to_the_account_manager_then_the_vip_desk() -> None:
    floor = Floor([agent(1), agent(7, department="vip"), agent(9)], loads={1: 0, 9: 0, 7: 1})
    needs = ChatNeeds("en", vip_level=2, account_manager_id=9)
    assert decide(needs, floor).agent_id == 9
    floor.loads[9] = 2  # the manager is full: the VIP desk, though busier than agent 1
    assert decide(needs, floor).agent_id == 7


def test_queue_names_group_languages_and_regions() -> None:
    assert queue_name("zh-Hant", "TW") == "zh:TW"
    assert queue_name("en", "") == "en:ZZ"


def test_language_comes_from_the_trader_then_accept_language_then_the_message() -> None:
    trader = Trader(external_id="x", email="x@example.com", language="de")
    assert choose_language(trader, Opening(accept_language="fr")) == ("de", "trader")
    assert choose_language(None, Opening(accept_language="pt-BR,en;q=0.5")) == (
        "pt",
        "accept_language",
    )
    spanish = Opening(text="Hola, no me llegó el depósito de USDT a mi cuenta")
    assert choose_language(None, spanish) == ("es", "detected")
    assert choose_language(None, Opening()) == ("en", "default")
    # Taken for Italian, but too unsure (0.55) to send the chat to the Italian queue.
    assert choose_language(None, Opening(text="api error 429")) == ("en", "default")


def test_region_from_the_offline_geoip_database_and_the_trusted_proxy_header() -> None:
    assert region_of("8.8.8.8") == "US"
    assert region_of("127.0.0.1") == "" and region_of("10.1.2.3") == ""
    headers = {"x-forwarded-for": "203.0.113.9, 81.2.69.160"}
    assert client_ip("10.0.0.2", headers, "X-Forwarded-For") == "81.2.69.160"
    assert client_ip("10.0.0.2", headers, None) == "10.0.0.2"  # not configured: not trusted
    assert client_ip("10.0.0.2", {"x-forwarded-for": "junk"}, "X-Forwarded-For") == "10.0.0.2"


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_presence_backends_keep_status_and_forget_after_the_ttl(
    backend: str, redis_url: str, request: pytest.FixtureRequest
) -> None:
    if backend == "redis":
        request.getfixturevalue("redis_available")
        store: MemoryPresence | RedisPresence = RedisPresence(
            redis_url, prefix=f"test-presence-{os.getpid()}:"
        )
    else:
        store = MemoryPresence()
    store.put(agent(1, "en", "es"))
    store.put(agent(2, status="away"), ttl=1)
    assert store.get(1) == agent(1, "en", "es")
    assert sorted(p.agent_id for p in store.everyone()) == [1, 2]
    time.sleep(1.1)
    assert [p.agent_id for p in store.everyone()] == [1]
    store.remove(1)
    assert store.get(1) is None and store.everyone() == []


# --- through the sockets --------------------------------------------------------------------------


def test_nobody_online_turns_the_chat_into_a_ticket_with_the_transcript(
    client: TestClient, settings: Settings, session: Session
) -> None:
    trader = make_trader(session)
    with trader_socket(client, settings, trader) as sock:
        sock.send(type="start", text="Where is my withdrawal?")
        state = sock.expect("chat")
        assert state["status"] == "ticketed"
        notice = sock.expect("message", seq=2)
        ticket = session.get(Ticket, state["ticket"])
        assert ticket is not None and ticket.trader_id == trader.id
        assert ticket.tracking_id in notice["text"]
        assert "Where is my withdrawal?" in ticket.description
        sock.send(type="message", chat=state["chat"], text="hello?", client_id="late")
        assert sock.expect("error")["code"] == "conflict"


def test_a_guest_chat_with_nobody_online_becomes_a_guest_ticket(
    client: TestClient, session: Session
) -> None:
    with socket(client) as sock:
        sock.send(type="hello", guest_email="visitor@example.com")
        sock.expect("welcome")
        sock.send(type="start", text="Can I change my email?")
        state = sock.expect("chat")
    ticket = session.get(Ticket, state["ticket"])
    assert ticket is not None and ticket.guest_email == "visitor@example.com"


def test_no_agent_for_the_language_overflows_to_english_with_a_notice(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    english = make_agent(session)
    trader = make_trader(session, language="ko")
    with agent_socket(another_client, english) as desk, trader_socket(client, settings, trader) as sock:  # fmt: skip
        sock.send(type="start", text="안녕하세요")
        state = sock.expect("chat")
        assert (state["status"], state["queue"], state["language"]) == ("offered", "en:ZZ", "ko")
        notices = [sock.expect("message", seq=seq) for seq in (1, 2)]
        assert notices[1]["sender"]["kind"] == "system"
        desk.expect("offer", chat=state["chat"])


def test_an_offer_not_accepted_in_time_goes_to_the_next_agent(
    runtime: Runtime, client: TestClient, another_client: TestClient, session: Session
) -> None:
    runtime.settings.chat_offer_seconds = 0.5
    first = make_agent(session, email="first@desk.example.com")
    second = make_agent(session, email="second@desk.example.com")
    presence = services_for(runtime).presence
    presence.put(AgentPresence(second.id, "online", 3, ["en"], "frontline"))
    with agent_socket(another_client, first) as desk:
        # Both online and idle: the lower id (first) gets the offer and lets it lapse.
        trader = make_trader(session)
        with trader_socket(client, runtime.settings, trader) as sock:
            sock.send(type="start", text="hello")
            chat = sock.expect("chat", status="offered", agent=first.id)["chat"]
            desk.expect("offer", chat=chat)
            moved = sock.expect("chat", status="offered", agent=second.id)
            assert moved["reason"] == "least_busy"
    row = session.get(Chat, chat)
    assert row is not None and row.passed_over == [first.id]


def test_a_queued_chat_is_offered_when_an_agent_has_room_again(
    runtime: Runtime, client: TestClient, another_client: TestClient, session: Session
) -> None:
    busy = make_agent(session)
    with agent_socket(another_client, busy) as desk:
        desk.send(type="presence", status="online", capacity=1)
        desk.expect("presence")
        chats = []
        for n in range(2):
            trader = make_trader(session, f"u-{n}")
            with trader_socket(client, runtime.settings, trader) as sock:
                sock.send(type="start", text=f"question {n}")
                chats.append(sock.expect("chat"))
        assert [c["status"] for c in chats] == ["offered", "queued"]
        assert (chats[1]["position"], chats[1]["wait_seconds"]) == (1, 300)
        desk.send(type="accept", chat=chats[0]["chat"])
        desk.send(type="close", chat=chats[0]["chat"])
        desk.expect("offer", chat=chats[1]["chat"])  # the sweep found room


def test_a_vip_trader_skips_the_queue_to_their_account_manager(
    runtime: Runtime, client: TestClient, another_client: TestClient, session: Session
) -> None:
    make_agent(session, email="frontline@desk.example.com")
    manager = make_agent(session, Role.ACCOUNT_MANAGER, email="am@desk.example.com",
                         department="vip")  # fmt: skip
    presence = services_for(runtime).presence
    presence.put(AgentPresence(1, "online", 3, ["en"], "frontline"))
    whale = make_trader(session, "u-whale", vip_level=4)
    do_set_account_manager(session, whale, manager)
    session.commit()
    with agent_socket(another_client, manager) as desk, trader_socket(client, runtime.settings, whale) as sock:  # fmt: skip
        sock.send(type="start", text="I need a higher API limit")
        state = sock.expect("chat")
        assert (state["status"], state["agent"], state["vip_level"]) == ("offered", manager.id, 4)
        assert desk.expect("offer", chat=state["chat"])["reason"] == "account_manager"


def test_the_sweep_turns_waiting_chats_into_tickets_once_everyone_left(
    runtime: Runtime, client: TestClient, another_client: TestClient, session: Session
) -> None:
    busy = make_agent(session)
    with agent_socket(another_client, busy) as desk:
        desk.send(type="presence", status="online", capacity=1)
        desk.expect("presence")
        for n in range(2):
            with trader_socket(client, runtime.settings, make_trader(session, f"u-{n}")) as sock:
                sock.send(type="start", text=f"question {n}")
                sock.expect("chat")
        desk.send(type="presence", status="offline")
        desk.expect("presence")
    sweep(runtime)
    session.expire_all()
    statuses = sorted(c.status for c in session.query(Chat))
    assert statuses == [ChatStatus.OFFERED.value, ChatStatus.TICKETED.value]


def test_the_account_manager_command_sets_and_removes_the_manager(
    cli: object, session: Session
) -> None:
    from click.testing import CliRunner

    from hashdesk.chat.models import AccountManager
    from hashdesk.cli import main

    runner = cli
    assert isinstance(runner, CliRunner)
    manager = make_agent(session, Role.ACCOUNT_MANAGER, email="am@desk.example.com")
    whale = make_trader(session, "u-whale", vip_level=3)
    done = runner.invoke(main, ["chat", "account-manager", "u-whale", "am@desk.example.com"])
    assert done.exit_code == 0, done.output
    session.expire_all()
    row = session.get(AccountManager, whale.id)
    assert row is not None and row.agent_id == manager.id
    unknown = runner.invoke(main, ["chat", "account-manager", "u-nobody", "am@desk.example.com"])
    assert unknown.exit_code == 1 and "No trader u-nobody" in unknown.output
    removed = runner.invoke(main, ["chat", "account-manager", "u-whale", "--remove"])
    assert removed.exit_code == 0, removed.output
    session.expire_all()
    assert session.get(AccountManager, whale.id) is None
