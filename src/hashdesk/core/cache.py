"""Per-process snapshots of configuration that every request reads and admins rarely change
(categories, SLA policies, webhook endpoints), so the hot paths do not query it each time.

Snapshots are plain values, never ORM objects (those belong to one session). A change made on
this node drops the snapshot when its transaction commits; other nodes pick it up within
``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from hashdesk.core.db import on_commit

T = TypeVar("T")
DEFAULT_TTL_SECONDS = 10.0


class ConfigCache:
    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            value: T = entry[1]
            return value
        value = load()
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


def cached(session: Session, key: str, load: Callable[[], T]) -> T:
    """``load()``'s snapshot, from the process cache when the session carries one."""
    cache: ConfigCache | None = session.info.get("config_cache")
    return load() if cache is None else cache.get(key, load)


def invalidate_on_commit(session: Session, key: str) -> None:
    cache: ConfigCache | None = session.info.get("config_cache")
    if cache is not None:
        on_commit(session, lambda: cache.invalidate(key))
