"""Status shapes: what the status API returns and what staff send to plan maintenance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]


class MaintenanceCreate(BaseModel):
    """A planned maintenance window; times carry their zone (``2026-12-01T02:00:00Z``)."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Reason


class MaintenancePublic(BaseModel):
    id: int
    network: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    cancelled_at: datetime | None


class IncidentUpdatePublic(BaseModel):
    at: datetime
    level: str
    reasons: list[str]
    note: str


class IncidentPublic(BaseModel):
    id: int
    network: str
    level: str
    worst_level: str
    reasons: list[str]
    opened_at: datetime
    resolved_at: datetime | None
    updates: list[IncidentUpdatePublic]


class ReorgPublic(BaseModel):
    detected_at: datetime
    height: int
    depth: int


class NetworkStatusPublic(BaseModel):
    """One network on the status page. ``level`` is ``unknown`` while it is not monitored
    (no RPC endpoint, or no poll recorded yet)."""

    network: str
    name: str
    level: str
    reasons: list[str]
    monitored: bool
    checked_at: datetime | None
    head_height: int | None
    head_age_seconds: float | None
    expected_block_seconds: float
    mean_block_seconds: float | None
    block_time_lag: float | None  # mean over expected: 1.0 is on time, 2.0 twice as slow
    pending_transactions: int | None
    mempool_bytes: int | None
    base_fee: str | None
    rpc_errors_in_a_row: int
    last_reorg_at: datetime | None
    last_reorg_depth: int | None
    open_incident_id: int | None


class NetworkStatusDetail(NetworkStatusPublic):
    uptime_percent: float  # of the last 90 days outside partial and major outages
    incidents: list[IncidentPublic]
    reorgs: list[ReorgPublic]
    maintenance: list[MaintenancePublic]
