"""The agent workspace: live chats in the console (``/console/chats``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from hashdesk.accounts.queries import list_agents
from hashdesk.chat.desk import satisfaction_summary
from hashdesk.chat.queries import chat_metrics
from hashdesk.core.clock import utcnow
from hashdesk.core.i18n import N_, gettext_for
from hashdesk.tickets.departments import Department
from hashdesk.tickets.labels import DEPARTMENT_LABELS
from hashdesk.web.deps import DbSession, MaybePrincipal
from hashdesk.web.pages import page_locale, redirect, render_page

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
                        "metrics_days": METRICS_DAYS}, principal=principal)  # fmt: skip


@router.get(f"{BASE}/static/{{name}}")
def static_file(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip
