"""The outbox worker: delivers queued emails and webhooks, with retries and backoff.

Safe on several nodes: a message is claimed by moving its ``next_attempt_at`` past a lease in
a short transaction (with ``SKIP LOCKED`` on PostgreSQL), so two workers never send one twice
while both are alive; a worker that dies mid-send leaves the message to be retried after the
lease, which is why deliveries are at-least-once and events carry an ``id`` for receivers.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

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


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 3600))


def claim_due(session: Session, limit: int = BATCH) -> list[int]:
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
    claimed = list(session.scalars(query))
    for message in claimed:
        message.next_attempt_at = now + LEASE
    return [message.id for message in claimed]


def deliver(session: Session, settings: Settings, message: OutboxMessage) -> None:
    if message.kind == OutboxKind.EMAIL.value:
        send_email(settings, message.payload)
        return
    endpoint = session.get(WebhookEndpoint, message.payload["endpoint_id"])
    if endpoint is None or not endpoint.active:
        raise DeliveryError("the webhook endpoint was removed or disabled")
    send_webhook(endpoint.url, endpoint.secret, message.payload["event"])


def process_one(database: Database, settings: Settings, message_id: int) -> bool:
    """Deliver one claimed message and record the outcome; True when it was sent."""
    with database.transaction() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.state != OutboxState.PENDING.value:
            return False
        message.attempts += 1
        try:
            deliver(session, settings, message)
        except DeliveryError as error:
            message.last_error = str(error)[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.state = OutboxState.FAILED.value
            else:
                message.next_attempt_at = utcnow() + backoff(message.attempts)
            log.warning("outbox %s attempt %s failed: %s", message.id, message.attempts, error)
            return False
        message.state = OutboxState.SENT.value
        message.sent_at = utcnow()
        return True


def drain(database: Database, settings: Settings) -> int:
    """Send everything due now; the number sent."""
    sent = 0
    while True:
        with database.transaction() as session:
            claimed = claim_due(session)
        if not claimed:
            return sent
        sent += sum(process_one(database, settings, message_id) for message_id in claimed)


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
