"""The node's chat hub: one bus subscription, each event handed to the sockets following its
chat, on both bus backends."""

from __future__ import annotations

import asyncio
import json

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
        assert [delivery.event for delivery in got] == [{"chat": 1, "n": 1}, {"chat": 1, "n": 2}]
        # Both followers of chat 1 get the same delivery: its JSON text is made once for all.
        assert [await asyncio.wait_for(also_first.get(), 5) for _ in range(2)] == got
        assert [json.loads(delivery.text) for delivery in got] == [d.event for d in got]
        assert (await asyncio.wait_for(other.get(), 5)).event == {"chat": 2, "n": 1}
        hub.forget(1, first)
        hub.forget(1, also_first)
        await asyncio.to_thread(bus.publish, CHATS_CHANNEL, {"chat": 1, "n": 3})
        await asyncio.to_thread(bus.publish, CHATS_CHANNEL, {"chat": 2, "n": 2})
        assert (await asyncio.wait_for(other.get(), 5)).event == {"chat": 2, "n": 2}
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


async def _exercise_publish(bus: EventBus) -> None:
    """The hub's own publish: chat events of one call travel as one bundle, in order, and
    reach followers one by one; other channels get theirs as they are."""
    hub = ChatHub(bus)
    hub.start()
    try:
        one, two = await hub.listen(1), await hub.listen(2)
        async with bus.subscribe("elsewhere") as other_channel:
            await hub.publish([(CHATS_CHANNEL, {"chat": 1, "n": 1}), ("elsewhere", {"n": 0}),
                               (CHATS_CHANNEL, {"chat": 2, "n": 1}),
                               (CHATS_CHANNEL, {"chat": 1, "n": 2})])  # fmt: skip
            await hub.publish([(CHATS_CHANNEL, {"chat": 1, "n": 3})])
            assert await other_channel.get(timeout=5) == {"n": 0}
        got = [await asyncio.wait_for(one.get(), 5) for _ in range(3)]
        assert [delivery.event["n"] for delivery in got] == [1, 2, 3]
        assert (await asyncio.wait_for(two.get(), 5)).event == {"chat": 2, "n": 1}
    finally:
        await hub.stop()


def test_the_hub_publishes_batches_in_order_in_memory() -> None:
    asyncio.run(_exercise_publish(MemoryBus()))


def test_the_hub_publishes_batches_in_order_over_redis(redis_available: str) -> None:
    bus = RedisBus(redis_available, prefix="test-hub-publish:")
    try:
        asyncio.run(_exercise_publish(bus))
    finally:
        bus.close()
