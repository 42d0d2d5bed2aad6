"""Ticket pages: the trader portal (``/portal``) and the agent console (``/console``).

Routes stay thin: read the form, call one ``check_*``/``access_*``, render. A refused form is
shown again with what was typed and the message next to the field that was wrong. Pages that
update live carry a fragment URL that ``hashdesk.js`` re-fetches when the event stream says
something changed; the stream itself carries no ticket content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_timedelta
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import list_agents
from hashdesk.assets.queries import network_choices
from hashdesk.core.auth import SYSTEM, Permission, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from hashdesk.core.i18n import gettext_for
from hashdesk.core.ids import normalize_tracking_id
from hashdesk.core.pagination import decode_cursor
from hashdesk.core.ratelimit import GUEST_CODE, GUEST_TICKET, GUEST_VERIFY, hit_limit
from hashdesk.tickets import actions, queries, sla
from hashdesk.tickets.departments import Department
from hashdesk.tickets.labels import (
    DEPARTMENT_LABELS,
    FIELD_LABELS,
    N_,
    PRIORITY_LABELS,
    STATUS_LABELS,
)
from hashdesk.tickets.models import Priority, Status, Ticket
from hashdesk.tickets.schemas import (
    GuestCodeRequest,
    GuestCodeVerify,
    GuestTicketCreate,
    HandoffCreate,
    MergeRequest,
    ReplyForm,
    TicketCreate,
    TicketFilter,
)
from hashdesk.web.deps import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    MaybePrincipal,
    RateLimiterDep,
    client_address,
    sign_in_guest,
)
from hashdesk.web.forms import Posted, PostedForm
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
TICKET_FIELDS = ("network", "asset", "tx_hash", "address", "order_id", "memo")
FILTER_KEYS = ("view", "department", "status", "category", "priority", "language", "search")
# The console speaks of the trader in the third person; the portal's label says "your reply".
CONSOLE_STATUS_LABELS = {**STATUS_LABELS, "pending": N_("Pending on trader")}
# Messages for values refused by the request schemas (pydantic's own are English only).
FIELD_PROBLEMS = {
    "category": N_("Choose a category."),
    "subject": N_("Write a subject of 3 to 200 characters."),
    "description": N_("Describe the problem in up to 20,000 characters."),
    "email": N_("Enter a valid email address."),
    "body": N_("Write a message of up to 20,000 characters."),
    "note": N_("Write a note for the receiving team."),
    "code": N_("Enter the 6-digit code from the email."),
    "tracking_id": N_("Enter a tracking ID such as HD-7KQ3-9XPA."),
    "into_tracking_id": N_("Enter a tracking ID such as HD-7KQ3-9XPA."),
    "department": N_("Choose a department."),
    "set_status": N_("Choose a status."),
}
DEFAULT_PROBLEM = N_("This value is not valid (at most 200 characters).")


# --- request helpers ---------------------------------------------------------------------------


class PageText:
    """The page's language: gettext and dates formatted the way its readers write them."""

    def __init__(self, request: Request, principal: Principal | None) -> None:
        self.locale = page_locale(request, principal)
        self.gettext = gettext_for(self.locale).gettext
        try:
            self.babel = Locale.parse(self.locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            self.babel = Locale("en")
        self.now = utcnow()

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_datetime(moment, "medium", tzinfo=UTC, locale=self.babel) + " UTC"

    def relative(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_timedelta(moment - self.now, add_direction=True, locale=self.babel)


def _page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    principal: Principal | None,
    status_code: int = 200,
) -> HTMLResponse:
    text = PageText(request, principal)
    values = {
        "when": text.when,
        "relative": text.relative,
        "iso": lambda moment: moment.isoformat() if moment else "",
        "STATUS_LABELS": CONSOLE_STATUS_LABELS if _is_agent(principal) else STATUS_LABELS,
        "PRIORITY_LABELS": PRIORITY_LABELS,
        "DEPARTMENT_LABELS": DEPARTMENT_LABELS,
        "FIELD_LABELS": FIELD_LABELS,
        "errors": {},
        "values": {},
        **context,
    }
    return render_page(request, template, values, principal=principal, status_code=status_code)


def _is_agent(principal: Principal | None) -> bool:
    return principal is not None and principal.is_agent


def _validation_errors(error: ValidationError, gettext: Callable[[str], str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        found.setdefault(key, gettext(FIELD_PROBLEMS.get(key, DEFAULT_PROBLEM)))
    return found


def _domain_errors(
    session: Session, error: DomainError, gettext: Callable[[str], str], default_key: str
) -> dict[str, str]:
    """The error keyed by the field at fault; nothing of the refused write is kept."""
    session.rollback()
    return {error.field or default_key: error.render(gettext), "_form": default_key}


def _form_refused(
    session: Session, error: Exception, gettext: Callable[[str], str], default_key: str
) -> tuple[dict[str, str], int]:
    if isinstance(error, ValidationError):
        session.rollback()
        return {**_validation_errors(error, gettext), "_form": default_key}, 422
    assert isinstance(error, DomainError)
    return _domain_errors(session, error, gettext, default_key), error.status


# --- the ticket form (traders and guests) ----------------------------------------------------


def _ticket_payload(form: PostedForm) -> dict[str, Any]:
    fields = {name: form.text(f"fields.{name}") for name in TICKET_FIELDS}
    return {
        "category": form.text("category"),
        "subject": form.text("subject"),
        "description": form.text("description"),
        "fields": {name: value for name, value in fields.items() if value},
    }


def _ticket_form_context(
    session: Session, guest: bool, values: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The form's choices, and ``values`` to show in it: a network named by an alias or in
    another case (a link from elsewhere) is shown as the choice it names."""
    networks = network_choices(session)
    shown = dict(values or {})
    named = networks.resolve(shown.get("fields.network", ""))
    if named is not None:
        shown["fields.network"] = named.slug
    return {
        "categories": queries.list_categories(session),
        "networks": networks.choices(),
        "ticket_fields": TICKET_FIELDS,
        "guest": guest,
        "values": shown,
    }


def _open_ticket(
    request: Request, session: Session, principal: Principal | None, form: PostedForm
) -> Ticket:
    """A trader's ticket, or a guest's when nobody is signed in as a trader."""
    payload = _ticket_payload(form)
    if principal is not None and principal.kind is PrincipalKind.TRADER:
        actor, data, guest_email = principal, TicketCreate.model_validate(payload), None
    else:
        # A guest's ticket speaks the language of the page they filled in.
        payload |= {"email": form.text("email"), "language": PageText(request, principal).locale}
        guest = GuestTicketCreate.model_validate(payload)
        actor, guest_email = SYSTEM, str(guest.email)
        data = TicketCreate.model_validate(guest.model_dump(exclude={"email"}))
    return actions.check_create_ticket(
        session, actor, data, guest_email=guest_email, uploads=form.checked_uploads()
    )


# --- portal: the trader's dashboard ------------------------------------------------------------


def _portal_gate(principal: Principal | None, session: Session) -> Response | None:
    """Where to send someone who is not a signed-in trader."""
    if principal is None:
        return redirect("/portal/sign-in")
    if principal.is_agent:
        return redirect("/console")
    if principal.kind is PrincipalKind.GUEST:
        ticket = session.get(Ticket, principal.ticket_id)
        return redirect(f"/portal/tickets/{ticket.tracking_id}" if ticket else "/portal/track")
    return None


def _portal_list(session: Session, principal: Principal, cursor: str | None) -> dict[str, Any]:
    page = queries.list_tickets(
        session, principal, TicketFilter(), limit=PAGE_SIZE, after_id=decode_cursor(cursor)
    )
    return {"tickets": page.items, "next_cursor": page.next_cursor, "cursor": cursor or ""}


@router.get("/portal", response_class=HTMLResponse)
def portal_home(
    request: Request, session: DbSession, principal: MaybePrincipal, cursor: str | None = None
) -> Response:
    gate = _portal_gate(principal, session)
    if gate is not None or principal is None:
        return gate or redirect("/portal/sign-in")
    context = _portal_list(session, principal, cursor)
    return _page(request, "tickets/portal_dashboard.html", context, principal)


@router.get("/portal/fragments/tickets", response_class=HTMLResponse)
def portal_ticket_list(
    request: Request, session: DbSession, principal: CurrentPrincipal, cursor: str | None = None
) -> Response:
    if principal.kind is not PrincipalKind.TRADER:
        raise PermissionDenied("Only traders have a list of requests.")
    context = _portal_list(session, principal, cursor)
    return _page(request, "tickets/_portal_ticket_list.html", context, principal)


@router.get("/portal/new", response_class=HTMLResponse)
def portal_new(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    gate = _portal_gate(principal, session)
    if gate is not None:
        return gate
    # A link may fill the form in (the deposit tracer's recovery request); the trader still
    # reads it and sends it themselves.
    context = _ticket_form_context(session, guest=False, values=_prefill(request))
    return _page(request, "tickets/portal_new.html", context, principal)


PREFILL_KEYS = ("category", "subject", "description", *(f"fields.{n}" for n in TICKET_FIELDS))


def _prefill(request: Request) -> dict[str, str]:
    """The form's values named in the query string; the form's own limits hold on sending."""
    query = request.query_params
    return {key: query[key][:20000] for key in PREFILL_KEYS if query.get(key)}


@router.post("/portal/new", response_class=HTMLResponse)
def portal_create(
    request: Request, session: DbSession, principal: MaybePrincipal, form: Posted
) -> Response:
    gate = _portal_gate(principal, session)
    if gate is not None:
        return gate
    try:
        ticket = _open_ticket(request, session, principal, form)
    except (ValidationError, DomainError) as error:
        errors, status = _form_refused(session, error, PageText(request, principal).gettext, "form")
        context = {**_ticket_form_context(session, False, form.values), "errors": errors}
        return _page(request, "tickets/portal_new.html", context, principal, status)
    return redirect(f"/portal/tickets/{ticket.tracking_id}?created=1")


# --- portal: guests ----------------------------------------------------------------------------


def _guest_form_page(
    request: Request,
    session: Session,
    principal: Principal | None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {**_ticket_form_context(session, True, values), "errors": errors or {}}
    return _page(request, "tickets/portal_new.html", context, principal, status)


@router.get("/portal/guest/new", response_class=HTMLResponse)
def guest_new(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    if principal is not None and principal.kind is PrincipalKind.TRADER:
        return redirect("/portal/new")
    return _guest_form_page(request, session, principal)


@router.post("/portal/guest/new", response_class=HTMLResponse, dependencies=[CsrfChecked])
def guest_create(
    request: Request,
    session: DbSession,
    principal: MaybePrincipal,
    limiter: RateLimiterDep,
    form: Posted,
) -> Response:
    text = PageText(request, principal)
    try:
        hit_limit(limiter, GUEST_TICKET, client_address(request))
        ticket = _open_ticket(request, session, None, form)
    except (ValidationError, DomainError) as error:
        errors, status = _form_refused(session, error, text.gettext, "form")
        return _guest_form_page(request, session, principal, errors, form.values, status)
    request.session["guest_created"] = {
        "tracking_id": ticket.tracking_id,
        "email": ticket.guest_email,
    }
    return redirect("/portal/guest/created")


@router.get("/portal/guest/created", response_class=HTMLResponse)
def guest_created(request: Request, principal: MaybePrincipal) -> Response:
    created = request.session.pop("guest_created", None)
    if not isinstance(created, dict):
        return redirect("/portal/guest/new")
    return _page(request, "tickets/guest_created.html", {"created": created}, principal)


@router.get("/portal/track", response_class=HTMLResponse)
def track(request: Request, principal: MaybePrincipal, t: str = "") -> Response:
    values = {"tracking_id": normalize_tracking_id(t) or ""} if t else {}
    return _page(request, "tickets/track.html", {"values": values}, principal)


@router.post("/portal/track", response_class=HTMLResponse, dependencies=[CsrfChecked])
def track_request_code(
    request: Request,
    session: DbSession,
    principal: MaybePrincipal,
    limiter: RateLimiterDep,
    form: Posted,
) -> Response:
    text = PageText(request, principal)
    try:
        hit_limit(limiter, GUEST_CODE, client_address(request))
        data = GuestCodeRequest.model_validate(
            {"tracking_id": form.text("tracking_id"), "email": form.text("email")}
        )
        tracking_id = normalize_tracking_id(data.tracking_id)
        if tracking_id is None:
            raise InvalidInput(FIELD_PROBLEMS["tracking_id"], field="tracking_id")
        actions.check_request_guest_code(session, tracking_id, data.email)
    except (ValidationError, DomainError) as error:
        errors, status = _form_refused(session, error, text.gettext, "form")
        context = {"errors": errors, "values": form.values}
        return _page(request, "tickets/track.html", context, principal, status)
    request.session["track"] = {"tracking_id": tracking_id, "email": data.email}
    return redirect("/portal/track/code")


def _pending_track(request: Request) -> dict[str, str] | None:
    pending = request.session.get("track")
    return pending if isinstance(pending, dict) else None


@router.get("/portal/track/code", response_class=HTMLResponse)
def track_code(request: Request, principal: MaybePrincipal) -> Response:
    pending = _pending_track(request)
    if pending is None:
        return redirect("/portal/track")
    return _page(request, "tickets/track_code.html", {"pending": pending}, principal)


@router.post("/portal/track/code", response_class=HTMLResponse, dependencies=[CsrfChecked])
def track_verify_code(
    request: Request,
    session: DbSession,
    principal: MaybePrincipal,
    limiter: RateLimiterDep,
    form: Posted,
) -> Response:
    pending = _pending_track(request)
    if pending is None:
        return redirect("/portal/track")
    text = PageText(request, principal)
    try:
        hit_limit(limiter, GUEST_VERIFY, client_address(request))
        data = GuestCodeVerify.model_validate({**pending, "code": form.text("code")})
        ticket = actions.check_guest_code(session, data.tracking_id, data.email, data.code)
    except (ValidationError, DomainError) as error:
        errors, status = _form_refused(session, error, text.gettext, "code")
        context = {"pending": pending, "errors": errors}
        return _page(request, "tickets/track_code.html", context, principal, status)
    sign_in_guest(request, ticket)
    return redirect(f"/portal/tickets/{ticket.tracking_id}")


# --- portal: one ticket --------------------------------------------------------------------------


def _portal_ticket_context(
    session: Session, principal: Principal, ticket: Ticket
) -> dict[str, Any]:
    merged_into = session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    # The same rule the reply itself is checked against: no form that would answer 409.
    refusal = actions.trader_reply_refusal(ticket, utcnow(), actions.reopen_window(session))
    return {
        "ticket": ticket,
        "entries": queries.list_entries(session, ticket, include_internal=False),
        "merged_into": merged_into,
        "reply_refusal": refusal,
        "is_guest": principal.kind is PrincipalKind.GUEST,
    }


@router.get("/portal/tickets/{tracking_id}", response_class=HTMLResponse)
def portal_ticket(
    request: Request,
    tracking_id: str,
    session: DbSession,
    principal: MaybePrincipal,
    created: bool = False,
) -> Response:
    if principal is None:
        return redirect(f"/portal/track?{urlencode({'t': tracking_id})}")
    if principal.is_agent:
        return redirect(f"/console/tickets/{tracking_id}")
    ticket = queries.access_ticket_by_tracking_id(session, principal, tracking_id)
    context = {**_portal_ticket_context(session, principal, ticket), "created": created}
    return _page(request, "tickets/portal_ticket.html", context, principal)


@router.get("/portal/tickets/{tracking_id}/timeline", response_class=HTMLResponse)
def portal_timeline(
    request: Request, tracking_id: str, session: DbSession, principal: CurrentPrincipal
) -> Response:
    ticket = queries.access_ticket_by_tracking_id(session, principal, tracking_id)
    context = _portal_ticket_context(session, principal, ticket)
    return _page(request, "tickets/_portal_timeline.html", context, principal)


@router.post("/portal/tickets/{tracking_id}/reply", response_class=HTMLResponse)
def portal_reply(
    request: Request,
    tracking_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    form: Posted,
) -> Response:
    if principal.is_agent:
        return redirect(f"/console/tickets/{tracking_id}")
    ticket = queries.access_ticket_by_tracking_id(session, principal, tracking_id)
    try:
        uploads = form.checked_uploads()
        data = ReplyForm.model_validate({"body": form.text("body")})
        actions.check_reply(session, principal, ticket, data.body, uploads=uploads)
    except (ValidationError, DomainError) as error:
        gettext = PageText(request, principal).gettext
        errors, status = _form_refused(session, error, gettext, "body")
        context = {
            **_portal_ticket_context(session, principal, ticket),
            "created": False,
            "errors": errors,
            "values": form.values,
        }
        return _page(request, "tickets/portal_ticket.html", context, principal, status)
    return redirect(f"/portal/tickets/{ticket.tracking_id}#latest")


# --- console: the ticket list ----------------------------------------------------------------------


def _agent_gate(principal: Principal | None, next_url: str) -> Response | None:
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': next_url})}")
    return None


def _console_filters(request: Request) -> TicketFilter:
    raw = {key: request.query_params.get(key, "").strip() for key in FILTER_KEYS}
    try:
        return TicketFilter.model_validate({key: value for key, value in raw.items() if value})
    except ValidationError as error:
        bad = ".".join(str(part) for part in error.errors()[0]["loc"])
        raise InvalidInput(
            "The {name} filter has a value it does not know.", field=bad, name=bad
        ) from error


def _link(filters: TicketFilter, **changes: str | None) -> str:
    """The console list's URL with some filters changed (None drops one)."""
    current: dict[str, str | None] = {
        key: str(value) for key, value in filters.model_dump(mode="json", exclude_none=True).items()
    }
    current.update(changes)
    query = urlencode({key: value for key, value in current.items() if value})
    return f"/console?{query}" if query else "/console"


def _console_board(
    session: Session, principal: Principal, filters: TicketFilter, cursor: str | None
) -> dict[str, Any]:
    page = queries.list_tickets(
        session, principal, filters, limit=PAGE_SIZE, after_id=decode_cursor(cursor)
    )
    now = utcnow()
    old_open, week = queries.backlog_figure(session)
    counts = queries.console_counts(session, principal)
    query = urlencode(
        filters.model_dump(mode="json", exclude_none=True) | ({"cursor": cursor} if cursor else {})
    )
    return {
        "tickets": page.items,
        "next_cursor": page.next_cursor,
        "cursor": cursor or "",
        "sla_states": {ticket.id: sla.state(ticket, now) for ticket in page.items},
        "agent_names": {agent.id: agent.name for agent in list_agents(session, active_only=False)},
        "category_names": {c.slug: c.name for c in queries.category_rules(session).values()},
        "counts": counts.views,
        "department_counts": counts.departments,
        "backlog": {
            "old_open": old_open,
            "week": week,
            "share": round(100 * old_open / week, 1) if week else 0.0,
        },
        "filters": filters,
        "link": lambda **changes: _link(filters, **changes),
        "board_query": query,
    }


@router.get("/console", response_class=HTMLResponse)
def console_home(
    request: Request, session: DbSession, principal: MaybePrincipal, cursor: str | None = None
) -> Response:
    gate = _agent_gate(principal, "/console")
    if gate is not None or principal is None:
        return gate or redirect("/console/login")
    filters = _console_filters(request)
    context = _console_board(session, principal, filters, cursor)
    found = context["tickets"]
    if filters.search and normalize_tracking_id(filters.search) and len(found) == 1 and not cursor:
        return redirect(f"/console/tickets/{found[0].tracking_id}")
    context["categories"] = list(queries.category_rules(session).values())
    context["departments"] = list(Department)
    context["statuses"] = list(Status)
    context["priorities"] = list(Priority)
    return _page(request, "tickets/console_list.html", context, principal)


@router.get("/console/fragments/board", response_class=HTMLResponse)
def console_board(
    request: Request, session: DbSession, principal: CurrentPrincipal, cursor: str | None = None
) -> Response:
    principal.require(Permission.VIEW_TICKETS)
    context = _console_board(session, principal, _console_filters(request), cursor)
    return _page(request, "tickets/_console_board.html", context, principal)


# --- console: one ticket ------------------------------------------------------------------------


def _console_live_context(
    session: Session, ticket: Ticket, agents: list[Agent] | None = None
) -> dict[str, Any]:
    """What the live part of the console's ticket page shows: state, SLA and timeline.
    ``agents``: every agent, active or not, when the caller has them already."""
    if agents is None:
        agents = list_agents(session, active_only=False)
    assignee_names = {agent.id: agent.name for agent in agents}
    merged_into = session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    return {
        "ticket": ticket,
        "entries": queries.list_entries(session, ticket, include_internal=True),
        "sla_state": sla.state(ticket, utcnow()),
        "assignee_name": assignee_names.get(ticket.assignee_id or 0),
        "agent_names": assignee_names,
        "merged_into": merged_into,
    }


def _console_ticket_context(
    session: Session, principal: Principal, ticket: Ticket
) -> dict[str, Any]:
    trader = session.get(Trader, ticket.trader_id) if ticket.trader_id else None
    agents = list_agents(session, active_only=False)
    return {
        **_console_live_context(session, ticket, agents),
        "trader": trader,
        "agents": [agent for agent in agents if agent.active],
        "macros": queries.list_macros(session),
        "next_statuses": actions.next_statuses(ticket),
        "departments": [d for d in Department if d.value != ticket.department],
        "priorities": list(Priority),
        "can": {permission.value: principal.can(permission) for permission in Permission},
    }


def _console_ticket_page(
    request: Request,
    session: Session,
    principal: Principal,
    ticket: Ticket,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        **_console_ticket_context(session, principal, ticket),
        "errors": errors or {},
        "values": values or {},
    }
    return _page(request, "tickets/console_ticket.html", context, principal, status)


@router.get("/console/tickets/{tracking_id}", response_class=HTMLResponse)
def console_ticket(
    request: Request, tracking_id: str, session: DbSession, principal: MaybePrincipal
) -> Response:
    gate = _agent_gate(principal, f"/console/tickets/{tracking_id}")
    if gate is not None or principal is None:
        return gate or redirect("/console/login")
    ticket = queries.access_ticket_by_tracking_id(session, principal, tracking_id)
    # The page shows the trader's personal data, so opening it is audited.
    actions.do_record_view(session, principal, ticket.id)
    return _console_ticket_page(request, session, principal, ticket)


@router.get("/console/tickets/{tracking_id}/timeline", response_class=HTMLResponse)
def console_timeline(
    request: Request, tracking_id: str, session: DbSession, principal: CurrentPrincipal
) -> Response:
    principal.require(Permission.VIEW_TICKETS)
    ticket = queries.access_ticket_by_tracking_id(session, principal, tracking_id)
    context = _console_live_context(session, ticket)
    return _page(request, "tickets/_console_live.html", context, principal)


TicketAction = Callable[[Session, Principal, Ticket, PostedForm], Ticket | None]


def _console_act(
    request: Request,
    session: Session,
    principal: Principal,
    tracking_id: str,
    form: PostedForm,
    form_name: str,
    act: TicketAction,
) -> Response:
    """Run one console action; on refusal show the page again with the message by the form."""
    if not principal.is_agent:
        return redirect("/console/login")
    ticket = queries.access_ticket_by_tracking_id(session, principal, tracking_id)
    try:
        moved_to = act(session, principal, ticket, form)
    except (ValidationError, DomainError) as error:
        gettext = PageText(request, principal).gettext
        errors, status = _form_refused(session, error, gettext, form_name)
        # Console forms are small: one message under the form that was refused.
        messages = [message for key, message in errors.items() if key != "_form"]
        errors.setdefault(form_name, messages[0] if messages else "")
        return _console_ticket_page(
            request, session, principal, ticket, errors, form.values, status
        )
    return redirect(f"/console/tickets/{(moved_to or ticket).tracking_id}#timeline")


def _reply(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> None:
    uploads = form.checked_uploads()
    data = ReplyForm.model_validate(
        {
            "body": form.text("body"),
            "internal": form.flag("internal"),
            "set_status": form.text("set_status") or None,
        }
    )
    actions.check_reply(session, agent, ticket, data.body, internal=data.internal,
                        set_status=data.set_status, uploads=uploads)  # fmt: skip


def _whole_number(form: PostedForm, name: str) -> int:
    value = form.text(name)
    if not value.isdigit():
        raise InvalidInput("Choose one from the list.", field=name)
    return int(value)


def _macro(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> None:
    actions.check_apply_macro(session, agent, ticket, _whole_number(form, "macro_id"))


def _assign(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> None:
    choice = form.text("assignee_id")
    assignee: int | None = None
    if choice == "me":
        assignee = agent.id
    elif choice:
        assignee = _whole_number(form, "assignee_id")
    actions.check_assign(session, agent, ticket, assignee)


def _choice(enum_type: type[Status] | type[Priority], form: PostedForm, name: str) -> Any:
    try:
        return enum_type(form.text(name))
    except ValueError as error:
        raise InvalidInput("Choose one from the list.", field=name) from error


def _status(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> None:
    actions.check_change_status(session, agent, ticket, _choice(Status, form, "status"))


def _priority(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> None:
    actions.check_change_priority(session, agent, ticket, _choice(Priority, form, "priority"))


def _handoff(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> None:
    data = HandoffCreate.model_validate(
        {"department": form.text("department"), "note": form.text("note")}
    )
    actions.check_handoff(session, agent, ticket, data.department, data.note)


def _merge(session: Session, agent: Principal, ticket: Ticket, form: PostedForm) -> Ticket:
    data = MergeRequest.model_validate({"into_tracking_id": form.text("into_tracking_id")})
    return actions.check_merge(session, agent, ticket, data.into_tracking_id)


CONSOLE_ACTIONS: dict[str, TicketAction] = {
    "reply": _reply,
    "macro": _macro,
    "assign": _assign,
    "status": _status,
    "priority": _priority,
    "handoff": _handoff,
    "merge": _merge,
}


@router.post("/console/tickets/{tracking_id}/{action}", response_class=HTMLResponse)
def console_action(
    request: Request,
    tracking_id: str,
    action: str,
    session: DbSession,
    principal: CurrentPrincipal,
    form: Posted,
) -> Response:
    act = CONSOLE_ACTIONS.get(action)
    if act is None:
        raise NotFound("No such page.")
    return _console_act(request, session, principal, tracking_id, form, action, act)
