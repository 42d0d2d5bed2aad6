"""The node's chat hub: one bus subscription, each event handed to the sockets following its
chat, on both bus backends."""

from __future__ import annotations

import asyncio

import pytest

from hashdesk.chat.hub import CHATS_CHANNEL, ChatHub
from hashdesk.core.events import EventBus, MemoryBus, RedisBus

pytestmark = pytest.mark.timeout(60)


async def _exercise(bus: EventBus) -> None:
    hub = ChatHub(bus)
    hub.start()
    try:
        first = await hub.listen(1)
        also_first = await hub.listen(1)
        other = await hub.listen(2)
        for chat, n in ((1, 1), (2, 1), (1, 2), (3, 1)):
            await asyncio.to_thread(bus.publish, CHATS_CHANNEL, {"chat": chat, "n": n})
        got = [await asyncio.wait_for(first.get(), 5) for _ in range(2)]
        assert got == [{"chat": 1, "n": 1}, {"chat": 1, "n": 2}]
        assert [await asyncio.wait_for(also_first.get(), 5) for _ in range(2)] == got
        assert await asyncio.wait_for(other.get(), 5) == {"chat": 2, "n": 1}
        hub.forget(1, first)
        hub.forget(1, also_first)
        await asyncio.to_thread(bus.publish, CHATS_CHANNEL, {"chat": 1, "n": 3})
        await asyncio.to_thread(bus.publish, CHATS_CHANNEL, {"chat": 2, "n": 2})
        assert await asyncio.wait_for(other.get(), 5) == {"chat": 2, "n": 2}
        assert first.empty() and 1 not in hub.listeners
    finally:
        await hub.stop()


def test_the_hub_hands_each_event_to_the_followers_of_its_chat_only() -> None:
    asyncio.run(_exercise(MemoryBus()))


def test_the_hub_works_the_same_over_redis(redis_available: str) -> None:
    bus = RedisBus(redis_available, prefix="test-hub:")
    try:
        asyncio.run(_exercise(bus))
    finally:
        bus.close()
