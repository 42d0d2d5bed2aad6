"""SLA clocks: 24/7, paused while the ticket waits on the trader.

Pausing moves the due times later by the time spent pending, so "breached" is always a plain
comparison of a due time with now, which the console's breach view can do in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from hashdesk.core.cache import cached
from hashdesk.tickets.models import FINISHED, SlaPolicy, Ticket

P = TypeVar("P", bound="PolicyLike")
WARNING_WINDOW = timedelta(minutes=15)
DEFAULT_POLICIES = (
    # name, priority, min VIP level, first response minutes, resolution minutes
    ("Standard", None, 0, 60, 48 * 60),
    ("High priority", "high", 0, 30, 24 * 60),
    ("Urgent", "urgent", 0, 15, 8 * 60),
    ("VIP", None, 1, 15, 24 * 60),
    ("VIP urgent", "urgent", 1, 5, 4 * 60),
)


@dataclass(frozen=True)
class SlaState:
    first_response_breached: bool
    resolution_breached: bool
    warning: bool
    paused: bool

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached


class PolicyLike(Protocol):
    """An ``SlaPolicy`` row or its cached ``PolicyRule`` snapshot."""

    @property
    def priority(self) -> str | None: ...

    @property
    def min_vip_level(self) -> int: ...

    @property
    def first_response_minutes(self) -> int: ...

    @property
    def resolution_minutes(self) -> int: ...


@dataclass(frozen=True)
class PolicyRule:
    """An SLA policy as a cacheable snapshot."""

    name: str
    priority: str | None
    min_vip_level: int
    first_response_minutes: int
    resolution_minutes: int


def policy_rules(session: Session) -> list[PolicyRule]:
    def load() -> list[PolicyRule]:
        return [PolicyRule(p.name, p.priority, p.min_vip_level, p.first_response_minutes,
                           p.resolution_minutes) for p in session.scalars(select(SlaPolicy))]  # fmt: skip

    return cached(session, "sla_policies", load)


def pick_policy(policies: Sequence[P], priority: str, vip_level: int) -> P | None:
    """The most specific policy: highest VIP threshold met, then one naming the priority."""
    matching = [
        p
        for p in policies
        if (p.priority is None or p.priority == priority) and p.min_vip_level <= vip_level
    ]
    return max(matching, key=lambda p: (p.min_vip_level, p.priority is not None), default=None)


def targets(session: Session, priority: str, vip_level: int) -> tuple[timedelta, timedelta]:
    """(first response, resolution) allowed for a ticket of this priority and VIP level."""
    policy = pick_policy(policy_rules(session), priority, vip_level)
    first, resolution = (
        (policy.first_response_minutes, policy.resolution_minutes) if policy else (60, 48 * 60)
    )
    return timedelta(minutes=first), timedelta(minutes=resolution)


def start_clocks(session: Session, ticket: Ticket, now: datetime) -> None:
    first, resolution = targets(session, ticket.priority, ticket.vip_level)
    ticket.first_response_due = now + first
    ticket.resolution_due = now + resolution


def retarget(session: Session, ticket: Ticket, old_priority: str) -> None:
    """A new priority brings its policy's targets; time already paused stays credited, so
    the due times move by the difference between the two policies' targets."""
    old_first, old_resolution = targets(session, old_priority, ticket.vip_level)
    new_first, new_resolution = targets(session, ticket.priority, ticket.vip_level)
    if ticket.first_response_due and ticket.first_response_at is None:
        ticket.first_response_due += new_first - old_first
    if ticket.resolution_due:
        ticket.resolution_due += new_resolution - old_resolution


def pause(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now


def resume(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        return
    paused_for = now - ticket.sla_paused_at
    if ticket.first_response_due and ticket.first_response_at is None:
        ticket.first_response_due += paused_for
    if ticket.resolution_due:
        ticket.resolution_due += paused_for
    ticket.sla_paused_at = None


def breaching_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for ``state(ticket, now).breached``: the console's breach view and count use it, so
    list and badge agree (a ticket that breached and then went pending stays breached)."""
    clock = func.coalesce(Ticket.sla_paused_at, now)
    return and_(
        Ticket.status.not_in(FINISHED),
        or_(
            Ticket.resolution_due < clock,
            and_(Ticket.first_response_at.is_(None), Ticket.first_response_due < clock),
        ),
    )


def state(ticket: Ticket, now: datetime) -> SlaState:
    # While paused, the clock reads as it did at the moment it paused.
    clock = ticket.sla_paused_at or now
    finished = ticket.status in FINISHED
    first_due, resolution_due = ticket.first_response_due, ticket.resolution_due
    first_breached = bool(
        first_due and ticket.first_response_at is None and clock > first_due and not finished
    )
    resolution_breached = bool(resolution_due and clock > resolution_due and not finished)
    upcoming = [
        d for d in (first_due if ticket.first_response_at is None else None, resolution_due) if d
    ]
    warning = not finished and any(clock <= due <= clock + WARNING_WINDOW for due in upcoming)
    return SlaState(first_breached, resolution_breached, warning, ticket.sla_paused_at is not None)
