"""The search index of a running process, kept current from the event bus.

Every node builds its own index from the database on first use and subscribes to the
``helpcenter`` channel: each published, edited, unpublished or re-flagged article is re-read
from the database and re-indexed, whichever node made the change (with Redis as the bus).
Words are searchable as soon as the article is re-read; its vectors follow from a worker
thread a moment later (until then it ranks by its words alone).

The in-process bus reaches no other process: ``hashdesk helpcenter import`` or a second
worker publishing without Redis is announced to nobody here. So the worker also reads a
one-row fingerprint of the published translations every ``CHECK_SECONDS`` (about 1 ms
for the demo's 676 pages, 5 ms at 20,000 on SQLite, ``bench/search_fingerprint.py``; no query
per search); when it changes, it compares each article's published state (internal flag,
locale and version of each published translation) with the one it indexed and re-reads only
the articles that differ. The same comparison runs each time the listener subscribes: a
change announced before that reached nobody. With Redis
the bus carries every node's changes, and the check runs every ``CHECK_SECONDS_SHARED_BUS``
only as a safety net: a message published while Redis was down is lost for good (publishing
runs after the commit, and its failure is only logged). Whether a change comes through the
bus, the check or both, an article is re-read only when its state differs from what the
index holds, so nothing is indexed twice.

Two daemon threads per index: the listener (its own asyncio loop, as the bus is asyncio)
and the worker, which checks the database, re-reads changed articles and computes missing
vectors. Both stop when the runtime is garbage-collected or ``stop()`` is called.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from hashdesk.core.db import Database
from hashdesk.core.events import EventBus, MemoryBus
from hashdesk.core.per_runtime import PerRuntime
from hashdesk.helpcenter.models import Article, ArticleStatus, ArticleTranslation
from hashdesk.helpcenter.search.documents import SearchDocument, documents_of, read_articles
from hashdesk.helpcenter.search.index import SearchIndex
from hashdesk.helpcenter.search.vector_cache import VectorCache, vector_cache_for

if TYPE_CHECKING:
    from hashdesk.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "helpcenter"  # hashdesk.helpcenter.actions.CHANNEL (not imported: no cycle)
POLL_SECONDS = 0.5
RETRY_SECONDS = 2.0
EMBED_BATCH = 16
EXIT_WAIT_SECONDS = 10.0
CHECK_SECONDS = 2.0  # the in-process bus: how soon another process's change is searchable
CHECK_SECONDS_SHARED_BUS = 30.0  # Redis: a safety net for a lost message
_RESYNC = -1  # a queue entry meaning "compare every article" (a gap, or a changed fingerprint)

# What the index holds of one article, in brief: its internal flag and the (locale, version)
# of each published translation. Every save of a changed text bumps the version, so two
# equal states index the same documents; an article without a published translation has none.
ArticleState = tuple[bool, tuple[tuple[str, int], ...]]


class LiveIndex:
    """A ``SearchIndex`` that follows the database through the event bus."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        vector_cache: VectorCache | None = None,
        check_seconds: float | None = None,
    ) -> None:
        self.index = SearchIndex(vector_cache=vector_cache)
        self._database = database
        self._bus = bus
        self._check_seconds = check_seconds_for(bus) if check_seconds is None else check_seconds
        self._check_at = 0.0
        self._fingerprint: tuple[object, ...] = ()
        self._indexed: dict[int, ArticleState] = {}  # only the worker changes it after start
        self._changes: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._idle = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Build from the database at once: the first search waits for the build, not for
        the subscription. Once subscribed, the listener has the worker compare every
        article's state with the database, so a change announced before then is indexed."""
        self._start_thread(self._listen_forever, "search-listener")
        with self._database.session() as session:
            self._fingerprint = fingerprint(session)  # first: a change after it is seen later
            articles = read_articles(session)  # documents and states from the same rows
        self.index.add_documents(_documents(articles), embed=False)
        self._indexed = _states(articles)
        self._check_at = time.monotonic() + self._check_seconds
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
        deadline = time.monotonic() + timeout
        if not self._subscribed.wait(timeout):
            return False
        self._idle.clear()
        self._changes.put_nowait(0)  # after the subscription's resync: idle means both done
        return self._idle.wait(max(0.0, deadline - time.monotonic()))

    # --- the listener ----------------------------------------------------------------------

    def _listen_forever(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                async with self._bus.subscribe(CHANNEL) as subscription:
                    # Changes announced before this (during the build, or while Redis was
                    # away) reached nobody: compare. Only changed articles are re-read.
                    self._changes.put(_RESYNC)
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
        changed = self._changed_elsewhere()  # before draining: if it fails, nothing is lost
        changed |= self._drain(block=not changed and self.index.pending_embeddings() == 0)
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

    def _changed_elsewhere(self) -> set[int]:
        """``{_RESYNC}`` when the database's fingerprint moved since the last check (a
        change the bus may not have carried), else nothing; checks once per interval."""
        if time.monotonic() < self._check_at:
            return set()
        self._check_at = time.monotonic() + self._check_seconds  # a failed check waits too
        with self._database.session() as session:
            found = fingerprint(session)
        if found == self._fingerprint:
            return set()
        self._fingerprint = found  # read before the states it leads to: nothing slips past
        return {_RESYNC}

    def _refresh(self, article_ids: set[int]) -> None:
        """Re-read the articles among ``article_ids`` (all, with ``_RESYNC``) whose published
        state differs from the indexed one: a change heard twice is indexed once."""
        with self._database.session() as session:
            if _RESYNC in article_ids:
                current = published_states(session)
                candidates: Collection[int] = current.keys() | self._indexed.keys()
            else:
                current = published_states(session, article_ids)
                candidates = article_ids
            stale = sorted(i for i in candidates if current.get(i) != self._indexed.get(i))
            if not stale:
                return
            articles = read_articles(session, stale)
        self.index.replace_articles(stale, _documents(articles), embed=False)
        for article_id in stale:  # after indexing: if that failed, the next try re-reads them
            self._indexed.pop(article_id, None)
        self._indexed.update(_states(articles))


# --- what the index was built from --------------------------------------------------------


def check_seconds_for(bus: EventBus) -> float:
    """How often to compare the database with the index: often when the bus stays inside
    this process (other processes' changes arrive no other way), rarely when it is shared."""
    return CHECK_SECONDS if isinstance(bus, MemoryBus) else CHECK_SECONDS_SHARED_BUS


def _published() -> ColumnElement[bool]:
    return ArticleTranslation.status == ArticleStatus.PUBLISHED.value


def fingerprint(session: Session) -> tuple[object, ...]:
    """One row that changes when a translation is published, unpublished or re-saved while
    published, or its article's internal flag flips: count, id and version sums of the
    published translations, and the ids of the internal ones. It could stay put only if,
    within one check, some translations were published and others unpublished whose ids and
    versions sum alike. It reads an index alone on SQLite: about 1 ms for 676 pages."""
    internal_ids = case((Article.internal, ArticleTranslation.id), else_=0)
    row = session.execute(
        select(func.count(ArticleTranslation.id), func.sum(ArticleTranslation.id),
               func.sum(ArticleTranslation.version), func.sum(internal_ids))
        .join(Article, Article.id == ArticleTranslation.article_id)
        .where(_published())
    ).one()  # fmt: skip
    return tuple(row)


def published_states(
    session: Session, article_ids: Collection[int] | None = None
) -> dict[int, ArticleState]:
    """The state of every article with a published translation (of ``article_ids`` only,
    when given), from the small columns alone: no text is read."""
    query = (
        select(ArticleTranslation.article_id, Article.internal, ArticleTranslation.locale,
               ArticleTranslation.version)
        .join(Article, Article.id == ArticleTranslation.article_id)
        .where(_published())
        .order_by(ArticleTranslation.article_id, ArticleTranslation.locale)
    )  # fmt: skip
    if article_ids is not None:
        query = query.where(ArticleTranslation.article_id.in_(sorted(article_ids)))
    found: dict[int, tuple[bool, list[tuple[str, int]]]] = {}
    for article_id, internal, locale, version in session.execute(query):
        found.setdefault(article_id, (internal, []))[1].append((locale, version))
    return {article_id: (internal, tuple(pages)) for article_id, (internal, pages) in found.items()}


def state_of(article: Article) -> ArticleState | None:
    """``published_states``'s entry for a loaded article (None without a published page)."""
    pages = tuple(sorted((t.locale, t.version) for t in article.translations if t.published))
    return (article.internal, pages) if pages else None


def _documents(articles: list[Article]) -> list[SearchDocument]:
    return [document for article in articles for document in documents_of(article)]


def _states(articles: list[Article]) -> dict[int, ArticleState]:
    return {article.id: state for article in articles if (state := state_of(article)) is not None}


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


def search_status(runtime: Runtime) -> dict[str, int] | None:
    """How far this process's index is (None before its first search): pages indexed, and
    how many still wait for their vectors (searched by words alone, and never answered by
    the assistant, until then)."""
    live = _indexes.peek(runtime)
    if live is None:
        return None
    return {"pages": len(live.index), "pages_without_vectors": live.index.pending_embeddings()}


@atexit.register
def _stop_all() -> None:
    """Let the threads finish their batch before the interpreter goes: native encoders
    (ONNX Runtime, e5's engine) abort the process when torn down under a running call."""
    running = list(_started)
    for live in running:
        live.stop()
    for live in running:
        live.stop(EXIT_WAIT_SECONDS)
