"""The registry API: staff read, admins (and leads) write, every write audited, and the
lookup index follows each write at once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.assets.formats import to_checksum_address
from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import Role
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader


def test_signed_out_and_traders_cannot_read_or_write(registry: Runtime, client: TestClient,
                                                    session: Session) -> None:  # fmt: skip
    assert client.get("/api/v1/assets/lookup", params={"q": "usdt"}).status_code == 401
    login_trader(client, registry.settings, make_trader(session))
    for path in ("/api/v1/assets/lookup?q=usdt", "/api/v1/assets/networks",
                 "/api/v1/assets/networks/tron", "/api/v1/assets/USDT", "/api/v1/assets"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.headers["content-type"].startswith("application/problem+json")
    response = client.put("/api/v1/assets/networks/tron/status",
                          json={"status": "maintenance", "reason": "x"})  # fmt: skip
    assert response.status_code == 403


def test_any_agent_reads(registry: Runtime, client: TestClient, session: Session) -> None:
    login_agent(client, make_agent(session, Role.FRONTLINE))
    lookup = client.get("/api/v1/assets/lookup", params={"q": "usdt trc20"}).json()
    assert lookup["hits"][0]["symbol"] == "USDT"
    assert lookup["hits"][0]["deployments"][0]["contract"] == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    tron = client.get("/api/v1/assets/networks/tron").json()
    assert tron["native_asset"] == "TRX" and tron["token_format"] == "tron"
    xrp = client.get("/api/v1/assets/networks/xrp").json()
    assert xrp["memo"] == {"name": "tag", "format": "xrp-tag", "required": True}
    usdt = client.get("/api/v1/assets/usdt").json()
    assert usdt["symbol"] == "USDT"
    bsc = next(row for row in usdt["networks"] if row["network"] == "bsc")
    assert bsc["decimals"] == 18 and bsc["explorer_contract_url"].startswith(
        "https://bscscan.com/address/0x55d3"
    )
    page = client.get("/api/v1/assets", params={"limit": 100}).json()
    assert len(page["items"]) == 100 and page["next_cursor"]
    rest = client.get("/api/v1/assets", params={"limit": 100, "cursor": page["next_cursor"]}).json()
    assert {a["symbol"] for a in page["items"]}.isdisjoint(a["symbol"] for a in rest["items"])
    assert client.get("/api/v1/assets/networks/nowhere").status_code == 404
    assert client.get("/api/v1/assets/NOPE").status_code == 404


def test_frontline_agents_may_not_write(
    registry: Runtime, client: TestClient, session: Session
) -> None:
    login_agent(client, make_agent(session, Role.FRONTLINE))
    response = client.put("/api/v1/assets/networks/tron/status",
                          json={"status": "maintenance", "reason": "upgrade"})  # fmt: skip
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_an_admin_edit_is_audited_and_looked_up_at_once(registry: Runtime, client: TestClient,
                                                        session: Session) -> None:  # fmt: skip
    admin = make_agent(session, Role.ADMIN)
    login_agent(client, admin)
    assert client.get("/api/v1/assets/lookup", params={"q": "usdt trc20"}).json()["hits"][0][
        "deployments"][0]["withdrawal_fee"] == "1"  # fmt: skip
    body = {"contract": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "decimals": 6, "min_deposit": "1",
            "min_withdrawal": "10", "withdrawal_fee": "2.5", "withdraw_enabled": False,
            "withdraw_disabled_reason": "TRON wallet upgrade"}  # fmt: skip
    response = client.put("/api/v1/assets/USDT/networks/tron", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["withdrawal_fee"] == "2.5"
    hit = client.get("/api/v1/assets/lookup", params={"q": "usdt trc20"}).json()["hits"][0]
    assert hit["deployments"][0]["withdrawal_fee"] == "2.5"
    assert hit["deployments"][0]["withdraw_disabled_reason"] == "TRON wallet upgrade"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "assets.asset_network_changed")
    ).one()
    assert (entry.actor_kind, entry.actor_id) == ("agent", admin.id)
    assert entry.before is not None and entry.before["withdrawal_fee"] == "1"
    assert entry.after is not None and entry.after["withdrawal_fee"] == "2.5"


def test_a_lead_sets_maintenance_and_the_lookup_shows_it(registry: Runtime, client: TestClient,
                                                         session: Session) -> None:  # fmt: skip
    login_agent(client, make_agent(session, Role.LEAD))
    response = client.put("/api/v1/assets/networks/solana/status", json={"status": "maintenance"})
    assert response.status_code == 422
    response = client.put("/api/v1/assets/networks/solana/status",
                          json={"status": "maintenance", "reason": "Validator upgrade"})  # fmt: skip
    assert response.status_code == 200, response.text
    network = client.get("/api/v1/assets/lookup", params={"q": "solana"}).json()["hits"][0][
        "network"
    ]
    assert (network["status"], network["status_reason"]) == ("maintenance", "Validator upgrade")
    assert session.scalars(
        select(AuditEntry).where(AuditEntry.action == "assets.network_changed")
    ).one()


def test_writes_are_checked_against_the_registry(registry: Runtime, client: TestClient,
                                                 session: Session) -> None:  # fmt: skip
    login_agent(client, make_agent(session, Role.ADMIN))
    assert client.put("/api/v1/assets/ACME", json={"name": "Acme Token"}).status_code == 200
    wrong = client.put("/api/v1/assets/ACME/networks/ethereum",
                       json={"contract": "0xdac17f958d2ee523a2206206994597c13d831ec7", "decimals": 6})  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "contract"
    assert "already USDT's" in wrong.text
    good = client.put("/api/v1/assets/ACME/networks/ethereum",
                      json={"contract": "0x" + "ab" * 20, "decimals": 18, "withdrawal_fee": "0.5"})  # fmt: skip
    assert good.status_code == 200, good.text
    assert good.json()["contract"] == to_checksum_address("0x" + "ab" * 20)  # stored as EIP-55
    assert (
        client.get("/api/v1/assets/lookup", params={"q": "acme"}).json()["hits"][0]["symbol"]
        == "ACME"
    )
    chain_clash = client.get("/api/v1/assets/networks/base").json()
    chain_clash.pop("id")
    assert client.put("/api/v1/assets/networks/base-copy", json=chain_clash).status_code == 422
    tron = client.get("/api/v1/assets/networks/tron").json()
    tron.pop("id")
    tron["token_format"] = None  # but USDT and others live on TRON as contracts
    refused = client.put("/api/v1/assets/networks/tron", json=tron)
    assert refused.status_code == 422 and "USDT" in refused.text
    assert refused.json()["errors"][0]["field"] == "token_format"
    assert client.delete("/api/v1/assets/ACME/networks/ethereum").status_code == 204
    assert client.delete("/api/v1/assets/ACME").status_code == 204
    hits = client.get("/api/v1/assets/lookup", params={"q": "acme"}).json()["hits"]
    assert [hit["kind"] for hit in hits] == ["network"]  # "acme" could still be an EOS account
    removed = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "assets.asset_removed")
    ).one()
    assert removed.before is not None and removed.before["symbol"] == "ACME"
