"""Several ``hashdesk serve`` processes sharing PostgreSQL and Redis act as one.

Two real nodes, A and B. The exchange pushes a trader to A; the trader signs in on B, opens a
ticket and keeps the live stream of their dashboard open on B; an agent signed in on A replies
and hands the ticket to the blockchain technicians. Both events reach the trader on B through
Redis. Without Redis (the in-process bus) they do not, which is why several nodes need it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import pytest

from hashdesk.accounts.models import Agent
from hashdesk.config import Settings
from hashdesk.core.auth import Role
from hashdesk.core.db import Database
from tests.conftest import AGENT_PASSWORD, connector_headers, exchange_token, free_port, make_agent
from tests.e2e.conftest import Node, ServedNode

pytestmark = pytest.mark.multiprocess

EVENT_SECONDS = 15.0  # a hop takes milliseconds; the slack is for a loaded 2-core CI machine
CONNECT_SECONDS = 15.0  # a node's first stream on a busy machine: sign-in check, subscribe
SILENCE_SECONDS = 1.0  # how long node B must stay quiet once node A has heard the event
OUTBOX_TICKETS = 10  # opened alternately on both nodes, so both workers find mail to send

Event = dict[str, Any]


# --- the people: the exchange's connector, a trader, an agent --------------------------------


async def push_trader(node: Node, external_id: str) -> None:
    """The exchange's connector call: a signed PUT of the trader's profile."""
    body = json.dumps({"email": f"{external_id}@example.com", "name": "Satoshi Trader",
                       "region": "EU", "language": "en", "vip_level": 1}).encode()  # fmt: skip
    headers = connector_headers(node.settings.connector_secret, external_id, body)
    async with httpx.AsyncClient(base_url=node.url) as connector:
        response = await connector.put(f"/api/v1/connector/traders/{external_id}", content=body,
                                       headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text


async def sign_in_trader(client: httpx.AsyncClient, node: Node, external_id: str) -> None:
    token = exchange_token(node.settings, external_id)
    response = await client.post("/api/v1/auth/trader-token", json={"token": token})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]


async def sign_in_agent(client: httpx.AsyncClient, agent_email: str) -> None:
    response = await client.post("/api/v1/auth/login",
                                 json={"email": agent_email, "password": AGENT_PASSWORD})  # fmt: skip
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]


def create_agent(database_url: str) -> str:
    """A frontline agent with a unique email (the nodes' database lives for the session)."""
    database = Database(database_url)
    try:
        with database.session() as session:
            agent: Agent = make_agent(session, Role.FRONTLINE,
                                      email=f"agent-{uuid.uuid4().hex[:8]}@desk.example.com")  # fmt: skip
            return agent.email
    finally:
        database.dispose()


async def open_ticket(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/tickets", json={
        "category": "login_2fa", "subject": "Cannot log in after changing my phone",
        "description": "I lost my authenticator app when I changed phones.",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["department"] == "frontline"
    return str(response.json()["tracking_id"])


# --- a live dashboard: the server-sent event stream, read as the page reads it --------------


class EventStream:
    """Events of one open ``/api/v1/stream``, parsed from the text/event-stream."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.connected = asyncio.Event()

    async def read(self, response: httpx.Response) -> None:
        data: list[str] = []
        async for line in response.aiter_lines():
            if line == ": connected":  # sent once the node has subscribed on the bus
                self.connected.set()
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").strip())
            elif not line and data:
                await self.events.put(json.loads("\n".join(data)))
                data = []

    async def expect(self, tracking_id: str, event_type: str, timeout: float) -> Event:
        """The first event of ``event_type`` about ``tracking_id``; fails after ``timeout``.
        Other events are skipped: another run on the same Redis may share channel names."""
        skipped: list[Event] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await self.events.get()
                    if event.get("tracking_id") == tracking_id and event.get("type") == event_type:
                        return event
                    skipped.append(event)
        except TimeoutError:
            pytest.fail(f"no {event_type} about {tracking_id} within {timeout}s; heard {skipped}")

    async def about(self, tracking_id: str, within: float) -> list[Event]:
        """Every event about ``tracking_id`` heard in the next ``within`` seconds."""
        heard: list[Event] = []
        with suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    event = await self.events.get()
                    if event.get("tracking_id") == tracking_id:
                        heard.append(event)
        return heard


@asynccontextmanager
async def live_stream(client: httpx.AsyncClient) -> AsyncIterator[EventStream]:
    """Open the client's live stream; yields once the node listens, closes it on exit."""
    stream = EventStream()

    async def run() -> None:
        async with client.stream("GET", "/api/v1/stream") as response:
            assert response.status_code == 200, await response.aread()
            await stream.read(response)

    reader = asyncio.create_task(run())
    connected = asyncio.create_task(stream.connected.wait())
    await asyncio.wait({reader, connected}, timeout=CONNECT_SECONDS,
                       return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    try:
        if reader.done():
            reader.result()  # the stream failed: raise why
        assert stream.connected.is_set(), "the stream did not start"
        yield stream
    finally:
        for task in (reader, connected):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def clients(*nodes: Node) -> list[httpx.AsyncClient]:
    # read=None: a live stream is silent between events and heartbeats.
    timeout = httpx.Timeout(10.0, read=None)
    return [httpx.AsyncClient(base_url=node.url, timeout=timeout) for node in nodes]


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # the stream reader uses asyncio itself; not every backend anyio knows


@pytest.mark.anyio
async def test_agent_reply_on_one_node_reaches_the_trader_dashboard_on_the_other(
    served_node: ServedNode, nodes_database_url: str, nodes_redis_url: str
) -> None:
    node_a = served_node(nodes_database_url, nodes_redis_url)
    node_b = served_node(nodes_database_url, nodes_redis_url)
    external_id = f"u-{uuid.uuid4().hex[:8]}"
    agent_email = create_agent(nodes_database_url)
    await push_trader(node_a, external_id)

    trader, agent = clients(node_b, node_a)
    async with trader, agent:
        await sign_in_trader(trader, node_b, external_id)
        tracking_id = await open_ticket(trader)
        async with live_stream(trader) as dashboard:
            await sign_in_agent(agent, agent_email)
            reply = await agent.post(f"/api/v1/tickets/{tracking_id}/messages",
                                     json={"body": "We reset your 2FA; please sign in again."})  # fmt: skip
            assert reply.status_code == 201, reply.text
            replied = await dashboard.expect(tracking_id, "ticket.replied", EVENT_SECONDS)
            handoff = await agent.post(f"/api/v1/tickets/{tracking_id}/handoff", json={
                "department": "blockchain", "note": "Internal: check the withdrawal lock."})  # fmt: skip
            assert handoff.status_code == 200, handoff.text
            handed = await dashboard.expect(tracking_id, "ticket.handed_off", EVENT_SECONDS)

        assert replied["status"] == "open"
        assert (handed["department"], handed["status"]) == ("blockchain", "escalated")
        seen = (await trader.get(f"/api/v1/tickets/{tracking_id}")).json()
    messages = [e["body"] for e in seen["entries"] if e["kind"] == "message"]
    assert messages == ["We reset your 2FA; please sign in again."]
    assert seen["department"] == "blockchain"
    assert all("withdrawal lock" not in e["body"] for e in seen["entries"])  # internal note


@pytest.mark.anyio
async def test_without_redis_nodes_do_not_hear_each_other(
    served_node: ServedNode, nodes_database_url: str
) -> None:
    """The in-process bus reaches only the pages served by the node where the change
    happened: node B's dashboard stays silent, so several nodes need HASHDESK_REDIS_URL."""
    node_a = served_node(nodes_database_url)
    node_b = served_node(nodes_database_url)
    external_id = f"u-{uuid.uuid4().hex[:8]}"
    agent_email = create_agent(nodes_database_url)
    await push_trader(node_a, external_id)

    trader_b, trader_a, agent = clients(node_b, node_a, node_a)
    async with trader_b, trader_a, agent:
        await sign_in_trader(trader_b, node_b, external_id)
        tracking_id = await open_ticket(trader_b)
        trader_a.cookies = trader_b.cookies  # one trader, two tabs; the nodes share the key
        async with live_stream(trader_b) as on_b, live_stream(trader_a) as on_a:
            await sign_in_agent(agent, agent_email)
            reply = await agent.post(f"/api/v1/tickets/{tracking_id}/messages",
                                     json={"body": "Looking into it."})  # fmt: skip
            assert reply.status_code == 201, reply.text
            await on_a.expect(tracking_id, "ticket.replied", EVENT_SECONDS)
            assert await on_b.about(tracking_id, within=SILENCE_SECONDS) == []
        # The reply is stored, shared through PostgreSQL: only the live push is missing.
        seen = (await trader_b.get(f"/api/v1/tickets/{tracking_id}")).json()
    assert [e["body"] for e in seen["entries"] if e["kind"] == "message"] == ["Looking into it."]


def test_healthz_reports_the_database_and_redis(
    served_node: ServedNode, nodes_database_url: str, nodes_redis_url: str
) -> None:
    node = served_node(nodes_database_url, nodes_redis_url)
    answer = httpx.get(f"{node.url}/healthz", timeout=5)
    assert answer.status_code == 200
    assert answer.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_reports_an_unreachable_redis(
    served_node: ServedNode, nodes_database_url: str
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    node = served_node(nodes_database_url, dead_redis, expect_healthy=False)
    answer = httpx.get(f"{node.url}/healthz", timeout=15)
    assert answer.status_code == 503
    assert answer.json()["status"] == "degraded"
    assert answer.json()["checks"]["database"] == "ok"
    assert answer.json()["checks"]["redis"].startswith("error")


@pytest.mark.anyio
async def test_outbox_workers_on_two_nodes_send_each_email_once(
    served_node: ServedNode, nodes_database_url: str, smtp_server: Any, settings: Settings
) -> None:
    """Both nodes run the outbox worker against one outbox; each email still leaves once."""
    # smtp_server listens on a free port and writes it into the suite's settings.
    mail = {"email_enabled": "true", "smtp_port": str(settings.smtp_port)}
    node_a = served_node(nodes_database_url, **mail)
    node_b = served_node(nodes_database_url, **mail)
    external_id = f"u-{uuid.uuid4().hex[:8]}"
    await push_trader(node_a, external_id)

    on_a, on_b = clients(node_a, node_b)
    async with on_a, on_b:
        await sign_in_trader(on_b, node_b, external_id)
        on_a.cookies, on_a.headers = on_b.cookies, on_b.headers  # the session works on both
        opened = [await open_ticket(client) for client in [on_a, on_b] * (OUTBOX_TICKETS // 2)]

    def subjects() -> list[str]:
        mine = [m for m in smtp_server.messages if m["To"] == f"{external_id}@example.com"]
        return sorted(str(m["Subject"]) for m in mine)

    async with asyncio.timeout(EVENT_SECONDS * 2):
        while len(subjects()) < len(opened):
            await asyncio.sleep(0.1)
    await asyncio.sleep(SILENCE_SECONDS)  # time for a second, duplicate send to show up
    assert subjects() == sorted(f"[{t}] We received your request" for t in opened)
