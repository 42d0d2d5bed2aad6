"""The exchange pushes deposit addresses and deposit/withdrawal records through the signed
connector API, as it pushes trader profiles."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import (
    find_deposit_addresses,
    find_transfers_by_tx,
    list_pending_transfers,
)
from hashdesk.config import Settings
from hashdesk.core.signing import SIGNATURE_HEADER, request_message, sign
from tests.conftest import make_trader

EVM_ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
TX = "0x" + "AB" * 32


def put(client: TestClient, settings: Settings, path: str, payload: Any,
        secret: str | None = None) -> httpx.Response:  # fmt: skip
    body = json.dumps(payload).encode()
    signature = sign(secret or settings.connector_secret, request_message("PUT", path, body))
    return client.put(path, content=body,
                      headers={SIGNATURE_HEADER: signature, "content-type": "application/json"})  # fmt: skip


def deposit(**changes: Any) -> dict[str, Any]:
    return {"trader": "u-1", "network": "ethereum", "asset": "USDT", "amount": "125.5",
            "address": EVM_ADDRESS, "tx_hash": TX, "status": "pending", "block_height": 19_000_000,
            "block_hash": "0x" + "cd" * 32, "occurred_at": "2026-11-27T10:00:00Z", **changes}  # fmt: skip


def test_deposit_addresses_are_replaced_as_a_whole(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-1")
    path = "/api/v1/connector/traders/u-1/deposit-addresses"
    first = put(client, settings, path, {"addresses": [
        {"network": "ethereum", "address": EVM_ADDRESS},
        {"network": "xrp", "address": "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh", "memo": "104"}]})  # fmt: skip
    assert first.status_code == 200, first.text
    assert [a["address"] for a in first.json()] == [EVM_ADDRESS.lower(),
                                                    "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh"]  # fmt: skip

    second = put(client, settings, path, {"addresses": [{"network": "ethereum",
                                                         "address": EVM_ADDRESS.lower()}]})  # fmt: skip
    assert second.status_code == 200 and len(second.json()) == 1
    assert [a.network for a in find_deposit_addresses(session, EVM_ADDRESS)] == ["ethereum"]


def test_an_address_of_another_trader_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-1")
    make_trader(session, "u-2")
    row = {"network": "ethereum", "address": EVM_ADDRESS}
    assert put(client, settings, "/api/v1/connector/traders/u-1/deposit-addresses",
               {"addresses": [row]}).status_code == 200  # fmt: skip
    taken = put(client, settings, "/api/v1/connector/traders/u-2/deposit-addresses",
                {"addresses": [row]})  # fmt: skip
    assert taken.status_code == 409 and "another trader" in taken.text
    twice = put(client, settings, "/api/v1/connector/traders/u-1/deposit-addresses",
                {"addresses": [row, row]})  # fmt: skip
    assert twice.status_code == 422 and "twice" in twice.text


def test_deposit_records_are_upserted_by_the_exchanges_id(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-1")
    created = put(client, settings, "/api/v1/connector/deposits/d-9", deposit())
    assert created.status_code == 200, created.text
    assert created.json()["tx_hash"] == TX.lower() and created.json()["amount"] == "125.5"
    assert [t.status for t in list_pending_transfers(session, "ethereum")] == ["pending"]

    done = put(client, settings, "/api/v1/connector/deposits/d-9", deposit(status="completed"))
    assert done.status_code == 200
    session.expire_all()
    (record,) = find_transfers_by_tx(session, TX)
    assert (record.kind, record.status, record.external_id) == ("deposit", "completed", "d-9")
    assert list_pending_transfers(session, "ethereum") == []

    withdrawal = put(client, settings, "/api/v1/connector/withdrawals/d-9", deposit())
    assert withdrawal.status_code == 200 and withdrawal.json()["kind"] == "withdrawal"


def test_bad_pushes_say_what_is_wrong(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-1")
    unsigned = client.put("/api/v1/connector/deposits/d-1", json=deposit())
    assert unsigned.status_code == 401
    wrong_secret = put(client, settings, "/api/v1/connector/deposits/d-1", deposit(), secret="x")
    assert wrong_secret.status_code == 401
    unknown = put(client, settings, "/api/v1/connector/deposits/d-1", deposit(trader="u-404"))
    assert unknown.status_code == 422 and "u-404" in unknown.text
    negative = put(client, settings, "/api/v1/connector/deposits/d-1", deposit(amount="-1"))
    assert negative.status_code == 422 and "amount" in negative.text
    naive = put(client, settings, "/api/v1/connector/deposits/d-1",
                deposit(occurred_at="2026-11-27T10:00:00"))  # fmt: skip
    assert naive.status_code == 422 and "occurred_at" in naive.text
    kind = put(client, settings, "/api/v1/connector/refunds/d-1", deposit())
    assert kind.status_code == 422
    no_trader = put(client, settings, "/api/v1/connector/traders/u-404/deposit-addresses",
                    {"addresses": []})  # fmt: skip
    assert no_trader.status_code == 422
