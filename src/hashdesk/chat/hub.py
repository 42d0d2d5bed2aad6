"""One bus subscription per node for every chat's events, fanned out in-process.

A socket follows a chat by registering a queue here, not by opening a subscription of its
own: with Redis that would be one pub/sub connection per followed chat (hundreds per node,
each parsed on its own), measured as the main cost of delivery (bench/RESULTS.md). Every node
hears every chat's events on ``CHATS_CHANNEL`` and keeps those its sockets follow.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from hashdesk.core.events import EventBus

log = logging.getLogger(__name__)
CHATS_CHANNEL = "chats"
RESUBSCRIBE_SECONDS = 1.0

Event = dict[str, Any]


class ChatHub:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.listeners: dict[int, set[asyncio.Queue[Event]]] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def listen(self, chat_id: int) -> asyncio.Queue[Event]:
        """A queue of the chat's events from now on (returns once the hub is subscribed, so
        an event published after this returns is never missed)."""
        await self.ready.wait()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self.listeners.setdefault(chat_id, set()).add(queue)
        return queue

    def forget(self, chat_id: int, queue: asyncio.Queue[Event]) -> None:
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
        chat_id = event.get("chat")
        for queue in list(self.listeners.get(chat_id, ()) if isinstance(chat_id, int) else ()):
            queue.put_nowait(event)
