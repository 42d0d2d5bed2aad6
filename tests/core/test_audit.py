"""The audit trail is append-only: rows are added, never changed or removed, by the ORM or
by bulk statements."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hashdesk.core import audit
from hashdesk.tickets.models import Ticket
from tests.conftest import make_trader, open_ticket


def _audit_actions(session: Session, ticket: Ticket) -> list[str]:
    return [entry.action for entry in audit.list_entries(session, "ticket", ticket.id)]


def test_an_entry_records_who_what_and_the_before_and_after(session: Session) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    [entry] = audit.list_entries(session, "ticket", ticket.id)
    assert (entry.actor_kind, entry.actor_id, entry.action) == (
        "trader",
        trader.id,
        "ticket.created",
    )
    assert entry.before is None
    assert entry.after == {"status": "new", "department": "frontline", "assignee_id": None,
                           "priority": "normal"}  # fmt: skip
    assert entry.at is not None and entry.at.tzinfo is not None


def test_audit_entries_cannot_be_changed_or_deleted(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    entry = audit.list_entries(session, "ticket", ticket.id)[0]

    entry.action = "ticket.nothing_happened"
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()

    session.delete(audit.list_entries(session, "ticket", ticket.id)[0])
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()
    assert _audit_actions(session, ticket) == ["ticket.created"]


def test_audit_entries_cannot_be_changed_by_bulk_statements_either(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    with pytest.raises(RuntimeError, match="append-only"):
        session.execute(update(audit.AuditEntry).values(action="forged"))
    session.rollback()
    with pytest.raises(RuntimeError, match="append-only"):
        session.execute(delete(audit.AuditEntry))
    session.rollback()
    assert _audit_actions(session, ticket) == ["ticket.created"]


def test_on_postgresql_the_database_itself_refuses_raw_sql_changes(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the database-level trigger exists on PostgreSQL; SQLite has the ORM guard")
    ticket = open_ticket(session, make_trader(session))
    for statement in (
        "UPDATE audit_entries SET action = 'forged' WHERE object_id = :id",
        "DELETE FROM audit_entries WHERE object_id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement), {"id": ticket.id})
        session.rollback()
    assert _audit_actions(session, ticket) == ["ticket.created"]
