"""Signing in: agents with a password (argon2, session cookie, CSRF), traders with a token
the exchange issued (HS256 JWT), both rate limited."""

from __future__ import annotations

import time

import httpx
import jwt
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent
from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.config import Settings
from hashdesk.core import audit
from hashdesk.core.auth import ROLE_PERMISSIONS, Permission, Role, verify_password
from tests.conftest import AGENT_PASSWORD, exchange_token, login_agent, make_agent, make_trader
from tests.tickets.test_api import assert_problem


def trader_sign_in(client: TestClient, token: str) -> httpx.Response:
    return client.post("/api/v1/auth/trader-token", json={"token": token})


# --- agents ------------------------------------------------------------------------------------


def test_an_agent_signs_in_and_out(client: TestClient, session: Session) -> None:
    agent = make_agent(session, Role.TECHNICIAN)
    assert agent.password_hash.startswith("$argon2")
    assert verify_password(agent.password_hash, AGENT_PASSWORD)

    signed_in = client.post("/api/v1/auth/login",
                            json={"email": agent.email.upper(), "password": AGENT_PASSWORD})  # fmt: skip
    assert signed_in.status_code == 200, signed_in.text
    assert (signed_in.json()["kind"], signed_in.json()["role"]) == ("agent", "technician")
    client.headers["X-CSRF-Token"] = signed_in.json()["csrf_token"]
    assert client.get("/api/v1/auth/session").json()["id"] == agent.id

    assert client.post("/api/v1/auth/logout").status_code == 204
    assert_problem(client.get("/api/v1/auth/session"), 401)


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session)
    wrong = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "guess"})
    unknown = client.post("/api/v1/auth/login",
                          json={"email": "nobody@desk.example.com", "password": "guess"})  # fmt: skip
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]


def test_a_deactivated_agent_cannot_sign_in_and_loses_their_session(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session)
    login_agent(client, agent)
    session.get_one(Agent, agent.id).active = False
    session.commit()
    assert_problem(client.get("/api/v1/tickets"), 401)
    assert_problem(client.post("/api/v1/auth/login",
                               json={"email": agent.email, "password": AGENT_PASSWORD}), 401)  # fmt: skip


def test_each_sign_in_gets_a_fresh_csrf_token(client: TestClient, session: Session) -> None:
    agent = make_agent(session)
    first = login_agent(client, agent)
    second = login_agent(client, agent)
    assert first != second


def test_password_guessing_is_rate_limited_with_retry_after(
    client: TestClient, session: Session
) -> None:
    agent = make_agent(session)
    attempts = [
        client.post("/api/v1/auth/login", json={"email": agent.email, "password": "guess"})
        for _ in range(11)
    ]
    assert [a.status_code for a in attempts] == [401] * 10 + [429]
    assert 0 < int(attempts[-1].headers["Retry-After"]) <= 300
    assert_problem(attempts[-1], 429)
    # Locked even with the right password until the window passes.
    right = client.post(
        "/api/v1/auth/login", json={"email": agent.email, "password": AGENT_PASSWORD}
    )
    assert_problem(right, 429)


def test_roles_grant_what_their_work_needs() -> None:
    assert Permission.REPLY not in ROLE_PERMISSIONS[Role.COMMUNITY]
    assert Permission.VIEW_SECURITY_TICKETS not in ROLE_PERMISSIONS[Role.FRONTLINE]
    assert Permission.VIEW_SECURITY_TICKETS in ROLE_PERMISSIONS[Role.SECURITY]
    assert Permission.MANAGE_STAFF in ROLE_PERMISSIONS[Role.ADMIN]
    assert Permission.MANAGE_STAFF not in ROLE_PERMISSIONS[Role.LEAD]


# --- traders -----------------------------------------------------------------------------------


def test_a_known_trader_signs_in_with_the_exchanges_token(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session, "u-42", name="Ada")
    response = trader_sign_in(client, exchange_token(settings, "u-42"))
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "trader" and response.json()["id"] == trader.id
    assert client.get("/api/v1/auth/session").json()["name"] == "Ada"


def test_an_expired_token_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-42")
    token = exchange_token(settings, "u-42", exp=int(time.time()) - 60)
    assert "expired" in assert_problem(trader_sign_in(client, token), 401)["detail"]


def test_a_token_signed_with_another_key_or_issuer_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-42")
    forged = jwt.encode({"sub": "u-42", "iss": settings.exchange_jwt_issuer,
                         "exp": int(time.time()) + 600}, "someone-elses-key-of-32-bytes-at-least",
                        algorithm="HS256")  # fmt: skip
    assert_problem(trader_sign_in(client, forged), 401)
    other_issuer = exchange_token(settings, "u-42", iss="another-exchange")
    assert_problem(trader_sign_in(client, other_issuer), 401)
    assert_problem(trader_sign_in(client, "not.a.jwt"), 401)
    unsigned = jwt.encode({"sub": "u-42", "iss": settings.exchange_jwt_issuer,
                           "exp": int(time.time()) + 600}, None, algorithm="none")  # fmt: skip
    assert_problem(trader_sign_in(client, unsigned), 401)


def test_an_unknown_trader_whose_token_carries_an_email_is_created_from_its_claims(
    client: TestClient, session: Session, settings: Settings
) -> None:
    token = exchange_token(settings, "u-new", email="new@example.com", language="pt-BR",
                           vip_level=1, role="admin")  # fmt: skip
    response = trader_sign_in(client, token)
    assert response.status_code == 200, response.text

    trader = get_trader_by_external_id(session, "u-new")
    assert trader is not None
    assert (trader.email, trader.language, trader.vip_level) == ("new@example.com", "pt", 1)
    assert [e.action for e in audit.list_entries(session, "trader", trader.id)] == [
        "trader.created"
    ]


def test_an_unknown_trader_without_an_email_claim_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    assert_problem(trader_sign_in(client, exchange_token(settings, "u-ghost")), 401)
    bad_claims = exchange_token(settings, "u-ghost", email="x@example.com", vip_level=99)
    assert_problem(trader_sign_in(client, bad_claims), 401)
    assert get_trader_by_external_id(session, "u-ghost") is None


def test_a_bearer_token_for_an_unknown_trader_is_401(
    client: TestClient, settings: Settings
) -> None:
    headers = {"Authorization": f"Bearer {exchange_token(settings, 'u-ghost')}"}
    assert_problem(client.get("/api/v1/tickets", headers=headers), 401)
