"""Email through the durable outbox and a real SMTP server (aiosmtpd): every message carries
the trader's anti-phishing code, and nothing is lost while SMTP is down or the process
restarts."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import agent_principal
from hashdesk.config import Settings
from hashdesk.core.clock import utcnow
from hashdesk.notify import do_enqueue_email
from hashdesk.notify.jobs import MAX_ATTEMPTS, backoff, drain
from hashdesk.notify.models import OutboxMessage, OutboxState
from hashdesk.runtime import Runtime
from hashdesk.tickets.actions import check_agent_reply
from tests.conftest import make_agent, make_trader, open_ticket


def outbox(session: Session) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def let_backoff_pass(session: Session) -> None:
    """What waiting out the retry delay looks like to the outbox."""
    session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    session.commit()


def test_ticket_emails_reach_the_trader_with_their_anti_phishing_code(
    session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    trader = make_trader(session, anti_phishing_code="BLUE-FALCON-7", language="de")
    ticket = open_ticket(session, trader)
    check_agent_reply(session, agent_principal(make_agent(session)), ticket, "Wir prüfen das.")
    session.commit()

    assert drain(runtime.database, runtime.settings) == 2

    created, replied = smtp_server.messages
    assert created["To"] == trader.email
    assert ticket.tracking_id in str(created["Subject"])
    for message in (created, replied):
        assert "BLUE-FALCON-7" in message.get_content()
    assert "Wir prüfen das." in replied.get_content()
    assert [m.state for m in outbox(session)] == ["sent", "sent"]
    assert drain(runtime.database, runtime.settings) == 0  # sent once, never twice


def test_a_trader_without_a_code_is_told_how_to_set_one(
    session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    open_ticket(session, make_trader(session))
    drain(runtime.database, runtime.settings)
    assert "anti-phishing code" in smtp_server.messages[0].get_content()


def test_while_smtp_is_down_mail_waits_and_a_restarted_process_delivers_it(
    session: Session, runtime: Runtime, settings: Settings, smtp_server: Any
) -> None:
    working_port = settings.smtp_port
    settings.smtp_port = 1  # the mail server is down
    ticket = open_ticket(session, make_trader(session, anti_phishing_code="ORCA"))

    assert drain(runtime.database, runtime.settings) == 0
    [waiting] = outbox(session)
    assert (waiting.state, waiting.attempts) == ("pending", 1)
    assert waiting.last_error and "SMTP" in waiting.last_error
    assert waiting.next_attempt_at > utcnow() + backoff(1) - timedelta(seconds=5)
    assert drain(runtime.database, runtime.settings) == 0  # not retried before its time
    assert outbox(session)[0].attempts == 1
    runtime.stop()  # the process goes away

    settings.smtp_port = working_port
    restarted = Runtime(settings)  # a fresh process on the same database
    try:
        let_backoff_pass(session)
        assert drain(restarted.database, restarted.settings) == 1
    finally:
        restarted.database.dispose()

    [delivered] = smtp_server.messages
    assert ticket.tracking_id in str(delivered["Subject"])
    assert "ORCA" in delivered.get_content()
    assert [(m.state, m.attempts) for m in outbox(session)] == [("sent", 2)]


def queue_code_email(session: Session, to: str) -> None:
    context = {"tracking_id": "HD-7KQ3-9XPA", "code": "123456", "minutes": 15}
    do_enqueue_email(session, to=to, template="guest_code", locale="en", context=context,
                     anti_phishing_code=None)  # fmt: skip
    session.commit()


def test_an_unexpected_error_while_sending_counts_as_an_attempt_until_it_fails(
    session: Session, runtime: Runtime, smtp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The mail library refuses a header with a line break: not a DeliveryError, a ValueError.
    queue_code_email(session, "guest@example.com\nBcc: someone-else@example.com")
    queue_code_email(session, "guest@example.com")

    with caplog.at_level(logging.ERROR, logger="hashdesk.notify.jobs"):
        assert drain(runtime.database, runtime.settings) == 1  # the rest of the batch goes out
    [broken, fine] = outbox(session)
    assert (broken.state, broken.attempts, fine.state) == ("pending", 1, "sent")
    assert broken.last_error and broken.last_error.startswith("unexpected ValueError")
    assert any(record.exc_info for record in caplog.records)  # logged with its traceback
    assert broken.next_attempt_at > utcnow() + backoff(1) - timedelta(seconds=5)

    for _ in range(MAX_ATTEMPTS + 2):
        let_backoff_pass(session)
        drain(runtime.database, runtime.settings)
    [broken, _fine] = outbox(session)
    assert (broken.state, broken.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(smtp_server.messages) == 1


def test_backoff_grows_and_is_capped_at_an_hour() -> None:
    delays = [backoff(attempt).total_seconds() for attempt in range(1, 13)]
    assert delays[:4] == [5, 10, 20, 40]
    assert delays == sorted(delays) and max(delays) == 3600


def test_a_rolled_back_change_queues_no_email(session: Session, runtime: Runtime) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    before = len(outbox(session))
    check_agent_reply(session, agent_principal(make_agent(session)), ticket, "Hello")
    session.rollback()
    assert len(outbox(session)) == before
    assert all(m.state == OutboxState.PENDING for m in outbox(session))


def test_the_worker_thread_delivers_soon_after_a_commit(
    session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    runtime.outbox.start()  # the same worker ``hashdesk serve`` runs
    try:
        open_ticket(session, make_trader(session))
        deadline = utcnow() + timedelta(seconds=10)
        while not smtp_server.messages and utcnow() < deadline:
            time.sleep(0.05)
    finally:
        runtime.outbox.stop()
    assert len(smtp_server.messages) == 1
