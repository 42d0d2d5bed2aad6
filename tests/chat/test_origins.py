"""Embedding the widget on an exchange's own site: the sites listed in
HASHDESK_CHAT_ALLOWED_ORIGINS get CORS answers and may open the chat socket; other sites are
refused with a clear error; requests without an Origin (servers, plain script loads) pass."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from websockets.asyncio.client import connect

from hashdesk.chat.origins import normalize_origin
from hashdesk.config import Settings
from hashdesk.runtime import Runtime
from tests.chat.conftest import socket
from tests.e2e.conftest import ServedNode, nodes_database_url, nodes_redis_url, served_node

__all__ = ["nodes_database_url", "nodes_redis_url", "served_node"]  # fixtures, used by name

EXCHANGE = "https://exchange.example"
STRANGER = "https://phish.example"


@pytest.fixture
def embedded(runtime: Runtime) -> Runtime:
    runtime.settings.chat_allowed_origins = f"{EXCHANGE}, http://localhost:3000"
    return runtime


def test_origins_are_normalized_and_a_wrong_one_is_refused_at_start() -> None:
    assert normalize_origin("HTTPS://Exchange.example:443/") == EXCHANGE
    assert normalize_origin("http://localhost:3000") == "http://localhost:3000"
    settings = Settings(chat_allowed_origins=f"{EXCHANGE}/, http://a.example:8080")
    assert settings.chat_allowed_origins == "http://a.example:8080, https://exchange.example"
    with pytest.raises(ValidationError, match="is not an origin like"):
        Settings(chat_allowed_origins="exchange.example/support")


def test_a_listed_site_gets_cors_answers_with_credentials(
    client: TestClient, embedded: Runtime
) -> None:
    preflight = client.options("/api/v1/chat/chats/1/transcript", headers={
        "Origin": EXCHANGE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-chat-key"})  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == EXCHANGE
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "X-Chat-Key" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]

    script = client.get("/api/v1/chat/widget.js", headers={"Origin": EXCHANGE})
    assert script.status_code == 200
    assert script.headers["access-control-allow-origin"] == EXCHANGE
    assert "Origin" in script.headers["vary"]
    session = client.get("/api/v1/chat/widget-session", headers={"Origin": EXCHANGE})
    assert session.headers["access-control-allow-origin"] == EXCHANGE
    missing = client.get("/api/v1/chat/chats/99/attachments/1", headers={"Origin": EXCHANGE})
    assert missing.status_code in (401, 404)  # errors carry the headers too: readable there
    assert missing.headers["access-control-allow-origin"] == EXCHANGE


def test_another_site_is_refused_with_a_clear_error(client: TestClient, embedded: Runtime) -> None:
    preflight = {"Origin": STRANGER, "Access-Control-Request-Method": "GET"}
    refusals = [
        client.options("/api/v1/chat/widget-session", headers=preflight),
        client.get("/api/v1/chat/widget.js", headers={"Origin": STRANGER}),
        # A form post needs no preflight: refused all the same, before it changes anything.
        client.post("/api/v1/assistant/conversations", headers={"Origin": STRANGER},
                    content="message=hello"),
    ]  # fmt: skip
    for response in refusals:
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "origin_not_allowed"
        assert (
            STRANGER in problem["detail"] and "HASHDESK_CHAT_ALLOWED_ORIGINS" in problem["detail"]
        )
        assert "access-control-allow-origin" not in response.headers


def test_the_same_site_and_requests_without_origin_are_untouched(client: TestClient) -> None:
    # Default: this site only; a plain <script> load sends no Origin at all.
    assert client.get("/api/v1/chat/widget.js").status_code == 200
    same = client.get("/api/v1/chat/widget.js", headers={"Origin": "http://testserver"})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    assert client.get("/api/v1/chat/widget.js", headers={"Origin": EXCHANGE}).status_code == 403
    # Pages outside the widget's endpoints are none of this check's business.
    assert client.get("/healthz", headers={"Origin": STRANGER}).status_code == 200


def test_the_socket_admits_a_listed_site_and_refuses_others(
    client: TestClient, embedded: Runtime
) -> None:
    with socket(client, origin=EXCHANGE) as sock:
        sock.send(type="hello", guest_email="guest@example.com")
        assert sock.expect("welcome")["who"]["kind"] == "guest"
    with socket(client, origin=STRANGER) as sock:
        sock.send(type="hello", guest_email="guest@example.com")
        error = sock.expect("error")
        assert (error["code"], error["field"]) == ("permission_denied", "origin")
        assert STRANGER in error["message"]
        sock.send(type="start", text="hello")
        assert sock.expect("error")["code"] == "not_authenticated"  # never signed in
    with socket(client, origin="null") as sock:  # a sandboxed frame
        sock.send(type="hello", guest_email="guest@example.com")
        assert sock.expect("error")["field"] == "origin"
    with socket(client) as sock:  # an exchange's own client: no Origin
        sock.send(type="hello", guest_email="guest@example.com")
        sock.expect("welcome")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_served_node_answers_the_exchanges_site_and_refuses_another(
    served_node: ServedNode, nodes_database_url: str
) -> None:
    node = served_node(nodes_database_url, chat_allowed_origins=EXCHANGE)
    async with httpx.AsyncClient(base_url=node.url) as http:
        allowed = await http.options("/api/v1/chat/widget-session", headers={
            "Origin": EXCHANGE, "Access-Control-Request-Method": "GET"})  # fmt: skip
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == EXCHANGE
        refused = await http.get("/api/v1/chat/widget.js", headers={"Origin": STRANGER})
        assert refused.status_code == 403 and refused.json()["code"] == "origin_not_allowed"
    url = node.url.replace("http://", "ws://") + "/api/v1/chat/ws"
    for origin, expected in ((EXCHANGE, "welcome"), (STRANGER, "error")):
        async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "hello", "guest_email": "g@example.com"}))
            assert json.loads(await ws.recv())["type"] == expected
