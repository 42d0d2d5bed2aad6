from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class Status(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the trader: SLA clocks pause
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


# Done with: SLA clocks stop, and views of open work leave these out.
FINISHED = (Status.RESOLVED.value, Status.CLOSED.value)


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class EntryKind(enum.StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # internal: the trader never sees it
    STATUS = "status"
    ASSIGNMENT = "assignment"
    HANDOFF = "handoff"
    MERGE = "merge"
    PRIORITY = "priority"
    CREATED = "created"


class Category(Base):
    """A reason for contact; configurable, each with its department and structured fields."""

    __tablename__ = "ticket_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    department: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[str]] = mapped_column(default=list)
    required_fields: Mapped[list[str]] = mapped_column(default=list)
    default_priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL.value)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_department", "status", "department"),
        Index("ix_tickets_trader_id_id", "trader_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_id: Mapped[str] = mapped_column(String(16), unique=True)
    trader_id: Mapped[int | None] = mapped_column(ForeignKey("traders.id"), default=None)
    guest_email: Mapped[str | None] = mapped_column(String(320), default=None)
    category: Mapped[str] = mapped_column(String(48))
    department: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=Status.NEW.value)
    priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL.value)
    language: Mapped[str] = mapped_column(String(16), default="en")
    # The triage classifier's guess at the reason for contact (None: it abstained or none ran).
    predicted_category: Mapped[str | None] = mapped_column(String(64), default=None)
    predicted_confidence: Mapped[float | None] = mapped_column(default=None)
    vip_level: Mapped[int] = mapped_column(default=0)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id"), index=True, default=None
    )
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # SLA clocks: due times move later by the time spent pending on the trader.
    first_response_due: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due: Mapped[datetime | None] = mapped_column(default=None, index=True)
    sla_paused_at: Mapped[datetime | None] = mapped_column(default=None)

    entries: Mapped[list[TicketEntry]] = relationship(
        back_populates="ticket", order_by="TicketEntry.id", lazy="raise_on_sql"
    )


class TicketEntry(Base):
    """One line of a ticket's timeline: a message, an internal note or a change."""

    __tablename__ = "ticket_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int] = mapped_column(default=0)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(default=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="entries")
    attachments: Mapped[list[Attachment]] = relationship(lazy="selectin", order_by="Attachment.id")


class Attachment(Base):
    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_entries.id"), default=None)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(lazy="raise_on_sql")


class SlaPolicy(Base):
    """First-response and resolution targets; the most specific match wins."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    priority: Mapped[str | None] = mapped_column(String(16), default=None)
    min_vip_level: Mapped[int] = mapped_column(default=0)
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]


class GuestCode(Base):
    """A one-time code mailed to a guest so they can follow their ticket."""

    __tablename__ = "guest_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Macro(Base):
    """A canned reply with placeholders such as ``{trader_name}`` and ``{tracking_id}``."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="en")
    department: Mapped[str | None] = mapped_column(String(32), default=None)
    set_status: Mapped[str | None] = mapped_column(String(16), default=None)
