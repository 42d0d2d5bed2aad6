"""The monitor against real nodes: anvil for reorgs and outages, litecoind regtest for a
UTXO chain, a lying endpoint for a node of the wrong chain; and leadership between pollers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.chains.models import Incident, NetworkHealth, Reorg
from hashdesk.chains.monitor import Monitor
from hashdesk.core.leader import FileLock, Leadership, PostgresLock, RedisLease, sqlite_lock_path
from hashdesk.runtime import Runtime
from tests.chains.monitoring import INTERVAL, add_network, incidents_of
from tests.chains.nodes import AnvilNode, LitecoinNode, LyingServer

WAIT_SECONDS = 20.0


@pytest.fixture
def monitors(runtime: Runtime) -> Iterator[Callable[[], Monitor]]:
    """Makes monitors polling every 0.2 s; each is stopped (its leadership released) after."""
    runtime.settings.chain_monitor_interval_seconds = INTERVAL
    runtime.settings.chain_rpc_timeout_seconds = 2.0
    made: list[Monitor] = []

    def make() -> Monitor:
        made.append(Monitor(runtime.database, runtime.settings))
        made[-1].budget = WAIT_SECONDS  # local nodes: each round records its own polls
        return made[-1]

    yield make
    for monitor in made:
        monitor.stop()


def tick_until(monitor: Monitor, session: Session, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        monitor.tick()
        session.expire_all()
        if done():
            return
        time.sleep(INTERVAL / 2)
    raise AssertionError("the monitor did not get there in time")


def open_incident(session: Session, slug: str) -> Incident | None:
    found = [i for i in incidents_of(session, slug) if i.resolved_at is None]
    return found[0] if found else None


def test_a_healthy_node_is_operational_and_its_head_recorded(
    session: Session, anvil: AnvilNode, monitors: Callable[[], Monitor]
) -> None:
    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60)  # fmt: skip
    anvil.mine(5)
    monitor = monitors()
    assert monitor.tick() == 1
    row = session.scalars(select(NetworkHealth)).one()
    assert (row.level, row.head_height, row.consecutive_errors) == ("operational", 5, 0)
    assert row.pending_txs == 0 and row.base_fee is not None  # congestion on the first poll


def test_anvil_reorg_is_detected_with_its_depth(
    session: Session, anvil: AnvilNode, monitors: Callable[[], Monitor], client: TestClient
) -> None:
    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60, confirmations=3)  # fmt: skip
    anvil.mine(10)
    monitor = monitors()
    monitor.tick()
    old_hash = anvil.rpc("eth_getBlockByNumber", hex(8), False)["hash"]
    anvil.reorg(3)
    tick_until(monitor, session, lambda: session.scalars(select(Reorg)).first() is not None)
    reorg = session.scalars(select(Reorg)).one()
    assert (reorg.height, reorg.depth, reorg.old_hash) == (8, 3, old_hash)
    assert reorg.new_hash == anvil.rpc("eth_getBlockByNumber", hex(8), False)["hash"]
    incident = open_incident(session, "ethereum")
    assert incident is not None and (incident.level, incident.reasons) == (
        "partial_outage", ["deep_reorg"])  # fmt: skip
    page = client.get("/status/ethereum").text  # the figures traders and staff see
    assert 'data-testid="last-reorg">3 blocks deep' in page
    assert 'data-testid="mempool">' in page and 'data-testid="rpc-errors">0<' in page


def test_stopping_the_node_opens_an_incident_and_restarting_resolves_it(
    session: Session, anvil: AnvilNode, monitors: Callable[[], Monitor], client: TestClient
) -> None:
    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60)  # fmt: skip
    monitor = monitors()
    monitor.tick()
    anvil.stop()
    tick_until(monitor, session, lambda: open_incident(session, "ethereum") is not None)
    incident = open_incident(session, "ethereum")
    assert incident is not None and (incident.level, incident.reasons) == (
        "major_outage", ["rpc_unreachable"])  # fmt: skip
    row = session.scalars(select(NetworkHealth)).one()
    assert row.consecutive_errors >= 3 and "unreachable" in (row.last_error or "")
    page = client.get("/status/ethereum").text
    assert f'data-testid="rpc-errors">{row.consecutive_errors}<' in page

    anvil.start()
    tick_until(monitor, session, lambda: open_incident(session, "ethereum") is None)
    assert incidents_of(session, "ethereum")[0].resolved_at is not None


def test_a_node_serving_another_chain_is_a_major_outage(
    session: Session, lying_rpc: LyingServer, monitors: Callable[[], Monitor]
) -> None:
    add_network(session, "ethereum", chain_id=31337, endpoints=(lying_rpc.url,), block_time=60)
    monitor = monitors()
    monitor.tick()
    incident = open_incident(session, "ethereum")
    assert incident is not None and incident.reasons == ["wrong_chain"]


def test_a_litecoin_regtest_node_is_followed(
    session: Session, litecoin: LitecoinNode, monitors: Callable[[], Monitor]
) -> None:
    add_network(session, "litecoin", family="utxo", endpoints=(litecoin.client_url,),
                block_time=150)  # fmt: skip
    monitor = monitors()
    monitor.tick()
    row = session.scalars(select(NetworkHealth)).one()
    assert (row.head_height, row.consecutive_errors) == (litecoin.height(), 0)
    tip = litecoin.mine(2)[-1]
    tick_until(monitor, session, lambda: session.scalars(select(NetworkHealth)).one().head_height
               == litecoin.height())  # fmt: skip
    litecoin.invalidate(tip)  # the chain gets one block shorter: a reorg of depth 1
    tick_until(monitor, session, lambda: session.scalars(select(Reorg)).first() is not None)
    reorg = session.scalars(select(Reorg)).one()
    assert (reorg.depth, reorg.old_hash, reorg.new_hash) == (1, tip, None)


# --- leadership ------------------------------------------------------------------------------


def test_two_pollers_only_the_leader_polls_and_the_other_takes_over(
    session: Session, anvil: AnvilNode, monitors: Callable[[], Monitor]
) -> None:
    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60)  # fmt: skip
    first, second = monitors(), monitors()
    assert (first.tick(), second.tick()) == (1, 0)
    assert (first.leading, second.leading) == (True, False)
    first.stop()
    assert second.tick() == 1 and second.leading


def _leases(runtime: Runtime, kind: str, folder: Path) -> tuple[Leadership, Leadership]:
    if kind == "redis":
        import redis

        url = runtime.settings.redis_url or "redis://127.0.0.1:6379/15"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.RedisError as error:
            pytest.skip(f"Redis is not available: {error}")
        key = f"test:leader:{time.monotonic_ns()}"
        return RedisLease(url, key, 10), RedisLease(url, key, 10)
    if kind == "postgres":
        if runtime.database.engine.dialect.name != "postgresql":
            pytest.skip("runs when HASHDESK_TEST_DATABASE_URL names PostgreSQL")
        return PostgresLock(runtime.database, "test"), PostgresLock(runtime.database, "test")
    path = sqlite_lock_path(f"sqlite:///{folder / 'hashdesk.sqlite3'}", "test")
    return FileLock(path), FileLock(path)


@pytest.mark.parametrize("kind", ["redis", "postgres", "file"])
def test_every_lock_backend_admits_one_leader_at_a_time(
    runtime: Runtime, kind: str, tmp_path: Path
) -> None:
    one, two = _leases(runtime, kind, tmp_path)
    try:
        assert one.hold() and not two.hold()
        assert one.hold() and not two.hold()  # renewing keeps it
        one.release()
        assert two.hold() and not one.hold()
    finally:
        one.release()
        two.release()


@pytest.mark.parametrize("behaviour", ["garbage", "not_rpc", "hang", "unauthorized"])
def test_a_lying_or_hanging_endpoint_is_an_outage_not_a_crash(
    runtime: Runtime, session: Session, lying_rpc: LyingServer, behaviour: str,
    monitors: Callable[[], Monitor],
) -> None:  # fmt: skip
    lying_rpc.behaviour = behaviour
    add_network(session, "ethereum", chain_id=31337, endpoints=(lying_rpc.url,), block_time=60)
    monitor = monitors()
    runtime.settings.chain_rpc_timeout_seconds = 0.5
    monitor.timeout = 0.5
    started = time.monotonic()
    tick_until(monitor, session, lambda: open_incident(session, "ethereum") is not None)
    assert time.monotonic() - started < 10  # three polls, each cut off at its deadline
    row = session.scalars(select(NetworkHealth)).one()
    assert row.consecutive_errors == 3 and row.last_error
    incident = open_incident(session, "ethereum")
    assert incident is not None and incident.reasons == ["rpc_unreachable"]


def test_the_monitor_command_polls_once(session: Session, anvil: AnvilNode, cli: CliRunner) -> None:
    from hashdesk.cli import main

    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60)  # fmt: skip
    anvil.mine(3)
    result = cli.invoke(main, ["chains", "monitor", "--once"])
    assert result.exit_code == 0, result.output
    assert "Polled 1 networks." in result.output and "ethereum: height 3" in result.output
    assert session.scalars(select(NetworkHealth)).one().head_height == 3


def test_the_runtime_starts_the_monitor_when_the_setting_says_so(
    runtime: Runtime, session: Session, anvil: AnvilNode
) -> None:
    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60)  # fmt: skip
    runtime.settings.run_chain_monitor = True
    runtime.settings.chain_monitor_interval_seconds = INTERVAL
    runtime.start()
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while session.scalars(select(NetworkHealth)).first() is None:
            assert time.monotonic() < deadline, "the runtime's monitor never polled"
            time.sleep(INTERVAL)
            session.expire_all()
    finally:
        runtime.stop()
    assert runtime.chain_monitor is not None
