"""The ticket API under /api/v1, used as a trader's browser, an exchange backend (Bearer
token) and the agent console use it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.config import Settings
from hashdesk.core import audit
from hashdesk.core.auth import Role
from hashdesk.runtime import Runtime
from hashdesk.tickets.models import Ticket
from tests.conftest import (
    exchange_token,
    login_agent,
    login_trader,
    make_agent,
    make_trader,
    open_ticket,
)

USDT_DEPOSIT = {
    "category": "deposit",
    "subject": "USDT deposit missing",
    "description": "Sent 100 USDT on TRON two hours ago.",
    "fields": {"network": "tron", "asset": "USDT"},
}


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem document with ``status``, naming ``field`` when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem
    return problem


def as_bearer(settings: Settings, trader: Trader) -> dict[str, str]:
    return {"Authorization": f"Bearer {exchange_token(settings, trader.external_id)}"}


# --- a conversation ------------------------------------------------------------------------


def test_trader_opens_ticket_and_agent_replies(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    agent = make_agent(session, Role.FRONTLINE)
    login_trader(client, settings, trader)
    created = client.post("/api/v1/tickets", json=USDT_DEPOSIT)
    assert created.status_code == 201, created.text
    tracking_id = created.json()["tracking_id"]
    assert created.json()["department"] == "blockchain"
    assert created.json()["status"] == "new"

    login_agent(another_client, agent)
    reply = another_client.post(
        f"/api/v1/tickets/{tracking_id}/messages", json={"body": "Checking now."}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["author_name"] == agent.name

    ticket = client.get(f"/api/v1/tickets/{tracking_id.lower()}").json()
    assert ticket["status"] == "open"
    assert [(e["kind"], e["body"]) for e in ticket["entries"]][::2] == [
        ("created", USDT_DEPOSIT["description"]), ("status", "")]  # fmt: skip
    assert ticket["entries"][1]["body"] == "Checking now."


def test_an_internal_hand_off_note_never_reaches_the_trader(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    login_agent(another_client, make_agent(session))
    noted = another_client.post(f"/api/v1/tickets/{ticket.id}/messages",
                                json={"body": "Trader sounds stressed.", "internal": True})  # fmt: skip
    assert noted.status_code == 201
    handed = another_client.post(f"/api/v1/tickets/{ticket.tracking_id}/handoff", json={
        "department": "security", "note": "SIM-swap pattern, check the login IPs."})  # fmt: skip
    assert handed.status_code == 200, handed.text
    assert handed.json()["department"] == "security"
    # Frontline cannot see security tickets: once handed off, it is out of their sight.
    assert_problem(another_client.get(f"/api/v1/tickets/{ticket.id}"), 404)

    login_trader(client, settings, trader)
    seen = client.get(f"/api/v1/tickets/{ticket.tracking_id}")
    assert seen.status_code == 200
    assert "SIM-swap" not in seen.text and "stressed" not in seen.text
    assert [e["kind"] for e in seen.json()["entries"]] == ["created", "handoff", "status"]
    assert all(e["public"] for e in seen.json()["entries"])
    assert seen.json()["department"] == "security"


def test_staff_views_of_a_ticket_are_audited_as_personal_data_views(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    agent = make_agent(session)
    login_agent(client, agent)
    login_trader(another_client, settings, trader)

    assert client.get(f"/api/v1/tickets/{ticket.tracking_id}").status_code == 200
    assert another_client.get(f"/api/v1/tickets/{ticket.tracking_id}").status_code == 200

    views = [e for e in audit.list_entries(session, "ticket", ticket.id)
             if e.action == "ticket.viewed"]  # fmt: skip
    assert [(e.actor_kind, e.actor_id) for e in views] == [("agent", agent.id)]


def test_console_views_and_filters(client: TestClient, session: Session) -> None:
    trader = make_trader(session)
    agent = make_agent(session, Role.LEAD)
    mine = open_ticket(session, trader, subject="Withdrawal of BTC is stuck")
    unassigned = open_ticket(session, trader, category="api", subject="API key rejected")
    login_agent(client, agent)
    assert client.post(f"/api/v1/tickets/{mine.id}/assignment",
                       json={"assignee_id": agent.id}).status_code == 200  # fmt: skip

    def ids(**params: str) -> list[int]:
        response = client.get("/api/v1/tickets", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids(view="mine") == [mine.id]
    assert ids(view="unassigned") == [unassigned.id]
    assert ids(department="engineering") == [unassigned.id]
    assert ids(search="btc") == [mine.id]
    assert ids(search=mine.tracking_id.lower().replace("-", " ")) == [mine.id]
    assert ids(status="closed") == []
    assert_problem(client.get("/api/v1/tickets", params={"view": "everything"}), 422, "view")


def test_status_priority_macro_and_merge_through_the_api(
    client: TestClient, session: Session
) -> None:
    trader = make_trader(session, name="Bob")
    first = open_ticket(session, trader)
    duplicate = open_ticket(session, trader)
    login_agent(client, make_agent(session, Role.LEAD))

    status = client.post(f"/api/v1/tickets/{first.id}/status", json={"status": "escalated"})
    assert status.json()["status"] == "escalated"
    priority = client.post(f"/api/v1/tickets/{first.id}/priority", json={"priority": "urgent"})
    assert priority.json()["priority"] == "urgent"
    macro = client.post("/api/v1/macros", json={"name": "Ask for patience", "set_status": "pending",
                                                "body": "Hi {trader_name}, we are on {tracking_id}."})  # fmt: skip
    assert macro.status_code == 201, macro.text
    applied = client.post(
        f"/api/v1/tickets/{first.id}/macro", json={"macro_id": macro.json()["id"]}
    )
    assert applied.json()["body"] == f"Hi Bob, we are on {first.tracking_id}."
    merged = client.post(f"/api/v1/tickets/{duplicate.id}/merge",
                         json={"into_tracking_id": first.tracking_id})  # fmt: skip
    assert merged.status_code == 200, merged.text
    assert merged.json()["tracking_id"] == first.tracking_id
    assert merged.json()["status"] == "pending"

    refused = client.post(f"/api/v1/tickets/{first.id}/status", json={"status": "new"})
    assert_problem(refused, 409, "status")
    assert_problem(client.post(f"/api/v1/tickets/{first.id}/macro", json={"macro_id": 999}), 404)


# --- who may see and do what ---------------------------------------------------------------


def test_signing_in_is_required(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/tickets"), 401)
    assert_problem(client.post("/api/v1/tickets", json=USDT_DEPOSIT), 401)


def test_another_traders_ticket_answers_404_by_id_and_by_tracking_id(
    client: TestClient, session: Session, settings: Settings
) -> None:
    theirs = open_ticket(session, make_trader(session, "u-2"))
    login_trader(client, settings, make_trader(session, "u-1"))

    for reference in (str(theirs.id), theirs.tracking_id, theirs.tracking_id.lower()):
        problem = assert_problem(client.get(f"/api/v1/tickets/{reference}"), 404)
        assert_problem(client.post(f"/api/v1/tickets/{reference}/messages",
                                   json={"body": "Mine now"}), 404)  # fmt: skip
        # Exactly what a ticket that does not exist answers: nothing to probe.
        missing = client.get(
            f"/api/v1/tickets/{'99999' if reference.isdigit() else 'HD-0000-0000'}"
        )
        assert missing.json()["title"] == problem["title"]
        assert missing.json()["code"] == problem["code"] == "not_found"
    assert client.get("/api/v1/tickets").json()["items"] == []


def test_references_that_only_look_numeric_are_a_plain_404(
    client: TestClient, session: Session, settings: Settings
) -> None:
    login_trader(client, settings, make_trader(session))
    for reference in ("²", "١٢", "0" * 30):
        assert_problem(client.get(f"/api/v1/tickets/{reference}"), 404)


def test_a_write_stands_even_when_the_live_event_cannot_be_published(
    client: TestClient, session: Session, settings: Settings, runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def bus_down(channel: str, message: object) -> None:
        raise ConnectionError("the event bus is unreachable")

    monkeypatch.setattr(runtime.bus, "publish", bus_down)
    login_trader(client, settings, make_trader(session))
    created = client.post("/api/v1/tickets", json=USDT_DEPOSIT)
    assert created.status_code == 201, created.text
    assert client.get(f"/api/v1/tickets/{created.json()['tracking_id']}").status_code == 200


def test_agents_act_only_within_their_role(
    client: TestClient, another_client: TestClient, session: Session
) -> None:
    trader = make_trader(session)
    ordinary = open_ticket(session, trader)
    security_ticket = open_ticket(session, trader, category="security")
    login_agent(client, make_agent(session, Role.COMMUNITY))
    login_agent(another_client, make_agent(session, Role.FRONTLINE))

    problem = assert_problem(client.post(f"/api/v1/tickets/{ordinary.id}/messages",
                                         json={"body": "Hello from the mods"}), 403)  # fmt: skip
    assert "community" in problem["detail"]
    note = client.post(f"/api/v1/tickets/{ordinary.id}/messages",
                       json={"body": "Seen in our Discord.", "internal": True})  # fmt: skip
    assert note.status_code == 201
    assert_problem(client.post("/api/v1/macros", json={"name": "x", "body": "y"}), 403)

    assert_problem(another_client.get(f"/api/v1/tickets/{security_ticket.tracking_id}"), 404)
    listed = another_client.get("/api/v1/tickets").json()["items"]
    assert [item["id"] for item in listed] == [ordinary.id]


def test_traders_cannot_use_staff_endpoints(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    login_trader(client, settings, trader)
    assert_problem(
        client.post(f"/api/v1/tickets/{ticket.id}/status", json={"status": "closed"}), 403
    )
    assert_problem(client.post(f"/api/v1/tickets/{ticket.id}/messages",
                               json={"body": "Note to self", "internal": True}), 403)  # fmt: skip
    assert_problem(client.get("/api/v1/stats/backlog"), 403)


def test_replying_to_a_closed_ticket_is_a_conflict(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    from hashdesk.accounts.queries import agent_principal
    from hashdesk.tickets.actions import check_change_status
    from hashdesk.tickets.models import Status

    check_change_status(session, agent_principal(make_agent(session)), ticket, Status.CLOSED)
    session.commit()
    login_trader(client, settings, trader)
    problem = assert_problem(client.post(f"/api/v1/tickets/{ticket.id}/messages",
                                         json={"body": "Hello?"}), 409)  # fmt: skip
    assert "closed" in problem["detail"]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"fields": {"network": "ethereum", "asset": "ETH", "tx_hash": "0x1234"}},
         "fields.tx_hash", "64 hexadecimal"),
        ({"fields": {"network": "bitcoin", "asset": "BTC",
                     "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"}},
         "fields.address", "checksum"),
        ({"fields": {"network": "moonchain", "asset": "MOON"}}, "fields.network", "Unknown network"),
        ({"fields": {"asset": "USDT"}}, "fields.network", "required"),
        ({"fields": {"network": "tron", "asset": "USDT", "colour": "red"}}, "fields.colour", "xtra"),
        ({"category": "lottery"}, "category", "Unknown category"),
        ({"subject": ""}, "subject", "at least 3"),
        ({"description": None}, "description", "string"),
    ],
)  # fmt: skip
def test_bad_ticket_input_is_a_422_naming_the_field_and_why(
    client: TestClient, session: Session, settings: Settings, change: dict[str, Any], field: str,
    why: str,
) -> None:  # fmt: skip
    login_trader(client, settings, make_trader(session))
    problem = assert_problem(
        client.post("/api/v1/tickets", json={**USDT_DEPOSIT, **change}), 422, field
    )
    message = next(e["message"] for e in problem["errors"] if e["field"] == field)
    assert why in message
    assert session.scalar(select(func.count(Ticket.id))) == 0


def test_a_missing_required_body_field_is_named(client: TestClient, session: Session,
                                                settings: Settings) -> None:  # fmt: skip
    login_trader(client, settings, make_trader(session))
    without_subject = {k: v for k, v in USDT_DEPOSIT.items() if k != "subject"}
    assert_problem(client.post("/api/v1/tickets", json=without_subject), 422, "subject")
    assert_problem(client.post("/api/v1/tickets", content=b"{not json",
                               headers={"content-type": "application/json"}), 422)  # fmt: skip


# --- CSRF and Bearer tokens -------------------------------------------------------------------


def test_cookie_sessions_need_the_csrf_token_for_writes(
    client: TestClient, session: Session, settings: Settings
) -> None:
    login_trader(client, settings, make_trader(session))
    token = client.headers.pop("X-CSRF-Token")

    problem = assert_problem(client.post("/api/v1/tickets", json=USDT_DEPOSIT), 403)
    assert "CSRF" in problem["detail"]
    forged = client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers={"X-CSRF-Token": "forged"})
    assert_problem(forged, 403)
    assert client.get("/api/v1/tickets").status_code == 200  # reads need no token
    good = client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers={"X-CSRF-Token": token})
    assert good.status_code == 201


def test_bearer_requests_from_the_exchange_need_no_csrf_token(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    created = client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers=as_bearer(settings, trader))
    assert created.status_code == 201, created.text
    listed = client.get("/api/v1/tickets", headers=as_bearer(settings, trader)).json()
    assert [item["tracking_id"] for item in listed["items"]] == [created.json()["tracking_id"]]
    bad = client.get("/api/v1/tickets", headers={"Authorization": "Bearer not-a-jwt"})
    assert_problem(bad, 401)


# --- idempotency ------------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_same_ticket(
    client: TestClient, session: Session, settings: Settings
) -> None:
    login_trader(client, settings, make_trader(session))
    headers = {"Idempotency-Key": "create-7f3a"}
    first = client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers=headers)
    again = client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count(Ticket.id))) == 1

    different = client.post("/api/v1/tickets", json={**USDT_DEPOSIT, "subject": "Other"},
                            headers=headers)  # fmt: skip
    assert_problem(different, 409, "Idempotency-Key")
    assert session.scalar(select(func.count(Ticket.id))) == 1
    assert_problem(client.post("/api/v1/tickets", json=USDT_DEPOSIT,
                               headers={"Idempotency-Key": "k" * 200}), 422, "Idempotency-Key")  # fmt: skip


def test_idempotency_keys_belong_to_one_trader(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    login_trader(client, settings, make_trader(session, "u-1"))
    login_trader(another_client, settings, make_trader(session, "u-2"))
    headers = {"Idempotency-Key": "same-key"}
    mine = client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers=headers).json()
    theirs = another_client.post("/api/v1/tickets", json=USDT_DEPOSIT, headers=headers).json()
    assert mine["tracking_id"] != theirs["tracking_id"]


# --- pagination and query counts --------------------------------------------------------------


def test_cursor_pagination_walks_every_ticket_once_newest_first(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    opened = [open_ticket(session, trader).id for _ in range(23)]
    login_trader(client, settings, trader)

    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/tickets", params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(opened, reverse=True)
    assert pages == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": "bm90LWpzb24"}, "cursor"), ({"cursor": "!!"}, "cursor"), ({"limit": 0}, "limit"),
     ({"limit": 101}, "limit"), ({"limit": "many"}, "limit")],
)  # fmt: skip
def test_a_bad_cursor_or_page_size_is_refused(
    client: TestClient, session: Session, settings: Settings, params: dict[str, Any], field: str
) -> None:
    login_trader(client, settings, make_trader(session))
    assert_problem(client.get("/api/v1/tickets", params=params), 422, field)


@contextmanager
def count_queries(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(runtime.database.engine, "before_cursor_execute", record)


def _queries_for(client: TestClient, runtime: Runtime, url: str, **params: Any) -> int:
    client.get(url, params=params)  # warm up: connections and caches
    with count_queries(runtime) as statements:
        response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return len(statements)


def test_list_endpoints_issue_the_same_few_queries_whatever_the_page_size(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings,
    runtime: Runtime,
) -> None:  # fmt: skip
    trader = make_trader(session)
    for _ in range(60):
        open_ticket(session, trader)
    login_trader(client, settings, trader)
    login_agent(another_client, make_agent(session, Role.LEAD))

    for who in (client, another_client):
        small = _queries_for(who, runtime, "/api/v1/tickets", limit=5)
        large = _queries_for(who, runtime, "/api/v1/tickets", limit=50)
        breaching = _queries_for(who, runtime, "/api/v1/tickets", limit=50, view="breaching")
        assert small == large == breaching
        assert small <= 4


def test_a_ticket_page_costs_the_same_queries_however_long_the_conversation(
    client: TestClient, session: Session, settings: Settings, runtime: Runtime
) -> None:
    from hashdesk.accounts.queries import trader_principal
    from hashdesk.tickets.actions import check_trader_reply

    trader = make_trader(session)
    short, long = open_ticket(session, trader), open_ticket(session, trader)
    for number in range(30):
        check_trader_reply(session, trader_principal(trader), long, f"Update {number}", [])
    session.commit()
    login_trader(client, settings, trader)

    assert _queries_for(client, runtime, f"/api/v1/tickets/{short.id}") == _queries_for(
        client, runtime, f"/api/v1/tickets/{long.id}"
    )


# --- the rest of the surface ------------------------------------------------------------------


def test_categories_are_public_and_say_which_fields_they_ask_for(client: TestClient) -> None:
    categories = {c["slug"]: c for c in client.get("/api/v1/categories").json()}
    assert len(categories) == 9
    assert categories["deposit"]["required_fields"] == ["network", "asset"]
    assert categories["security"]["department"] == "security"


def test_the_openapi_schema_describes_the_ticket_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/tickets", "/api/v1/tickets/{ticket_ref}", "/api/v1/guest/codes",
                 "/api/v1/connector/traders/{external_id}", "/healthz"):  # fmt: skip
        assert path in paths


def test_an_agent_can_be_created_only_by_an_admin(
    client: TestClient, another_client: TestClient, session: Session
) -> None:
    login_agent(client, make_agent(session, Role.ADMIN))
    login_agent(another_client, make_agent(session, Role.LEAD))
    new_agent = {"email": "new@desk.example.com", "name": "New", "role": "technician",
                 "department": "blockchain", "password": "a long enough password"}  # fmt: skip

    assert_problem(another_client.post("/api/v1/agents", json=new_agent), 403)
    created = client.post("/api/v1/agents", json=new_agent)
    assert created.status_code == 201, created.text
    assert_problem(client.post("/api/v1/agents", json=new_agent), 409, "email")
    assert_problem(client.post("/api/v1/agents", json={**new_agent, "email": "x@desk.example.com",
                                                       "department": "moon"}), 422, "department")  # fmt: skip
    assert session.scalar(select(Agent.role).where(Agent.email == "new@desk.example.com")) == (
        "technician"
    )
