"""The search index of a running process, kept current from the event bus.

Every node builds its own index from the database on first use and subscribes to the
``helpcenter`` channel: each published, edited, unpublished or re-flagged article is re-read
from the database and re-indexed, whichever node made the change (with Redis as the bus).
Words are searchable as soon as the article is re-read; its vectors follow from a worker
thread a moment later (until then it ranks by its words alone).

Two daemon threads per index: the listener (its own asyncio loop, as the bus is asyncio)
and the worker, which re-reads changed articles and computes missing vectors. Both stop
when the runtime is garbage-collected or ``stop()`` is called.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from hashdesk.core.db import Database
from hashdesk.core.events import EventBus
from hashdesk.core.per_runtime import PerRuntime
from hashdesk.helpcenter.search.documents import load_documents
from hashdesk.helpcenter.search.index import SearchIndex
from hashdesk.helpcenter.search.vector_cache import VectorCache, vector_cache_for

if TYPE_CHECKING:
    from hashdesk.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "helpcenter"  # hashdesk.helpcenter.actions.CHANNEL (not imported: no cycle)
POLL_SECONDS = 0.5
RETRY_SECONDS = 2.0
SUBSCRIBE_SECONDS = 10.0
EMBED_BATCH = 16
EXIT_WAIT_SECONDS = 10.0
_RESYNC = -1  # a queue entry meaning "re-read everything" (after a gap in the subscription)


class LiveIndex:
    """A ``SearchIndex`` that follows the database through the event bus."""

    def __init__(
        self, database: Database, bus: EventBus, vector_cache: VectorCache | None = None
    ) -> None:
        self.index = SearchIndex(vector_cache=vector_cache)
        self._database = database
        self._bus = bus
        self._changes: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._idle = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Subscribe first, then read the database: a change made during the build is
        queued, never lost."""
        self._start_thread(self._listen_forever, "search-listener")
        if not self._subscribed.wait(SUBSCRIBE_SECONDS):
            log.warning("search index: no subscription to %r yet; building anyway", CHANNEL)
        with self._database.session() as session:
            self.index.add_documents(load_documents(session), embed=False)
        self._start_thread(self._work_forever, "search-worker")

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, wait_seconds: float = 0.0) -> None:
        """Ask both threads to end; with ``wait_seconds``, wait for them too."""
        self._stop.set()
        deadline = time.monotonic() + wait_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()) if wait_seconds else 0.0)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued change is indexed and every vector computed (tests,
        benchmarks); whether that happened within ``timeout`` seconds."""
        self._idle.clear()
        self._changes.put_nowait(0)  # wakes the worker, which sets idle when done
        return self._idle.wait(timeout)

    # --- the listener ----------------------------------------------------------------------

    def _listen_forever(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        connected_before = False
        while not self._stop.is_set():
            try:
                async with self._bus.subscribe(CHANNEL) as subscription:
                    if connected_before:
                        self._changes.put(_RESYNC)  # events may have been missed meanwhile
                    connected_before = True
                    self._subscribed.set()
                    await self._receive(subscription)
            except Exception:
                log.exception("search index: the %r subscription failed; retrying", CHANNEL)
                await asyncio.sleep(RETRY_SECONDS)

    async def _receive(self, subscription: object) -> None:
        get = subscription.get  # type: ignore[attr-defined]
        while not self._stop.is_set():
            message = await get(timeout=POLL_SECONDS)
            if message is not None and isinstance(message.get("article_id"), int):
                self._changes.put(int(message["article_id"]))

    # --- the worker ------------------------------------------------------------------------

    def _work_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._work_once()
            except Exception:
                log.exception("search index: an update failed; it is retried on the next change")

    def _work_once(self) -> None:
        changed = self._drain(block=self.index.pending_embeddings() == 0)
        if changed:
            try:
                self._refresh(changed)
            except Exception:
                # The database may be down for a moment: keep the changes for the next try.
                for article_id in changed:
                    self._changes.put(article_id)
                self._stop.wait(RETRY_SECONDS)
                raise
        elif self.index.embed_pending(EMBED_BATCH) == 0 and self._changes.empty():
            self._idle.set()

    def _drain(self, *, block: bool) -> set[int]:
        found: set[int] = set()
        try:
            found.add(
                self._changes.get(timeout=POLL_SECONDS) if block else self._changes.get_nowait()
            )
            while True:
                found.add(self._changes.get_nowait())
        except queue.Empty:
            pass
        found.discard(0)
        return found

    def _refresh(self, article_ids: set[int]) -> None:
        with self._database.session() as session:
            if _RESYNC in article_ids:
                documents = load_documents(session)
                known = {document.article_id for document in documents}
                self.index.replace_articles(self.index.article_ids() | known, documents,
                                            embed=False)  # fmt: skip
                return
            documents = load_documents(session, sorted(article_ids))
        self.index.replace_articles(article_ids, documents, embed=False)


# Every index whose threads may still run (also those of runtimes already collected).
_started: weakref.WeakSet[LiveIndex] = weakref.WeakSet()


def _started_index(runtime: Runtime) -> LiveIndex:
    live = LiveIndex(runtime.database, runtime.bus, vector_cache_for(runtime.settings))
    try:
        live.start()
    except Exception:
        live.stop()
        raise
    _started.add(live)
    return live


_indexes: PerRuntime[LiveIndex] = PerRuntime(_started_index, LiveIndex.stop)


def live_index(runtime: Runtime) -> LiveIndex:
    """The runtime's live index, built and subscribed on first use."""
    return _indexes.get(runtime)


@atexit.register
def _stop_all() -> None:
    """Let the threads finish their batch before the interpreter goes: native encoders
    (ONNX Runtime, e5's engine) abort the process when torn down under a running call."""
    running = list(_started)
    for live in running:
        live.stop()
    for live in running:
        live.stop(EXIT_WAIT_SECONDS)
