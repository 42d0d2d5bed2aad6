"""The agents' deposit tracer page: ``/console/trace``.

An ordinary GET form (hash, network, the trader's id at the exchange); the verdict, its
evidence and the next step render below it, in the agent's language. Wired in through
``chains/routes.py`` (the monitor's pages live in ``chains/pages.py``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.chains.tracer import NextAction, Outcome, Tracer, TraceRequest, TraceResult
from hashdesk.core.errors import DomainError, InvalidInput
from hashdesk.core.i18n import N_
from hashdesk.web.deps import DbSession, MaybePrincipal
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)
BASE = "/console/trace"
OUTCOME_LABELS = {Outcome.OK: N_("OK"), Outcome.PROBLEM: N_("Problem"),
                  Outcome.WAITING: N_("Waiting"), Outcome.UNKNOWN: N_("Unknown")}  # fmt: skip
OUTCOME_CLASSES = {Outcome.OK: "status-resolved", Outcome.PROBLEM: "status-escalated",
                   Outcome.WAITING: "status-pending", Outcome.UNKNOWN: "status-closed"}  # fmt: skip
Text = Annotated[str, Query(max_length=200)]


@router.get(BASE, response_class=HTMLResponse)
def trace_page(
    request: Request, session: DbSession, principal: MaybePrincipal, tx: Text = "",
    network: Text = "", trader: Text = "",
) -> Response:  # fmt: skip
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': BASE})}")
    result: TraceResult | None = None
    error: str | None = None
    if tx.strip():
        try:
            result = _trace(session, tx, network, trader, page_locale(request, principal))
        except DomainError as refused:
            error = refused.render()
    context = {"result": result, "error": error, "values": {"tx": tx, "network": network,
               "trader": trader}, "BASE": BASE, "OUTCOME_LABELS": OUTCOME_LABELS,
               "OUTCOME_CLASSES": OUTCOME_CLASSES, "RECOVERY": NextAction.RECOVERY_TICKET}  # fmt: skip
    return render_page(request, "chains/trace.html", context, principal=principal)


def _trace(session: Session, tx: str, network: str, trader: str, locale: str) -> TraceResult:
    trader_id = None
    if trader.strip():
        found = get_trader_by_external_id(session, trader.strip())
        if found is None:
            raise InvalidInput("No trader {trader}.", field="trader", trader=trader.strip())
        trader_id = found.id
    request = TraceRequest(tx_hash=tx, network=network.strip() or None, trader_id=trader_id,
                           locale=locale)  # fmt: skip
    return Tracer(session).trace(request)
