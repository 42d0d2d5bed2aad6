"""Reads: conversations their owner may see, their messages, and the deflection rate.

Deflection, as a support lead means it: of the conversations that ended, the share the
assistant settled without a person. A conversation counts as deflected when its outcome is
*resolved* (the trader said so, or an answered conversation saw no return) **and** the same
person did not come back for the same reason within 72 hours of it (a return means the first
answer did not really help, whatever was clicked).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.assistant.models import AssistantConversation, AssistantMessage, Outcome, ResolvedBy
from hashdesk.core.errors import NotFound

RETURN_WINDOW = timedelta(hours=72)


@dataclass(frozen=True)
class Asker:
    """Who is talking to the assistant: a signed-in trader, or a guest browser's key."""

    trader_id: int | None = None
    guest_key: str | None = None
    include_internal: bool = False  # staff trying the assistant see internal articles too

    def owns(self, conversation: AssistantConversation) -> bool:
        if self.trader_id is not None:
            return conversation.trader_id == self.trader_id
        return self.guest_key is not None and conversation.guest_key == self.guest_key


def get_conversation(session: Session, conversation_id: int) -> AssistantConversation | None:
    return session.get(AssistantConversation, conversation_id)


def access_conversation(
    session: Session, asker: Asker, conversation_id: int
) -> AssistantConversation:
    """The conversation if ``asker`` owns it; NotFound otherwise (never saying which)."""
    conversation = get_conversation(session, conversation_id)
    if conversation is None or not asker.owns(conversation):
        raise NotFound("No conversation {conversation_id}.", conversation_id=conversation_id)
    return conversation


def list_messages(session: Session, conversation: AssistantConversation) -> list[AssistantMessage]:
    query = (
        select(AssistantMessage)
        .where(AssistantMessage.conversation_id == conversation.id)
        .order_by(AssistantMessage.id)
    )
    return list(session.scalars(query))


def person_of(conversation: AssistantConversation) -> str:
    """One key per person: the trader, else the guest's email, else the guest's browser."""
    if conversation.trader_id is not None:
        return f"trader:{conversation.trader_id}"
    if conversation.guest_email:
        return f"email:{conversation.guest_email.lower()}"
    return f"guest:{conversation.guest_key}"


def came_back(conversation: AssistantConversation, later: list[AssistantConversation]) -> bool:
    """Whether one of ``later`` (the same person's conversations) came for the same reason
    within 72 hours of this one's last activity."""
    if conversation.reason is None:
        return False
    start, end = conversation.last_activity_at, conversation.last_activity_at + RETURN_WINDOW
    return any(
        other.id != conversation.id
        and other.reason == conversation.reason
        and start < other.started_at <= end
        for other in later
    )


def same_person_conversations(
    session: Session, conversations: list[AssistantConversation], until: datetime
) -> dict[str, list[AssistantConversation]]:
    """Every conversation (up to ``until`` plus the return window) of the people behind
    ``conversations``, by person: the candidates for a return."""
    traders = {c.trader_id for c in conversations if c.trader_id is not None}
    guests = {c.guest_key for c in conversations if c.trader_id is None and c.guest_key}
    emails = {c.guest_email for c in conversations if c.trader_id is None and c.guest_email}
    query = select(AssistantConversation).where(
        AssistantConversation.started_at <= until + RETURN_WINDOW,
        AssistantConversation.trader_id.in_(traders)
        | AssistantConversation.guest_key.in_(guests)
        | AssistantConversation.guest_email.in_(emails),
    )
    by_person: dict[str, list[AssistantConversation]] = defaultdict(list)
    for other in session.scalars(query):
        by_person[person_of(other)].append(other)
    return by_person


@dataclass(frozen=True)
class Deflection:
    since: datetime
    until: datetime
    conversations: int
    resolved: int
    resolved_confirmed: int
    resolved_no_return: int
    handed_off: int
    abandoned: int
    open: int
    returned_within_72h: int
    deflected: int

    @property
    def deflection_rate(self) -> float | None:
        ended = self.resolved + self.handed_off + self.abandoned
        return round(self.deflected / ended, 4) if ended else None


def compute_deflection(
    conversations: list[AssistantConversation],
    others_by_person: dict[str, list[AssistantConversation]],
    since: datetime,
    until: datetime,
) -> Deflection:
    """The figures over ``conversations`` (those started in [since, until))."""
    counts: dict[str, int] = defaultdict(int)
    returned = deflected = 0
    for conversation in conversations:
        counts[conversation.outcome or "open"] += 1
        if conversation.outcome == Outcome.RESOLVED:
            counts[f"by:{conversation.resolved_by}"] += 1
        if conversation.outcome is None:
            continue
        back = came_back(conversation, others_by_person.get(person_of(conversation), []))
        returned += back
        deflected += conversation.outcome == Outcome.RESOLVED and not back
    return Deflection(
        since=since, until=until, conversations=len(conversations),
        resolved=counts[Outcome.RESOLVED], resolved_confirmed=counts[f"by:{ResolvedBy.TRADER}"],
        resolved_no_return=counts[f"by:{ResolvedBy.NO_RETURN}"],
        handed_off=counts[Outcome.HANDED_OFF], abandoned=counts[Outcome.ABANDONED],
        open=counts["open"], returned_within_72h=returned, deflected=deflected,
    )  # fmt: skip


def deflection(session: Session, since: datetime, until: datetime) -> Deflection:
    """The deflection figures of the conversations started in [since, until)."""
    query = select(AssistantConversation).where(
        AssistantConversation.started_at >= since, AssistantConversation.started_at < until
    )
    conversations = list(session.scalars(query))
    others = same_person_conversations(session, conversations, until) if conversations else {}
    return compute_deflection(conversations, others, since, until)


def unsettled_before(session: Session, idle_since: datetime) -> list[AssistantConversation]:
    """Conversations without an outcome whose last activity is before ``idle_since``."""
    query = (
        select(AssistantConversation)
        .where(
            AssistantConversation.outcome.is_(None),
            AssistantConversation.last_activity_at <= idle_since,
        )
        .order_by(AssistantConversation.id)
    )
    return list(session.scalars(query))
