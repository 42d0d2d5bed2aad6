"""Ticket reads. ``access_*`` fetch and check that the principal may see the ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, inspect, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.base import NO_VALUE

from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.cache import cached
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import NotFound
from hashdesk.core.ids import normalize_tracking_id
from hashdesk.core.pagination import Page, encode_cursor
from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import FINISHED, Category, Macro, SlaPolicy, Ticket, TicketEntry
from hashdesk.tickets.schemas import TicketFilter
from hashdesk.tickets.sla import breaching_clause
from hashdesk.tickets.sla import state as sla_state

SelectT = TypeVar("SelectT", bound=Select[Any])
View = Literal["mine", "unassigned", "breaching"]
VIEWS: tuple[View, ...] = ("mine", "unassigned", "breaching")


def _not_found(reference: object) -> NotFound:
    return NotFound("No ticket {reference}.", reference=str(reference))


def _may_see(principal: Principal, ticket: Ticket) -> bool:
    if principal.kind is PrincipalKind.TRADER:
        return ticket.trader_id == principal.id
    if principal.kind is PrincipalKind.GUEST:
        return ticket.id == principal.ticket_id
    if principal.kind is PrincipalKind.AGENT and principal.can(Permission.VIEW_TICKETS):
        security_ticket = ticket.department == Department.SECURITY
        return not security_ticket or principal.can(Permission.VIEW_SECURITY_TICKETS)
    return False


def access_ticket(session: Session, principal: Principal, ticket_id: int) -> Ticket:
    """The ticket, if this principal may see it; otherwise 404 (never 403: no probing)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not _may_see(principal, ticket):
        raise _not_found(ticket_id)
    return ticket


def access_ticket_by_tracking_id(
    session: Session, principal: Principal, tracking_id: str
) -> Ticket:
    ticket = get_ticket_by_tracking_id(session, tracking_id)
    if ticket is None or not _may_see(principal, ticket):
        raise _not_found(tracking_id)
    return ticket


def get_ticket_by_tracking_id(session: Session, tracking_id: str) -> Ticket | None:
    normalized = normalize_tracking_id(tracking_id)
    if normalized is None:
        return None
    return session.scalar(select(Ticket).where(Ticket.tracking_id == normalized))


def list_entries(session: Session, ticket: Ticket, *, include_internal: bool) -> list[TicketEntry]:
    query = select(TicketEntry).where(TicketEntry.ticket_id == ticket.id).order_by(TicketEntry.id)
    if not include_internal:
        query = query.where(TicketEntry.public.is_(True))
    return list(session.scalars(query.options(selectinload(TicketEntry.attachments))))


def _visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.kind is PrincipalKind.TRADER:
        return Ticket.trader_id == principal.id
    if principal.kind is PrincipalKind.GUEST:
        return Ticket.id == principal.ticket_id
    if principal.can(Permission.VIEW_SECURITY_TICKETS):
        return Ticket.id.is_not(None)
    return Ticket.department != Department.SECURITY.value


def _view_clause(principal: Principal, view: View, now: datetime) -> ColumnElement[bool]:
    if view == "mine":
        return and_(Ticket.assignee_id == principal.id, Ticket.status.not_in(FINISHED))
    if view == "unassigned":
        return and_(Ticket.assignee_id.is_(None), Ticket.status.not_in(FINISHED))
    return breaching_clause(now)


def _apply_filter(query: SelectT, principal: Principal, filters: TicketFilter) -> SelectT:
    if filters.view is not None:
        query = query.where(_view_clause(principal, filters.view, utcnow()))
    for column, value in (
        (Ticket.department, filters.department),
        (Ticket.status, filters.status),
        (Ticket.category, filters.category),
        (Ticket.priority, filters.priority),
        (Ticket.language, filters.language),
    ):
        if value:
            query = query.where(column == value)
    if filters.search:
        query = query.where(_search_clause(filters.search))
    return query


def _search_clause(text: str) -> ColumnElement[bool]:
    """Text in subject, description or guest email; also the tracking ID when the text could
    be one (eight letters like "2fa rese" could be either, so both are matched)."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    clauses: list[ColumnElement[bool]] = [
        func.lower(Ticket.subject).like(pattern, escape="\\"),
        func.lower(Ticket.description).like(pattern, escape="\\"),
        func.lower(func.coalesce(Ticket.guest_email, "")).like(pattern, escape="\\"),
    ]
    tracking = normalize_tracking_id(text)
    if tracking:
        clauses.append(Ticket.tracking_id == tracking)
    return or_(*clauses)


def list_tickets(
    session: Session,
    principal: Principal,
    filters: TicketFilter,
    *,
    limit: int,
    after_id: int | None = None,
) -> Page[Ticket]:
    """Newest first; one query whatever the page size (the console's query-count test)."""
    query = select(Ticket).where(_visible_to(principal), Ticket.merged_into_id.is_(None))
    query = _apply_filter(query, principal, filters)
    if after_id is not None:
        query = query.where(Ticket.id < after_id)
    rows = list(session.scalars(query.order_by(Ticket.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return Page(items=items, next_cursor=next_cursor)


@dataclass(frozen=True)
class ConsoleCounts:
    """The console's tab counts: per view (mine, unassigned, breaching) and the unfinished
    tickets per department."""

    views: dict[str, int]
    departments: dict[str, int]


def console_counts(session: Session, principal: Principal) -> ConsoleCounts:
    """Every tab count in one aggregate query (``count(*) FILTER (WHERE ...)``, which
    SQLAlchemy writes for PostgreSQL and SQLite alike): the board refreshes on every console
    event, in every open console."""
    now = utcnow()
    columns = [func.count().filter(_view_clause(principal, view, now)) for view in VIEWS]
    query = (
        select(Ticket.department, func.count().filter(Ticket.status.not_in(FINISHED)), *columns)
        .where(_visible_to(principal), Ticket.merged_into_id.is_(None))
        .group_by(Ticket.department)
    )
    views: dict[str, int] = dict.fromkeys(VIEWS, 0)
    departments: dict[str, int] = {}
    for department, unfinished, *per_view in session.execute(query):
        if unfinished:
            departments[str(department)] = int(unfinished)
        for view, count in zip(VIEWS, per_view, strict=True):
            views[view] += int(count)
    return ConsoleCounts(views, departments)


def count_views(session: Session, principal: Principal) -> dict[str, int]:
    """Counts for the console's view tabs."""
    return console_counts(session, principal).views


def backlog_figure(session: Session) -> tuple[int, int]:
    """(open tickets older than 48 hours, tickets created in the last 7 days), one query."""
    now = utcnow()
    old_open = and_(
        Ticket.status.not_in(FINISHED),
        Ticket.merged_into_id.is_(None),
        Ticket.created_at < now - timedelta(hours=48),
    )
    this_week = Ticket.created_at >= now - timedelta(days=7)
    row = session.execute(
        select(func.count().filter(old_open), func.count().filter(this_week)).where(
            or_(old_open, this_week)
        )
    ).one()
    return int(row[0]), int(row[1])


def list_categories(session: Session, *, active_only: bool = True) -> list[Category]:
    query = select(Category).order_by(Category.position, Category.id)
    if active_only:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def list_sla_policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.min_vip_level, SlaPolicy.id)))


@dataclass(frozen=True)
class CategoryRule:
    """A category as the ticket form and the create path need it (a cacheable snapshot)."""

    slug: str
    name: str
    department: str
    fields: tuple[str, ...]
    required_fields: tuple[str, ...]
    default_priority: str
    active: bool


def category_rules(session: Session) -> dict[str, CategoryRule]:
    """Every category by slug, in the order the form lists them, from the process's
    configuration cache."""

    def load() -> dict[str, CategoryRule]:
        return {
            c.slug: CategoryRule(c.slug, c.name, c.department, tuple(c.fields),
                                 tuple(c.required_fields), c.default_priority, c.active)
            for c in session.scalars(select(Category).order_by(Category.position, Category.id))
        }  # fmt: skip

    return cached(session, "categories", load)


def get_category(session: Session, slug: str) -> Category | None:
    return session.scalar(select(Category).where(Category.slug == slug))


def list_macros(session: Session, language: str | None = None) -> list[Macro]:
    query = select(Macro).order_by(Macro.name)
    if language:
        query = query.where(Macro.language == language)
    return list(session.scalars(query))


def get_macro(session: Session, macro_id: int) -> Macro:
    macro = session.get(Macro, macro_id)
    if macro is None:
        raise NotFound("No macro {macro_id}.", macro_id=macro_id)
    return macro


def summary(ticket: Ticket) -> dict[str, object]:
    """A ticket as its list row, with its SLA state worked out now."""
    return {
        "id": ticket.id, "tracking_id": ticket.tracking_id, "category": ticket.category,
        "department": ticket.department, "subject": ticket.subject, "status": ticket.status,
        "priority": ticket.priority, "language": ticket.language, "vip_level": ticket.vip_level,
        "assignee_id": ticket.assignee_id, "created_at": ticket.created_at,
        "updated_at": ticket.updated_at, "first_response_due": ticket.first_response_due,
        "resolution_due": ticket.resolution_due,
        "sla_breached": sla_state(ticket, utcnow()).breached,
    }  # fmt: skip


def _entries_in_hand(ticket: Ticket, *, include_internal: bool) -> list[TicketEntry] | None:
    """The timeline of a ticket created in this session (its collection was started empty and
    filled as entries were added), without a query; None when it must be read."""
    loaded = inspect(ticket).attrs.entries.loaded_value
    if loaded is NO_VALUE:
        return None
    return [entry for entry in loaded if include_internal or entry.public]


def detail(session: Session, principal: Principal, ticket: Ticket) -> dict[str, object]:
    """A ticket with its timeline as ``principal`` may see it (no internal notes for traders)."""
    entries = _entries_in_hand(ticket, include_internal=principal.is_agent)
    if entries is None:
        entries = list_entries(session, ticket, include_internal=principal.is_agent)
    return {
        **summary(ticket),
        "description": ticket.description, "fields": ticket.fields, "trader_id": ticket.trader_id,
        "guest_email": ticket.guest_email, "merged_into_id": ticket.merged_into_id,
        "first_response_at": ticket.first_response_at, "resolved_at": ticket.resolved_at,
        "entries": entries,
    }  # fmt: skip


def access_ticket_ref(session: Session, principal: Principal, reference: str) -> Ticket:
    """By numeric id or tracking ID; 404 alike when missing or not the principal's."""
    if reference.isascii() and reference.isdigit() and len(reference) < 12:
        return access_ticket(session, principal, int(reference))
    return access_ticket_by_tracking_id(session, principal, reference)
