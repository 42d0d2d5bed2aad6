"""Incidents opened, changed and resolved from the monitor's rounds, what they tell agents
and traders, and maintenance windows set by staff."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import check_upsert_transfer
from hashdesk.accounts.models import Trader, TransferKind
from hashdesk.accounts.schemas import TransferUpsert
from hashdesk.chains.actions import do_record_round
from hashdesk.chains.incidents import Expectation, Facts
from hashdesk.chains.models import Level, MaintenanceWindow, NetworkHealth
from hashdesk.chains.monitor import Observation, Report
from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import Role
from hashdesk.core.clock import utcnow
from hashdesk.core.i18n import gettext_for
from hashdesk.notify.jobs import drain
from hashdesk.notify.models import OutboxMessage
from hashdesk.runtime import Runtime
from hashdesk.tickets.models import EntryKind, TicketEntry
from tests.chains.monitoring import INTERVAL, add_network, incidents_of, record, target
from tests.conftest import login_agent, make_agent, make_trader, open_ticket

DOWN = Facts(consecutive_errors=3)
CALM = Facts(head_age=0.1)


def test_an_outage_opens_one_incident_and_calm_polls_resolve_it(session: Session) -> None:
    add_network(session, "ethereum", chain_id=1)
    record(session, "ethereum", DOWN, error="connection refused")
    record(session, "ethereum", DOWN, error="connection refused")
    [incident] = incidents_of(session, "ethereum")
    assert (incident.level, incident.reasons, incident.resolved_at) == (
        "major_outage", ["rpc_unreachable"], None)  # fmt: skip

    calm = record(session, "ethereum", CALM)
    assert calm == {"ethereum": 1} and incidents_of(session, "ethereum")[0].resolved_at is None
    record(session, "ethereum", CALM, calm=calm["ethereum"])
    [incident] = incidents_of(session, "ethereum")
    assert incident.resolved_at is not None
    assert [u.note for u in incident.updates] == ["opened", "resolved"]
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "chain_incident")).all()  # fmt: skip
    assert actions == ["chain_incident.opened", "chain_incident.resolved"]


def test_a_worsening_incident_changes_level_and_remembers_the_worst(session: Session) -> None:
    add_network(session, "ethereum", chain_id=1, block_time=12)
    record(session, "ethereum", Facts(head_age=70))  # > 5 block times: degraded
    record(session, "ethereum", DOWN, error="timeout")
    record(session, "ethereum", Facts(head_age=70))
    [incident] = incidents_of(session, "ethereum")
    assert (incident.level, incident.worst_level) == ("degraded", "major_outage")
    assert [u.level for u in incident.updates] == ["degraded", "major_outage", "degraded"]


def test_health_rows_keep_the_latest_observation(session: Session) -> None:
    add_network(session, "ethereum", chain_id=1)
    record(session, "ethereum", DOWN, error="connection refused")
    row = session.scalars(select(NetworkHealth)).one()
    assert (row.level, row.consecutive_errors, row.errors_total, row.last_error) == (
        "major_outage", 3, 1, "connection refused")  # fmt: skip


def test_open_tickets_about_the_network_get_an_internal_note(session: Session) -> None:
    add_network(session, "ethereum", chain_id=1)
    add_network(session, "bitcoin", family="utxo")  # a ticket's network is a registry network
    trader = make_trader(session)
    about = open_ticket(session, trader, "deposit", "My ETH deposit is missing",
                        {"network": "ethereum", "asset": "ETH"})  # fmt: skip
    elsewhere = open_ticket(session, trader, "deposit", "My BTC deposit is missing",
                            {"network": "bitcoin", "asset": "BTC"})  # fmt: skip
    record(session, "ethereum", DOWN, error="connection refused")
    record(session, "ethereum", CALM, calm=1)

    def notes(ticket_id: int) -> list[TicketEntry]:
        return list(session.scalars(select(TicketEntry).where(
            TicketEntry.ticket_id == ticket_id, TicketEntry.kind == EntryKind.NOTE.value)))  # fmt: skip

    opened, resolved = notes(about.id)
    assert "Network incident on Ethereum: Major outage" in opened.body
    assert "/status/ethereum" in opened.body
    assert "resolved" in resolved.body and not opened.public
    assert notes(elsewhere.id) == []


def test_maintenance_window_through_the_api_is_audited_and_shows(runtime: Runtime, session: Session,
                                                                 client: TestClient) -> None:  # fmt: skip
    add_network(session, "ethereum", chain_id=1)
    lead = make_agent(session, Role.LEAD, department="blockchain")
    login_agent(client, lead)
    now = utcnow()
    body = {"starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "reason": "Node upgrade"}  # fmt: skip
    response = client.post("/api/v1/status/ethereum/maintenance", json=body)
    assert response.status_code == 201, response.text
    window_id = response.json()["id"]
    shown = client.get("/api/v1/status/ethereum").json()
    assert (shown["level"], shown["reasons"]) == ("maintenance", ["maintenance"])
    assert [w["reason"] for w in shown["maintenance"]] == ["Node upgrade"]

    # the poller's next round opens a maintenance incident, whatever the node does
    record(session, "ethereum", DOWN, error="connection refused")
    assert incidents_of(session, "ethereum")[0].level == Level.MAINTENANCE.value

    assert client.post(f"/api/v1/status/maintenance/{window_id}/cancel").status_code == 200
    again = client.post(f"/api/v1/status/maintenance/{window_id}/cancel")
    assert again.status_code == 409
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "chain_maintenance")).all()  # fmt: skip
    assert actions == ["chain_maintenance.created", "chain_maintenance.cancelled"]
    record(session, "ethereum", DOWN, error="connection refused")  # maintenance over: outage
    assert incidents_of(session, "ethereum")[0].level == Level.MAJOR_OUTAGE.value


def test_maintenance_of_a_network_without_endpoints_opens_and_resolves(session: Session) -> None:
    add_network(session, "ethereum", chain_id=1)
    now = utcnow()
    session.add(MaintenanceWindow(network="ethereum", starts_at=now - timedelta(minutes=5),
                                  ends_at=now + timedelta(minutes=5), reason="upgrade",
                                  created_by_id=1))  # fmt: skip
    session.commit()
    do_record_round(session, [], [], now)
    session.commit()
    assert incidents_of(session, "ethereum")[0].level == "maintenance"
    do_record_round(session, [], [], now + timedelta(minutes=6))
    session.commit()
    assert incidents_of(session, "ethereum")[0].resolved_at is not None


def test_bad_maintenance_input_is_refused_clearly(session: Session, client: TestClient) -> None:
    add_network(session, "ethereum", chain_id=1)
    now = utcnow()
    frontline = make_agent(session, Role.FRONTLINE)
    login_agent(client, frontline)
    body = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(),
            "reason": "Node upgrade"}  # fmt: skip
    assert client.post("/api/v1/status/ethereum/maintenance", json=body).status_code == 403

    lead = make_agent(session, Role.LEAD, email="lead@desk.example.com")
    login_agent(client, lead)
    backwards = {**body, "ends_at": (now - timedelta(hours=1)).isoformat()}
    response = client.post("/api/v1/status/ethereum/maintenance", json=backwards)
    assert response.status_code == 422 and "end after it starts" in response.text
    naive = {**body, "starts_at": "2026-12-01T02:00:00"}
    response = client.post("/api/v1/status/ethereum/maintenance", json=naive)
    assert response.status_code == 422 and "starts_at" in response.text
    response = client.post("/api/v1/status/nowhere/maintenance", json=body)
    assert response.status_code == 404 and "nowhere" in response.text
    assert session.scalars(select(MaintenanceWindow)).all() == []


def _transfer(session: Session, trader: Trader, external_id: str, network: str, status: str,
              kind: TransferKind = TransferKind.DEPOSIT) -> None:  # fmt: skip
    data = TransferUpsert(trader=trader.external_id, network=network, asset="ETH",
                          amount=Decimal("1.5"), address="0x" + "ab" * 20, status=status,
                          occurred_at=utcnow())  # fmt: skip
    check_upsert_transfer(session, kind, external_id, data)
    session.commit()


def test_traders_with_pending_transfers_are_emailed_in_their_language(
    runtime: Runtime, session: Session, smtp_server: Any
) -> None:
    add_network(session, "ethereum", chain_id=1)
    waiting = make_trader(session, "u-ru", language="ru")
    sending = make_trader(session, "u-en")
    done = make_trader(session, "u-done")
    elsewhere = make_trader(session, "u-btc")
    _transfer(session, waiting, "d-1", "ethereum", "pending")
    _transfer(session, waiting, "d-2", "ethereum", "pending")  # two pending: one email
    _transfer(session, sending, "w-1", "ethereum", "pending", TransferKind.WITHDRAWAL)
    _transfer(session, done, "d-3", "ethereum", "completed")
    _transfer(session, elsewhere, "d-4", "bitcoin", "pending")

    record(session, "ethereum", DOWN, error="connection refused")
    assert drain(runtime.database, runtime.settings) == 2
    by_recipient = {m["To"]: m for m in smtp_server.messages}
    assert set(by_recipient) == {waiting.email, sending.email}
    english = by_recipient[sending.email]
    assert english["Subject"] == "Ethereum: Major outage"
    body = english.get_content()
    assert "deposit or withdrawal on Ethereum" in body and "/status/ethereum" in body
    hello_ru = gettext_for("ru").gettext("Hello,")
    assert hello_ru != "Hello," and by_recipient[waiting.email].get_content().startswith(hello_ru)

    record(session, "ethereum", CALM, calm=1)  # resolved: the same traders hear it is over
    assert drain(runtime.database, runtime.settings) == 2
    assert smtp_server.messages[-1]["Subject"] == "Ethereum is operational again"


def test_nobody_without_a_pending_transfer_is_emailed(session: Session) -> None:
    add_network(session, "ethereum", chain_id=1)
    make_trader(session)
    record(session, "ethereum", DOWN, error="connection refused")
    assert session.scalars(select(OutboxMessage)).all() == []


def test_incident_changes_are_announced_only_after_commit(
    runtime: Runtime, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_network(session, "ethereum", chain_id=1)
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        runtime.bus, "publish", lambda channel, message: sent.append((channel, message))
    )
    t = target(session, "ethereum")
    seen = Observation("ethereum", utcnow(), error="refused")
    expect = Expectation(t.block_time, t.confirmations_credit, INTERVAL)
    do_record_round(session, [Report(t, seen, DOWN, expect, 0)], ["ethereum"], utcnow())
    session.rollback()  # a round that fails to commit tells no one
    assert sent == [] and incidents_of(session, "ethereum") == []

    record(session, "ethereum", DOWN, error="refused")
    record(session, "ethereum", CALM, calm=1)
    status = [(m["type"], m["level"]) for channel, m in sent if channel == "status"]
    assert status == [("incident.opened", "major_outage"), ("incident.resolved", "major_outage")]
