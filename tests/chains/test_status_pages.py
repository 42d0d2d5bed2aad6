"""The public status pages and API, the banner on help-center and portal pages, and the
staff page's maintenance form."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.chains.incidents import Facts
from hashdesk.chains.models import MaintenanceWindow
from hashdesk.core.auth import Role
from hashdesk.core.clock import utcnow
from hashdesk.runtime import Runtime
from tests.chains.monitoring import add_network, record
from tests.conftest import login_agent, login_trader, make_agent, make_trader

DOWN = Facts(consecutive_errors=3)
CALM = Facts(head_age=0.1)


def test_status_page_lists_networks_with_their_level(session: Session, client: TestClient) -> None:
    add_network(session, "ethereum", chain_id=1)
    add_network(session, "polygon", chain_id=137)
    add_network(session, "bsc", chain_id=56)
    record(session, "ethereum", DOWN, error="connection refused")
    record(session, "polygon", CALM)
    page = client.get("/status")
    assert page.status_code == 200
    assert "1 networks have problems right now." in page.text
    ethereum = page.text.index('data-network="ethereum"')
    polygon = page.text.index('data-network="polygon"')
    assert ethereum < polygon  # worst first
    assert "Major outage" in page.text[ethereum:polygon]
    assert "Operational" in page.text[polygon:]
    assert "Not monitored" in page.text  # bsc: no poll recorded

    rows = {row["network"]: row for row in client.get("/api/v1/status").json()}
    assert rows["ethereum"]["level"] == "major_outage"
    assert rows["ethereum"]["rpc_errors_in_a_row"] == 3
    assert (rows["bsc"]["level"], rows["bsc"]["monitored"]) == ("unknown", False)


def test_network_page_shows_its_history(session: Session, client: TestClient) -> None:
    add_network(session, "ethereum", chain_id=1)
    record(session, "ethereum", DOWN, error="connection refused")
    record(session, "ethereum", CALM, calm=1)
    page = client.get("/status/ethereum")
    assert page.status_code == 200
    assert 'data-testid="incident-history"' in page.text
    assert "Major outage" in page.text and "connection refused" not in page.text  # no internals
    detail = client.get("/api/v1/status/ethereum").json()
    assert detail["level"] == "operational"
    [incident] = detail["incidents"]
    assert incident["worst_level"] == "major_outage" and incident["resolved_at"] is not None
    assert [u["level"] for u in incident["updates"]] == ["major_outage", "operational"]


def test_unknown_networks_are_a_clear_404(client: TestClient) -> None:
    page = client.get("/status/atlantis")
    assert page.status_code == 404 and "No network atlantis." in page.text
    response = client.get("/api/v1/status/atlantis")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/status/Not A Slug").status_code == 422


def test_the_banner_shows_on_help_center_and_portal_while_an_incident_is_open(
    runtime: Runtime, session: Session, client: TestClient, another_client: TestClient
) -> None:
    add_network(session, "ethereum", chain_id=1)
    trader = make_trader(session)
    login_trader(another_client, runtime.settings, trader)
    agent = make_agent(session, Role.TECHNICIAN, department="blockchain")
    assert 'data-testid="network-banner"' not in client.get("/hc/en").text

    record(session, "ethereum", DOWN, error="connection refused")
    help_center = client.get("/hc/en").text
    assert 'data-testid="network-banner"' in help_center
    assert "<strong>Ethereum</strong>: Major outage." in help_center
    assert 'href="/status/ethereum"' in help_center
    assert 'data-testid="network-banner"' in another_client.get("/portal").text
    login_agent(client, agent)
    assert 'data-testid="network-banner"' not in client.get("/console").text  # staff: console

    record(session, "ethereum", CALM, calm=1)  # resolved on this node: gone at once
    assert 'data-testid="network-banner"' not in another_client.get("/portal").text


def test_staff_plan_and_cancel_maintenance_from_the_console(session: Session,
                                                            client: TestClient) -> None:  # fmt: skip
    add_network(session, "ethereum", chain_id=1)
    lead = make_agent(session, Role.LEAD, department="blockchain")
    token = login_agent(client, lead)
    page = client.get("/console/status")
    assert page.status_code == 200 and 'data-testid="maintenance-form"' in page.text
    now = utcnow()
    form = {"csrf_token": token, "network": "ethereum", "reason": "Hard fork upgrade",
            "starts_at": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    del client.headers["X-CSRF-Token"]  # a browser form: the token travels in the body
    response = client.post("/console/status/maintenance", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    window = session.scalars(select(MaintenanceWindow)).one()
    assert (window.reason, window.created_by_name) == ("Hard fork upgrade", lead.name)
    assert "Hard fork upgrade" in client.get("/console/status").text
    assert "Maintenance" in client.get("/status/ethereum").text
    assert 'data-testid="network-banner"' in TestClient(client.app).get("/hc/en").text

    backwards = {**form, "ends_at": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    refused = client.post("/console/status/maintenance", data=backwards)
    assert (
        refused.status_code == 422 and "The maintenance must end after it starts." in refused.text
    )

    cancel = client.post(f"/console/status/maintenance/{window.id}/cancel",
                         data={"csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert cancel.status_code == 303
    session.expire_all()
    assert session.get(MaintenanceWindow, window.id).cancelled_at is not None  # type: ignore[union-attr]


def test_frontline_agents_see_the_status_but_cannot_plan(
    session: Session, client: TestClient
) -> None:
    add_network(session, "ethereum", chain_id=1)
    token = login_agent(client, make_agent(session, Role.FRONTLINE))
    page = client.get("/console/status")
    assert page.status_code == 200 and 'data-testid="maintenance-form"' not in page.text
    now = utcnow()
    form = {"csrf_token": token, "network": "ethereum", "reason": "Upgrade",
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    assert client.post("/console/status/maintenance", data=form).status_code == 403
    assert session.scalars(select(MaintenanceWindow)).all() == []


def test_uptime_counts_outages_of_the_last_90_days(session: Session, client: TestClient) -> None:
    add_network(session, "ethereum", chain_id=1)
    now = utcnow()
    record(session, "ethereum", DOWN, error="refused", now=now - timedelta(hours=10))
    record(session, "ethereum", CALM, calm=1, now=now - timedelta(hours=1))  # 9 h down
    detail = client.get("/api/v1/status/ethereum").json()
    assert detail["uptime_percent"] == round(100 * (1 - 9 / (90 * 24)), 3)
    assert 'data-testid="uptime">99.58 %' in client.get("/status/ethereum").text


def test_a_network_an_admin_put_in_maintenance_shows_it(
    session: Session, client: TestClient
) -> None:
    from hashdesk.assets.actions import check_set_network_status
    from hashdesk.assets.models import NetworkStatus
    from hashdesk.assets.schemas import NetworkStatusChange
    from hashdesk.core.auth import SYSTEM

    add_network(session, "ethereum", chain_id=1)
    change = NetworkStatusChange(status=NetworkStatus.MAINTENANCE, reason="Wallet upgrade")
    check_set_network_status(session, SYSTEM, "ethereum", change)
    session.commit()
    assert client.get("/api/v1/status/ethereum").json()["level"] == "maintenance"
    assert "<strong>Ethereum</strong>: Maintenance." in client.get("/hc/en").text


def test_the_status_list_costs_the_same_queries_for_any_number_of_networks(
    runtime: Runtime, session: Session, client: TestClient
) -> None:
    from sqlalchemy import event

    def queries_of_status_api() -> int:
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(runtime.database.engine, "before_cursor_execute", count)
        try:
            assert client.get("/api/v1/status").status_code == 200
        finally:
            event.remove(runtime.database.engine, "before_cursor_execute", count)
        return len(statements)

    add_network(session, "ethereum", chain_id=1)
    record(session, "ethereum", DOWN, error="refused")
    few = queries_of_status_api()
    for number, slug in enumerate(["polygon", "bsc", "base", "arbitrum", "optimism"]):
        add_network(session, slug, chain_id=100 + number)
        record(session, slug, DOWN if number % 2 else CALM, error="refused" if number % 2 else None)
    assert queries_of_status_api() == few
