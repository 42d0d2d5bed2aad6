"""The append-only audit trail: who did what, when, with the before and after.

Every change and every view of a trader's personal data is recorded here. Rows are never
updated or deleted: the ORM refuses it (``_refuse_changes``) and the API offers no way to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, event, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from hashdesk.core.auth import Principal
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    # No foreign key on purpose: an audit row must outlive what it describes.
    object_id: Mapped[int]
    before: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(default=None)


def record(
    session: Session,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: int,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    actor_kind, actor_id = actor.audit_actor()
    session.add(
        AuditEntry(
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
        )
    )


def list_entries(session: Session, object_type: str, object_id: int) -> list[AuditEntry]:
    query = (
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(query))


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    # ``update(AuditEntry)`` / ``delete(AuditEntry)`` statements skip the flush check below.
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is AuditEntry for mapper in state.all_mappers
    ):
        raise RuntimeError("The audit trail is append-only; entries cannot change.")


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    for instance in (*session.dirty, *session.deleted):
        if isinstance(instance, AuditEntry):
            raise RuntimeError("The audit trail is append-only; entries cannot change.")
