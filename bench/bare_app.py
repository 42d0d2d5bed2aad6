"""The yardstick: a bare FastAPI endpoint that inserts one row through the SQLAlchemy ORM.

``ticket_load.py`` runs it with uvicorn as its own process(es), next to ``hashdesk serve``
with the same worker count, so the ticket figures can be read as a share of what the stack
(uvicorn + FastAPI + pydantic + SQLAlchemy ORM + psycopg + PostgreSQL) gives on this machine
at that moment. It mirrors HashDesk's choices where they cost time: a sync route (run in the
thread pool), a pydantic request model, one ORM session per request, the same pool size.

Run: ``BENCH_DATABASE_URL=postgresql+psycopg://... uvicorn bare_app:create_app --factory``
(create the table first with ``python bare_app.py create-table``).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, Engine, String, Text, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

URL_VARIABLE = "BENCH_DATABASE_URL"
SCHEMA = "bench_bare"


class Base(DeclarativeBase):
    pass


class BareRow(Base):
    __tablename__ = "bare_rows"
    # Its own schema: the benchmark resets HashDesk's ``public`` schema between set-ups.
    __table_args__ = {"schema": SCHEMA}  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RowCreate(BaseModel):
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=20_000)]


class RowCreated(BaseModel):
    id: int


def make_engine(url: str) -> Engine:
    # The same pool as hashdesk.core.db.make_engine gives PostgreSQL.
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def get_session(request: Request) -> Session:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions()


SessionDep = Annotated[Session, Depends(get_session)]


def insert_row(data: RowCreate, session: SessionDep) -> RowCreated:
    with session, session.begin():
        row = BareRow(subject=data.subject, body=data.body, created_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        return RowCreated(id=row.id)


def create_app() -> FastAPI:
    app = FastAPI(title="bare insert")
    app.state.sessions = sessionmaker(make_engine(os.environ[URL_VARIABLE]), expire_on_commit=False)
    app.add_api_route("/rows", insert_row, methods=["POST"], status_code=201)
    return app


def create_table(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    Base.metadata.create_all(engine)
    engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:] != ["create-table"]:
        sys.exit("usage: BENCH_DATABASE_URL=... python bare_app.py create-table")
    create_table(os.environ[URL_VARIABLE])
