"""Capacity across nodes: routing claims the chosen agent (a Redis key taken by a Lua script,
or a lock in memory for one process) and counts their chats again under the claim, so chats
routed at the same moment never put an agent over capacity."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import trader_principal
from hashdesk.chat.actions import Opening, do_start_chat
from hashdesk.chat.models import Chat
from hashdesk.chat.presence import AgentPresence, MemoryPresence, PresenceStore, RedisPresence
from hashdesk.runtime import Runtime
from tests.conftest import make_agent, make_trader

pytestmark = pytest.mark.timeout(120)
CAPACITY = 3
ROUTERS = 8


@pytest.fixture(params=["memory", "redis"])
def node_store(request: pytest.FixtureRequest, redis_url: str) -> Callable[[], PresenceStore]:
    """A presence store per node: one shared in memory (one process), or a Redis client per
    node on the same Redis."""
    if request.param == "memory":
        shared = MemoryPresence()
        return lambda: shared
    request.getfixturevalue("redis_available")
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"test-capacity-{os.getpid()}:"  # other test runs may share this Redis database
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    return lambda: RedisPresence(redis_url, prefix=prefix)


def test_a_claim_is_one_routers_until_given_back_or_timed_out(
    node_store: Callable[[], PresenceStore],
) -> None:
    one, other = node_store(), node_store()
    assert one.claim_agent(7, "router-a") and one.claim_agent(7, "router-a")  # re-entrant
    assert not other.claim_agent(7, "router-b")
    other.release_agent(7, "router-b")  # not the holder: changes nothing
    assert not other.claim_agent(7, "router-b")
    one.release_agent(7, "router-a")
    assert other.claim_agent(7, "router-b", ttl=0.2)
    assert not one.claim_agent(7, "router-a")
    time.sleep(0.3)  # the holder died: the claim ends with its time to live
    assert one.claim_agent(7, "router-a")


def test_routers_starting_chats_at_once_never_exceed_the_agents_capacity(
    runtime: Runtime, session: Session, node_store: Callable[[], PresenceStore]
) -> None:
    agent = make_agent(session)
    node_store().put(AgentPresence(agent.id, "online", CAPACITY, ["en"]))
    traders = [make_trader(session, f"u-{n}") for n in range(ROUTERS)]
    start = threading.Barrier(ROUTERS)
    failures: list[BaseException] = []

    def route(n: int) -> None:
        presence = node_store()  # each router is its own node
        try:
            with runtime.database.transaction() as own:
                trader = own.merge(traders[n])
                start.wait()
                do_start_chat(own, trader_principal(trader), trader,
                              Opening(text=f"question {n}"), presence, runtime.settings)  # fmt: skip
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=route, args=(n,)) for n in range(ROUTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    counts = dict(session.execute(select(Chat.status, func.count()).group_by(Chat.status)).all())
    assert counts == {"offered": CAPACITY, "queued": ROUTERS - CAPACITY}
    held = session.scalar(select(func.count()).where(Chat.agent_id == agent.id))
    assert held == CAPACITY
