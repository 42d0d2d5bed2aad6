"""A trader who cannot sign in opens a ticket as a guest and follows it with the tracking ID
plus a one-time code mailed to them (through a real SMTP server)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashdesk.core.clock import utcnow
from hashdesk.notify.jobs import drain
from hashdesk.runtime import Runtime
from hashdesk.tickets.models import GuestCode, Ticket
from tests.conftest import make_trader, open_ticket
from tests.tickets.test_api import assert_problem

GUEST = "locked.out@example.org"
RECOVERY = {
    "category": "account_recovery",
    "subject": "Locked out after SIM swap",
    "description": "My phone number was stolen and I cannot receive 2FA codes.",
    "email": GUEST,
}


def open_guest_ticket(client: TestClient) -> dict[str, Any]:
    created = client.post("/api/v1/guest/tickets", json=RECOVERY)
    assert created.status_code == 201, created.text
    ticket: dict[str, Any] = created.json()
    return ticket


def mailed_code(runtime: Runtime, inbox: Any) -> str:
    """Send what the outbox holds and read the code from the newest email."""
    drain(runtime.database, runtime.settings)
    body = inbox.messages[-1].get_content()
    found = re.search(r"is: (\d{6})", body)
    assert found, body
    return found.group(1)


def ask_for_code(client: TestClient, tracking_id: str, email: str = GUEST) -> None:
    response = client.post("/api/v1/guest/codes", json={"tracking_id": tracking_id, "email": email})
    assert response.status_code == 202, response.text


def verify(client: TestClient, tracking_id: str, code: str, email: str = GUEST) -> Any:
    return client.post("/api/v1/guest/sessions",
                       json={"tracking_id": tracking_id, "email": email, "code": code})  # fmt: skip


def test_a_guest_opens_a_ticket_and_follows_it_with_the_mailed_code(
    client: TestClient, runtime: Runtime, smtp_server: Any
) -> None:
    ticket = open_guest_ticket(client)
    assert ticket["guest_email"] == GUEST and ticket["department"] == "frontline"
    drain(runtime.database, runtime.settings)
    assert ticket["tracking_id"] in str(smtp_server.messages[0]["Subject"])

    ask_for_code(client, ticket["tracking_id"].lower())
    code = mailed_code(runtime, smtp_server)
    assert smtp_server.messages[-1]["To"] == GUEST
    signed_in = verify(client, ticket["tracking_id"], code, email=GUEST.upper())
    assert signed_in.status_code == 200, signed_in.text
    client.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]

    seen = client.get(f"/api/v1/tickets/{ticket['tracking_id']}")
    assert seen.status_code == 200 and seen.json()["subject"] == RECOVERY["subject"]
    reply = client.post(f"/api/v1/tickets/{ticket['id']}/messages",
                        json={"body": "Here is my ID document number."})  # fmt: skip
    assert reply.status_code == 201, reply.text
    assert reply.json()["author_kind"] == "guest"


def test_a_guest_session_sees_only_its_one_ticket(
    client: TestClient, session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    other_guest = client.post("/api/v1/guest/tickets", json={**RECOVERY, "email": "x@example.org"})
    traders_ticket = open_ticket(session, make_trader(session))
    ticket = open_guest_ticket(client)
    ask_for_code(client, ticket["tracking_id"])
    signed_in = verify(client, ticket["tracking_id"], mailed_code(runtime, smtp_server))
    client.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]

    listed = client.get("/api/v1/tickets").json()["items"]
    assert [item["id"] for item in listed] == [ticket["id"]]
    assert_problem(client.get(f"/api/v1/tickets/{other_guest.json()['tracking_id']}"), 404)
    assert_problem(client.get(f"/api/v1/tickets/{traders_ticket.id}"), 404)
    assert_problem(client.post(f"/api/v1/tickets/{ticket['id']}/status",
                               json={"status": "closed"}), 403)  # fmt: skip


def test_asking_for_a_code_always_answers_202_and_mails_only_the_owner(
    client: TestClient, runtime: Runtime, smtp_server: Any
) -> None:
    ticket = open_guest_ticket(client)
    drain(runtime.database, runtime.settings)
    mails_before = len(smtp_server.messages)

    ask_for_code(client, ticket["tracking_id"], email="attacker@example.org")
    ask_for_code(client, "HD-0000-0000")
    ask_for_code(client, "not a tracking id")
    drain(runtime.database, runtime.settings)

    assert len(smtp_server.messages) == mails_before  # nothing learnt, nothing sent


def test_wrong_codes_are_counted_and_the_fifth_locks_the_code(
    client: TestClient, session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    ticket = open_guest_ticket(client)
    ask_for_code(client, ticket["tracking_id"])
    code = mailed_code(runtime, smtp_server)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    for attempt in range(1, 6):
        assert_problem(verify(client, ticket["tracking_id"], wrong), 422, "code")
        attempts = session.scalar(select(GuestCode.attempts).where(
            GuestCode.ticket_id == ticket["id"]).execution_options(populate_existing=True))  # fmt: skip
        assert attempts == attempt

    locked = verify(client, ticket["tracking_id"], code)  # even the right code: ask again
    assert_problem(locked, 429)
    assert int(locked.headers["Retry-After"]) > 0

    ask_for_code(client, ticket["tracking_id"])
    fresh = mailed_code(runtime, smtp_server)
    assert verify(client, ticket["tracking_id"], fresh).status_code == 200


def test_an_expired_or_used_code_is_refused(
    client: TestClient, session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    ticket = open_guest_ticket(client)
    ask_for_code(client, ticket["tracking_id"])
    code = mailed_code(runtime, smtp_server)
    # Sixteen minutes pass: the code lived fifteen.
    session.execute(update(GuestCode).values(expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    assert_problem(verify(client, ticket["tracking_id"], code), 422, "code")

    ask_for_code(client, ticket["tracking_id"])
    code = mailed_code(runtime, smtp_server)
    assert verify(client, ticket["tracking_id"], code).status_code == 200
    assert_problem(verify(client, ticket["tracking_id"], code), 422, "code")  # one time only


def test_a_code_for_one_ticket_does_not_open_another(
    client: TestClient, session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    first = open_guest_ticket(client)
    second = open_guest_ticket(client)
    ask_for_code(client, first["tracking_id"])
    code = mailed_code(runtime, smtp_server)
    assert_problem(verify(client, second["tracking_id"], code), 422, "code")
    assert session.scalar(select(Ticket.guest_email).where(Ticket.id == second["id"])) == GUEST


def test_guest_endpoints_are_rate_limited_with_retry_after(client: TestClient) -> None:
    ticket = open_guest_ticket(client)
    statuses = [
        client.post("/api/v1/guest/codes",
                    json={"tracking_id": ticket["tracking_id"], "email": GUEST}).status_code
        for _ in range(11)
    ]  # fmt: skip
    assert statuses == [202] * 10 + [429]
    limited = client.post("/api/v1/guest/codes",
                          json={"tracking_id": ticket["tracking_id"], "email": GUEST})  # fmt: skip
    problem = assert_problem(limited, 429)
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    assert "try again" in problem["detail"]

    guesses = [verify(client, ticket["tracking_id"], "000000").status_code for _ in range(21)]
    assert guesses[-1] == 429


def test_guest_ticket_input_is_validated(client: TestClient) -> None:
    assert_problem(client.post("/api/v1/guest/tickets", json={**RECOVERY, "email": "nope"}),
                   422, "email")  # fmt: skip
    assert_problem(client.post("/api/v1/guest/sessions", json={
        "tracking_id": "HD-0000-0000", "email": GUEST, "code": "12ab56"}), 422, "code")  # fmt: skip
