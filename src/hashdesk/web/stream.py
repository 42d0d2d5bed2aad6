"""Server-sent events: open pages hear about changes without reloading.

A trader hears about their own tickets, a guest about their one ticket, staff about the
console (security tickets only for the staff who may see them). Messages carry ids and states, never content: the page fetches what it may see.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.events import EventBus
from hashdesk.tickets.actions import CONSOLE_CHANNEL, SECURITY_CONSOLE_CHANNEL
from hashdesk.tickets.queries import access_ticket_ref
from hashdesk.web.deps import BusDep, CurrentPrincipal, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["events"])
HEARTBEAT_SECONDS = 15.0


def channels_for(principal: Principal) -> list[str]:
    if principal.kind is PrincipalKind.TRADER:
        return [f"trader:{principal.id}"]
    if principal.kind is PrincipalKind.GUEST and principal.ticket_id is not None:
        return [f"ticket:{principal.ticket_id}"]
    if principal.can(Permission.VIEW_SECURITY_TICKETS):
        return [CONSOLE_CHANNEL, SECURITY_CONSOLE_CHANNEL]
    return [CONSOLE_CHANNEL]


async def event_stream(request: Request, bus: EventBus, channels: list[str]) -> AsyncIterator[str]:
    async with bus.subscribe(*channels) as subscription:
        yield "retry: 2000\n: connected\n\n"
        while not await request.is_disconnected():
            message = await subscription.get(timeout=HEARTBEAT_SECONDS)
            if message is None:
                yield ": heartbeat\n\n"
                continue
            yield f"event: {message.get('type', 'message')}\ndata: {json.dumps(message)}\n\n"


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    principal: CurrentPrincipal,
    bus: BusDep,
    runtime: RuntimeDep,
    ticket: Annotated[str | None, Query(max_length=20)] = None,
) -> StreamingResponse:
    """``text/event-stream`` of ticket changes; ``?ticket=`` narrows to one ticket."""
    channels = channels_for(principal)
    if ticket is not None:
        found = await run_in_threadpool(_access, runtime, principal, ticket)
        channels = [f"ticket:{found}"]
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(event_stream(request, bus, channels), media_type="text/event-stream",
                             headers=headers)  # fmt: skip


def _access(runtime: RuntimeDep, principal: Principal, reference: str) -> int:
    with runtime.database.session() as session:
        return access_ticket_ref(session, principal, reference).id
