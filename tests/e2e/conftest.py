"""Real ``hashdesk serve`` processes for end-to-end tests.

``served_node(database_url, redis_url)`` starts one node on a free port with the settings an
operator would export (``HASHDESK_*``), waits until ``/healthz`` answers and stops it after
the test. Nodes started by one test share the same secrets, as every node of one deployment
must (see ``docs/operations.md``).

``nodes_database_url`` is a PostgreSQL database of the nodes' own, created for the test
session and migrated with ``hashdesk migrate``: the suite's database is emptied before every
test, and a node writing into it from another process would race that.

``failed(item)`` tells a fixture's teardown whether its test failed (browser tests take
screenshots then).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hashdesk.config import Settings
from tests.conftest import free_port, need_service

POSTGRES_URL_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NODE_SECRETS = {
    "secret_key": "e2e-node-secret-key",
    "exchange_jwt_key": "e2e-node-exchange-key-of-at-least-32-bytes",
    "connector_secret": "e2e-node-connector-secret",
}
STARTUP_SECONDS = 30.0  # generous: the machine is shared, and imports are slow when it is busy
STOP_SECONDS = 5.0
PORT_ATTEMPTS = 3


def hashdesk_executable() -> str:
    """The ``hashdesk`` script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).with_name("hashdesk")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project (pip install -e .)")
    return str(script)


def node_values(database_url: str, redis_url: str | None, **overrides: str) -> dict[str, str]:
    """The settings of one node, as field name -> the text its ``HASHDESK_*`` variable holds."""
    values = {
        "database_url": database_url,
        **NODE_SECRETS,
        # No mail unless a test passes email_enabled="true" and the smtp_port of its server:
        # the nodes' database lives for the session, and undeliverable mail would be retried
        # by the nodes of later tests.
        "email_enabled": "false",
        "smtp_port": "1",
        "outbox_poll_seconds": "0.2",
    }
    if redis_url:
        values["redis_url"] = redis_url
    values.update(overrides)
    return values


def node_environment(values: dict[str, str]) -> dict[str, str]:
    # The runner's own HASHDESK_* variables (test database, CI switches) must not leak into a node.
    env = {key: value for key, value in os.environ.items() if not key.startswith("HASHDESK_")}
    env.update({f"HASHDESK_{name.upper()}": value for name, value in values.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_hashdesk(values: dict[str, str], *args: str, cwd: Path) -> str:
    """Run one ``hashdesk`` command with these settings; its output, or a failure with it."""
    result = subprocess.run(
        [hashdesk_executable(), *args],
        env=node_environment(values),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"hashdesk {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Node:
    """One ``hashdesk serve`` process."""

    name: str
    url: str
    values: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        # What the tests need to know about the node (keys, issuer) in the app's own terms.
        self.settings = Settings.model_validate(self.values)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, expect_healthy: bool = True) -> httpx.Response:
        """Poll ``/healthz`` until it answers (200 when ``expect_healthy``); the last answer."""
        deadline = time.monotonic() + STARTUP_SECONDS
        answer: httpx.Response | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                answer = httpx.get(f"{self.url}/healthz", timeout=2)
            except httpx.TransportError:
                answer = None
            if answer is not None and (answer.status_code == 200 or not expect_healthy):
                return answer
            time.sleep(0.1)
        last = "no answer" if answer is None else f"{answer.status_code} {answer.text}"
        raise RuntimeError(
            f"{self.name} not ready after {STARTUP_SECONDS}s ({last}):\n{self.log()}"
        )

    def stop(self) -> None:
        """SIGTERM, so uvicorn shuts down gracefully (the outbox worker stops); kill if stuck."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_SECONDS)


class NodeLauncher:
    """Starts nodes in a working folder of their own and stops every one it started. The
    nodes share one upload folder, as the nodes of a deployment must."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.nodes: list[Node] = []

    def start(self, values: dict[str, str], expect_healthy: bool = True) -> Node:
        values = {"upload_dir": str(self.workdir / "uploads"), **values}
        name = f"node-{chr(ord('a') + len(self.nodes))}"
        for _attempt in range(PORT_ATTEMPTS):
            node = self._spawn(name, values)
            self.nodes.append(node)
            try:
                node.wait_ready(expect_healthy)
            except RuntimeError:
                # free_port() only promises the port was free a moment ago.
                if node.process.poll() is not None and "already in use" in node.log():
                    continue
                raise
            return node
        raise RuntimeError(f"{name} found no free port in {PORT_ATTEMPTS} attempts")

    def _spawn(self, name: str, values: dict[str, str]) -> Node:
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log_path = folder / f"serve-{port}.log"
        with log_path.open("wb") as log:
            # cwd: the node must not read a developer's .env, and its var/ lands in tmp.
            process = subprocess.Popen(
                [hashdesk_executable(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=node_environment(values),
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return Node(name, f"http://127.0.0.1:{port}", values, process, log_path)

    def stop_all(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


ServedNode = Callable[..., Node]


@pytest.fixture
def served_node(tmp_path: Path) -> Iterator[ServedNode]:
    """Factory: ``served_node(database_url, redis_url=None, expect_healthy=True, **settings)``
    starts a ``hashdesk serve`` node and returns it once ``/healthz`` answers; ``settings`` are
    extra ``HASHDESK_*`` values by field name (``smtp_port="2525"``). All stop after the test."""
    launcher = NodeLauncher(tmp_path / "nodes")

    def start(
        database_url: str, redis_url: str | None = None, expect_healthy: bool = True,
        **settings: str,
    ) -> Node:  # fmt: skip
        return launcher.start(node_values(database_url, redis_url, **settings), expect_healthy)

    try:
        yield start
    finally:
        launcher.stop_all()


# --- the services the nodes share -----------------------------------------------------------


def postgres_server_url() -> str:
    """The suite's PostgreSQL when the suite runs on it, else CI's local server (or
    ``HASHDESK_TEST_POSTGRES_URL``): several nodes need PostgreSQL even on the SQLite run."""
    url = os.environ.get("HASHDESK_TEST_DATABASE_URL", "")
    if url.startswith("postgresql"):
        return url
    return os.environ.get("HASHDESK_TEST_POSTGRES_URL", POSTGRES_URL_DEFAULT)


@pytest.fixture(scope="session")
def nodes_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh PostgreSQL database for the session's nodes, migrated by ``hashdesk migrate``,
    dropped at the end."""
    server = make_url(postgres_server_url())
    maintenance = create_engine(server, isolation_level="AUTOCOMMIT",
                                connect_args={"connect_timeout": 3})  # fmt: skip
    name = f"hd_two_nodes_{uuid.uuid4().hex[:10]}"
    try:
        with maintenance.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as error:
        maintenance.dispose()
        reason = str(error.orig).splitlines()[0]  # the driver's words, not the SQL
        need_service("PostgreSQL", f"{server.render_as_string(hide_password=True)}: {reason}")
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        values = node_values(url, None)
        run_hashdesk(values, "migrate", cwd=tmp_path_factory.mktemp("migrate"))
        yield url
    finally:
        with maintenance.connect() as connection:
            # FORCE: a node that had to be killed may still hold a connection.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()


@pytest.fixture
def nodes_redis_url(redis_available: str) -> str:
    """The test Redis (``HASHDESK_TEST_REDIS_URL`` or db 15), found even on the SQLite run,
    emptied of rate-limit counters left by earlier tests (nodes all sign in from 127.0.0.1)."""
    import redis

    redis.Redis.from_url(redis_available).flushdb()
    return redis_available


# --- what happened to a test, for its fixtures' teardown ---------------------------------------

PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def failed(item: pytest.Item) -> bool:
    """Whether the test itself (its call phase, not its set-up) failed; for teardowns."""
    call = item.stash.get(PHASE_REPORTS, {}).get("call")
    return call is not None and call.failed


Prepared = TypeVar("Prepared")


@contextmanager
def sqlite_node(
    tmp_path_factory: pytest.TempPathFactory, name: str, prepare: Callable[[str], Prepared]
) -> Iterator[tuple[Node, Prepared]]:
    """One served node on a fresh, migrated SQLite database that ``prepare(database_url)``
    fills before the node starts; what ``prepare`` returns comes along (a login, an id)."""
    workdir = tmp_path_factory.mktemp(name)
    values = node_values(f"sqlite:///{workdir / 'hashdesk.sqlite3'}", None)
    run_hashdesk(values, "migrate", cwd=workdir)
    prepared = prepare(values["database_url"])
    launcher = NodeLauncher(workdir / "nodes")
    try:
        yield launcher.start(values), prepared
    finally:
        launcher.stop_all()
