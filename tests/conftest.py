"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
``HASHDESK_TEST_DATABASE_URL`` names one), emptied before every test; the app; factories that
go through the domain actions; a real SMTP server.

Services: set ``HASHDESK_REQUIRE_SERVICES=1`` (CI does) and a test that needs Redis,
PostgreSQL or Chromium fails when it is missing instead of skipping.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import do_create_agent, do_upsert_trader
from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.accounts.schemas import AgentCreate, TraderUpsert
from hashdesk.app import create_app
from hashdesk.assistant.triage.demo_examples import train_demo_model
from hashdesk.assistant.triage.training import ValidationReport
from hashdesk.config import Settings, get_settings
from hashdesk.core.auth import Role
from hashdesk.core.migrate import upgrade
from hashdesk.models import metadata
from hashdesk.runtime import Runtime
from hashdesk.tickets.actions import check_create_ticket, do_seed_defaults
from hashdesk.tickets.models import Ticket
from hashdesk.tickets.schemas import TicketCreate, TicketFields

AGENT_PASSWORD = "correct horse battery staple"
REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2's production cost (64 MiB, 3 passes) makes each staff sign-up take ~0.5 s here;
    the tests check hashing and verifying, not its cost, so they use the cheapest profile."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from hashdesk.core import auth

    production = auth._hasher
    auth._hasher = PasswordHasher.from_parameters(CHEAPEST)
    yield
    auth._hasher = production


def services_required() -> bool:
    return os.environ.get("HASHDESK_REQUIRE_SERVICES") == "1"


def need_service(name: str, reason: str) -> None:
    """Skip locally, fail in CI: a missing service must never pass silently there."""
    message = f"{name} is not available: {reason}"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


def shared_data(relative: str) -> Path:
    """A file of the development data sets (read, never copied into the repository): from
    ``HASHDESK_SHARED_DATA``, else ``../shared/data`` beside the checkout, else where this
    project's machines keep it. Skips locally, fails in CI, when it is nowhere."""
    roots = (
        [Path(os.environ["HASHDESK_SHARED_DATA"])] if "HASHDESK_SHARED_DATA" in os.environ else []
    )
    roots += [Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data")]
    for root in roots:
        if (root / relative).exists():
            return root / relative
    need_service("the development data sets", f"{relative} is in none of {[str(r) for r in roots]}")
    raise AssertionError("unreachable: need_service skips or fails")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("HASHDESK_TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)  # the schema comes from the migrations, so they are tested on every run
    yield url


@pytest.fixture(scope="session")
def demo_triage_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, ValidationReport]:
    """The demo's triage model and its validation report, trained once per run (about half a
    minute: the multilingual encoder embeds its 1,470 examples)."""
    folder = tmp_path_factory.mktemp("triage") / "model"
    return folder, train_demo_model(folder)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("HASHDESK_TEST_REDIS_URL", REDIS_URL_DEFAULT)


@pytest.fixture
def redis_available(redis_url: str) -> str:
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        need_service("Redis", f"{redis_url}: {error}")
    return redis_url


def _empty_all_tables(runtime: Runtime) -> None:
    tables = list(reversed(metadata.sorted_tables))
    with runtime.database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        # CI's second run sets this: the whole suite then runs on the Redis bus and limiter.
        redis_url=os.environ.get("HASHDESK_TEST_REDIS_URL"),
        upload_dir=tmp_path / "uploads",
        run_outbox_worker=False,
        smtp_port=1,  # nothing listens: tests that send mail use the smtp_server fixture
        secret_key="test-secret-key",
        exchange_jwt_key="test-exchange-key-of-at-least-32-bytes",
        connector_secret="test-connector-secret",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    if settings.redis_url:
        import redis

        redis.Redis.from_url(settings.redis_url).flushdb()  # rate-limit counters of earlier tests
    runtime = Runtime(settings)
    _empty_all_tables(runtime)
    with runtime.database.transaction() as session:
        do_seed_defaults(session)
    yield runtime
    runtime.database.dispose()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.database.session() as session:
        yield session


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime)) as test_client:
        yield test_client


@pytest.fixture
def another_client(runtime: Runtime, client: TestClient) -> Iterator[TestClient]:
    """A second browser on the same server (its own cookies)."""
    with TestClient(client.app) as test_client:
        yield test_client


@pytest.fixture
def cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner for ``hashdesk`` commands on the test database (settings are cached: cleared)."""
    monkeypatch.setenv("HASHDESK_DATABASE_URL", runtime.settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


# --- factories: through the domain actions, never raw inserts ---------------------------------


def make_trader(session: Session, external_id: str = "u-1001", **profile: Any) -> Trader:
    values: dict[str, Any] = {
        "email": f"{external_id}@example.com",
        "name": f"Trader {external_id}",
    }
    values.update(profile)
    trader = do_upsert_trader(session, external_id, TraderUpsert(**values))
    session.commit()
    return trader


def make_agent(
    session: Session,
    role: Role = Role.FRONTLINE,
    email: str | None = None,
    department: str = "frontline",
) -> Agent:
    data = AgentCreate(
        email=email or f"{role.value}@desk.example.com",
        name=f"{role.value.title()} Agent",
        role=role,
        department=department,
        password=AGENT_PASSWORD,
    )
    from hashdesk.core.auth import SYSTEM

    agent = do_create_agent(session, SYSTEM, data)
    session.commit()
    return agent


def open_ticket(
    session: Session,
    trader: Trader,
    category: str = "login_2fa",
    subject: str = "Cannot log in after changing my phone",
    fields: dict[str, str] | None = None,
) -> Ticket:
    data = TicketCreate(
        category=category,
        subject=subject,
        description="I lost my authenticator app when I changed phones.",
        fields=TicketFields(**(fields or {})),
    )
    ticket = check_create_ticket(session, trader_principal(trader), data)
    session.commit()
    return ticket


def login_agent(client: TestClient, agent: Agent) -> str:
    """Sign the client in as ``agent``; returns the CSRF token to send with writes."""
    response = client.post(
        "/api/v1/auth/login", json={"email": agent.email, "password": AGENT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token = str(response.json()["csrf_token"])
    client.headers["X-CSRF-Token"] = token
    return token


def exchange_token(settings: Settings, external_id: str, **claims: Any) -> str:
    import time

    import jwt

    payload = {
        "sub": external_id,
        "iss": settings.exchange_jwt_issuer,
        "exp": int(time.time()) + 600,
        **claims,
    }
    return jwt.encode(payload, settings.exchange_jwt_key, algorithm="HS256")


def connector_headers(secret: str, external_id: str, body: bytes) -> dict[str, str]:
    """The headers of the exchange's signed profile push for ``external_id``."""
    from hashdesk.core.signing import SIGNATURE_HEADER, request_message, sign

    message = request_message("PUT", f"/api/v1/connector/traders/{external_id}", body)
    return {SIGNATURE_HEADER: sign(secret, message), "Content-Type": "application/json"}


def login_trader(client: TestClient, settings: Settings, trader: Trader) -> str:
    response = client.post("/api/v1/auth/trader-token",
                           json={"token": exchange_token(settings, trader.external_id)})  # fmt: skip
    assert response.status_code == 200, response.text
    token = str(response.json()["csrf_token"])
    client.headers["X-CSRF-Token"] = token
    return token


__all__ = ["agent_principal", "trader_principal"]


# --- a real SMTP server ---------------------------------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[_Inbox]:
    """aiosmtpd on a free port; ``settings`` now sends mail to it."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.smtp_port = port
    try:
        yield inbox
    finally:
        controller.stop()
