"""Every ticket write. ``check_*`` validate and call ``do_*``; ``do_*`` write, audit and
queue notifications (events and webhooks go out only after the commit)."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.assets.queries import (
    NetworkChoice,
    any_address,
    any_tx_hash,
    network_choices,
    unknown_network,
)
from hashdesk.config import Settings, get_settings
from hashdesk.core import audit
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.cache import invalidate_on_commit
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from hashdesk.core.events import publish_on_commit
from hashdesk.core.i18n import N_, match_locale
from hashdesk.core.ids import new_numeric_code, new_tracking_id
from hashdesk.notify import do_enqueue_email, do_enqueue_webhooks
from hashdesk.tickets import sla
from hashdesk.tickets.attachments import CheckedUpload, store
from hashdesk.tickets.departments import Department
from hashdesk.tickets.labels import DEFAULT_CATEGORIES, STATUS_LABELS
from hashdesk.tickets.models import (
    FINISHED,
    Attachment,
    Category,
    EntryKind,
    GuestCode,
    Macro,
    Priority,
    SlaPolicy,
    Status,
    Ticket,
    TicketEntry,
)
from hashdesk.tickets.queries import (
    CategoryRule,
    access_ticket_by_tracking_id,
    category_rules,
    get_category,
    get_macro,
    get_ticket_by_tracking_id,
)
from hashdesk.tickets.schemas import (
    CategoryChange,
    CategoryCreate,
    MacroCreate,
    SlaPolicyChange,
    TicketCreate,
    TicketFields,
)

ALLOWED_TRANSITIONS: dict[Status, set[Status]] = {
    Status.NEW: {Status.OPEN, Status.PENDING, Status.ESCALATED, Status.RESOLVED, Status.CLOSED},
    Status.OPEN: {Status.PENDING, Status.ESCALATED, Status.RESOLVED, Status.CLOSED},
    Status.PENDING: {Status.OPEN, Status.ESCALATED, Status.RESOLVED, Status.CLOSED},
    Status.ESCALATED: {Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED},
    Status.RESOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}
CONSOLE_CHANNEL = "console"
# Security tickets are announced only to staff who may see them (see web/stream.py).
SECURITY_CONSOLE_CHANNEL = "console:security"
GUEST_CODE_MINUTES = 15
GUEST_CODE_ATTEMPTS = 5
VIP_DESK_LEVEL = 3  # from this VIP level, tickets go straight to the VIP desk


def settings_of(session: Session) -> Settings:
    settings: Settings | None = session.info.get("settings")
    return settings or get_settings()


# --- what every change announces -------------------------------------------------------


def console_channel(department: str) -> str:
    """The staff channel that hears about a ticket of ``department``."""
    return SECURITY_CONSOLE_CHANNEL if department == Department.SECURITY else CONSOLE_CHANNEL


def _message(ticket: Ticket, event_type: str) -> dict[str, Any]:
    return {
        "type": event_type,
        "ticket_id": ticket.id,
        "tracking_id": ticket.tracking_id,
        "status": ticket.status,
        "department": ticket.department,
    }


def _announce(session: Session, ticket: Ticket, event_type: str, *, public: bool = True) -> None:
    """Tell open pages (after commit) and queue webhooks. Internal changes reach staff only;
    a security ticket's changes reach only the staff who may see security tickets."""
    message = _message(ticket, event_type)
    publish_on_commit(session, console_channel(ticket.department), message)
    if public:
        publish_on_commit(session, f"ticket:{ticket.id}", message)
        if ticket.trader_id is not None:
            publish_on_commit(session, f"trader:{ticket.trader_id}", message)
        do_enqueue_webhooks(session, event_type, _webhook_data(ticket))


def _webhook_data(ticket: Ticket) -> dict[str, Any]:
    return {
        "tracking_id": ticket.tracking_id,
        "category": ticket.category,
        "department": ticket.department,
        "status": ticket.status,
        "priority": ticket.priority,
        "trader_id": ticket.trader_id,
    }


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "status": ticket.status,
        "department": ticket.department,
        "assignee_id": ticket.assignee_id,
        "priority": ticket.priority,
    }


def _add_entry(
    session: Session,
    ticket: Ticket,
    actor: Principal,
    kind: EntryKind,
    body: str = "",
    *,
    public: bool = True,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TicketEntry:
    # Through the relationship (not ticket_id), so it works before the ticket is flushed;
    # attachments=[] marks the collection loaded, so reading it back costs no query.
    entry = TicketEntry(
        ticket=ticket,
        attachments=[],
        kind=kind.value,
        author_kind=actor.kind.value,
        author_id=actor.id,
        author_name=actor.name,
        body=body,
        public=public,
        data=data or {},
    )
    session.add(entry)
    ticket.updated_at = now or utcnow()
    return entry


def _recipient(session: Session, ticket: Ticket) -> tuple[str, str | None] | None:
    """(email, anti-phishing code) of whoever follows the ticket."""
    if ticket.trader_id is not None:
        trader = session.get(Trader, ticket.trader_id)
        return (trader.email, trader.anti_phishing_code) if trader else None
    return (ticket.guest_email, None) if ticket.guest_email else None


def _email_follower(session: Session, ticket: Ticket, template: str, **context: Any) -> None:
    recipient = _recipient(session, ticket)
    if recipient is None or not settings_of(session).email_enabled:
        return
    url = f"{settings_of(session).public_url}/portal/tickets/{ticket.tracking_id}"
    do_enqueue_email(
        session,
        to=recipient[0],
        template=template,
        locale=ticket.language,
        context={
            "tracking_id": ticket.tracking_id,
            "subject": ticket.subject,
            "url": url,
            **context,
        },
        anti_phishing_code=recipient[1],
    )


# --- opening a ticket --------------------------------------------------------------------


def _check_network(session: Session | None, network: str) -> NetworkChoice:
    networks = network_choices(session)
    found = networks.resolve(network)
    if found is None:
        message, values = unknown_network(networks, network)
        raise InvalidInput(message, field="fields.network", **values)
    return found


def check_fields(
    category: CategoryRule | Category, fields: TicketFields, session: Session | None = None
) -> dict[str, str]:
    """The ticket's structured fields, checked against ``category``; the network is stored
    as its slug, and a hash or address is checked in that network's format (in any known
    network's without one), a memo in that network's memo format when it has one. Without
    ``session``, networks are those of ``FIXED_NETWORK_CHOICES``."""
    values = {k: v for k, v in fields.model_dump().items() if v}
    for name in values:
        if name not in category.fields:
            raise InvalidInput(
                "The {category} category has no {name} field.", field=f"fields.{name}",
                category=category.slug, name=name,
            )  # fmt: skip
    for name in category.required_fields:
        if name not in values:
            raise InvalidInput(
                "{name} is required for this category.", field=f"fields.{name}", name=name
            )
    network = _check_network(session, values["network"]) if "network" in values else None
    if network is not None:
        values["network"] = network.slug
    checks = (network.tx_hash, network.address) if network else (any_tx_hash, any_address)
    # A memo without a network, or on a network without memos, is kept as written: it is
    # what the trader pasted, and the agent judges it.
    memo_check = network.memo if network else None
    for name, check in zip(("tx_hash", "address", "memo"), (*checks, memo_check), strict=True):
        if name in values and check is not None and (problem := check(values[name])):
            raise InvalidInput(problem.message, field=f"fields.{name}", **problem.params)
    return values


def _resolve_category(session: Session, slug: str) -> CategoryRule:
    category = category_rules(session).get(slug)
    if category is None or not category.active:
        raise InvalidInput("Unknown category {category}.", field="category", category=slug)
    return category


def _ticket_language(data: TicketCreate, fallback: str) -> str:
    if data.language is None:
        return fallback
    language = match_locale(data.language)
    if language is None:
        raise InvalidInput("Unknown language {language}.", field="language", language=data.language)
    return language


def check_create_ticket(
    session: Session,
    actor: Principal,
    data: TicketCreate,
    *,
    guest_email: str | None = None,
    uploads: list[CheckedUpload] | None = None,
) -> Ticket:
    """A trader (``actor``) or a guest (``guest_email``, actor = SYSTEM) opens a ticket."""
    if actor.kind not in (PrincipalKind.TRADER, PrincipalKind.SYSTEM):
        raise PermissionDenied("Tickets are opened by traders or guests.")
    if actor.kind is PrincipalKind.SYSTEM and not guest_email:
        raise InvalidInput("A guest ticket needs an email address.", field="email")
    category = _resolve_category(session, data.category)
    fields = check_fields(category, data.fields, session)
    trader = session.get(Trader, actor.id) if actor.kind is PrincipalKind.TRADER else None
    language = _ticket_language(data, trader.language if trader else actor.locale)
    return do_create_ticket(
        session, actor, data, category, fields, language, trader, guest_email, uploads or []
    )


def first_department(category_department: str, vip_level: int) -> str:
    """Where a new ticket lands: high VIP tiers go to their desk, except security reports,
    which the security team must see whoever sends them."""
    if vip_level >= VIP_DESK_LEVEL and category_department != Department.SECURITY:
        return Department.VIP.value
    return category_department


def do_create_ticket(
    session: Session,
    actor: Principal,
    data: TicketCreate,
    category: CategoryRule | Category,
    fields: dict[str, str],
    language: str,
    trader: Trader | None,
    guest_email: str | None,
    uploads: list[CheckedUpload],
    *,
    now: datetime | None = None,
) -> Ticket:
    now = now or utcnow()
    vip_level = trader.vip_level if trader else 0
    department = first_department(category.department, vip_level)
    priority = category.default_priority
    if vip_level >= 1 and priority in (Priority.LOW, Priority.NORMAL):
        priority = Priority.HIGH.value
    ticket = Ticket(
        # 40 random bits: a clash is a one-in-a-trillion event that the unique index turns
        # into a 409 "try again" rather than a query on every create.
        tracking_id=new_tracking_id(),
        entries=[],
        trader_id=trader.id if trader else None,
        guest_email=guest_email.lower() if guest_email else None,
        category=category.slug,
        department=department,
        subject=data.subject,
        description=data.description,
        fields=fields,
        priority=priority,
        language=language,
        vip_level=vip_level,
        created_at=now,
        updated_at=now,
    )
    sla.start_clocks(session, ticket, now)
    session.add(ticket)
    # The same ``now`` leaves updated_at as inserted: no UPDATE of the new row (measured).
    entry = _add_entry(session, ticket, actor, EntryKind.CREATED, data.description, now=now)
    entry.created_at = now
    _attach(session, ticket, entry, uploads)
    session.flush()
    audit.record(session, actor, "ticket.created", "ticket", ticket.id, after=_snapshot(ticket))
    _email_follower(session, ticket, "ticket_created")
    _announce(session, ticket, "ticket.created")
    return ticket


def _attach(
    session: Session, ticket: Ticket, entry: TicketEntry, uploads: list[CheckedUpload]
) -> None:
    upload_dir = settings_of(session).upload_dir
    for upload in uploads:
        entry.attachments.append(
            Attachment(
                ticket=ticket,
                filename=upload.filename,
                content_type=upload.content_type,
                size=len(upload.data),
                sha256=upload.sha256,
                storage_key=store(upload_dir, upload),
            )
        )


# --- the conversation --------------------------------------------------------------------


def reopen_window(session: Session) -> timedelta:
    return timedelta(days=settings_of(session).reopen_window_days)


def trader_reply_refusal(ticket: Ticket, now: datetime, window: timedelta) -> str | None:
    """Why the trader (or guest) may not answer on ``ticket`` now, as a message to translate;
    None when they may. The portal hides its reply form on the same rule."""
    if ticket.merged_into_id is not None:
        return N_("This ticket was merged into another; reply there.")
    status = Status(ticket.status)
    if status is Status.CLOSED:
        return N_("This ticket is closed; please open a new one.")
    if status is Status.RESOLVED and (
        ticket.resolved_at is None or now - ticket.resolved_at > window
    ):
        return N_("This ticket was resolved too long ago to reopen; please open a new one.")
    return None


def check_reply(
    session: Session,
    principal: Principal,
    ticket: Ticket,
    body: str,
    *,
    internal: bool = False,
    set_status: Status | None = None,
    uploads: Sequence[CheckedUpload] = (),
) -> TicketEntry:
    """Whoever may write on ``ticket`` answers on it: staff as agents, anyone else as the
    trader (or guest). A message of attachments only reads as the files' names."""
    text = body.strip() or ", ".join(upload.filename for upload in uploads)
    if not text:
        raise InvalidInput("Write a message of up to 20,000 characters.", field="body")
    if principal.is_agent:
        return check_agent_reply(session, principal, ticket, text, internal=internal,
                                 set_status=set_status, uploads=list(uploads))  # fmt: skip
    if internal or set_status is not None:
        raise PermissionDenied("Only staff can write internal notes or set a status.")
    return check_trader_reply(session, principal, ticket, text, list(uploads))


def check_trader_reply(
    session: Session, actor: Principal, ticket: Ticket, body: str, uploads: list[CheckedUpload]
) -> TicketEntry:
    """The trader (or guest) answers; a pending ticket reopens, and so does a resolved one
    within the reopen window."""
    refusal = trader_reply_refusal(ticket, utcnow(), reopen_window(session))
    if refusal is not None:
        raise Conflict(refusal)
    return do_trader_reply(session, actor, ticket, body, uploads)


def do_trader_reply(
    session: Session, actor: Principal, ticket: Ticket, body: str, uploads: list[CheckedUpload]
) -> TicketEntry:
    entry = _add_entry(session, ticket, actor, EntryKind.MESSAGE, body)
    session.flush()
    _attach(session, ticket, entry, uploads)
    if Status(ticket.status) in (Status.PENDING, Status.RESOLVED):
        _move_status(session, actor, ticket, Status.OPEN)
    audit.record(session, actor, "ticket.replied", "ticket", ticket.id)
    _announce(session, ticket, "ticket.replied")
    return entry


def check_agent_reply(
    session: Session,
    actor: Principal,
    ticket: Ticket,
    body: str,
    *,
    internal: bool = False,
    set_status: Status | None = None,
    uploads: list[CheckedUpload] | None = None,
) -> TicketEntry:
    actor.require(Permission.NOTE if internal else Permission.REPLY)
    if set_status is not None:
        actor.require(Permission.CHANGE_STATUS)
        _check_transition(ticket, set_status)
    if not internal and Status(ticket.status) is Status.CLOSED:
        raise Conflict("This ticket is closed; the trader cannot be answered here.")
    return do_agent_reply(session, actor, ticket, body, internal, set_status, uploads or [])


def do_agent_reply(
    session: Session,
    actor: Principal,
    ticket: Ticket,
    body: str,
    internal: bool,
    set_status: Status | None,
    uploads: list[CheckedUpload],
) -> TicketEntry:
    kind = EntryKind.NOTE if internal else EntryKind.MESSAGE
    entry = _add_entry(session, ticket, actor, kind, body, public=not internal)
    session.flush()
    _attach(session, ticket, entry, uploads)
    if not internal:
        if ticket.first_response_at is None:
            ticket.first_response_at = entry.created_at or utcnow()
        if set_status is None and Status(ticket.status) is Status.NEW:
            set_status = Status.OPEN
        _email_follower(session, ticket, "agent_reply", agent_name=actor.name, body=body)
    if set_status is not None and set_status.value != ticket.status:
        _move_status(session, actor, ticket, set_status)
    audit.record(
        session, actor, "ticket.noted" if internal else "ticket.replied", "ticket", ticket.id
    )
    _announce(
        session, ticket, "ticket.noted" if internal else "ticket.replied", public=not internal
    )
    return entry


# --- status, assignment, priority, hand-off, merge ------------------------------------------


def next_statuses(ticket: Ticket) -> list[Status]:
    """The statuses ``ticket`` may move to from its current one, in lifecycle order."""
    allowed = ALLOWED_TRANSITIONS[Status(ticket.status)]
    return [status for status in Status if status in allowed]


def _check_transition(ticket: Ticket, target: Status) -> None:
    current = Status(ticket.status)
    if target != current and target not in ALLOWED_TRANSITIONS[current]:
        raise Conflict(
            "A ticket cannot go from {current} to {target}.", field="status",
            current=current.value, target=target.value,
        )  # fmt: skip


def _move_status(session: Session, actor: Principal, ticket: Ticket, target: Status) -> None:
    """Change the status and keep SLA clocks and timestamps in step (no checks here)."""
    now = utcnow()
    before = ticket.status
    if target is Status.PENDING:
        sla.pause(ticket, now)
    elif Status(before) is Status.PENDING:
        sla.resume(ticket, now)
    ticket.status = target.value
    if target is Status.RESOLVED:
        ticket.resolved_at = now
    elif target is Status.CLOSED:
        ticket.closed_at = now
    elif Status(before) in FINISHED:
        ticket.resolved_at = ticket.closed_at = None
    _add_entry(session, ticket, actor, EntryKind.STATUS, data={"from": before, "to": target.value})
    audit.record(
        session, actor, "ticket.status_changed", "ticket", ticket.id,
        before={"status": before}, after={"status": target.value},
    )  # fmt: skip
    if target in FINISHED and actor.is_agent:
        _email_follower(session, ticket, "status_changed", status_label=STATUS_LABELS[target.value])


def check_change_status(
    session: Session, actor: Principal, ticket: Ticket, target: Status
) -> Ticket:
    actor.require(Permission.CHANGE_STATUS)
    _check_transition(ticket, target)
    if target.value != ticket.status:
        _move_status(session, actor, ticket, target)
        _announce(session, ticket, "ticket.status_changed")
    return ticket


def check_assign(
    session: Session, actor: Principal, ticket: Ticket, assignee_id: int | None
) -> Ticket:
    actor.require(Permission.ASSIGN)
    if assignee_id is not None:
        agent = session.get(Agent, assignee_id)
        if agent is None or not agent.active:
            raise InvalidInput(
                "No active agent {agent_id}.", field="assignee_id", agent_id=assignee_id
            )
    return do_assign(session, actor, ticket, assignee_id)


def do_assign(
    session: Session, actor: Principal, ticket: Ticket, assignee_id: int | None
) -> Ticket:
    before = ticket.assignee_id
    if before == assignee_id:
        return ticket
    ticket.assignee_id = assignee_id
    assignee = session.get(Agent, assignee_id) if assignee_id else None
    _add_entry(
        session, ticket, actor, EntryKind.ASSIGNMENT, public=False,
        data={"from": before, "to": assignee_id, "to_name": assignee.name if assignee else None},
    )  # fmt: skip
    audit.record(
        session, actor, "ticket.assigned", "ticket", ticket.id,
        before={"assignee_id": before}, after={"assignee_id": assignee_id},
    )  # fmt: skip
    _announce(session, ticket, "ticket.assigned", public=False)
    return ticket


def check_change_priority(
    session: Session, actor: Principal, ticket: Ticket, priority: Priority
) -> Ticket:
    actor.require(Permission.CHANGE_STATUS)
    return do_change_priority(session, actor, ticket, priority)


def do_change_priority(
    session: Session, actor: Principal, ticket: Ticket, priority: Priority
) -> Ticket:
    """Set the priority and move the SLA due times to the new policy (nothing if unchanged)."""
    before = ticket.priority
    if before == priority.value:
        return ticket
    ticket.priority = priority.value
    sla.retarget(session, ticket, before)
    _add_entry(session, ticket, actor, EntryKind.PRIORITY, public=False,
               data={"from": before, "to": priority.value})  # fmt: skip
    audit.record(session, actor, "ticket.priority_changed", "ticket", ticket.id,
                 before={"priority": before}, after={"priority": priority.value})  # fmt: skip
    _announce(session, ticket, "ticket.priority_changed", public=False)
    return ticket


def check_handoff(
    session: Session, actor: Principal, ticket: Ticket, department: Department, note: str
) -> Ticket:
    actor.require(Permission.HANDOFF)
    if department.value == ticket.department:
        raise Conflict("The ticket is already with {department}.", field="department",
                       department=department.value)  # fmt: skip
    if Status(ticket.status) in FINISHED:
        raise Conflict("Reopen the ticket before handing it off.", field="status")
    return do_handoff(session, actor, ticket, department, note)


def do_handoff(
    session: Session, actor: Principal, ticket: Ticket, department: Department, note: str
) -> Ticket:
    """Move the ticket to another department with an internal note; the trader sees only that
    a specialist team has it."""
    before = _snapshot(ticket)
    ticket.department = department.value
    ticket.assignee_id = None
    _add_entry(session, ticket, actor, EntryKind.NOTE, note, public=False,
               data={"handoff_to": department.value})  # fmt: skip
    _add_entry(session, ticket, actor, EntryKind.HANDOFF,
               data={"from": before["department"], "to": department.value})  # fmt: skip
    if department is not Department.FRONTLINE and Status(ticket.status) is not Status.ESCALATED:
        _move_status(session, actor, ticket, Status.ESCALATED)
    audit.record(session, actor, "ticket.handed_off", "ticket", ticket.id,
                 before=before, after=_snapshot(ticket))  # fmt: skip
    _announce(session, ticket, "ticket.handed_off")
    left = console_channel(str(before["department"]))
    if left != console_channel(ticket.department):
        # The boards that listed the ticket drop it; they learn only that it moved away.
        publish_on_commit(session, left, _message(ticket, "ticket.handed_off"))
    return ticket


def _same_requester(a: Ticket, b: Ticket) -> bool:
    if a.trader_id is not None or b.trader_id is not None:
        return a.trader_id == b.trader_id
    return a.guest_email == b.guest_email


def check_merge(
    session: Session, actor: Principal, source: Ticket, into_tracking_id: str
) -> Ticket:
    actor.require(Permission.MERGE)
    try:
        # Only into a ticket this agent may see: no merging into a hidden security ticket.
        target = access_ticket_by_tracking_id(session, actor, into_tracking_id)
    except NotFound as error:
        raise InvalidInput(
            "No ticket {reference}.", field="into_tracking_id", reference=into_tracking_id
        ) from error
    if source.merged_into_id is not None:
        raise Conflict("This ticket was merged already.", field="into_tracking_id")
    if target.id == source.id:
        raise Conflict("A ticket cannot be merged into itself.", field="into_tracking_id")
    if target.merged_into_id is not None or Status(target.status) is Status.CLOSED:
        raise Conflict(
            "The target ticket is closed or merged; choose an open one.", field="into_tracking_id"
        )
    if not _same_requester(source, target):
        raise Conflict("Only tickets from the same trader can be merged.", field="into_tracking_id")
    return do_merge(session, actor, source, target)


def do_merge(session: Session, actor: Principal, source: Ticket, target: Ticket) -> Ticket:
    source.merged_into_id = target.id
    _add_entry(session, source, actor, EntryKind.MERGE, data={"into": target.tracking_id})
    _add_entry(session, target, actor, EntryKind.MERGE,
               f"{source.subject}\n\n{source.description}", data={"from": source.tracking_id})  # fmt: skip
    if Status(source.status) is not Status.CLOSED:
        _move_status(session, actor, source, Status.CLOSED)
    audit.record(session, actor, "ticket.merged", "ticket", source.id,
                 after={"merged_into": target.tracking_id})  # fmt: skip
    _announce(session, source, "ticket.merged")
    _announce(session, target, "ticket.updated")
    return target


def do_record_view(session: Session, actor: Principal, ticket_id: int) -> None:
    """A staff member opened a ticket and so saw the trader's personal data."""
    audit.record(session, actor, "ticket.viewed", "ticket", ticket_id)


# --- macros ----------------------------------------------------------------------------------


def render_macro(macro: Macro, ticket: Ticket, trader: Trader | None, agent_name: str) -> str:
    values = {
        "trader_name": (trader.name if trader and trader.name else "") or "there",
        "tracking_id": ticket.tracking_id,
        "agent_name": agent_name,
        "subject": ticket.subject,
        "network": str(ticket.fields.get("network", "")),
        "asset": str(ticket.fields.get("asset", "")),
    }
    text = macro.body
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def check_apply_macro(
    session: Session, actor: Principal, ticket: Ticket, macro_id: int
) -> TicketEntry:
    macro = get_macro(session, macro_id)
    trader = session.get(Trader, ticket.trader_id) if ticket.trader_id else None
    body = render_macro(macro, ticket, trader, actor.name)
    target = Status(macro.set_status) if macro.set_status else None
    return check_agent_reply(session, actor, ticket, body, set_status=target)


def check_create_macro(session: Session, actor: Principal, data: MacroCreate) -> Macro:
    actor.require(Permission.MANAGE_MACROS)
    return do_create_macro(session, actor, data)


def do_create_macro(session: Session, actor: Principal, data: MacroCreate) -> Macro:
    macro = Macro(
        name=data.name,
        body=data.body,
        language=data.language,
        department=data.department.value if data.department else None,
        set_status=data.set_status.value if data.set_status else None,
    )
    session.add(macro)
    session.flush()
    audit.record(session, actor, "macro.created", "macro", macro.id, after={"name": macro.name})
    return macro


# --- guests ------------------------------------------------------------------------------------


def _hash_code(ticket_id: int, code: str) -> str:
    return hashlib.sha256(f"{ticket_id}:{code}".encode()).hexdigest()


def check_request_guest_code(session: Session, tracking_id: str, email: str) -> None:
    """Mail a one-time code when the tracking ID and email match; silent otherwise, so the
    endpoint cannot be used to learn which tickets exist."""
    ticket = get_ticket_by_tracking_id(session, tracking_id)
    if ticket is None or ticket.guest_email is None or ticket.guest_email != email.lower():
        return
    code = new_numeric_code()
    session.add(
        GuestCode(
            ticket_id=ticket.id,
            code_hash=_hash_code(ticket.id, code),
            expires_at=utcnow() + timedelta(minutes=GUEST_CODE_MINUTES),
        )
    )
    _email_follower(session, ticket, "guest_code", code=code, minutes=GUEST_CODE_MINUTES)


def _count_attempt(session: Session, guest_code_id: int) -> bool:
    """Count one try at a code, in a transaction of its own so that the count survives the
    request's rollback; atomic, so parallel guesses cannot slip past the limit. False when
    the code has had all its tries."""
    engine = session.get_bind().engine
    with engine.connect() as connection, connection.begin():
        counted = connection.execute(
            update(GuestCode)
            .where(GuestCode.id == guest_code_id, GuestCode.attempts < GUEST_CODE_ATTEMPTS)
            .values(attempts=GuestCode.attempts + 1)
        )
    return counted.rowcount == 1


def check_guest_code(session: Session, tracking_id: str, email: str, code: str) -> Ticket:
    """The ticket, when ``code`` is the latest unexpired code mailed for it."""
    invalid = InvalidInput("The code is wrong or has expired; ask for a new one.", field="code")
    ticket = get_ticket_by_tracking_id(session, tracking_id)
    if ticket is None or ticket.guest_email != email.lower():
        raise invalid
    guest_code = session.scalar(
        select(GuestCode)
        .where(GuestCode.ticket_id == ticket.id, GuestCode.used_at.is_(None))
        .order_by(GuestCode.id.desc())
        .limit(1)
    )
    if guest_code is None or guest_code.expires_at < utcnow():
        raise invalid
    if not _count_attempt(session, guest_code.id):
        raise RateLimited("Too many wrong codes; ask for a new one.", retry_after=60)
    if not hmac.compare_digest(guest_code.code_hash, _hash_code(ticket.id, code)):
        raise invalid
    guest_code.used_at = utcnow()
    return ticket


# --- configuration: categories and SLA policies --------------------------------------------------


def _category_snapshot(category: Category) -> dict[str, Any]:
    return {"name": category.name, "department": category.department, "fields": category.fields,
            "required_fields": category.required_fields, "active": category.active,
            "default_priority": category.default_priority}  # fmt: skip


def check_create_category(session: Session, actor: Principal, data: CategoryCreate) -> Category:
    actor.require(Permission.MANAGE_SETTINGS)
    if get_category(session, data.slug) is not None:
        raise Conflict("A category {slug} exists already.", field="slug", slug=data.slug)
    category = Category(slug=data.slug, name=data.name, department=data.department.value)
    session.add(category)
    return do_change_category(session, actor, category, data, created=True)


def check_change_category(
    session: Session, actor: Principal, slug: str, data: CategoryChange
) -> Category:
    actor.require(Permission.MANAGE_SETTINGS)
    category = get_category(session, slug)
    if category is None:
        raise NotFound("No category {slug}.", slug=slug)
    return do_change_category(session, actor, category, data, created=False)


def do_change_category(
    session: Session, actor: Principal, category: Category, data: CategoryChange, *, created: bool
) -> Category:
    before = None if created else _category_snapshot(category)
    for name, value in data.model_dump(exclude_unset=True, exclude={"slug"}).items():
        setattr(category, name, value.value if isinstance(value, enum.Enum) else value)
    missing = set(category.required_fields) - set(category.fields or [])
    if missing:
        raise InvalidInput("Required fields must also be fields of the category: {missing}.",
                           field="required_fields", missing=", ".join(sorted(missing)))  # fmt: skip
    session.flush()
    invalidate_on_commit(session, "categories")
    audit.record(session, actor, "category.created" if created else "category.changed", "category",
                 category.id, before=before, after=_category_snapshot(category))  # fmt: skip
    return category


def check_change_sla_policy(
    session: Session, actor: Principal, policy_id: int, data: SlaPolicyChange
) -> SlaPolicy:
    """New targets apply to tickets opened from now on; open tickets keep their due times."""
    actor.require(Permission.MANAGE_SETTINGS)
    policy = session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound("No SLA policy {policy_id}.", policy_id=policy_id)
    if data.resolution_minutes < data.first_response_minutes:
        raise InvalidInput("The resolution target cannot be shorter than the first response target.",
                           field="resolution_minutes")  # fmt: skip
    before = {"first": policy.first_response_minutes, "resolution": policy.resolution_minutes}
    policy.first_response_minutes = data.first_response_minutes
    policy.resolution_minutes = data.resolution_minutes
    invalidate_on_commit(session, "sla_policies")
    audit.record(session, actor, "sla_policy.changed", "sla_policy", policy.id, before=before,
                 after={"first": data.first_response_minutes, "resolution": data.resolution_minutes})  # fmt: skip
    return policy


# --- set-up defaults -------------------------------------------------------------------------


def do_seed_defaults(session: Session) -> None:
    """Default categories and SLA policies, added only where missing (safe to re-run)."""
    invalidate_on_commit(session, "categories")
    invalidate_on_commit(session, "sla_policies")
    known = {slug for slug in session.scalars(select(Category.slug))}
    for position, row in enumerate(DEFAULT_CATEGORIES):
        slug, name, department, fields, required, priority = row
        if slug not in known:
            session.add(Category(slug=slug, name=name, department=department, fields=fields,
                                 required_fields=required, default_priority=priority,
                                 position=position))  # fmt: skip
    if session.scalar(select(SlaPolicy.id).limit(1)) is None:
        for policy_name, priority_name, vip, first, resolution in sla.DEFAULT_POLICIES:
            session.add(SlaPolicy(name=policy_name, priority=priority_name, min_vip_level=vip,
                                  first_response_minutes=first, resolution_minutes=resolution))  # fmt: skip
