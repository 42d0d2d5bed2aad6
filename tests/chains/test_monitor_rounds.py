"""The monitor's rounds when one node hangs: a round waits for its polls at most its budget,
records the healthy networks on time, and leaves the slow poll in flight for a later round.

The hanging node is ``HeldNode``, a client that answers only once the test releases it (a
real hanging endpoint ends at the RPC deadline, which the test could not choose the moment
of); the healthy network is a real anvil node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.chains.models import NetworkHealth
from hashdesk.chains.monitor import Monitor, Target, default_client
from hashdesk.chains.rpc import ChainClient, Congestion, Head
from hashdesk.core.clock import utcnow
from hashdesk.runtime import Runtime
from tests.chains.monitoring import add_network
from tests.chains.nodes import AnvilNode

HELD_FOR = 20.0  # the longest a held node waits for its release (a failing test ends)
INTERVAL = 1.0  # rounds wait ROUND_BUDGET of it: 0.75 s


class HeldNode:
    """A node whose ``head`` answers only once ``release`` is set. Counts the polls that
    reached it and the most that were ever in it at once."""

    network = "stuck"
    endpoint = "http://stuck.test/"

    def __init__(self, height: int = 7) -> None:
        self.height = height
        self.release = threading.Event()
        self.calls = 0
        self.most_inside = 0
        self.closed = threading.Event()
        self._inside = 0
        self._lock = threading.Lock()

    def head(self) -> Head:
        with self._lock:
            self.calls += 1
            self._inside += 1
            self.most_inside = max(self.most_inside, self._inside)
        try:
            self.release.wait(HELD_FOR)
            return Head(self.height, self.block_hash(self.height) or "", utcnow())
        finally:
            with self._lock:
                self._inside -= 1

    def block_hash(self, height: int) -> str | None:
        return f"0x{height:064x}"

    def chain_id(self) -> int | None:
        return 999

    def verify_chain(self) -> None:
        pass

    def head_height(self) -> int:
        return self.height

    def congestion(self) -> Congestion:
        return Congestion(pending_transactions=0, base_fee=1)

    def transaction(self, tx_hash: str) -> None:
        return None

    def close(self) -> None:
        self.closed.set()


@pytest.fixture
def monitors(runtime: Runtime) -> Iterator[Callable[[HeldNode], Monitor]]:
    """Makes monitors polling every second whose network ``stuck`` is the given held node;
    after the test every held node is released and every monitor stopped."""
    runtime.settings.chain_monitor_interval_seconds = INTERVAL
    runtime.settings.chain_rpc_timeout_seconds = 2.0
    made: list[Monitor] = []
    held_nodes: list[HeldNode] = []

    def make(held: HeldNode) -> Monitor:
        def client(target: Target, endpoint: str, timeout: float) -> ChainClient:
            if target.slug == "stuck":
                return held
            return default_client(target, endpoint, timeout)

        held_nodes.append(held)
        made.append(Monitor(runtime.database, runtime.settings, make_client=client))
        return made[-1]

    yield make
    for held in held_nodes:
        held.release.set()
    for monitor in made:
        monitor.stop()


def heights(session: Session) -> dict[str, int | None]:
    session.expire_all()
    return {row.network: row.head_height for row in session.scalars(select(NetworkHealth))}


def wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HELD_FOR
    while not done():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def add_both(session: Session, anvil: AnvilNode) -> None:
    add_network(session, "ethereum", chain_id=anvil.chain_id, endpoints=(anvil.rpc_url,),
                block_time=60)  # fmt: skip
    add_network(session, "stuck", chain_id=999, endpoints=(HeldNode.endpoint,), block_time=60)


def test_a_hanging_node_delays_only_its_own_observation(
    session: Session, anvil: AnvilNode, monitors: Callable[[HeldNode], Monitor]
) -> None:
    add_both(session, anvil)
    anvil.mine(3)
    held = HeldNode()
    monitor = monitors(held)

    started = time.monotonic()
    assert monitor.tick() == 1  # ethereum's observation; stuck's poll is still in flight
    took = time.monotonic() - started
    assert monitor.budget == 0.75 and monitor.budget <= took < monitor.budget + 1.0
    assert heights(session) == {"ethereum": 3}
    assert monitor.polling() == {"stuck"}

    time.sleep(INTERVAL)  # both are due again
    started = time.monotonic()
    assert monitor.tick() == 1  # ethereum again, without waiting for the stuck poll
    assert time.monotonic() - started < monitor.budget
    assert (held.calls, held.most_inside) == (1, 1)  # stuck is not polled twice at once

    held.release.set()
    wait_for(lambda: not monitor.polling())
    assert monitor.tick() == 1  # the late observation (ethereum is not due yet)
    assert heights(session) == {"ethereum": 3, "stuck": 7}
    row = session.scalars(select(NetworkHealth).where(NetworkHealth.network == "stuck")).one()
    assert (row.level, row.consecutive_errors) == ("operational", 0)
    # Due again an interval after its poll started, not after it was recorded: at once.
    assert monitor.tick() == 1 and held.calls == 2


def test_a_poller_that_loses_the_lead_drops_its_polls_in_flight(
    session: Session, anvil: AnvilNode, monitors: Callable[[HeldNode], Monitor]
) -> None:
    add_both(session, anvil)
    held = HeldNode(height=9)
    first = monitors(held)
    assert first.tick() == 1 and first.polling() == {"stuck"}

    first.leadership.release()
    answering = HeldNode()
    answering.release.set()
    second = monitors(answering)
    assert second.tick() == 2 and second.leading
    assert first.tick() == 0 and not first.leading
    assert first.states == {} and first.polling() == set()

    held.release.set()  # the dropped poll ends: its client is closed, its result ignored
    assert held.closed.wait(HELD_FOR)
    assert first.tick() == 0 and first.states == {}
    assert heights(session)["stuck"] == 7  # what the leader saw

    second.stop()
    assert first.tick() == 2  # leading again, from fresh polls only
    assert first.states["stuck"].polls == 1 and held.calls == 2


def test_stop_does_not_wait_for_a_hanging_poll(
    session: Session, runtime: Runtime, monitors: Callable[[HeldNode], Monitor]
) -> None:
    add_network(session, "stuck", chain_id=999, endpoints=(HeldNode.endpoint,), block_time=60)
    runtime.settings.chain_monitor_interval_seconds = 10.0  # a round would wait 7.5 s
    held = HeldNode()
    monitor = monitors(held)
    monitor.start()
    wait_for(lambda: held.calls == 1)

    started = time.monotonic()
    monitor.stop()
    assert time.monotonic() - started < 1.0
    assert monitor.states == {}
