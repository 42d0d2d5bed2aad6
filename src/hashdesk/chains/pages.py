"""Network status, for everyone: the public pages ``/status`` and ``/status/{network}``, the
same as JSON under ``/api/v1/status``, the staff page ``/console/status`` with its
maintenance form, and the banner the shared layout shows on help-center and portal pages
while a network has an open incident (``network_banner``, a template global).

Every node serves these from the database; only the leading poller writes it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, status
from fastapi import Path as PathPart
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from hashdesk.assets.schemas import SLUG_PATTERN
from hashdesk.chains import actions, queries
from hashdesk.chains.incidents import LEVEL_LABELS, REASONS
from hashdesk.chains.schemas import (
    MaintenanceCreate,
    MaintenancePublic,
    NetworkStatusDetail,
    NetworkStatusPublic,
)
from hashdesk.core.auth import Permission
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import DomainError, NotFound
from hashdesk.core.i18n import N_, gettext_for
from hashdesk.web.deps import CurrentAgent, DbSession, MaybePrincipal
from hashdesk.web.forms import Posted
from hashdesk.web.pages import page_locale, redirect, render_page
from hashdesk.web.templating import html_environment

log = logging.getLogger(__name__)
router = APIRouter()

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"status.css": "text/css"}
CONSOLE = "/console/status"
Slug = Annotated[str, PathPart(max_length=40, pattern=SLUG_PATTERN)]
WindowId = Annotated[int, PathPart(ge=1, le=2**31 - 1)]
LABELS = {**LEVEL_LABELS, queries.UNKNOWN: N_("Not monitored")}


def _common() -> dict[str, Any]:
    return {"LEVEL_LABELS": LABELS, "REASONS": REASONS, "duration": duration}


def duration(seconds: float | None) -> str:
    """12 s, 4 min, 3 h, 2 d: an age at a glance (numbers and units read the same in every
    language the site speaks closely enough for a status page)."""
    if seconds is None:
        return "–"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


# --- JSON ------------------------------------------------------------------------------------


@router.get("/api/v1/status", response_model=list[NetworkStatusPublic], tags=["status"])
def status_list(session: DbSession) -> list[NetworkStatusPublic]:
    """Every network's current level, head, block-time lag and congestion. Public."""
    return queries.list_status(session, utcnow())


@router.get("/api/v1/status/{network}", response_model=NetworkStatusDetail, tags=["status"])
def status_detail(network: Slug, session: DbSession) -> NetworkStatusDetail:
    """One network with its incidents and reorgs of the last 90 days and its maintenance."""
    return queries.get_network_status(session, network, utcnow())


@router.post("/api/v1/status/{network}/maintenance", response_model=MaintenancePublic,
             status_code=status.HTTP_201_CREATED, tags=["status"])  # fmt: skip
def plan_maintenance(network: Slug, data: MaintenanceCreate, session: DbSession,
                     agent: CurrentAgent) -> MaintenancePublic:  # fmt: skip
    """Plan a maintenance window (MANAGE_ASSETS; audited)."""
    window = actions.check_create_maintenance(session, agent, network, data)
    return queries.maintenance_public(window)


@router.post("/api/v1/status/maintenance/{window_id}/cancel", response_model=MaintenancePublic,
             tags=["status"])  # fmt: skip
def cancel_maintenance(
    window_id: WindowId, session: DbSession, agent: CurrentAgent
) -> MaintenancePublic:
    window = actions.check_cancel_maintenance(session, agent, window_id)
    return queries.maintenance_public(window)


# --- public pages ----------------------------------------------------------------------------


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    rows = queries.list_status(session, utcnow())
    context = {**_common(), "rows": rows,
               "troubled": [r for r in rows if r.level not in ("operational", queries.UNKNOWN)]}  # fmt: skip
    return render_page(request, "chains/status.html", context, principal=principal)


@router.get("/status/{network}", response_class=HTMLResponse, include_in_schema=False)
def network_page(request: Request, network: str, session: DbSession,
                 principal: MaybePrincipal) -> Response:  # fmt: skip
    try:
        detail = queries.get_network_status(session, network[:40], utcnow())
    except NotFound:
        _ = gettext_for(page_locale(request, principal)).gettext
        return render_page(request, "web/error.html", {
            "status": 404, "title": _("Not found"),
            "detail": _("No network %(network)s.") % {"network": network[:40]},
        }, principal=principal, status_code=404)  # fmt: skip
    return render_page(request, "chains/network.html", {**_common(), "row": detail},
                       principal=principal)  # fmt: skip


@router.get("/status-static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip


# --- staff page: maintenance windows ---------------------------------------------------------


def _console(request: Request, session: DbSession, principal: Any, *, errors: dict[str, str] | None = None,
             values: dict[str, str] | None = None, status_code: int = 200) -> Response:  # fmt: skip
    now = utcnow()
    context = {**_common(), "rows": queries.list_status(session, now),
               "windows": queries.list_maintenance(session, now), "now": now,
               "may_plan": principal.can(Permission.MANAGE_ASSETS), "errors": errors or {},
               "values": values or {}}  # fmt: skip
    return render_page(request, "chains/console.html", context, principal=principal,
                       status_code=status_code)  # fmt: skip


@router.get(CONSOLE, response_class=HTMLResponse, include_in_schema=False)
def console_page(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': CONSOLE})}")
    return _console(request, session, principal)


def _form_times(values: dict[str, str]) -> dict[str, str]:
    """The form's ``datetime-local`` fields are UTC (the page says so): give them a zone."""
    fields = {"reason": values.get("reason", "")}
    for name in ("starts_at", "ends_at"):
        text = values.get(name, "").strip()
        fields[name] = f"{text}Z" if text and text[-1] not in "Zz" and "+" not in text else text
    return fields


@router.post(f"{CONSOLE}/maintenance", response_class=HTMLResponse, include_in_schema=False)
def console_plan(
    request: Request, form: Posted, session: DbSession, agent: CurrentAgent
) -> Response:
    _ = gettext_for(page_locale(request, agent)).gettext
    values = form.values
    try:
        data = MaintenanceCreate.model_validate(_form_times(values))
        actions.check_create_maintenance(session, agent, values.get("network", "").strip(), data)
    except ValidationError as error:
        errors = {str(e["loc"][0]): _("Check this field: %(problem)s") % {"problem": e["msg"]}
                  for e in error.errors(include_url=False)}  # fmt: skip
        return _console(request, session, agent, errors=errors, values=values, status_code=422)
    except DomainError as error:
        session.rollback()
        return _console(request, session, agent, errors={error.field or "form": error.render(_)},
                        values=values, status_code=error.status)  # fmt: skip
    return redirect(CONSOLE)


@router.post(f"{CONSOLE}/maintenance/{{window_id}}/cancel", response_class=HTMLResponse,
             include_in_schema=False)  # fmt: skip
def console_cancel(
    request: Request, window_id: WindowId, session: DbSession, agent: CurrentAgent
) -> Response:
    try:
        actions.check_cancel_maintenance(session, agent, window_id)
    except DomainError as error:
        session.rollback()
        _ = gettext_for(page_locale(request, agent)).gettext
        return _console(request, session, agent, errors={"form": error.render(_)},
                        status_code=error.status)  # fmt: skip
    return redirect(CONSOLE)


# --- the banner of the help center and portal ------------------------------------------------


def network_banner(request: Request) -> list[queries.BannerItem]:
    """The networks in trouble, for ``chains/_banner.html`` (included by ``web/layout.html``).
    Never fails a page: without a runtime or a database the banner is simply not shown."""
    try:
        runtime = request.app.state.runtime
        with runtime.database.session() as session:
            return queries.banner_items(session, utcnow())
    except Exception:  # a banner must never turn a page into an error page
        log.exception("network banner: cannot read the open incidents")
        return []


html_environment().globals.update(network_banner=network_banner, LEVEL_LABELS=LABELS)
