"""What the agent desk keeps about a chat besides its messages.

- ``ChatHandoff``: the assistant conversation the trader had before asking for a person, its
  transcript, language and predicted triage category (shown to the agent, carried into a
  ticket made from the chat).
- ``ChatNote``: an agent's internal note. Notes live in their own table, never among the
  chat's messages, so no replay or live delivery to the trader can ever include one.
- ``ChatOutcome``: the escalation (to which department) and the trader's satisfaction survey.
  Wait, first response, handle time and transfers are read from ``chats`` itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class ChatHandoff(Base):
    __tablename__ = "chat_handoffs"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[int] = mapped_column(ForeignKey("assistant_conversations.id"))
    language: Mapped[str] = mapped_column(String(16))
    predicted_category: Mapped[str | None] = mapped_column(String(64), default=None)
    predicted_confidence: Mapped[float | None] = mapped_column(default=None)
    transcript: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatNote(Base):
    __tablename__ = "chat_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatOutcome(Base):
    __tablename__ = "chat_outcomes"

    chat_id: Mapped[int] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    escalated_to: Mapped[str | None] = mapped_column(String(32), default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    satisfaction: Mapped[int | None] = mapped_column(default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    surveyed_at: Mapped[datetime | None] = mapped_column(default=None)


class ChatAttachment(Base):
    """A file sent in a chat (checked and stored like ticket attachments, by content hash).
    Its message in the chat carries ``client_id`` ``file:<id>``, which is how the widget and
    the workspace know to show a download for it."""

    __tablename__ = "chat_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    sender_kind: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[int] = mapped_column(default=0)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
