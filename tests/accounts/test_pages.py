"""Sign-in pages: the exchange's token, the demo picker, and the staff password form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.auth import Role
from tests.conftest import AGENT_PASSWORD, exchange_token, make_agent, make_trader

HTML = {"Accept": "text/html"}


def csrf_of(page: Response) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def test_sign_in_page_explains_the_exchange_sign_in(client: TestClient, session: Session) -> None:
    make_trader(session)
    page = client.get("/portal/sign-in")
    assert page.status_code == 200
    assert "sign-in token" in page.text
    assert 'data-testid="demo-picker"' not in page.text
    refused = client.post(
        "/portal/sign-in/demo", data={"trader_id": "1", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 404


def test_demo_picker_signs_a_trader_in(
    client: TestClient, session: Session, settings: Settings
) -> None:
    settings.demo_mode = True
    trader = make_trader(session, "u-7", name="Mei Chen", vip_level=3)
    page = client.get("/portal/sign-in")
    assert 'data-testid="demo-picker"' in page.text and "Mei Chen" in page.text
    without_token = client.post("/portal/sign-in/demo", data={"trader_id": str(trader.id)})
    assert without_token.status_code == 403
    signed = client.post(
        "/portal/sign-in/demo",
        data={"trader_id": str(trader.id), "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/portal"
    assert 'data-testid="signed-in-as">Mei Chen<' in client.get("/portal").text


def test_exchange_token_signs_the_trader_in(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session, "u-9", name="Ana Souza", language="pt")
    token = exchange_token(settings, trader.external_id)
    arrived = client.get(f"/auth/exchange?token={token}", follow_redirects=False)
    assert arrived.status_code == 303 and arrived.headers["location"] == "/portal"
    dashboard = client.get("/portal")
    assert dashboard.status_code == 200
    assert '<html lang="pt"' in dashboard.text  # the trader's own language

    sign_out = client.post(
        "/portal/sign-out", data={"csrf_token": csrf_of(dashboard)}, follow_redirects=False
    )
    assert sign_out.headers["location"] == "/"
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/sign-in"


def test_bad_exchange_token_is_refused(client: TestClient, settings: Settings) -> None:
    forged = exchange_token(settings, "u-1").rsplit(".", 1)[0] + ".forged"
    refused = client.get(f"/auth/exchange?token={forged}", headers=HTML)
    assert refused.status_code == 401
    assert "not valid" in refused.text
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/sign-in"


def test_exchange_token_for_a_new_trader_creates_the_profile(
    client: TestClient, settings: Settings
) -> None:
    token = exchange_token(settings, "new-1", email="new@example.com", name="New Person")
    assert client.get(f"/auth/exchange?token={token}", follow_redirects=False).status_code == 303
    assert "New Person" in client.get("/portal").text


def test_agent_signs_in_and_out(client: TestClient, session: Session) -> None:
    agent = make_agent(session, Role.TECHNICIAN)
    page = client.get("/console/login?next=/console/tickets/HD-AAAA-AAAA")
    assert page.status_code == 200
    token = csrf_of(page)
    wrong = client.post(
        "/console/login", data={"email": agent.email, "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401
    assert 'data-testid="login-error"' in wrong.text and "not right" in wrong.text
    assert f'value="{agent.email}"' in wrong.text

    signed = client.post(
        "/console/login",
        data={
            "email": agent.email.upper(),
            "password": AGENT_PASSWORD,
            "csrf_token": token,
            "next": "/console/tickets/HD-AAAA-AAAA",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/console/tickets/HD-AAAA-AAAA"
    console = client.get("/console")
    assert (
        console.status_code == 200
        and 'data-testid="signed-in-as">Technician Agent<' in console.text
    )

    out = client.post(
        "/console/logout", data={"csrf_token": csrf_of(console)}, follow_redirects=False
    )
    assert out.headers["location"] == "/console/login"
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_login_refuses_missing_csrf_and_foreign_next(client: TestClient, session: Session) -> None:
    agent = make_agent(session)
    client.get("/console/login")
    refused = client.post(
        "/console/login", data={"email": agent.email, "password": AGENT_PASSWORD}, headers=HTML
    )
    assert refused.status_code == 403
    token = csrf_of(client.get("/console/login"))
    signed = client.post(
        "/console/login",
        data={
            "email": agent.email,
            "password": AGENT_PASSWORD,
            "csrf_token": token,
            "next": "//evil.example.com/",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/console"


def test_logout_needs_the_csrf_token(client: TestClient, session: Session) -> None:
    agent = make_agent(session)
    token = csrf_of(client.get("/console/login"))
    client.post(
        "/console/login",
        data={"email": agent.email, "password": AGENT_PASSWORD, "csrf_token": token},
    )
    assert client.post("/console/logout", headers=HTML).status_code == 403
    assert client.get("/console").status_code == 200


def test_login_is_rate_limited(client: TestClient, session: Session) -> None:
    agent = make_agent(session)
    token = csrf_of(client.get("/console/login"))
    form = {"email": agent.email, "password": "wrong", "csrf_token": token}
    statuses = [client.post("/console/login", data=form).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    assert "Too many attempts" in client.post("/console/login", data=form).text
