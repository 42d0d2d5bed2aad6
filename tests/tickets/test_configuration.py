"""Admins configure categories and SLA targets through the API; others may not."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core import audit
from hashdesk.core.auth import Role
from hashdesk.tickets.queries import get_category
from tests.conftest import login_agent, login_trader, make_agent, make_trader
from tests.tickets.test_api import assert_problem

STAKING = {
    "slug": "staking",
    "name": "Staking & earn",
    "department": "blockchain",
    "fields": ["asset", "order_id"],
    "required_fields": ["asset"],
    "default_priority": "normal",
}


def test_an_admin_adds_a_category_that_traders_can_then_use(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    login_agent(client, make_agent(session, Role.ADMIN))
    created = client.post("/api/v1/categories", json=STAKING)
    assert created.status_code == 201, created.text
    assert created.json()["department"] == "blockchain"

    login_trader(another_client, settings, make_trader(session))
    without_asset = another_client.post("/api/v1/tickets", json={
        "category": "staking", "subject": "Staking rewards missing", "description": "No rewards."})  # fmt: skip
    assert_problem(without_asset, 422, "fields.asset")
    ticket = another_client.post("/api/v1/tickets", json={
        "category": "staking", "subject": "Staking rewards missing", "description": "No rewards.",
        "fields": {"asset": "ETH"}})  # fmt: skip
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["department"] == "blockchain"


def test_a_retired_category_is_refused_and_the_change_is_audited(
    client: TestClient, session: Session
) -> None:
    login_agent(client, make_agent(session, Role.ADMIN))
    changed = client.patch("/api/v1/categories/other", json={"active": False})
    assert changed.json()["active"] is False
    assert "other" not in [c["slug"] for c in client.get("/api/v1/categories").json()]
    category = get_category(session, "other")
    assert category is not None
    [entry] = audit.list_entries(session, "category", category.id)
    assert (entry.before or {})["active"] is True and (entry.after or {})["active"] is False


def test_category_edits_are_checked(client: TestClient, session: Session) -> None:
    login_agent(client, make_agent(session, Role.ADMIN))
    assert_problem(
        client.post("/api/v1/categories", json={**STAKING, "slug": "deposit"}), 409, "slug"
    )
    assert_problem(client.post("/api/v1/categories", json={**STAKING, "fields": ["asset"],
                                                           "required_fields": ["network"]}),
                   422, "required_fields")  # fmt: skip
    assert_problem(client.patch("/api/v1/categories/nope", json={"active": False}), 404)


def test_only_admins_configure(client: TestClient, session: Session) -> None:
    login_agent(client, make_agent(session, Role.LEAD))
    assert_problem(client.post("/api/v1/categories", json=STAKING), 403)
    policy_id = client.get("/api/v1/sla-policies").json()[0]["id"]
    assert_problem(client.put(f"/api/v1/sla-policies/{policy_id}",
                              json={"first_response_minutes": 30, "resolution_minutes": 600}), 403)  # fmt: skip


def test_an_admin_tightens_the_standard_sla_for_new_tickets(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    login_agent(client, make_agent(session, Role.ADMIN))
    standard = next(p for p in client.get("/api/v1/sla-policies").json() if p["name"] == "Standard")
    changed = client.put(f"/api/v1/sla-policies/{standard['id']}",
                         json={"first_response_minutes": 30, "resolution_minutes": 24 * 60})  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert_problem(client.put(f"/api/v1/sla-policies/{standard['id']}",
                              json={"first_response_minutes": 60, "resolution_minutes": 30}),
                   422, "resolution_minutes")  # fmt: skip

    login_trader(another_client, settings, make_trader(session))
    ticket = another_client.post("/api/v1/tickets", json={
        "category": "login_2fa", "subject": "Locked out", "description": "2FA fails."}).json()  # fmt: skip
    created = datetime.fromisoformat(ticket["created_at"])
    assert (datetime.fromisoformat(ticket["first_response_due"]) - created).total_seconds() == 1800
