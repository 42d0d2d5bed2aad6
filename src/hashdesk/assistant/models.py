"""Assistant storage: a conversation, its messages and the outcome it ended with.

A conversation belongs to a signed-in trader or to a guest browser (``guest_key``, a random
token kept in that browser's session cookie). ``reason`` is what the trader came for (an
article, a diagnostic flow, or a predicted category): the 72-hour "came back for the same
reason" rule of the deflection rate compares it across conversations of the same person.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class Outcome(enum.StrEnum):
    RESOLVED = "resolved"
    HANDED_OFF = "handed_off"
    ABANDONED = "abandoned"


class ResolvedBy(enum.StrEnum):
    TRADER = "trader"  # the trader said "this solved it"
    NO_RETURN = "no_return"  # answered, and no return for the same reason within 72 hours


class Author(enum.StrEnum):
    TRADER = "trader"
    ASSISTANT = "assistant"


class AssistantConversation(Base):
    __tablename__ = "assistant_conversations"
    __table_args__ = (
        Index("ix_assistant_conversations_trader_started", "trader_id", "started_at"),
        Index("ix_assistant_conversations_guest_started", "guest_key", "started_at"),
        Index("ix_assistant_conversations_outcome_activity", "outcome", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trader_id: Mapped[int | None] = mapped_column(ForeignKey("traders.id"), default=None)
    guest_key: Mapped[str | None] = mapped_column(String(64), default=None)
    guest_email: Mapped[str | None] = mapped_column(String(320), default=None)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    # A locale the caller named stays; otherwise each question's detected language may move it.
    locale_pinned: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    # Set once the assistant gave an article or a flow's closing advice: an idle conversation
    # with an answer may settle as resolved, one without settles as abandoned.
    answered: Mapped[bool] = mapped_column(default=False)
    flow_id: Mapped[str | None] = mapped_column(String(64), default=None)
    flow_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What a hand-off ticket will carry: a flow's prefilled category and fields.
    handoff_draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    predicted_category: Mapped[str | None] = mapped_column(String(64), default=None)
    predicted_confidence: Mapped[float | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(16), default=None)
    outcome_at: Mapped[datetime | None] = mapped_column(default=None)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)

    messages: Mapped[list[AssistantMessage]] = relationship(
        back_populates="conversation", order_by="AssistantMessage.id", lazy="raise_on_sql"
    )


class AssistantMessage(Base):
    """One turn. ``data`` keeps what the assistant decided (decision, article, confidence,
    candidates, the flow step asked) so a page can redraw buttons and a lead can audit."""

    __tablename__ = "assistant_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("assistant_conversations.id"), index=True
    )
    author: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[AssistantConversation] = relationship(back_populates="messages")
