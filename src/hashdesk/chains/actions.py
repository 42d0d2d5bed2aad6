"""Every write of the network monitor: a round's health rows and reorgs, incidents opened,
changed and resolved (and what that tells traders and agents), and maintenance windows.

When an incident opens or resolves, in the same transaction (so a rolled-back round tells
no one): an email through the outbox to every trader with a pending deposit or withdrawal on
the network, in the trader's language; an internal note on every open ticket about the
network; an event on the ``status`` channel; the banner cache dropped on commit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hashdesk.assets.queries import get_network
from hashdesk.chains.incidents import LEVEL_LABELS, REASONS, Assessment, assess, decide
from hashdesk.chains.models import (
    SEVERITY,
    Incident,
    IncidentUpdate,
    Level,
    MaintenanceWindow,
    NetworkHealth,
    Reorg,
    Sighting,
)
from hashdesk.chains.queries import (
    BANNER_CACHE_KEY,
    get_maintenance,
    networks_in_maintenance,
    open_incidents,
)
from hashdesk.chains.schemas import MaintenanceCreate
from hashdesk.core import audit
from hashdesk.core.auth import SYSTEM, Permission, Principal
from hashdesk.core.cache import invalidate_on_commit
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, InvalidInput, NotFound
from hashdesk.core.events import publish_on_commit
from hashdesk.core.i18n import gettext_for
from hashdesk.tickets.actions import do_agent_reply, settings_of
from hashdesk.tickets.models import FINISHED, Ticket

if TYPE_CHECKING:
    from hashdesk.chains.monitor import Observation, Report

STATUS_CHANNEL = "status"
MAX_MAINTENANCE = timedelta(days=14)
MAX_PLANNED_AHEAD = timedelta(days=365)


# --- a round of the poller -------------------------------------------------------------------


def do_record_round(session: Session, reports: list[Report], monitored: list[str],
                    now: datetime) -> dict[str, int]:  # fmt: skip
    """Write what a round saw and act on it. Returns each polled network's count of calm
    polls, which the poller carries to the next round (see ``incidents.decide``)."""
    maintenance = networks_in_maintenance(session, now)
    incidents = open_incidents(session)
    health = _health_rows(session, [r.target.slug for r in reports])
    calm: dict[str, int] = {}
    for report in reports:
        slug = report.target.slug
        facts = replace(report.facts, in_maintenance=slug in maintenance)
        assessment = assess(facts, report.expectation)
        _write_health(session, health, report, assessment, now)
        if report.observation.reorg is not None:
            _record_reorg(session, slug, report.observation, now)
        incident = incidents.get(slug)
        decision = decide(Level(incident.level) if incident else None, assessment,
                          report.calm_polls)  # fmt: skip
        _apply(session, slug, incident, decision.action, assessment, now)
        calm[slug] = decision.calm_polls
    _maintenance_of_unmonitored(session, set(monitored), maintenance, incidents, now)
    return calm


def _health_rows(session: Session, slugs: list[str]) -> dict[str, NetworkHealth]:
    query = select(NetworkHealth).where(NetworkHealth.network.in_(slugs))
    rows = {row.network: row for row in session.scalars(query)}
    for slug in slugs:
        if slug not in rows:
            rows[slug] = NetworkHealth(network=slug, reasons=[], consecutive_errors=0,
                                       errors_total=0)  # fmt: skip
            session.add(rows[slug])
    return rows


def _write_health(session: Session, rows: dict[str, NetworkHealth], report: Report,
                  assessment: Assessment, now: datetime) -> None:  # fmt: skip
    row, seen, facts = rows[report.target.slug], report.observation, report.facts
    row.level, row.reasons, row.checked_at = assessment.level.value, list(assessment.reasons), now
    row.consecutive_errors = facts.consecutive_errors
    row.endpoint = seen.endpoint
    if seen.error is not None:
        row.errors_total += 1
        row.last_error = seen.error
        return
    row.last_success_at, row.latency_ms = seen.at, seen.latency_ms
    if seen.head is not None:
        row.head_height, row.head_hash, row.head_time = (
            seen.head.height,
            seen.head.hash,
            seen.head.time,
        )
    if facts.head_age is not None:
        row.head_seen_at = now - timedelta(seconds=facts.head_age)
    row.mean_block_seconds = facts.mean_block_seconds
    if seen.congestion is not None:
        row.pending_txs = seen.congestion.pending_transactions
        row.mempool_bytes = seen.congestion.mempool_bytes
        fee = seen.congestion.base_fee
        if fee is None and seen.congestion.min_fee_rate is not None:
            row.base_fee = format(seen.congestion.min_fee_rate, "f")
        else:
            row.base_fee = None if fee is None else str(fee)


def _record_reorg(session: Session, slug: str, seen: Observation, now: datetime) -> None:
    reorg = seen.reorg
    assert reorg is not None
    session.add(Reorg(network=slug, detected_at=now, height=reorg.height, depth=reorg.depth,
                      old_hash=reorg.old_hash, new_hash=reorg.new_hash))  # fmt: skip
    row = session.scalar(select(NetworkHealth).where(NetworkHealth.network == slug))
    if row is not None:
        row.last_reorg_at, row.last_reorg_depth = now, reorg.depth


def _apply(session: Session, slug: str, incident: Incident | None, action: str,
           assessment: Assessment, now: datetime) -> None:  # fmt: skip
    if action == "open":
        do_open_incident(session, slug, assessment.level, list(assessment.reasons), now)
    elif action == "change" and incident is not None:
        do_change_incident(session, incident, assessment.level, list(assessment.reasons), now)
    elif action == "resolve" and incident is not None:
        do_resolve_incident(session, incident, now)


def _maintenance_of_unmonitored(session: Session, monitored: set[str], maintenance: set[str],
                                incidents: dict[str, Incident], now: datetime) -> None:  # fmt: skip
    """Networks the poller does not watch (no endpoint) still show their maintenance."""
    for slug in maintenance - monitored:
        if slug not in incidents:
            do_open_incident(session, slug, Level.MAINTENANCE, ["maintenance"], now)
    for slug, incident in incidents.items():
        planned = incident.level == Level.MAINTENANCE.value
        if slug not in monitored and planned and slug not in maintenance:
            do_resolve_incident(session, incident, now)


# --- incidents -------------------------------------------------------------------------------


def _announce(session: Session, incident: Incident, event: str) -> None:
    publish_on_commit(session, STATUS_CHANNEL, {
        "type": event, "incident_id": incident.id, "network": incident.network,
        "level": incident.level, "resolved": incident.resolved_at is not None,
    })  # fmt: skip
    invalidate_on_commit(session, BANNER_CACHE_KEY)


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {"network": incident.network, "level": incident.level, "reasons": incident.reasons}


def do_open_incident(session: Session, network: str, level: Level, reasons: list[str],
                     now: datetime) -> Incident:  # fmt: skip
    incident = Incident(network=network, level=level.value, worst_level=level.value,
                        reasons=reasons, opened_at=now)  # fmt: skip
    incident.updates.append(IncidentUpdate(at=now, level=level.value, reasons=reasons,
                                           note="opened"))  # fmt: skip
    session.add(incident)
    session.flush()
    audit.record(session, SYSTEM, "chain_incident.opened", "chain_incident", incident.id,
                 after=_snapshot(incident))  # fmt: skip
    _tell_affected(session, incident, opened=True)
    _announce(session, incident, "incident.opened")
    return incident


def do_change_incident(session: Session, incident: Incident, level: Level, reasons: list[str],
                       now: datetime) -> None:  # fmt: skip
    before = _snapshot(incident)
    incident.level, incident.reasons = level.value, reasons
    if SEVERITY[level] > SEVERITY[Level(incident.worst_level)]:
        incident.worst_level = level.value
    incident.updates.append(IncidentUpdate(at=now, level=level.value, reasons=reasons,
                                           note="changed"))  # fmt: skip
    audit.record(session, SYSTEM, "chain_incident.changed", "chain_incident", incident.id,
                 before=before, after=_snapshot(incident))  # fmt: skip
    _announce(session, incident, "incident.changed")


def do_resolve_incident(session: Session, incident: Incident, now: datetime) -> None:
    incident.resolved_at = now
    incident.updates.append(IncidentUpdate(at=now, level=Level.OPERATIONAL.value, reasons=[],
                                           note="resolved"))  # fmt: skip
    audit.record(session, SYSTEM, "chain_incident.resolved", "chain_incident", incident.id,
                 before=_snapshot(incident))  # fmt: skip
    _tell_affected(session, incident, opened=False)
    _announce(session, incident, "incident.resolved")


# --- who hears about it ----------------------------------------------------------------------


def _tell_affected(session: Session, incident: Incident, *, opened: bool) -> None:
    network = get_network(session, incident.network)
    name = network.name if network is not None else incident.network
    _annotate_tickets(session, incident, name, opened=opened)
    from hashdesk.chains.notices import notify_pending_traders

    notify_pending_traders(session, incident, name, opened=opened)


def incident_text(incident: Incident, name: str, *, opened: bool, locale: str = "en") -> str:
    """One line about the incident, as a ticket note or an email's summary says it."""
    _ = gettext_for(locale).gettext
    if not opened:
        return _("Network incident resolved: %(network)s is operational again.") % {"network": name}
    reasons = ", ".join(_(REASONS[r]) for r in incident.reasons if r in REASONS)
    return _("Network incident on %(network)s: %(level)s (%(reasons)s).") % {
        "network": name, "level": _(LEVEL_LABELS[incident.level]), "reasons": reasons}  # fmt: skip


def open_tickets_about(session: Session, network: str) -> list[Ticket]:
    query = select(Ticket).where(
        Ticket.fields["network"].as_string() == network,
        Ticket.status.not_in(FINISHED),
        Ticket.merged_into_id.is_(None),
    )
    return list(session.scalars(query.order_by(Ticket.id)))


def _annotate_tickets(session: Session, incident: Incident, name: str, *, opened: bool) -> None:
    """An internal note on each open ticket about the network: the agent who picks it up
    sees at once that the trader's problem may be the network's. Agents read notes in the
    ticket's language of work, English."""
    text = incident_text(incident, name, opened=opened)
    url = f"{settings_of(session).public_url}/status/{incident.network}"
    for ticket in open_tickets_about(session, incident.network):
        do_agent_reply(session, SYSTEM, ticket, f"{text}\n{url}", internal=True, set_status=None,
                       uploads=[])  # fmt: skip


# --- maintenance windows ---------------------------------------------------------------------


def check_create_maintenance(session: Session, actor: Principal, slug: str,
                             data: MaintenanceCreate) -> MaintenanceWindow:  # fmt: skip
    actor.require(Permission.MANAGE_ASSETS)
    if get_network(session, slug) is None:
        raise NotFound("No network {network}.", network=slug)
    now = utcnow()
    if data.ends_at <= data.starts_at:
        raise InvalidInput("The maintenance must end after it starts.", field="ends_at")
    if data.ends_at <= now:
        raise InvalidInput("The maintenance must end in the future.", field="ends_at")
    if data.ends_at - data.starts_at > MAX_MAINTENANCE:
        raise InvalidInput("A maintenance window lasts at most {days} days.", field="ends_at",
                           days=MAX_MAINTENANCE.days)  # fmt: skip
    if data.starts_at - now > MAX_PLANNED_AHEAD:
        raise InvalidInput("Plan maintenance at most a year ahead.", field="starts_at")
    return do_create_maintenance(session, actor, slug, data)


def do_create_maintenance(session: Session, actor: Principal, slug: str,
                          data: MaintenanceCreate) -> MaintenanceWindow:  # fmt: skip
    window = MaintenanceWindow(network=slug, starts_at=data.starts_at, ends_at=data.ends_at,
                               reason=data.reason, created_by_id=actor.id,
                               created_by_name=actor.name)  # fmt: skip
    session.add(window)
    session.flush()
    audit.record(session, actor, "chain_maintenance.created", "chain_maintenance", window.id,
                 after=_window_snapshot(window))  # fmt: skip
    _maintenance_changed(session, window)
    return window


def check_cancel_maintenance(
    session: Session, actor: Principal, window_id: int
) -> MaintenanceWindow:
    actor.require(Permission.MANAGE_ASSETS)
    window = get_maintenance(session, window_id)
    if window.cancelled_at is not None:
        raise Conflict("This maintenance window was already cancelled.")
    if window.ends_at <= utcnow():
        raise Conflict("This maintenance window is over.")
    return do_cancel_maintenance(session, actor, window)


def do_cancel_maintenance(
    session: Session, actor: Principal, window: MaintenanceWindow
) -> MaintenanceWindow:
    before = _window_snapshot(window)
    window.cancelled_at = utcnow()
    audit.record(session, actor, "chain_maintenance.cancelled", "chain_maintenance", window.id,
                 before=before, after=_window_snapshot(window))  # fmt: skip
    _maintenance_changed(session, window)
    return window


def _window_snapshot(window: MaintenanceWindow) -> dict[str, Any]:
    return {"network": window.network, "starts_at": window.starts_at.isoformat(),
            "ends_at": window.ends_at.isoformat(), "reason": window.reason,
            "cancelled": window.cancelled_at is not None}  # fmt: skip


def _maintenance_changed(session: Session, window: MaintenanceWindow) -> None:
    publish_on_commit(session, STATUS_CHANNEL, {"type": "maintenance.changed",
                                                "network": window.network, "id": window.id})  # fmt: skip
    invalidate_on_commit(session, BANNER_CACHE_KEY)


def do_remember_sighting(session: Session, network: str, tx_hash: str, height: int,
                         block_hash: str, now: datetime) -> None:  # fmt: skip
    """Keeps the block the tracer found ``tx_hash`` in. One statement that inserts or
    updates: two traces of the same transaction at once must not fail on the key."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {"height": height, "block_hash": block_hash, "seen_at": now}
    statement = insert(Sighting).values(network=network, tx_hash=tx_hash, **values)
    session.execute(
        statement.on_conflict_do_update(index_elements=["network", "tx_hash"], set_=values)
    )
