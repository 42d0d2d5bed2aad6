from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.auth import Role
from tests.conftest import login_agent, login_trader, make_agent, make_trader


def test_trader_opens_ticket_and_agent_replies(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    agent = make_agent(session, Role.FRONTLINE)
    login_trader(client, settings, trader)
    created = client.post("/api/v1/tickets", json={
        "category": "deposit", "subject": "USDT deposit missing",
        "description": "Sent 100 USDT on TRON two hours ago.",
        "fields": {"network": "tron", "asset": "USDT"},
    })  # fmt: skip
    assert created.status_code == 201, created.text
    tracking_id = created.json()["tracking_id"]
    assert created.json()["department"] == "blockchain"

    login_agent(another_client, agent)
    reply = another_client.post(
        f"/api/v1/tickets/{tracking_id}/messages", json={"body": "Checking now."}
    )
    assert reply.status_code == 201, reply.text

    timeline = client.get(f"/api/v1/tickets/{tracking_id}").json()["entries"]
    assert [e["kind"] for e in timeline][:2] == ["created", "message"]
