"""The exchange pushes trader profiles through a signed connector API
(``X-HashDesk-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body">``)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.config import Settings
from hashdesk.core import audit
from hashdesk.core.signing import SIGNATURE_HEADER, request_message, sign, verify
from tests.conftest import connector_headers
from tests.tickets.test_api import assert_problem

PROFILE = {
    "email": "satoshi@example.com",
    "name": "Satoshi N.",
    "region": "jp",
    "language": "ja-JP",
    "vip_level": 2,
    "kyc_level": 3,
    "anti_phishing_code": "BLUE-FALCON",
}


def push(
    client: TestClient, settings: Settings, external_id: str, profile: Any, *,
    secret: str | None = None, timestamp: int | None = None,
) -> httpx.Response:  # fmt: skip
    body = json.dumps(profile).encode()
    message = request_message("PUT", f"/api/v1/connector/traders/{external_id}", body)
    signature = sign(secret or settings.connector_secret, message, timestamp)
    return client.put(f"/api/v1/connector/traders/{external_id}", content=body,
                      headers={SIGNATURE_HEADER: signature, "content-type": "application/json"})  # fmt: skip


def test_a_signed_push_creates_then_updates_a_trader(
    client: TestClient, session: Session, settings: Settings
) -> None:
    created = push(client, settings, "u-777", PROFILE)
    assert created.status_code == 200, created.text
    assert {k: created.json()[k] for k in ("external_id", "region", "language", "vip_level")} == {
        "external_id": "u-777", "region": "JP", "language": "ja", "vip_level": 2}  # fmt: skip
    assert "anti_phishing_code" not in created.json()  # a secret between trader and exchange

    updated = push(client, settings, "u-777", {**PROFILE, "vip_level": 4, "name": "Satoshi"})
    assert updated.status_code == 200 and updated.json()["id"] == created.json()["id"]

    trader = get_trader_by_external_id(session, "u-777")
    assert trader is not None
    assert (trader.vip_level, trader.anti_phishing_code) == (4, "BLUE-FALCON")
    changes = audit.list_entries(session, "trader", trader.id)
    assert [e.action for e in changes] == ["trader.created", "trader.updated"]
    assert changes[1].before is not None and changes[1].after is not None
    assert (changes[1].before["vip_level"], changes[1].after["vip_level"]) == (2, 4)


@pytest.mark.parametrize(
    "signing",
    [
        {"secret": "not-the-connector-secret"},
        {"timestamp": int(time.time()) - 600},  # replayed ten minutes later
        {"timestamp": int(time.time()) + 600},
    ],
)
def test_a_bad_or_stale_signature_is_401(
    client: TestClient, session: Session, settings: Settings, signing: dict[str, Any]
) -> None:
    assert_problem(push(client, settings, "u-1", PROFILE, **signing), 401)
    assert get_trader_by_external_id(session, "u-1") is None


def test_an_unsigned_or_tampered_push_is_401(client: TestClient, settings: Settings) -> None:
    body = json.dumps(PROFILE).encode()
    assert_problem(client.put("/api/v1/connector/traders/u-1", content=body), 401)
    signature = connector_headers(settings.connector_secret, "u-1", body)[SIGNATURE_HEADER]
    tampered = body.replace(b'"vip_level": 2', b'"vip_level": 9')
    assert_problem(client.put("/api/v1/connector/traders/u-1", content=tampered,
                              headers={SIGNATURE_HEADER: signature}), 401)  # fmt: skip
    garbage = client.put("/api/v1/connector/traders/u-1", content=body,
                         headers={SIGNATURE_HEADER: "t=abc,v1=zzz"})  # fmt: skip
    assert_problem(garbage, 401)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"vip_level": 12}, "vip_level"),
        ({"kyc_level": "gold"}, "kyc_level"),
        ({"region": "Europe/Berlin"}, "region"),
        ({"language": "klingon"}, "language"),
        ({"password": "hunter2"}, "password"),
    ],
)
def test_an_invalid_profile_is_422_naming_the_field(
    client: TestClient, session: Session, settings: Settings, change: dict[str, Any], field: str
) -> None:
    assert_problem(push(client, settings, "u-2", {**PROFILE, **change}), 422, field)
    assert get_trader_by_external_id(session, "u-2") is None


def test_a_signature_for_one_trader_cannot_be_replayed_for_another(
    client: TestClient, settings: Settings
) -> None:
    body = json.dumps(PROFILE).encode()
    signed_for_u1 = connector_headers(settings.connector_secret, "u-1", body)
    assert (
        client.put("/api/v1/connector/traders/u-1", content=body, headers=signed_for_u1).status_code
        == 200
    )
    replayed = client.put("/api/v1/connector/traders/u-2", content=body, headers=signed_for_u1)
    assert_problem(replayed, 401)


def test_a_signed_body_that_is_not_a_profile_is_422(client: TestClient, settings: Settings) -> None:
    body = b"not json at all"
    response = client.put("/api/v1/connector/traders/u-3", content=body,
                          headers=connector_headers(settings.connector_secret, "u-3", body))  # fmt: skip
    assert_problem(response, 422, "body")
    assert_problem(push(client, settings, "u-3", ["a", "list"]), 422)
    assert_problem(push(client, settings, "x" * 129, PROFILE), 422, "external_id")


def test_an_oversized_push_is_413(client: TestClient, settings: Settings) -> None:
    assert_problem(push(client, settings, "u-4", {**PROFILE, "name": "x" * 70_000}), 413)


def test_signatures_verify_within_the_tolerance_only() -> None:
    body = b'{"event": "ticket.created"}'
    assert verify("secret", sign("secret", body), body)
    assert not verify("secret", sign("other", body), body)
    assert not verify("secret", sign("secret", body, int(time.time()) - 301), body)
    assert not verify("secret", "v1=abc", body)
