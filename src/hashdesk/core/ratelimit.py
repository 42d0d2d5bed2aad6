"""Fixed-window rate limits for public endpoints (sign-in, guest codes, guest tickets).

In one process a dictionary does; with Redis configured the count is shared by every node.
Each limit is named once below, so the API and the HTML page behind the same action count
against the same budget.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from hashdesk.core.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    """At most ``count`` attempts per ``window_seconds`` for one subject (an address, an
    email); ``name`` keeps the counters of different limits apart."""

    name: str
    count: int
    window_seconds: int


LOGIN_BY_ADDRESS = Limit("login-address", 20, 300)
LOGIN_BY_EMAIL = Limit("login-email", 10, 300)
TRADER_TOKEN = Limit("trader-token", 60, 300)
GUEST_TICKET = Limit("guest-ticket", 20, 3600)
GUEST_CODE = Limit("guest-code", 10, 900)
GUEST_VERIFY = Limit("guest-verify", 20, 900)
ARTICLE_VOTE = Limit("hc-vote", 30, 3600)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_seconds: int) -> None:
        """Count one attempt; raise ``RateLimited`` past ``limit`` in the window."""
        ...


def hit_limit(limiter: RateLimiter, limit: Limit, subject: str) -> None:
    """Count one attempt of ``subject`` against a named limit."""
    limiter.hit(f"{limit.name}:{subject}", limit.count, limit.window_seconds)


def hit_limit_many(limiter: RateLimiter, limit: Limit, subjects: list[str]) -> list[bool]:
    """``hit_limit`` for many attempts at once (with Redis, one round trip for all: the chat
    gateway's message batches); True for each attempt let through, in order."""
    keys = [f"{limit.name}:{subject}" for subject in subjects]
    if isinstance(limiter, RedisRateLimiter):
        return limiter.hit_many(keys, limit.count, limit.window_seconds)
    allowed = []
    for key in keys:
        try:
            limiter.hit(key, limit.count, limit.window_seconds)
            allowed.append(True)
        except RateLimited:
            allowed.append(False)
    return allowed


def _refuse_past(count: int, limit: int, window_seconds: int) -> None:
    if count > limit:
        raise RateLimited(
            "Too many attempts; try again in {retry_after} seconds.",
            retry_after=window_seconds - int(time.time()) % window_seconds,
        )


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, limit: int, window_seconds: int) -> None:
        window = int(time.time() // window_seconds)
        with self._lock:
            self._forget_old_windows(window_seconds, window)
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        _refuse_past(count, limit, window_seconds)

    def _forget_old_windows(self, window_seconds: int, current: int) -> None:
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= current}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "hashdesk:") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5)
        self._prefix = prefix

    def hit(self, key: str, limit: int, window_seconds: int) -> None:
        window = int(time.time() // window_seconds)
        redis_key = f"{self._prefix}rate:{key}:{window}"
        pipe = self._client.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_seconds)
        count = int(pipe.execute()[0])
        _refuse_past(count, limit, window_seconds)

    def hit_many(self, keys: list[str], limit: int, window_seconds: int) -> list[bool]:
        window = int(time.time() // window_seconds)
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            redis_key = f"{self._prefix}rate:{key}:{window}"
            pipe.incr(redis_key)
            pipe.expire(redis_key, window_seconds)
        counts = pipe.execute()[::2]
        return [int(count) <= limit for count in counts]


def make_rate_limiter(redis_url: str | None, prefix: str = "hashdesk:") -> RateLimiter:
    return RedisRateLimiter(redis_url, prefix) if redis_url else MemoryRateLimiter()
