"""One bus subscription per node for every chat's events, fanned out in-process.

A socket follows a chat by registering a queue here, not by opening a subscription of its
own: with Redis that would be one pub/sub connection per followed chat (hundreds per node,
each parsed on its own), measured as the main cost of delivery (bench/RESULTS.md). Every node
hears every chat's events on ``CHATS_CHANNEL`` and keeps those its sockets follow.

The hub also publishes for the gateway (``publish``): on the event loop, through redis.asyncio,
each batch of events in one pipeline, in the order given — not through the bus's blocking
client in a worker thread, a thread hop and a round trip per event (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import orjson
import redis.asyncio as aioredis

from hashdesk.core.events import EventBus, RedisBus

log = logging.getLogger(__name__)
CHATS_CHANNEL = "chats"
RESUBSCRIBE_SECONDS = 1.0
# Several chat events in one bus message: every node parses one Redis message per batch
# instead of one per event (measured as the hub's main cost, bench/RESULTS.md).
BUNDLE = "bundle"

Event = dict[str, Any]


def dumps(frame: Event) -> str:
    """A frame's JSON text, as every chat socket sends it (orjson: the stdlib encoder was a
    visible share of the event loop's time; datetimes as ``str()`` gives them, as before)."""
    return orjson.dumps(frame, default=str, option=_DUMPS_OPTIONS).decode()


_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class Delivery:
    """One chat event as the followers get it: the event, and its JSON text, made once for
    every socket that sends it rather than once per socket."""

    __slots__ = ("_text", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = dumps(self.event)
        return self._text


class ChatHub:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.listeners: dict[int, set[asyncio.Queue[Delivery]]] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._redis: aioredis.Redis | None = None
        self._publishing = asyncio.Lock()
        self.on_stop: list[Callable[[], Awaitable[None]]] = []  # e.g. the message writer

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run())
        if isinstance(self.bus, RedisBus):
            self._redis = self.bus.async_client()

    def on_its_loop(self) -> bool:
        """False on another event loop serving the same app (two test clients do that)."""
        return asyncio.get_running_loop() is getattr(self, "loop", None)

    async def stop(self) -> None:
        for stop in self.on_stop:
            with suppress(Exception):
                await stop()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self._redis is not None:
            await self._redis.aclose()

    def _publish_each(self, events: list[tuple[str, Event]]) -> None:
        for channel, event in events:
            self.bus.publish(channel, event)

    async def publish(self, events: list[tuple[str, Event]]) -> None:
        """Publish ``(channel, event)`` pairs in order (one Redis pipeline; callers that
        publish one after another keep their order too: one batch at a time)."""
        if not events:
            return
        if not isinstance(self.bus, RedisBus):
            for channel, event in events:
                self.bus.publish(channel, event)  # in memory: no I/O
            return
        if self._redis is None or not self.on_its_loop():
            # The async client belongs to the hub's loop: elsewhere, the bus's own client.
            await asyncio.to_thread(self._publish_each, events)
            return
        async with self._publishing:
            pipe = self._redis.pipeline(transaction=False)
            for channel, payload in _bundled(events):
                pipe.publish(self.bus.prefix + channel, dumps(payload))
            await pipe.execute()

    async def listen(self, chat_id: int) -> asyncio.Queue[Delivery]:
        """A queue of the chat's events from now on (returns once the hub is subscribed, so
        an event published after this returns is never missed)."""
        await self.ready.wait()
        queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self.listeners.setdefault(chat_id, set()).add(queue)
        return queue

    def forget(self, chat_id: int, queue: asyncio.Queue[Delivery]) -> None:
        queues = self.listeners.get(chat_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self.listeners[chat_id]

    async def _run(self) -> None:
        while True:
            try:
                async with self.bus.subscribe(CHATS_CHANNEL) as subscription:
                    self.ready.set()
                    while True:
                        event = await subscription.get(timeout=30.0)
                        if event is not None:
                            self._deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: followers catch up from the database meanwhile.
                self.ready.clear()
                log.exception("chat hub subscription failed; subscribing again")
                await asyncio.sleep(RESUBSCRIBE_SECONDS)

    def _deliver(self, event: Event) -> None:
        if event.get("type") == BUNDLE:
            for one in event.get("events", ()):
                self._deliver(one)
            return
        chat_id = event.get("chat")
        queues = self.listeners.get(chat_id) if isinstance(chat_id, int) else None
        if queues:
            delivery = Delivery(event)
            for queue in list(queues):
                queue.put_nowait(delivery)


def _bundled(events: list[tuple[str, Event]]) -> list[tuple[str, Event]]:
    """The chat events of ``events`` as one bundle (in order, where the first one was), the
    others as they are."""
    chat_events = [event for channel, event in events if channel == CHATS_CHANNEL]
    if len(chat_events) < 2:
        return events
    out: list[tuple[str, Event]] = []
    for channel, event in events:
        if channel != CHATS_CHANNEL:
            out.append((channel, event))
        elif chat_events:
            out.append((CHATS_CHANNEL, {"type": BUNDLE, "events": chat_events}))
            chat_events = []
    return out
