"""What the network monitor keeps: the latest health of each network, its incidents with
their timeline, the reorgs it saw, and the maintenance windows staff set.

Rows name a network by its registry slug rather than a foreign key on purpose: an incident
or a reorg is history and must outlive a registry edit that renames or removes the network.

The health row is written by the leading poller only and read by every node, which is how
all nodes serve the status page while one polls.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class Level(enum.StrEnum):
    """How bad a network's state is, in increasing order of severity (maintenance aside)."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"


# Maintenance is planned: it outranks what the monitor sees, since a node being upgraded is
# expected to look down and traders should read "maintenance", not "outage".
SEVERITY = {
    Level.OPERATIONAL: 0,
    Level.DEGRADED: 1,
    Level.PARTIAL_OUTAGE: 2,
    Level.MAJOR_OUTAGE: 3,
    Level.MAINTENANCE: 4,
}


class NetworkHealth(Base):
    """The latest observation of one network and the level the rules gave it."""

    __tablename__ = "chain_health"

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(40), unique=True)
    level: Mapped[str] = mapped_column(String(16), default=Level.OPERATIONAL.value)
    reasons: Mapped[list[str]] = mapped_column(default=list)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    endpoint: Mapped[str | None] = mapped_column(String(300), default=None)
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    head_height: Mapped[int | None] = mapped_column(BigInteger, default=None)
    head_hash: Mapped[str | None] = mapped_column(String(100), default=None)
    head_time: Mapped[datetime | None] = mapped_column(default=None)  # the block's timestamp
    head_seen_at: Mapped[datetime | None] = mapped_column(default=None)  # when it first showed
    mean_block_seconds: Mapped[float | None] = mapped_column(default=None)
    pending_txs: Mapped[int | None] = mapped_column(BigInteger, default=None)
    mempool_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    base_fee: Mapped[str | None] = mapped_column(String(80), default=None)  # wei/sat, exact
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    errors_total: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    last_reorg_at: Mapped[datetime | None] = mapped_column(default=None)
    last_reorg_depth: Mapped[int | None] = mapped_column(default=None)


class Incident(Base):
    __tablename__ = "chain_incidents"
    __table_args__ = (Index("ix_chain_incidents_network_opened", "network", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16))
    # The worst level reached, for the history: an incident that went from degraded to
    # major outage and back is remembered as a major outage.
    worst_level: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(default=list)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None, index=True)

    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.id", cascade="all, delete-orphan"
    )


class IncidentUpdate(Base):
    """One line of an incident's timeline: opened, level changed, resolved."""

    __tablename__ = "chain_incident_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("chain_incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")

    incident: Mapped[Incident] = relationship(back_populates="updates")


class Reorg(Base):
    """A reorganisation the monitor saw: the block at ``height`` changed, ``depth`` blocks
    were replaced."""

    __tablename__ = "chain_reorgs"
    __table_args__ = (Index("ix_chain_reorgs_network_detected", "network", "detected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(40))
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    height: Mapped[int] = mapped_column(BigInteger)  # the lowest height whose block changed
    depth: Mapped[int]
    old_hash: Mapped[str] = mapped_column(String(100))
    new_hash: Mapped[str | None] = mapped_column(String(100))  # None: nothing there yet


class Sighting(Base):
    """The block a traced transaction was last seen in. Kept in the database, not in one
    process: after a reorg any node, or the same one restarted, tells "dropped" from "never
    existed" even when the exchange's records do not name the block."""

    __tablename__ = "chain_sightings"

    network: Mapped[str] = mapped_column(String(40), primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(100), primary_key=True)
    height: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(100))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MaintenanceWindow(Base):
    __tablename__ = "chain_maintenance"
    __table_args__ = (Index("ix_chain_maintenance_network_ends", "network", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[int]  # the agent; no foreign key, as in the audit trail
    created_by_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
