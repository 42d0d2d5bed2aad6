"""Database engine, sessions and the "after commit" hook that events and jobs ride on.

SQLite (WAL) is the embedded default, PostgreSQL the production database; the same models,
queries and migrations serve both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from hashdesk.core.clock import ensure_utc

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware UTC on the way in and out, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


# How many sessions one process keeps open at once; the web layer waits (on the event loop,
# holding no thread) for a slot before it opens one. Kept below the connection pool, so a
# checkout never blocks, and below the thread pool (40 threads), so a request that holds a
# connection or SQLite's write lock always finds a thread to finish on. SQLite writes one
# transaction at a time anyway: a few sessions keep reads overlapping without busy-waiting.
SQLITE_MAX_SESSIONS = 4
POSTGRES_POOL_SIZE = 20
POSTGRES_MAX_OVERFLOW = 10
POSTGRES_MAX_SESSIONS = POSTGRES_POOL_SIZE + POSTGRES_MAX_OVERFLOW


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_MAX_OVERFLOW, pool_pre_ping=True
    )


def ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's transaction commits; never if it rolls back.

    Events, pub/sub messages and job wake-ups go through here so that a rolled-back write
    notifies no one.
    """
    session.info.setdefault("on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_commit_callbacks(session: Session) -> None:
    # The data is committed: a failing callback (Redis down for a live event, say) must not
    # turn that success into an error, nor stop the callbacks after it. Live events are
    # best-effort; what must not be lost goes through the outbox, written in the transaction.
    callbacks = session.info.pop("on_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("an after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_commit_callbacks(session: Session, _previous_transaction: Any) -> None:
    session.info.pop("on_commit", None)


class Database:
    """The engine and a session factory; one per process (or per test)."""

    def __init__(self, url: str, session_info: dict[str, Any] | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._session_info = session_info or {}
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.max_sessions = (
            SQLITE_MAX_SESSIONS if url.startswith("sqlite") else POSTGRES_MAX_SESSIONS
        )

    def set_session_info(self, key: str, value: Any) -> None:
        self._session_info[key] = value

    def session(self) -> Session:
        session = self.sessionmaker()
        session.info.update(self._session_info)
        return session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self.session() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
