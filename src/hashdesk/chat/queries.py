"""Chat reads. ``access_chat`` fetches a chat and checks that the principal may see it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.chat.models import OPEN_STATUSES, Chat, ChatMessage, ChatParticipant, ChatStatus
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.errors import NotFound

REPLAY_LIMIT = 500  # messages per replay query; a resume of a longer gap pages through


def guest_chat_key(secret: str, chat_id: int, email: str) -> str:
    """What admits a guest to their chat again after a reconnect: an HMAC of the chat and the
    email they gave, handed to them when the chat starts (a guest has no sign-in to show)."""
    message = f"chat:{chat_id}:{email.lower()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


class ChatOwners(Protocol):
    """What ``may_see`` reads of a chat (a ``Chat``, or the message writer's row of it)."""

    @property
    def id(self) -> int: ...
    @property
    def trader_id(self) -> int | None: ...
    @property
    def guest_email(self) -> str | None: ...
    @property
    def agent_id(self) -> int | None: ...


def may_see(principal: Principal, chat: ChatOwners, *, key: str | None, secret: str) -> bool:
    if principal.kind is PrincipalKind.TRADER:
        return chat.trader_id == principal.id
    if principal.kind is PrincipalKind.GUEST:
        email = str(principal.extra.get("email", ""))
        if chat.guest_email is None or chat.guest_email != email.lower():
            return False
        return key is not None and hmac.compare_digest(key, guest_chat_key(secret, chat.id, email))
    if principal.kind is PrincipalKind.AGENT:
        # The agent it is offered to or who holds it, and leads (who watch every queue).
        return chat.agent_id == principal.id or principal.can(Permission.VIEW_REPORTS)
    return False


def access_chat(
    session: Session, principal: Principal, chat_id: int, *, secret: str, key: str | None = None
) -> Chat:
    chat = session.get(Chat, chat_id)
    if chat is None or not may_see(principal, chat, key=key, secret=secret):
        raise NotFound("No chat {chat}.", chat=chat_id)
    return chat


def list_messages_after(
    session: Session, chat_id: int, seq: int, limit: int = REPLAY_LIMIT
) -> list[ChatMessage]:
    """The chat's messages with a sequence number above ``seq``, in order."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.chat_id == chat_id, ChatMessage.seq > seq)
        .order_by(ChatMessage.seq)
        .limit(limit)
    )
    return list(session.scalars(query))


def get_message_by_client_id(session: Session, chat_id: int, client_id: str) -> ChatMessage | None:
    query = select(ChatMessage).where(
        ChatMessage.chat_id == chat_id, ChatMessage.client_id == client_id
    )
    return session.scalars(query).first()


def get_participant(
    session: Session, chat_id: int, kind: str, person_id: int
) -> ChatParticipant | None:
    query = select(ChatParticipant).where(
        ChatParticipant.chat_id == chat_id,
        ChatParticipant.kind == kind,
        ChatParticipant.person_id == person_id,
    )
    return session.scalars(query).first()


def open_chats_of_agents(session: Session, agent_ids: list[int]) -> dict[int, int]:
    """How many chats each agent holds (offered or active): their load, read from the
    database so that every node counts the same."""
    if not agent_ids:
        return {}
    query = (
        select(Chat.agent_id, func.count())
        .where(
            Chat.agent_id.in_(agent_ids),
            Chat.status.in_([ChatStatus.OFFERED.value, ChatStatus.ACTIVE.value]),
        )
        .group_by(Chat.agent_id)
    )
    return {int(agent): int(count) for agent, count in session.execute(query) if agent}


def last_offers_of_agents(session: Session, agent_ids: list[int]) -> dict[int, datetime]:
    """When each agent was last offered a chat: the round robin among equally busy agents
    goes to whoever waited longest."""
    if not agent_ids:
        return {}
    query = (
        select(Chat.agent_id, func.max(Chat.offered_at))
        .where(Chat.agent_id.in_(agent_ids), Chat.offered_at.is_not(None))
        .group_by(Chat.agent_id)
    )
    return {int(agent): moment for agent, moment in session.execute(query) if agent and moment}


def queue_position(session: Session, chat: Chat) -> int:
    """1 for the first chat in its queue (VIP chats first, then by time queued)."""
    if chat.status != ChatStatus.QUEUED:
        return 0
    ahead = select(func.count()).where(
        Chat.queue == chat.queue,
        Chat.status == ChatStatus.QUEUED.value,
        (Chat.vip_level > chat.vip_level)
        | ((Chat.vip_level == chat.vip_level) & (Chat.queued_at < chat.queued_at))
        | (
            (Chat.vip_level == chat.vip_level)
            & (Chat.queued_at == chat.queued_at)
            & (Chat.id < chat.id)
        ),
    )
    return int(session.scalar(ahead) or 0) + 1


def list_queued_chats(session: Session, limit: int = 100) -> list[Chat]:
    query = (
        select(Chat)
        .where(Chat.status == ChatStatus.QUEUED.value)
        .order_by(Chat.vip_level.desc(), Chat.queued_at, Chat.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def list_open_chats_of_agent(session: Session, agent_id: int) -> list[Chat]:
    query = (
        select(Chat)
        .where(Chat.agent_id == agent_id, Chat.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Chat.id)
    )
    return list(session.scalars(query))


def list_open_chats_of_trader(session: Session, principal: Principal) -> list[Chat]:
    if principal.kind is not PrincipalKind.TRADER:
        return []
    query = (
        select(Chat)
        .where(Chat.trader_id == principal.id, Chat.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Chat.id)
    )
    return list(session.scalars(query))


def median_handle_seconds(session: Session, sample: int = 200) -> float | None:
    """The median handle time of the latest closed chats, or None before there are any."""
    query = (
        select(Chat.accepted_at, Chat.closed_at)
        .where(
            Chat.status == ChatStatus.CLOSED.value,
            Chat.accepted_at.is_not(None),
            Chat.closed_at.is_not(None),
        )
        .order_by(Chat.closed_at.desc())
        .limit(sample)
    )
    durations = sorted(
        (closed - accepted).total_seconds()
        for accepted, closed in session.execute(query)
        if accepted and closed
    )
    return durations[len(durations) // 2] if durations else None


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def chat_metrics(session: Session, since: datetime) -> dict[str, float | int | None]:
    """The workspace's figures for chats started since ``since``: median wait (start to an
    agent's accept) and first response (start to the first agent message), in seconds, and
    the share of handled chats ended without escalation (not turned into a ticket by the
    agent; chats that became tickets because nobody was online were never handled)."""
    rows = session.execute(
        select(
            Chat.created_at, Chat.accepted_at, Chat.first_response_at, Chat.status, Chat.ticket_id
        ).where(Chat.created_at >= since)
    ).all()
    handled = [row for row in rows if row.accepted_at is not None]
    ended = [row for row in handled if row.status in (ChatStatus.CLOSED, ChatStatus.TICKETED)]
    escalated = sum(1 for row in ended if row.ticket_id is not None)
    return {
        "chats": len(rows),
        "handled": len(handled),
        "median_wait_seconds": _median(
            [(row.accepted_at - row.created_at).total_seconds() for row in handled]
        ),
        "median_first_response_seconds": _median(
            [
                (row.first_response_at - row.created_at).total_seconds()
                for row in handled
                if row.first_response_at is not None
            ]
        ),
        "closed_without_escalation": (
            round((len(ended) - escalated) / len(ended), 3) if ended else None
        ),
    }
