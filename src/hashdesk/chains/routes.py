"""The deposit tracer's API, for the agent console and the assistant.

``POST /api/v1/chains/trace`` with ``{"tx_hash": ..., "network": ..., "asset": ...}``: staff
may name any trader (``trader_id``); a trader traces for themselves (their deposit
addresses count, the explanation is in their language). Guests cannot trace. Traders are
rate-limited: each trace asks the nodes of every candidate network.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hashdesk.chains import tracer_pages
from hashdesk.chains.tracer import Tracer, TraceRequest, TraceResult
from hashdesk.core.auth import PrincipalKind
from hashdesk.core.errors import PermissionDenied
from hashdesk.core.ratelimit import Limit, hit_limit
from hashdesk.web.deps import CurrentPrincipal, DbSession, RateLimiterDep

api = APIRouter(prefix="/api/v1/chains", tags=["chains"])
TRACE_LIMIT = Limit("chains-trace", 30, 60)


class TraceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tx_hash: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    network: Annotated[str | None, Field(max_length=40)] = None
    asset: Annotated[str | None, Field(max_length=20)] = None
    trader_id: int | None = None


@api.post("/trace", response_model=TraceResult)
def trace(
    data: TraceQuery, request: Request, session: DbSession, principal: CurrentPrincipal,
    limiter: RateLimiterDep,
) -> TraceResult:  # fmt: skip
    """The verdict on a deposit, with its evidence, explanation and next step."""
    if principal.kind is PrincipalKind.TRADER:
        hit_limit(limiter, TRACE_LIMIT, str(principal.id))  # staff are trusted to trace often
        trader_id: int | None = principal.id
    elif principal.kind is PrincipalKind.AGENT:
        trader_id = data.trader_id
    else:
        raise PermissionDenied("Sign in to trace a deposit.")
    locale = getattr(request.state, "locale", None)
    query = TraceRequest(tx_hash=data.tx_hash, network=data.network, asset=data.asset,
                         trader_id=trader_id, locale=locale)  # fmt: skip
    return Tracer(session).trace(query)


# The app takes one ``router`` per module name; the tracer's console page rides along here.
router = APIRouter()
router.include_router(api)
router.include_router(tracer_pages.router)
