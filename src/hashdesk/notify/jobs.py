"""The outbox worker: delivers queued emails and webhooks, with retries and backoff.

Safe on several nodes: a message is claimed by moving its ``next_attempt_at`` past a lease in
a short transaction (with ``SKIP LOCKED`` on PostgreSQL), so two workers never send one twice
while both are alive; a worker that dies mid-send leaves the message to be retried after the
lease, which is why deliveries are at-least-once and events carry an ``id`` for receivers.

Each attempt takes three steps, and only the first and last touch the database: read what the
send needs into plain values (a short read, then the session is closed); send, holding no
session, connection or lock, since an SMTP server or a receiver may take seconds to answer and
SQLite has a single write lock that every ticket write needs; then record the outcome in a
short transaction of its own. Any exception from the send counts as a failed attempt, so a
bug or a malformed message ends FAILED after MAX_ATTEMPTS instead of being retried forever.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Database
from hashdesk.notify.delivery import DeliveryError, send_email, send_webhook
from hashdesk.notify.models import OutboxKind, OutboxMessage, OutboxState, WebhookEndpoint

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 12
BATCH = 50
LAST_ERROR_CHARS = 500


@dataclass(frozen=True)
class Lease:
    """Messages claimed by this worker: no other worker picks them before ``until``."""

    ids: list[int]
    until: datetime


@dataclass(frozen=True)
class Endpoint:
    """A webhook receiver as it stood when the attempt was read."""

    url: str
    secret: str
    active: bool


@dataclass(frozen=True)
class Attempt:
    """What one send needs, copied out of the database so that sending holds no session."""

    message_id: int
    kind: str
    payload: Any  # JSON written by do_enqueue_*: its shape is checked while sending
    endpoint: Endpoint | None  # webhooks only; None when the endpoint was deleted


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 3600))


def claim_due(session: Session, limit: int = BATCH) -> Lease:
    now = utcnow()
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.state == OutboxState.PENDING.value, OutboxMessage.next_attempt_at <= now
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    lease = Lease(ids=[], until=now + LEASE)
    for message in session.scalars(query):
        message.next_attempt_at = lease.until
        lease.ids.append(message.id)
    return lease


# --- step 1: read, in a short session ---------------------------------------------------------


def load_attempt(database: Database, message_id: int, lease_until: datetime) -> Attempt | None:
    """What sending ``message_id`` needs; None when it is no longer this worker's to send.

    A batch is sent one message at a time, so a message late in a slow batch can outlive its
    lease; once the lease has run out another worker may have claimed it, and sending it here
    too would deliver it twice while both workers are alive. The next claim picks it up again.
    """
    if utcnow() >= lease_until:
        return None
    with database.session() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.state != OutboxState.PENDING.value:
            return None
        if message.next_attempt_at != lease_until:  # claimed again, by someone else
            return None
        endpoint = (
            _load_endpoint(session, message) if message.kind == OutboxKind.WEBHOOK.value else None
        )
        return Attempt(message.id, message.kind, message.payload, endpoint)


def _load_endpoint(session: Session, message: OutboxMessage) -> Endpoint | None:
    payload: Any = message.payload
    endpoint_id = payload.get("endpoint_id") if isinstance(payload, dict) else None
    if not isinstance(endpoint_id, int):
        return None  # a malformed payload: the send step reports it as a failed attempt
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return None
    return Endpoint(url=endpoint.url, secret=endpoint.secret, active=endpoint.active)


# --- step 2: send, with no session open -------------------------------------------------------


def send(settings: Settings, attempt: Attempt) -> None:
    """Deliver ``attempt``; raises DeliveryError (or anything else, on a bug) when it fails."""
    if attempt.kind == OutboxKind.EMAIL.value:
        send_email(settings, attempt.payload)
        return
    if attempt.kind != OutboxKind.WEBHOOK.value:
        raise DeliveryError(f"unknown outbox message kind {attempt.kind!r}")
    endpoint = attempt.endpoint
    if endpoint is None or not endpoint.active:
        raise DeliveryError("the webhook endpoint was removed or disabled")
    send_webhook(endpoint.url, endpoint.secret, attempt.payload["event"])


def try_send(settings: Settings, attempt: Attempt) -> str | None:
    """Send ``attempt``; None when it went out, else a short description of what failed."""
    try:
        send(settings, attempt)
    except DeliveryError as error:
        return str(error)
    except Exception as error:
        # Not a failure we foresaw: a bug, a malformed payload, an unexpected library error.
        # It still counts as an attempt, or the message would come back every lease forever.
        log.exception("outbox %s: unexpected error while sending", attempt.message_id)
        return f"unexpected {type(error).__name__}: {error}"
    return None


# --- step 3: record the outcome, in a short transaction ---------------------------------------


def record_sent(database: Database, message_id: int) -> None:
    with database.transaction() as session:
        message = session.get(OutboxMessage, message_id)
        if message is not None and message.state == OutboxState.PENDING.value:
            message.attempts += 1
            message.state = OutboxState.SENT.value
            message.sent_at = utcnow()


def record_failure(database: Database, message_id: int, error: str) -> None:
    """Count a failed attempt: retry after a growing delay, or give up after MAX_ATTEMPTS."""
    with database.transaction() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.state != OutboxState.PENDING.value:
            return  # sent meanwhile by a worker that claimed it after our lease ran out
        message.attempts += 1
        message.last_error = error[:LAST_ERROR_CHARS]
        if message.attempts >= MAX_ATTEMPTS:
            message.state = OutboxState.FAILED.value
        else:
            message.next_attempt_at = utcnow() + backoff(message.attempts)
        log.warning("outbox %s attempt %s failed: %s", message_id, message.attempts, error)


def process_one(
    database: Database, settings: Settings, message_id: int, lease_until: datetime
) -> bool:
    """Deliver one claimed message and record the outcome; True when it was sent."""
    attempt = load_attempt(database, message_id, lease_until)
    if attempt is None:
        return False
    error = try_send(settings, attempt)
    if error is None:
        record_sent(database, message_id)
        return True
    record_failure(database, message_id, error)
    return False


def drain(database: Database, settings: Settings) -> int:
    """Send everything due now; the number sent."""
    sent = 0
    while True:
        with database.transaction() as session:
            lease = claim_due(session)
        if not lease.ids:
            return sent
        sent += sum(process_one(database, settings, id_, lease.until) for id_ in lease.ids)


class OutboxWorker:
    """A background thread that drains the outbox when woken, and every few seconds."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.database, self.settings)
            except Exception:  # a database blip must not kill the worker; it retries
                log.exception("outbox worker pass failed")
            self._wake.wait(self.settings.outbox_poll_seconds)
            self._wake.clear()
