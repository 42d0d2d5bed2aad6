"""Outgoing webhooks for ticket events, to a real HTTP server started here: signed with
HMAC-SHA256, retried when the receiver fails, given up after MAX_ATTEMPTS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from hashdesk.core.auth import Principal, PrincipalKind, Role
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import PermissionDenied
from hashdesk.core.signing import SIGNATURE_HEADER, verify
from hashdesk.notify.actions import check_create_webhook
from hashdesk.notify.jobs import MAX_ATTEMPTS, claim_due, drain, process_one
from hashdesk.notify.models import OutboxKind, OutboxMessage, WebhookEndpoint
from hashdesk.runtime import Runtime
from tests.conftest import free_port, make_trader, open_ticket

ADMIN = Principal(kind=PrincipalKind.AGENT, id=1, name="Admin", role=Role.ADMIN)


@dataclass
class Receiver:
    """The exchange's webhook endpoint: records what arrives, answers with ``statuses``
    (200 once they run out), after calling ``on_request`` when a test sets one."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    on_request: Callable[[], None] | None = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}/hooks/hashdesk")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers.items()), body))
            if state.on_request is not None:
                state.on_request()
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def webhooks(session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.WEBHOOK.value)
    return list(session.scalars(query.order_by(OutboxMessage.id)
                                .execution_options(populate_existing=True)))  # fmt: skip


def retry_now(session: Session) -> None:
    session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    session.commit()


def test_ticket_events_arrive_signed_with_the_endpoints_secret(
    session: Session, runtime: Runtime, receiver: Receiver
) -> None:
    endpoint = check_create_webhook(session, ADMIN, receiver.url, ["ticket.created"])
    session.commit()
    ticket = open_ticket(session, make_trader(session))

    assert drain(runtime.database, runtime.settings) >= 1

    [(headers, body)] = receiver.received
    assert verify(endpoint.secret, headers[SIGNATURE_HEADER], body)
    assert not verify("another-secret", headers[SIGNATURE_HEADER], body)
    event = json.loads(body)
    assert event["type"] == "ticket.created"
    assert event["data"]["tracking_id"] == ticket.tracking_id
    assert event["id"]  # receivers deduplicate by it: delivery is at-least-once


def test_an_endpoint_hears_only_the_events_it_asked_for(
    session: Session, runtime: Runtime, receiver: Receiver
) -> None:
    from hashdesk.accounts.queries import agent_principal
    from hashdesk.tickets.actions import check_agent_reply
    from tests.conftest import make_agent

    check_create_webhook(session, ADMIN, receiver.url, ["ticket.replied"])
    check_create_webhook(session, ADMIN, receiver.url + "?all", [])
    session.commit()
    ticket = open_ticket(session, make_trader(session))
    check_agent_reply(session, agent_principal(make_agent(session)), ticket, "Hi")
    check_agent_reply(session, agent_principal(make_agent(session, email="b@desk.example.com")),
                      ticket, "Internal", internal=True)  # fmt: skip
    session.commit()

    drain(runtime.database, runtime.settings)

    types = sorted(json.loads(body)["type"] for _headers, body in receiver.received)
    # The catch-all endpoint gets created + replied; the picky one replied; notes go nowhere.
    assert types == ["ticket.created", "ticket.replied", "ticket.replied"]


def test_a_failing_receiver_is_retried_until_it_answers(
    session: Session, runtime: Runtime, receiver: Receiver
) -> None:
    check_create_webhook(session, ADMIN, receiver.url, [])
    session.commit()
    open_ticket(session, make_trader(session))
    receiver.statuses = [500, 503]

    assert drain(runtime.database, runtime.settings) == 0
    [message] = webhooks(session)
    assert (message.state, message.attempts) == ("pending", 1)
    assert message.last_error and "500" in message.last_error
    retry_now(session)
    assert drain(runtime.database, runtime.settings) == 0
    retry_now(session)
    assert drain(runtime.database, runtime.settings) == 1

    assert [(m.state, m.attempts) for m in webhooks(session)] == [("sent", 3)]
    bodies = {body for _headers, body in receiver.received}
    assert len(receiver.received) == 3 and len(bodies) == 1  # the same event each time


def test_a_receiver_that_never_answers_is_given_up_after_max_attempts(
    session: Session, runtime: Runtime, receiver: Receiver
) -> None:
    check_create_webhook(session, ADMIN, receiver.url, [])
    session.commit()
    open_ticket(session, make_trader(session))
    receiver.statuses = [500] * (MAX_ATTEMPTS + 5)

    for _ in range(MAX_ATTEMPTS + 2):
        drain(runtime.database, runtime.settings)
        retry_now(session)

    [message] = webhooks(session)
    assert (message.state, message.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.received) == MAX_ATTEMPTS


def test_an_unreachable_or_disabled_endpoint_counts_as_a_failed_attempt(
    session: Session, runtime: Runtime
) -> None:
    endpoint = check_create_webhook(session, ADMIN, f"http://127.0.0.1:{free_port()}/", [])
    session.commit()
    open_ticket(session, make_trader(session))
    drain(runtime.database, runtime.settings)
    assert webhooks(session)[0].last_error

    session.get_one(WebhookEndpoint, endpoint.id).active = False
    session.commit()
    retry_now(session)
    drain(runtime.database, runtime.settings)
    [message] = webhooks(session)
    assert message.attempts == 2 and "disabled" in (message.last_error or "")


def test_nothing_is_locked_while_a_receiver_takes_its_time(
    session: Session, runtime: Runtime, receiver: Receiver
) -> None:
    check_create_webhook(session, ADMIN, receiver.url, ["ticket.created"])
    session.commit()
    open_ticket(session, make_trader(session))
    arrived, written = threading.Event(), threading.Event()
    pool = runtime.database.engine.pool
    assert isinstance(pool, QueuePool)  # file SQLite and PostgreSQL alike
    connections_in_use: list[int] = []

    def answer_once_the_test_has_written() -> None:
        connections_in_use.append(pool.checkedout())
        arrived.set()
        written.wait(timeout=5)  # a slow receiver; the test's write ends the wait early

    receiver.on_request = answer_once_the_test_has_written
    worker = threading.Thread(target=drain, args=(runtime.database, runtime.settings))
    worker.start()
    try:
        assert arrived.wait(timeout=10)
        started = time.monotonic()
        # Other ticket writes go through (SQLite has one write lock for the whole file), and
        # so does a write to the very row being delivered (PostgreSQL locks rows).
        open_ticket(session, make_trader(session, "u-2002"))
        session.execute(update(OutboxMessage).values(created_at=OutboxMessage.created_at))
        session.commit()
        writing_took = time.monotonic() - started
    finally:
        written.set()
        worker.join(timeout=20)

    assert writing_took < 2.5  # holding a lock during the send, it would wait the 5 s out
    assert connections_in_use[0] == 0  # the send holds no database connection either
    assert [m.state for m in webhooks(session)] == ["sent", "sent"]


def test_a_message_whose_lease_ran_out_is_left_to_the_worker_that_claimed_it_next(
    session: Session, runtime: Runtime, receiver: Receiver
) -> None:
    check_create_webhook(session, ADMIN, receiver.url, ["ticket.created"])
    session.commit()
    open_ticket(session, make_trader(session))
    with runtime.database.transaction() as worker_session:
        slow = claim_due(worker_session)
    # The slow worker's batch outlasted its lease, and another worker claimed the message.
    retry_now(session)
    with runtime.database.transaction() as worker_session:
        other = claim_due(worker_session)
    [message_id] = [message.id for message in webhooks(session)]
    assert message_id in slow.ids and message_id in other.ids

    assert not process_one(runtime.database, runtime.settings, message_id, slow.until)
    assert receiver.received == []  # sending it here too would deliver it twice
    assert process_one(runtime.database, runtime.settings, message_id, other.until)
    assert len(receiver.received) == 1
    assert [(m.state, m.attempts) for m in webhooks(session)] == [("sent", 1)]


def test_only_admins_configure_webhooks(session: Session) -> None:
    lead = Principal(kind=PrincipalKind.AGENT, id=2, name="Lead", role=Role.LEAD)
    with pytest.raises(PermissionDenied):
        check_create_webhook(session, lead, "http://127.0.0.1:9/", [])
