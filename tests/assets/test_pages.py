"""The console's lookup page: a search box answered as the agent types."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.core.auth import Role
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader


def test_only_staff_reach_the_page(registry: Runtime, client: TestClient, session: Session) -> None:
    response = client.get("/console/assets", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login")
    login_trader(client, registry.settings, make_trader(session))
    assert client.get("/console/assets", follow_redirects=False).status_code == 303
    assert client.get("/console/assets/results", params={"q": "usdt"}).status_code == 403


def test_the_page_searches_without_and_with_javascript(registry: Runtime, client: TestClient,
                                                       session: Session) -> None:  # fmt: skip
    login_agent(client, make_agent(session, Role.FRONTLINE))
    page = client.get("/console/assets")
    assert page.status_code == 200
    assert 'data-testid="asset-search"' in page.text and 'data-testid="nav-assets"' in page.text
    assert "/console/assets/static/lookup.js" in page.text
    results = client.get("/console/assets", params={"q": "usdt trc20"}).text
    assert 'data-network="tron"' in results and "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" in results
    assert 'data-network="ethereum"' not in results
    fragment = client.get(
        "/console/assets/results", params={"q": "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh"}
    ).text
    assert "<html" not in fragment
    assert 'data-testid="hit-network">XRP Ledger' in fragment and "tag required" in fragment
    empty = client.get("/console/assets/results", params={"q": "<script>alert(1)</script>"}).text
    assert "&lt;script&gt;" in empty and "<script>alert" not in empty
    script = client.get("/console/assets/static/lookup.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert client.get("/console/assets/static/secret.py").status_code == 404
