"""The agent workspace: live chats in the console (``/console/chats``); for admins, what
routing knows of each agent (``/console/chats/agents``) and the queues' follow-the-sun
schedules (``/console/chats/schedules``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from hashdesk.accounts.queries import list_agents
from hashdesk.chat import staffing
from hashdesk.chat.desk import satisfaction_summary
from hashdesk.chat.queries import chat_metrics
from hashdesk.chat.schedules import WEEKDAYS
from hashdesk.core.auth import Permission, Principal
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import DomainError, InvalidInput
from hashdesk.core.i18n import LOCALE_NAMES, LOCALES, N_, gettext_for
from hashdesk.tickets.departments import Department
from hashdesk.tickets.labels import DEPARTMENT_LABELS
from hashdesk.tickets.queries import category_rules
from hashdesk.web.deps import CurrentAgent, DbSession, MaybePrincipal
from hashdesk.web.forms import Posted, PostedForm
from hashdesk.web.pages import page_locale, redirect, render_error_page, render_page

router = APIRouter(tags=["chat pages"], include_in_schema=False)
BASE = "/console/chats"
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"workspace.js": "text/javascript"}
METRICS_DAYS = 7

# What workspace.js shows; translated into the page's language by the template.
WORKSPACE_STRINGS = (
    N_("Accept"),
    N_("Close chat"),
    N_("Connected"),
    N_("Disconnected; reconnecting…"),
    N_("Incoming chat"),
    N_("Make a ticket"),
    N_("No chats yet. Set yourself online to receive them."),
    N_("Reply"),
    N_("Send"),
    N_("Transfer"),
    N_("Transfer to…"),
    N_("Waiting in queues: {count}"),
    N_("{name} is typing…"),
    N_("Chat {chat}"),
    N_("Add note"),
    N_("Attach a file"),
    N_("Before the chat, with the assistant"),
    N_("Canned replies"),
    N_("Canned reply"),
    N_("Escalate"),
    N_("Escalate to…"),
    N_("Internal note"),
    N_("Internal notes (the trader never sees them)"),
    N_("None"),
    N_("Open tickets"),
    N_("Predicted category: {category}"),
    N_("Recent deposits and withdrawals"),
    N_("Region {region}"),
    N_("Trader"),
    N_("Transcript"),
    N_("VIP level {level}"),
)


@router.get(BASE, response_class=HTMLResponse)
def workspace(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': BASE})}")
    agents = [a for a in list_agents(session) if a.id != principal.id]
    translate = gettext_for(page_locale(request, principal)).gettext
    strings = {text: translate(text) for text in WORKSPACE_STRINGS}
    since = utcnow() - timedelta(days=METRICS_DAYS)
    metrics = chat_metrics(session, since)
    return render_page(request, "chat/workspace.html",
                       {"agents": agents, "strings": strings, "metrics": metrics,
                        "satisfaction": satisfaction_summary(session, since),
                        "departments": [d.value for d in Department],
                        "department_labels": DEPARTMENT_LABELS,
                        "metrics_days": METRICS_DAYS,
                        "may_set_up_routing": principal.can(Permission.MANAGE_STAFF)},
                       principal=principal)  # fmt: skip


@router.get(f"{BASE}/static/{{name}}")
def static_file(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


# --- admin: agents' routing skills and the queues' schedules -----------------------------------

AGENTS = f"{BASE}/agents"
SCHEDULES = f"{BASE}/schedules"
WEEKDAY_LABELS = {"mon": N_("Monday"), "tue": N_("Tuesday"), "wed": N_("Wednesday"),
                  "thu": N_("Thursday"), "fri": N_("Friday"), "sat": N_("Saturday"),
                  "sun": N_("Sunday")}  # fmt: skip


def _refused(request: Request, principal: Principal, permission: Permission) -> Response | None:
    """The error page when ``principal`` may not manage this; None when they may."""
    if principal.can(permission):
        return None
    _ = gettext_for(page_locale(request, principal)).gettext
    return render_error_page(request, 403, _("Not allowed"),
                             _("Only an admin can change how chats are routed."))  # fmt: skip


def _admin_page(
    request: Request, principal: Principal | None, path: str, permission: Permission,
    render: Callable[[Principal], Response],
) -> Response:  # fmt: skip
    """Sign in first, then the admin's permission, then the page."""
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': path})}")
    return _refused(request, principal, permission) or render(principal)


def _agents_page(request: Request, session: DbSession, admin: Principal, *,
                 errors: dict[int, str] | None = None, status_code: int = 200) -> Response:  # fmt: skip
    context = {"setups": staffing.list_agent_setups(session), "locales": LOCALES,
               "locale_names": LOCALE_NAMES, "categories": category_rules(session),
               "errors": errors or {}, "default_capacity": request.app.state.runtime.settings
               .chat_agent_capacity, "saved": request.query_params.get("saved")}  # fmt: skip
    return render_page(request, "chat/agents.html", context, principal=admin,
                       status_code=status_code)  # fmt: skip


@router.get(AGENTS, response_class=HTMLResponse)
def agents_page(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    return _admin_page(request, principal, AGENTS, Permission.MANAGE_STAFF,
                       lambda admin: _agents_page(request, session, admin))  # fmt: skip


def _capacity(form: PostedForm) -> int | None:
    text = form.text("capacity")
    if not text:
        return None
    if not text.isdigit():
        return -1  # out of range: the action says what is allowed
    return int(text[:3])


@router.post(f"{AGENTS}/{{agent_id}}", response_class=HTMLResponse)
def save_agent(request: Request, agent_id: int, form: Posted, session: DbSession,
               admin: CurrentAgent) -> Response:  # fmt: skip
    refused = _refused(request, admin, Permission.MANAGE_STAFF)
    if refused is not None:
        return refused
    chosen = form.values.get
    try:
        staffing.check_set_agent_setup(
            session, admin, agent_id,
            languages=[code for code in LOCALES if chosen(f"language-{code}")],
            categories=[slug for slug in category_rules(session) if chosen(f"category-{slug}")],
            regions=[part for part in form.text("regions").replace(",", " ").split() if part],
            capacity=_capacity(form),
        )  # fmt: skip
    except DomainError as error:
        session.rollback()
        _ = gettext_for(page_locale(request, admin)).gettext
        return _agents_page(request, session, admin, errors={agent_id: error.render(_)},
                            status_code=error.status)  # fmt: skip
    return redirect(f"{AGENTS}?saved={agent_id}#agent-{agent_id}")


def _schedules_page(request: Request, session: DbSession, admin: Principal, *,
                    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                    status_code: int = 200) -> Response:  # fmt: skip
    settings = request.app.state.runtime.settings
    rows = staffing.list_queue_rows(session)
    schedules = staffing.schedules_for(session, settings)
    now = utcnow()
    context = {"rows": rows, "open": {q.name: q.is_open(now) for q in schedules.queues},
               "weekdays": WEEKDAYS, "weekday_labels": WEEKDAY_LABELS,
               "file": settings.chat_schedules_file, "errors": errors or {},
               "values": values or {}, "fields": staffing.SCHEDULE_FIELDS, "now": now}  # fmt: skip
    return render_page(request, "chat/schedules.html", context, principal=admin,
                       status_code=status_code)  # fmt: skip


@router.get(SCHEDULES, response_class=HTMLResponse)
def schedules_page(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    return _admin_page(request, principal, SCHEDULES, Permission.MANAGE_SETTINGS,
                       lambda admin: _schedules_page(request, session, admin))  # fmt: skip


def _queue_form(form: PostedForm) -> staffing.QueueForm:
    return staffing.QueueForm(
        name=form.text("name"), language=form.text("language"), regions=form.text("regions"),
        time_zone=form.text("time_zone"), always_open=form.flag("always_open"),
        hours={day: form.text(f"hours-{day}") for day in WEEKDAYS}, next=form.text("next"),
    )  # fmt: skip


def _schedule_error(request: Request, session: DbSession, admin: Principal,
                    error: DomainError, values: dict[str, str]) -> Response:  # fmt: skip
    session.rollback()
    _ = gettext_for(page_locale(request, admin)).gettext
    where = values.get("original") or "new"
    return _schedules_page(request, session, admin, values=values,
                           errors={"queue": where, "field": error.field or "form",
                                   "message": error.render(_)},
                           status_code=error.status)  # fmt: skip


@router.post(SCHEDULES, response_class=HTMLResponse)
def save_queue(request: Request, form: Posted, session: DbSession,
               admin: CurrentAgent) -> Response:  # fmt: skip
    refused = _refused(request, admin, Permission.MANAGE_SETTINGS)
    if refused is not None:
        return refused
    try:
        row = staffing.check_save_queue(session, admin, _queue_form(form),
                                        original=form.text("original") or None)  # fmt: skip
    except DomainError as error:
        return _schedule_error(request, session, admin, error, form.values)
    return redirect(f"{SCHEDULES}?saved={row.name}#queue-{row.name}")


@router.post(f"{SCHEDULES}/{{name}}/delete", response_class=HTMLResponse)
def delete_queue(request: Request, name: str, session: DbSession,
                 admin: CurrentAgent) -> Response:  # fmt: skip
    refused = _refused(request, admin, Permission.MANAGE_SETTINGS)
    if refused is not None:
        return refused
    try:
        staffing.check_delete_queue(session, admin, name[:30])
    except DomainError as error:
        return _schedule_error(request, session, admin, error, {"original": name[:30]})
    return redirect(SCHEDULES)


@router.post(f"{SCHEDULES}/import", response_class=HTMLResponse)
def import_schedules(request: Request, session: DbSession, admin: CurrentAgent) -> Response:
    refused = _refused(request, admin, Permission.MANAGE_SETTINGS)
    if refused is not None:
        return refused
    path = request.app.state.runtime.settings.chat_schedules_file
    try:
        if path is None:
            raise InvalidInput("HASHDESK_CHAT_SCHEDULES_FILE is not set: nothing to import.")
        staffing.check_import_schedules(session, admin, path)
    except DomainError as error:
        return _schedule_error(request, session, admin, error, {})
    return redirect(SCHEDULES)
