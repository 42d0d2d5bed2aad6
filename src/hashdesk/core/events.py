"""The event bus: publish from any thread, subscribe from asyncio.

Two backends behind one small interface: ``MemoryBus`` (one process, the default) and
``RedisBus`` (pub/sub, when ``HASHDESK_REDIS_URL`` is set, so several ``hashdesk serve``
processes act as one). ``tests/core/test_events.py`` runs one contract suite over both.

Publish only after commit: domain actions call ``publish_on_commit``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
from sqlalchemy.orm import Session

from hashdesk.core.db import on_commit

Message = dict[str, Any]

# Bounds connecting and also closing: an asyncio client without it can wait forever in
# ``aclose()`` for a socket to finish closing (redis-py issue 3941), and a node shutting down
# hung there once.
CONNECT_SECONDS = 5.0


class Subscription(Protocol):
    async def get(self, timeout: float) -> Message | None:
        """The next message, or None when ``timeout`` seconds pass without one."""
        ...


class EventBus(Protocol):
    def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(self, *channels: str) -> Any:
        """An async context manager yielding a ``Subscription`` to ``channels``."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()

    def deliver(self, message: Message) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, message)

    async def get(self, timeout: float) -> Message | None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as a message does, and the cancelled reader (a node shutting down) read on.
        try:
            async with asyncio.timeout(timeout):
                return await self.queue.get()
        except TimeoutError:
            return None


class MemoryBus:
    """In-process pub/sub; publishers may be worker threads, subscribers live on the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[_QueueSubscription]] = {}

    def publish(self, channel: str, message: Message) -> None:
        # A JSON round trip gives subscribers the same shapes the Redis backend gives them.
        payload = json.loads(json.dumps(message, default=str))
        with self._lock:
            targets = list(self._subscribers.get(channel, ()))
        for subscription in targets:
            subscription.deliver(payload)

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription()
        with self._lock:
            for channel in channels:
                self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                for channel in channels:
                    self._subscribers.get(channel, set()).discard(subscription)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()


class _RedisSubscription:
    def __init__(self, pubsub: aioredis.client.PubSub) -> None:
        self.pubsub = pubsub
        self._early: deque[Message] = deque()

    async def wait_until_subscribed(self, channels: int, timeout: float = 5.0) -> None:
        """Return once Redis confirmed every channel: SUBSCRIBE is only sent, not awaited, so
        without this a message published right after ``subscribe()`` could be missed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        confirmed = 0
        while confirmed < channels and (remaining := deadline - loop.time()) > 0:
            raw = await self.pubsub.get_message(timeout=remaining)
            if raw is None:
                continue
            if raw.get("type") == "subscribe":
                confirmed += 1
            elif raw.get("type") == "message":
                self._early.append(json.loads(raw["data"]))

    async def get(self, timeout: float) -> Message | None:
        if self._early:
            return self._early.popleft()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            raw = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if raw is not None and raw.get("type") == "message":
                decoded: Message = json.loads(raw["data"])
                return decoded
        return None


class RedisBus:
    """Redis pub/sub: every process that subscribes to a channel sees every message on it."""

    def __init__(self, url: str, prefix: str = "hashdesk:") -> None:
        self.url = url
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=CONNECT_SECONDS
        )

    def async_client(self) -> aioredis.Redis:
        """A client for the caller's event loop, bounded when it connects and closes."""
        return aioredis.Redis.from_url(self.url, socket_connect_timeout=CONNECT_SECONDS)

    def publish(self, channel: str, message: Message) -> None:
        self._client.publish(self.prefix + channel, json.dumps(message, default=str))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[_RedisSubscription]:
        client = self.async_client()
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(*(self.prefix + channel for channel in channels))
            subscription = _RedisSubscription(pubsub)
            await subscription.wait_until_subscribed(len(set(channels)))
            yield subscription
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._client.close()


def make_bus(redis_url: str | None, prefix: str = "hashdesk:") -> EventBus:
    return RedisBus(redis_url, prefix) if redis_url else MemoryBus()


def publish_on_commit(session: Session, channel: str, message: Message) -> None:
    """Publish ``message`` on ``channel`` when (and only if) the session commits."""
    bus: EventBus | None = session.info.get("bus")
    if bus is None:
        return
    on_commit(session, lambda: bus.publish(channel, message))
