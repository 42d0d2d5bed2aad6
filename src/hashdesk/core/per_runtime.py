"""One object per ``Runtime`` (a live index, a listener), made on first use and stopped when the
runtime is garbage-collected: tests and benchmarks make many runtimes in one process."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from hashdesk.runtime import Runtime

Made = TypeVar("Made")


class PerRuntime(Generic[Made]):
    def __init__(self, make: Callable[[Runtime], Made], stop: Callable[[Made], None]) -> None:
        self._make = make
        self._stop = stop
        # Re-entrant: a runtime collected while this thread makes another one's object (garbage
        # collection runs anywhere, even inside a database call) calls ``_forget`` here, with
        # the lock held.
        self._lock = threading.RLock()
        self._made: dict[int, Made] = {}

    def get(self, runtime: Runtime) -> Made:
        """The runtime's object; when making it fails, nothing is kept and the next call tries
        again (the database may be back)."""
        key = id(runtime)
        with self._lock:
            found = self._made.get(key)
            if found is None:
                found = self._made[key] = self._make(runtime)
                weakref.finalize(runtime, self._forget, key, found)
            return found

    def peek(self, runtime: Runtime) -> Made | None:
        """The runtime's object if it was made, without making it."""
        with self._lock:
            return self._made.get(id(runtime))

    def _forget(self, key: int, made: Made) -> None:
        self._stop(made)
        with self._lock:
            if self._made.get(key) is made:
                del self._made[key]
