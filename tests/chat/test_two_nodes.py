"""Two real ``hashdesk serve`` nodes on PostgreSQL and Redis: a trader on node A and an agent on
node B chat in real time; node A then dies, the trader reconnects to node B and resumes from
the last sequence number it saw, losing nothing and receiving nothing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import suppress
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import exchange_token
from tests.e2e.conftest import Node, ServedNode, nodes_database_url, nodes_redis_url, served_node
from tests.e2e.test_two_nodes import create_agent, push_trader, sign_in_agent

pytestmark = pytest.mark.multiprocess
__all__ = ["nodes_database_url", "nodes_redis_url", "served_node"]  # fixtures, used by name

FRAME_SECONDS = 15.0  # a hop takes milliseconds; the slack is for a loaded 2-core machine
Frame = dict[str, Any]


class Peer:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Frame] = []

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def expect(self, frame_type: str, **fields: Any) -> Frame:
        async with asyncio.timeout(FRAME_SECONDS):
            while True:
                frame: Frame = json.loads(await self.ws.recv())
                self.seen.append(frame)
                if frame.get("type") == frame_type and all(
                    frame.get(k) == v for k, v in fields.items()
                ):
                    return frame


def ws_url(node: Node) -> str:
    return node.url.replace("http://", "ws://") + "/api/v1/chat/ws"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_trader_on_node_a_and_agent_on_node_b_chat_and_the_trader_resumes_when_a_dies(
    served_node: ServedNode, nodes_database_url: str, nodes_redis_url: str
) -> None:
    node_a = served_node(nodes_database_url, nodes_redis_url)
    node_b = served_node(nodes_database_url, nodes_redis_url)
    external_id = f"u-{uuid.uuid4().hex[:8]}"
    await push_trader(node_a, external_id)
    agent_email = create_agent(nodes_database_url)
    async with httpx.AsyncClient(base_url=node_b.url) as console:
        await sign_in_agent(console, agent_email)
        cookie = f"hashdesk_session={console.cookies['hashdesk_session']}"

    token = exchange_token(node_a.settings, external_id)
    async with connect(ws_url(node_b), additional_headers={"Cookie": cookie}) as agent_ws:
        agent = Peer(agent_ws)
        await agent.send(type="hello")
        await agent.expect("welcome")
        await agent.send(type="presence", status="online")
        await agent.expect("presence")

        async with connect(ws_url(node_a)) as trader_ws:
            trader = Peer(trader_ws)
            await trader.send(type="hello", token=token)
            await trader.expect("welcome")
            await trader.send(type="start", text="My BTC deposit is missing", client_id="t1")
            chat = (await trader.expect("chat"))["chat"]

            offer = await agent.expect("offer", chat=chat)  # node A routed, via Redis
            assert offer["preview"][0]["text"] == "My BTC deposit is missing"
            await agent.send(type="accept", chat=chat)
            await agent.expect("message", chat=chat, seq=1)  # the agent's replay
            await agent.send(type="message", chat=chat, text="Which network?", client_id="a1")
            await agent.expect("ack", client_id="a1")

            reply = await trader.expect("message", chat=chat, text="Which network?")
            await trader.send(type="typing", chat=chat)
            await agent.expect("typing", chat=chat)
            await trader.send(type="message", chat=chat, text="Bitcoin", client_id="t2")
            answered = await agent.expect("message", chat=chat, text="Bitcoin")
            assert answered["seq"] > reply["seq"]
            last_seen = answered["seq"]
            await trader.expect("ack", client_id="t2", seq=last_seen)  # in place of an echo
            await asyncio.to_thread(node_a.stop)  # node A dies under the trader's socket
            with suppress(ConnectionClosed):
                async with asyncio.timeout(FRAME_SECONDS):
                    while True:
                        await trader_ws.recv()

        # While the trader is away, the agent writes twice.
        for n in (1, 2):
            await agent.send(type="message", chat=chat, text=f"update {n}", client_id=f"a-up{n}")
            await agent.expect("ack", client_id=f"a-up{n}")
        async with connect(ws_url(node_b)) as again_ws:
            again = Peer(again_ws)
            await again.send(type="hello", token=token)
            welcome = await again.expect("welcome")
            assert [c["chat"] for c in welcome["chats"]] == [chat]
            await again.send(type="resume", chat=chat, last_seq=last_seen)
            await again.expect("message", chat=chat, text="update 2")
            await agent.send(type="message", chat=chat, text="live again", client_id="a-live")
            await again.expect("message", chat=chat, text="live again")
            seqs = [f["seq"] for f in again.seen if f.get("type") == "message"]
            assert seqs == list(range(last_seen + 1, last_seen + 4)), seqs
