"""Chat storage: a chat, who takes part in it, and its messages in server order.

Every message of a chat carries ``seq``, the chat's own counter (1, 2, 3, ...), given by the
server when the message is stored: ``chats.last_seq`` is bumped by one atomic UPDATE in the
same transaction, so concurrent writers on any node queue on that row and a number is never
given twice (the unique constraint says so too). A client that reconnects sends the last
``seq`` it saw and receives what came after, nothing twice.

``client_id`` is the sender's own id for a message: a client that resends after a lost
acknowledgement gets the stored message back instead of a copy.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class ChatStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for an agent with room
    OFFERED = "offered"  # offered to one agent, who has ``offer_seconds`` to accept
    ACTIVE = "active"  # an agent accepted
    CLOSED = "closed"
    TICKETED = "ticketed"  # nobody was online: the chat became a ticket


OPEN_STATUSES = (ChatStatus.QUEUED, ChatStatus.OFFERED, ChatStatus.ACTIVE)


class SenderKind(enum.StrEnum):
    TRADER = "trader"
    GUEST = "guest"
    AGENT = "agent"
    SYSTEM = "system"  # notices: overflow, secret guard, transfer, ticket


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (
        Index("ix_chats_status_queued", "status", "queued_at"),
        Index("ix_chats_agent_status", "agent_id", "status"),
        Index("ix_chats_trader_status", "trader_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trader_id: Mapped[int | None] = mapped_column(ForeignKey("traders.id"), default=None)
    guest_email: Mapped[str | None] = mapped_column(String(320), default=None)
    language: Mapped[str] = mapped_column(String(16), default="en")
    # Where the language came from: trader, accept_language, detected or overflow.
    language_source: Mapped[str] = mapped_column(String(24), default="default")
    region: Mapped[str] = mapped_column(String(8), default="")
    vip_level: Mapped[int] = mapped_column(default=0)
    queue: Mapped[str] = mapped_column(String(40), default="en")
    status: Mapped[str] = mapped_column(String(16), default=ChatStatus.QUEUED.value)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    # Agents who let the offer lapse or passed the chat on; routing skips them for this chat.
    passed_over: Mapped[list[int]] = mapped_column(JSON, default=list)
    last_seq: Mapped[int] = mapped_column(default=0)
    transfers: Mapped[int] = mapped_column(default=0)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class ChatParticipant(Base):
    """Someone admitted to a chat: its trader or guest, and each agent who handled it.
    ``last_read_seq`` is their read receipt; ``active`` is false once an agent passed it on."""

    __tablename__ = "chat_participants"
    __table_args__ = (
        UniqueConstraint("chat_id", "kind", "person_id", name="uq_chat_participants_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # traders.id or agents.id; 0 for the guest, who is known by the chat's guest_email.
    person_id: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    last_read_seq: Mapped[int] = mapped_column(default=0)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "seq", name="uq_chat_messages_chat_seq"),
        UniqueConstraint("chat_id", "client_id", name="uq_chat_messages_chat_client_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column()
    sender_kind: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[int] = mapped_column(default=0)
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    body: Mapped[str] = mapped_column(Text)
    # What the secret guard took out (seed_phrase, private_key, wif_key, otp_code).
    redacted: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountManager(Base):
    """A VIP trader's dedicated account manager: their chats skip the queue to this agent."""

    __tablename__ = "chat_account_managers"

    trader_id: Mapped[int] = mapped_column(
        ForeignKey("traders.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentSkills(Base):
    """What an agent is good at beyond languages: triage categories (chats predicted to be
    about one go to them first) and the regions they serve (their chats go to them while
    any of them is online). Set with ``hashdesk chat skills`` or on ``/console/chats/agents``."""

    __tablename__ = "chat_agent_skills"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set by an admin: the most chats routing gives this agent at once, whatever the agent's
    # console asked for. None: the agent's own choice (or HASHDESK_CHAT_AGENT_CAPACITY).
    capacity: Mapped[int | None] = mapped_column(default=None)


class ChatQueueSchedule(Base):
    """One follow-the-sun queue (see ``schedules``), kept in the database so that an admin
    edits it in the console and routing sees the change at once. ``hours`` maps weekday
    names (``mon`` .. ``sun``) to ranges like ``"08:00-18:00"``; None: always open."""

    __tablename__ = "chat_queue_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    # The order chats look for their home queue in (first queue serving their region wins).
    position: Mapped[int] = mapped_column(default=0)
    language: Mapped[str] = mapped_column(String(8))
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, default=None)
    next: Mapped[str | None] = mapped_column(String(30), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GuestVerification(Base):
    """A code mailed to a guest's address. Once entered, the address is proven: the chat's
    transcript may go there, and the guest may come back as that address."""

    __tablename__ = "chat_guest_verifications"
    __table_args__ = (Index("ix_chat_guest_verifications_email", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
