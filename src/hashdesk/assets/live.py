"""The lookup index of a running process, kept current from the event bus.

Every process builds its index from the database on first use and subscribes to the
``assets`` channel. A change committed in this process marks the index stale at once (the
next lookup rebuilds it first, so an admin sees their own edit); a change announced by
another node is rebuilt in the listener's thread, so lookups there never wait. After a gap
in the subscription (Redis restarted) the index is rebuilt, as events may have been missed.
Every ``VERIFY_SECONDS`` the listener also compares a fingerprint of the tables (row counts,
latest change) with the index's: a change from a process that shares no bus with this one
(``hashdesk assets import`` without Redis) shows up within that time.

Rebuilding reads the registry in three queries and swaps the new index in whole.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from hashdesk.assets.index import RegistryIndex
from hashdesk.assets.queries import load_snapshot, registry_fingerprint
from hashdesk.core.db import Database
from hashdesk.core.events import EventBus
from hashdesk.core.per_runtime import PerRuntime

if TYPE_CHECKING:
    from hashdesk.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "assets"
POLL_SECONDS = 0.5
RETRY_SECONDS = 2.0
VERIFY_SECONDS = 30.0


def origin_of(bus: EventBus) -> str:
    """Names the process and bus an announcement came from, so a node skips its own."""
    return f"{os.getpid()}:{id(bus)}"


class LiveRegistry:
    def __init__(self, database: Database, bus: EventBus) -> None:
        self._database = database
        self._bus = bus
        self.origin = origin_of(bus)
        self._index: RegistryIndex | None = None
        self._fingerprint: tuple[object, ...] = ()
        self._built_at_change = -1
        self._changes = 0
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._subscribed = threading.Event()

    def start(self) -> None:
        """Start listening; the first lookup does not wait for the subscription, which then
        checks the fingerprint once for a change announced before it existed."""
        threading.Thread(target=self._listen_forever, name="assets-listener", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def wait_listening(self, timeout: float) -> bool:
        """Block until subscribed and the first check is done (tests); whether in time."""
        return self._subscribed.wait(timeout)

    def mark_changed(self) -> None:
        self._changes += 1  # one writer at a time per change; a lost increment only rebuilds twice

    def index(self) -> RegistryIndex:
        index = self._index
        if index is not None and self._built_at_change == self._changes:
            return index
        return self._rebuild()

    def _rebuild(self) -> RegistryIndex:
        with self._build_lock:
            wanted = self._changes
            if self._index is not None and self._built_at_change == wanted:
                return self._index
            with self._database.session() as session:
                fingerprint = registry_fingerprint(session)
                index = RegistryIndex(load_snapshot(session))
            self._index, self._built_at_change = index, wanted
            self._fingerprint = fingerprint
            return index

    def _verify(self) -> None:
        with self._build_lock:  # a build under way finishes first: compare with what it read
            built, known = self._index is not None, self._fingerprint
        if not built:
            return  # the first lookup reads the tables anyway
        with self._database.session() as session:
            fingerprint = registry_fingerprint(session)
        if fingerprint != known:
            self._changed_elsewhere()

    # --- the listener ----------------------------------------------------------------------

    def _listen_forever(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        connected_before = False
        while not self._stop.is_set():
            try:
                async with self._bus.subscribe(CHANNEL) as subscription:
                    if connected_before:
                        await asyncio.to_thread(self._changed_elsewhere)  # events were missed
                    else:
                        await asyncio.to_thread(self._verify_quietly)
                    connected_before = True
                    self._subscribed.set()
                    await self._receive(subscription)
            except Exception:
                log.exception("asset registry: the %r subscription failed; retrying", CHANNEL)
                await asyncio.sleep(RETRY_SECONDS)

    async def _receive(self, subscription: Any) -> None:
        loop = asyncio.get_running_loop()
        verify_at = loop.time() + VERIFY_SECONDS
        while not self._stop.is_set():
            message = await subscription.get(timeout=POLL_SECONDS)
            if message is not None and message.get("origin") != self.origin:
                await asyncio.to_thread(self._changed_elsewhere)
            if loop.time() >= verify_at:
                verify_at = loop.time() + VERIFY_SECONDS
                await asyncio.to_thread(self._verify_quietly)

    def _verify_quietly(self) -> None:
        try:
            self._verify()
        except Exception:
            log.exception("asset registry: checking the database for changes failed")

    def _changed_elsewhere(self) -> None:
        self.mark_changed()
        try:
            self._rebuild()
        except Exception:
            # The database may be down: the next lookup tries again.
            log.exception("asset registry: rebuilding the index failed")


_by_bus: weakref.WeakValueDictionary[int, LiveRegistry] = weakref.WeakValueDictionary()


def _started_registry(runtime: Runtime) -> LiveRegistry:
    registry = LiveRegistry(runtime.database, runtime.bus)
    _by_bus[id(runtime.bus)] = registry
    registry.start()
    return registry


_registries: PerRuntime[LiveRegistry] = PerRuntime(_started_registry, LiveRegistry.stop)


def live_registry(runtime: Runtime) -> LiveRegistry:
    """The runtime's registry index holder, built and subscribed on first use."""
    return _registries.get(runtime)


def changed_here(bus: EventBus | None) -> None:
    """Called after a commit in this process: the index that listens on ``bus`` is stale."""
    if bus is None:
        return
    found = _by_bus.get(id(bus))
    if found is not None:
        found.mark_changed()
