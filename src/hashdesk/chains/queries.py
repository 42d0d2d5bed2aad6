"""Reads of the network status: what every node serves from the rows the leader wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hashdesk.assets.models import Network, NetworkStatus
from hashdesk.assets.queries import get_network, list_networks
from hashdesk.chains.models import (
    Incident,
    Level,
    MaintenanceWindow,
    NetworkHealth,
    Reorg,
    Sighting,
)
from hashdesk.chains.schemas import (
    IncidentPublic,
    IncidentUpdatePublic,
    MaintenancePublic,
    NetworkStatusDetail,
    NetworkStatusPublic,
    ReorgPublic,
)
from hashdesk.core.cache import cached
from hashdesk.core.errors import NotFound

HISTORY_DAYS = 90
UNKNOWN = "unknown"
BANNER_CACHE_KEY = "chains:banner"


def active_maintenance(session: Session, now: datetime) -> list[MaintenanceWindow]:
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.starts_at <= now,
        MaintenanceWindow.ends_at > now,
        MaintenanceWindow.cancelled_at.is_(None),
    )
    return list(session.scalars(query.order_by(MaintenanceWindow.id)))


def networks_in_maintenance(session: Session, now: datetime) -> set[str]:
    """Networks under maintenance now: a running window, or the registry's own status set by
    an admin (``assets``: maintenance, with no planned end)."""
    windows = {window.network for window in active_maintenance(session, now)}
    flagged = select(Network.slug).where(Network.status == NetworkStatus.MAINTENANCE.value)
    return windows | set(session.scalars(flagged))


def list_maintenance(
    session: Session, now: datetime, network: str | None = None
) -> list[MaintenanceWindow]:
    """Windows not yet over (running or planned), soonest first."""
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.ends_at > now, MaintenanceWindow.cancelled_at.is_(None)
    )
    if network is not None:
        query = query.where(MaintenanceWindow.network == network)
    return list(session.scalars(query.order_by(MaintenanceWindow.starts_at)))


def open_incidents(session: Session) -> dict[str, Incident]:
    query = select(Incident).where(Incident.resolved_at.is_(None)).order_by(Incident.id)
    return {incident.network: incident for incident in session.scalars(query)}


def get_maintenance(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise NotFound("No maintenance window {id}.", id=window_id)
    return window


def _status(network: Network, health: NetworkHealth | None, incident: Incident | None,
            in_maintenance: bool, now: datetime) -> NetworkStatusPublic:  # fmt: skip
    level, reasons = UNKNOWN, []
    if health is not None:
        level, reasons = health.level, list(health.reasons)
    if incident is not None:
        level, reasons = incident.level, list(incident.reasons)
    if in_maintenance:  # shown as soon as staff set it, before the poller's next round
        level, reasons = Level.MAINTENANCE.value, ["maintenance"]
    mean = health.mean_block_seconds if health else None
    age = None
    if health is not None and health.head_seen_at is not None:
        age = max(0.0, (now - health.head_seen_at).total_seconds())
    return NetworkStatusPublic(
        network=network.slug, name=network.name, level=level, reasons=reasons,
        monitored=health is not None, checked_at=health.checked_at if health else None,
        head_height=health.head_height if health else None, head_age_seconds=age,
        expected_block_seconds=network.block_time_seconds, mean_block_seconds=mean,
        block_time_lag=None if mean is None else round(mean / network.block_time_seconds, 2),
        pending_transactions=health.pending_txs if health else None,
        mempool_bytes=health.mempool_bytes if health else None,
        base_fee=health.base_fee if health else None,
        rpc_errors_in_a_row=health.consecutive_errors if health else 0,
        last_reorg_at=health.last_reorg_at if health else None,
        last_reorg_depth=health.last_reorg_depth if health else None,
        open_incident_id=incident.id if incident else None,
    )  # fmt: skip


def list_status(session: Session, now: datetime) -> list[NetworkStatusPublic]:
    """Every registry network, worst first, then by name. Four queries whatever the count."""
    networks = sorted(list_networks(session), key=lambda network: network.name)
    health = {row.network: row for row in session.scalars(select(NetworkHealth))}
    incidents = open_incidents(session)
    maintenance = networks_in_maintenance(session, now)
    rows = [_status(n, health.get(n.slug), incidents.get(n.slug), n.slug in maintenance, now)
            for n in networks]  # fmt: skip
    return sorted(rows, key=lambda row: -LEVEL_ORDER.get(row.level, 0))


LEVEL_ORDER = {UNKNOWN: 0, "operational": 0, "degraded": 1, "partial_outage": 2,
               "major_outage": 3, "maintenance": 2}  # fmt: skip


def _incident_public(incident: Incident) -> IncidentPublic:
    return IncidentPublic(
        id=incident.id, network=incident.network, level=incident.level,
        worst_level=incident.worst_level, reasons=list(incident.reasons),
        opened_at=incident.opened_at, resolved_at=incident.resolved_at,
        updates=[IncidentUpdatePublic(at=u.at, level=u.level, reasons=list(u.reasons),
                                      note=u.note) for u in incident.updates],
    )  # fmt: skip


def maintenance_public(window: MaintenanceWindow) -> MaintenancePublic:
    return MaintenancePublic(
        id=window.id, network=window.network, starts_at=window.starts_at,
        ends_at=window.ends_at, reason=window.reason, created_by=window.created_by_name,
        cancelled_at=window.cancelled_at,
    )  # fmt: skip


def get_network_status(session: Session, slug: str, now: datetime) -> NetworkStatusDetail:
    """One network's status with its history: incidents and reorgs of ``HISTORY_DAYS`` days,
    and its running and planned maintenance."""
    network = get_network(session, slug)
    if network is None:
        raise NotFound("No network {network}.", network=slug)
    since = now - timedelta(days=HISTORY_DAYS)
    health = session.scalar(select(NetworkHealth).where(NetworkHealth.network == slug))
    incidents = list(session.scalars(
        select(Incident).where(Incident.network == slug, Incident.opened_at >= since)
        .options(selectinload(Incident.updates)).order_by(Incident.opened_at.desc())
    ))  # fmt: skip
    reorgs = session.scalars(select(Reorg).where(Reorg.network == slug, Reorg.detected_at >= since)
                             .order_by(Reorg.detected_at.desc()).limit(50))  # fmt: skip
    windows = list_maintenance(session, now, slug)
    running = any(w.starts_at <= now for w in windows)
    running = running or network.status == NetworkStatus.MAINTENANCE.value
    open_one = next((i for i in incidents if i.resolved_at is None), None)
    summary = _status(network, health, open_one, running, now)
    return NetworkStatusDetail(
        **summary.model_dump(),
        uptime_percent=uptime_percent(incidents, since, now),
        incidents=[_incident_public(i) for i in incidents],
        reorgs=[ReorgPublic(detected_at=r.detected_at, height=r.height, depth=r.depth)
                for r in reorgs],
        maintenance=[maintenance_public(w) for w in windows],
    )  # fmt: skip


OUTAGES = (Level.PARTIAL_OUTAGE.value, Level.MAJOR_OUTAGE.value)


def uptime_percent(incidents: list[Incident], since: datetime, now: datetime) -> float:
    """The share of the time since ``since`` the network spent outside an outage (partial or
    major; degraded and maintenance count as up), from the incidents' timelines."""
    down = 0.0
    for incident in incidents:
        updates = sorted(incident.updates, key=lambda u: u.at)
        for update, following in zip(updates, [*updates[1:], None], strict=True):
            end = following.at if following else (incident.resolved_at or now)
            if update.level in OUTAGES:
                down += max(0.0, (min(end, now) - max(update.at, since)).total_seconds())
    return round(100 * (1 - down / (now - since).total_seconds()), 3)


@dataclass(frozen=True)
class BannerItem:
    network: str
    name: str
    level: str


def _banner_items(session: Session, now: datetime) -> list[BannerItem]:
    names = {slug: name for slug, name in session.execute(select(Network.slug, Network.name))}
    items = {i.network: BannerItem(i.network, names.get(i.network, i.network), i.level)
             for i in open_incidents(session).values()}  # fmt: skip
    for slug in networks_in_maintenance(session, now):
        items[slug] = BannerItem(slug, names.get(slug, slug), Level.MAINTENANCE.value)
    return sorted(items.values(), key=lambda item: item.name)


def banner_items(session: Session, now: datetime) -> list[BannerItem]:
    """The networks in trouble now, for the help center's and portal's banner. Cached per
    process (``core.cache``): every page shows it, incidents change rarely; a change made on
    this node drops the cache at once, other nodes see it within the cache's lifetime."""
    return cached(session, BANNER_CACHE_KEY, lambda: _banner_items(session, now))


def find_sightings(session: Session, tx_hash: str) -> dict[str, tuple[int, str]]:
    """Network slug -> (height, block hash) of the block ``tx_hash`` was last traced in."""
    rows = session.scalars(select(Sighting).where(Sighting.tx_hash == tx_hash))
    return {row.network: (row.height, row.block_hash) for row in rows}
