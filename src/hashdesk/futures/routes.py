"""The exchange's connector for the margin-call monitor (HMAC-signed like the trader push):
open positions per trader, and mark prices."""

from __future__ import annotations

from fastapi import APIRouter, Request

from hashdesk.futures.actions import MARKS_CHANNEL, check_replace_positions
from hashdesk.futures.schedules import tier_tables
from hashdesk.futures.schemas import (
    MarksPush,
    PositionPublic,
    PositionsPublic,
    PositionsReplace,
)
from hashdesk.web.connector import ConnectorBody, signed_connector_payload
from hashdesk.web.deps import BusDep, DbSession, SettingsDep
from hashdesk.web.forms import validate_body

router = APIRouter(prefix="/api/v1", tags=["futures"])


@router.put("/connector/traders/{external_id}/positions", response_model=PositionsPublic)
def replace_positions(
    external_id: str, request: Request, session: DbSession, settings: SettingsDep,
    body: ConnectorBody,
) -> PositionsPublic:  # fmt: skip
    """The exchange pushes all of a trader's open positions (closed ones are left out).
    Signed: ``X-HashDesk-Signature: t=..,v1=..``, the HMAC-SHA256 with the connector secret
    of ``"<t>.PUT <path>\\n<body>"``."""
    data = validate_body(PositionsReplace, signed_connector_payload(request, settings, body))
    tables = tier_tables(settings.futures_tier_file)
    trader, rows = check_replace_positions(session, external_id, data, tables)
    positions = [PositionPublic.model_validate(row) for row in rows]
    return PositionsPublic(trader_external_id=trader.external_id, positions=positions)


@router.post("/connector/marks", status_code=202)
def push_marks(
    request: Request, settings: SettingsDep, bus: BusDep, body: ConnectorBody
) -> dict[str, int]:
    """Mark prices for the margin-call monitor (``hashdesk futures monitor``), which may
    also read them straight from the Redis channel ``<prefix>futures:marks``. Signed like
    the positions push (``POST <path>``)."""
    data = validate_body(MarksPush, signed_connector_payload(request, settings, body))
    marks = [mark.model_dump(mode="json") for mark in data.marks]
    bus.publish(MARKS_CHANNEL, {"type": "futures.marks", "marks": marks})
    return {"accepted": len(marks)}
