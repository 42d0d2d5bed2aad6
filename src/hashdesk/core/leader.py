"""Which process does a job that must run once per deployment (the network monitor's
polling, the margin-call monitor): the one holding a named lock every node can see.

Three backends behind ``Leadership.hold()``, chosen by what the deployment shares (as the
event bus is):

- ``RedisLease`` when ``HASHDESK_REDIS_URL`` is set: ``SET key token NX PX ttl``, renewed each
  round only while the key still holds this process's token (a compare-and-extend script),
  so a leader that stalls past the lease loses it instead of two processes polling;
- ``PostgresLock`` on PostgreSQL without Redis: a session-level advisory lock on a connection
  of its own, held as long as that connection lives (the server frees it when a leader dies);
- ``FileLock`` on SQLite: an ``flock`` beside the database file, since SQLite only serves
  processes on one machine anyway.

Each is re-checked every round, so a follower takes over within a lease (Redis) or at once
(PostgreSQL, file) when the leader goes away.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
from pathlib import Path
from typing import IO, Protocol

import redis
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from hashdesk.config import Settings
from hashdesk.core.db import Database

MIN_LEASE_SECONDS = 10.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Leadership(Protocol):
    def hold(self) -> bool:
        """Take or keep the leadership; True while this process has it."""
        ...

    def release(self) -> None: ...


class RedisLease:
    def __init__(self, url: str, key: str, lease_seconds: float) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key = key
        self.lease_ms = int(lease_seconds * 1000)
        self.token = secrets.token_hex(16)
        self._held = False

    def hold(self) -> bool:
        try:
            if self._held and self._client.eval(_RENEW, 1, self.key, self.token, self.lease_ms):
                return True
            taken = self._client.set(self.key, self.token, nx=True, px=self.lease_ms)
        except redis.RedisError:
            taken = False  # Redis unreachable: nobody can prove they lead, so nobody polls
        self._held = bool(taken)
        return self._held

    def release(self) -> None:
        try:
            if self._held:
                self._client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError:
            pass  # the lease runs out by itself
        self._held = False
        self._client.close()


def advisory_key(name: str) -> int:
    """pg_advisory_lock takes a signed bigint: one fixed number per lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresLock:
    def __init__(self, database: Database, name: str) -> None:
        self.database = database
        self.key = advisory_key(name)
        self._connection: Connection | None = None

    def hold(self) -> bool:
        try:
            if self._connection is not None:
                self._connection.execute(text("SELECT 1"))  # still ours while this answers
                return True
            connection = self.database.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
            query = text("SELECT pg_try_advisory_lock(:key)")
            if connection.execute(query, {"key": self.key}).scalar():
                self._connection = connection
                return True
            connection.close()
        except SQLAlchemyError:
            self._drop()
        return False

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.invalidate()  # the server ends the session, and the lock
        self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": self.key})  # fmt: skip
                self._connection.close()
            except SQLAlchemyError:
                self._drop()
        self._connection = None


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def hold(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
        self._file = None


def make_leadership(
    settings: Settings, database: Database, interval: float, name: str
) -> Leadership:
    """The lock ``name`` (e.g. ``chains-monitor``) on what this deployment shares; a leader
    renews it every ``interval`` seconds."""
    if settings.redis_url:
        lease = max(MIN_LEASE_SECONDS, 5 * interval)
        return RedisLease(settings.redis_url, f"{settings.redis_prefix}{name}:leader", lease)
    if database.engine.dialect.name == "postgresql":
        return PostgresLock(database, name)
    return FileLock(sqlite_lock_path(database.url, name))


def sqlite_lock_path(url: str, name: str) -> Path:
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        folder = Path(os.environ.get("TMPDIR", "/tmp"))  # noqa: S108
        return folder / f"hashdesk-{name}-{os.getpid()}.lock"
    return Path(f"{path}.{name}.lock")
