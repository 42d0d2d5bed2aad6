"""The network monitor: polls every monitored network's node, keeps a window of recent head
hashes to see reorgs, and hands each round's observations to ``actions.do_record_round``,
which writes the health rows and opens, changes and resolves incidents.

One process polls (``Monitor.tick`` first makes sure this process holds the leadership, see
``leader``); every process serves the status from the database.

A round starts polls of the networks that are due, several at a time in a small thread pool
(the RPC clients block), with no database session open; waits for them at most
``ROUND_BUDGET`` of the interval; then records in one short transaction every poll that has
finished, this round's and earlier rounds' late ones. One poll makes several calls, each with
its own deadline, so a hanging or trickling node can hold its poll for several timeouts: that
poll stays in flight (its network is not polled again meanwhile) and is recorded in the round
after it ends, while every other network is recorded on time. A network whose poll failed is
due again after a growing delay (exponential backoff up to ``MAX_BACKOFF_SECONDS``), and its
next poll tries its next RPC endpoint.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from hashdesk.assets.models import Network, NetworkStatus
from hashdesk.assets.queries import list_networks
from hashdesk.chains.incidents import Expectation, Facts, reorg_hold
from hashdesk.chains.rpc import (
    ChainClient,
    Congestion,
    Head,
    RpcError,
    RpcWrongChain,
    client_for,
    supported_families,
)
from hashdesk.config import Settings
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Database
from hashdesk.core.leader import Leadership, make_leadership

log = logging.getLogger(__name__)

LEADER_LOCK = "chains-monitor"  # one poller per deployment (core.leader)
WINDOW_BLOCKS = 128  # heights of recent heads kept to find how deep a reorg went
GAP_FILL = 8  # heights skipped between two polls that are fetched to keep the window dense
HISTORY_POLLS = 30  # base fees and pending counts kept to compare the latest with
MIN_HISTORY = 10  # samples needed before a ratio against the median means anything
MAX_BACKOFF_SECONDS = 60.0
TARGETS_REFRESH_SECONDS = 30.0  # registry edits (new endpoints) reach the poller this fast
# Congestion changes slowly next to the head; asking every third poll saves a third of the
# RPC calls (and of the monitor's CPU, see bench/RESULTS.md).
CONGESTION_EVERY = 3
DUE_SLACK = 0.25
# How long a round waits for its polls, as a share of the interval: the round (this wait and
# the transaction) then ends within its interval, so the next one starts on time and the
# networks polled this round are due in it (see ``DUE_SLACK``). A poll slower than that is
# recorded by a later round instead of delaying everyone's.
ROUND_BUDGET = 0.75


@dataclass(frozen=True)
class Target:
    """A network as the monitor polls it, copied out of the registry."""

    slug: str
    family: str
    chain_id: int | None
    block_time: float
    confirmations_credit: int
    endpoints: tuple[str, ...]

    def expectation(self, interval: float) -> Expectation:
        return Expectation(self.block_time, self.confirmations_credit, interval)


@dataclass(frozen=True)
class ReorgFound:
    height: int  # the lowest height whose block changed
    depth: int  # blocks replaced or dropped, from ``height`` to the old tip
    old_hash: str
    new_hash: str | None  # None: the chain got shorter and has no block there yet


class HeadWindow:
    """The hashes of recent blocks by height, and when the current head first showed.

    Polls see heads, not every block. So that a reorg's depth is exact, the window is kept
    dense: the first head brings the ``GAP_FILL`` blocks below it, and a head that skipped up
    to ``GAP_FILL`` heights brings the skipped ones (no call at all while a chain makes at
    most one block per poll, the usual case). On a chain faster than that the window has
    holes, and a depth counts from the lowest known height that changed: it may understate
    by the blocks of the hole below it.
    """

    def __init__(self, size: int = WINDOW_BLOCKS) -> None:
        self.size = size
        self.hashes: dict[int, str] = {}
        self.times: dict[int, datetime] = {}
        self.head: Head | None = None
        self.head_seen_at: datetime | None = None

    def advance(
        self, head: Head, hash_at: Callable[[int], str | None], now: datetime
    ) -> ReorgFound | None:
        """Take in the node's current head; the reorg it reveals, if any. ``hash_at`` asks
        the node for the hash at a height (raises ``RpcError`` like any call)."""
        last = self.head
        if last is not None and head.height == last.height and head.hash == last.hash:
            return None
        reorg = None if last is None else self._check(last, head, hash_at)
        start = head.height - GAP_FILL
        if reorg is not None:
            start = max(start, reorg.height)
        elif last is not None:
            start = max(start, last.height + 1)
        self._fill(start, head.height, hash_at)
        self._store(head, now)
        return reorg

    def _fill(self, start: int, stop: int, hash_at: Callable[[int], str | None]) -> None:
        """Learn the hashes of heights ``start`` up to (not including) ``stop``."""
        for height in range(max(start, 0), stop):
            if height not in self.hashes and (found := hash_at(height)) is not None:
                self.hashes[height] = found

    def _check(
        self, last: Head, head: Head, hash_at: Callable[[int], str | None]
    ) -> ReorgFound | None:
        anchor = min(last.height, head.height)
        known = self.hashes.get(anchor)
        current = head.hash if head.height == anchor else hash_at(anchor)
        if known is not None and current != known:
            return self._walk_back(last.height, anchor, current, hash_at)
        if head.height < last.height:  # blocks above the new head were dropped, none replaced
            lowest = min(h for h in self.hashes if h > head.height)
            old_hash = self.hashes[lowest]
            self._forget_from(lowest)
            return ReorgFound(lowest, last.height - lowest + 1, old_hash, None)
        return None

    def _walk_back(
        self, old_tip: int, anchor: int, current: str | None, hash_at: Callable[[int], str | None]
    ) -> ReorgFound:
        lowest, old_hash, new_hash = anchor, self.hashes[anchor], current
        for height in sorted((h for h in self.hashes if h < anchor), reverse=True):
            now_there = hash_at(height)
            if now_there == self.hashes[height]:
                break
            lowest, old_hash, new_hash = height, self.hashes[height], now_there
        self._forget_from(lowest)
        return ReorgFound(lowest, old_tip - lowest + 1, old_hash, new_hash)

    def _forget_from(self, height: int) -> None:
        for h in [h for h in self.hashes if h >= height]:
            self.hashes.pop(h, None)
            self.times.pop(h, None)

    def _store(self, head: Head, now: datetime) -> None:
        if self.head is None or head.height != self.head.height:
            # The first head's age is its block's (a stalled chain is stalled from the start),
            # unless the node's clock runs ahead of ours.
            self.head_seen_at = min(head.time, now) if self.head is None else now
        self.head = head
        self.hashes[head.height] = head.hash
        self.times[head.height] = head.time
        for height in [h for h in self.hashes if h <= head.height - self.size]:
            self.hashes.pop(height)
            self.times.pop(height, None)

    def mean_block_seconds(self) -> tuple[float | None, int]:
        """The mean time between blocks over the window, and how many blocks it spans."""
        if len(self.times) < 2:
            return None, 0
        first, last = min(self.times), max(self.times)
        seconds = (self.times[last] - self.times[first]).total_seconds()
        return max(seconds, 0.0) / (last - first), last - first

    def head_age(self, now: datetime) -> float | None:
        return None if self.head_seen_at is None else (now - self.head_seen_at).total_seconds()


@dataclass(frozen=True)
class Observation:
    """What one poll of one network found (no database objects: made outside a session)."""

    network: str
    at: datetime
    endpoint: str | None = None
    latency_ms: float | None = None
    head: Head | None = None
    congestion: Congestion | None = None
    error: str | None = None
    wrong_chain: bool = False
    reorg: ReorgFound | None = None


@dataclass
class NetworkState:
    """What the leader remembers of one network between polls."""

    window: HeadWindow = field(default_factory=HeadWindow)
    client: ChainClient | None = None
    endpoint_index: int = 0
    verified: bool = False
    polls: int = 0
    consecutive_errors: int = 0
    wrong_chain: bool = False
    next_due: float = 0.0  # time.monotonic()
    calm_polls: int = 0
    fees: deque[int] = field(default_factory=lambda: deque(maxlen=HISTORY_POLLS))
    pending: deque[int] = field(default_factory=lambda: deque(maxlen=HISTORY_POLLS))
    last_congestion: Congestion | None = None
    reorgs: list[tuple[datetime, int]] = field(default_factory=list)  # (seen, depth)

    def drop_client(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None
        self.verified = False

    def facts(self, now: datetime, expect: Expectation) -> Facts:
        mean, measured = self.window.mean_block_seconds()
        hold = reorg_hold(expect)
        self.reorgs = [(at, d) for at, d in self.reorgs if (now - at).total_seconds() <= hold]
        congestion = self.last_congestion
        return Facts(
            consecutive_errors=self.consecutive_errors,
            wrong_chain=self.wrong_chain,
            head_age=self.window.head_age(now),
            mean_block_seconds=mean,
            blocks_measured=measured,
            reorg_depth=max((d for _, d in self.reorgs), default=None),
            base_fee_ratio=_ratio(self.fees),
            pending=congestion.pending_transactions if congestion else None,
            pending_ratio=_ratio(self.pending),
        )


def _ratio(history: deque[int]) -> float | None:
    """The latest value over the median of the ones before it."""
    if len(history) < MIN_HISTORY:
        return None
    median = statistics.median(list(history)[:-1])
    return None if median <= 0 else history[-1] / median


ClientMaker = Callable[[Target, str, float], ChainClient]


def default_client(target: Target, endpoint: str, timeout: float) -> ChainClient:
    return client_for(target.family, endpoint, network=target.slug, chain_id=target.chain_id,
                      timeout=timeout)  # fmt: skip


def poll(
    target: Target, state: NetworkState, make_client: ClientMaker, timeout: float
) -> Observation:
    """Ask the network's node for its head (and now and then its congestion). Never raises:
    a failure is an observation too."""
    started = time.perf_counter()
    endpoint = target.endpoints[state.endpoint_index % len(target.endpoints)]
    try:
        if state.client is None:
            state.client = make_client(target, endpoint, timeout)
        if not state.verified:
            state.client.verify_chain()
            state.verified = True
        head = state.client.head()
        reorg = state.window.advance(head, state.client.block_hash, utcnow())
        congestion = None
        if state.polls % CONGESTION_EVERY == 0:
            congestion = state.client.congestion()
    except RpcError as error:
        return _failed(target, state, error, endpoint)
    except Exception as error:  # a bug must cost one poll, not the monitor
        log.exception("monitor: polling %s failed unexpectedly", target.slug)
        return _failed(target, state, error, endpoint)
    latency = (time.perf_counter() - started) * 1000
    return Observation(target.slug, utcnow(), state.client.endpoint, latency, head, congestion,
                       reorg=reorg)  # fmt: skip


def _failed(target: Target, state: NetworkState, error: Exception, endpoint: str) -> Observation:
    state.drop_client()  # the next poll reconnects, to the next endpoint
    state.endpoint_index += 1
    wrong = isinstance(error, RpcWrongChain)
    shown = str(error) if isinstance(error, RpcError) else f"{type(error).__name__}: {error}"
    return Observation(target.slug, utcnow(), endpoint=getattr(error, "endpoint", endpoint),
                       error=shown[:300], wrong_chain=wrong)  # fmt: skip


def take_in(
    state: NetworkState, observation: Observation, interval: float, round_start: float
) -> None:
    """Update what is remembered of the network, and when it is due again (counted from the
    start of the round, ``time.monotonic()``, so a round's own length does not push every
    network past the next round)."""
    state.polls += 1
    now = round_start
    if observation.error is not None:
        state.consecutive_errors += 1
        state.wrong_chain = observation.wrong_chain
        delay = min(interval * 2 ** (state.consecutive_errors - 1), MAX_BACKOFF_SECONDS)
        state.next_due = now + max(delay, interval)
        return
    state.consecutive_errors = 0
    state.wrong_chain = False
    state.next_due = now + interval
    if observation.reorg is not None:
        state.reorgs.append((observation.at, observation.reorg.depth))
    congestion = observation.congestion
    if congestion is not None:
        state.last_congestion = congestion
        if congestion.base_fee is not None:
            state.fees.append(congestion.base_fee)
        if congestion.pending_transactions is not None:
            state.pending.append(congestion.pending_transactions)


def load_targets(database: Database) -> list[Target]:
    """The networks to poll: active or in maintenance (a node under maintenance is still
    watched, to see it come back), with at least one RPC endpoint. Suspended ones are not."""
    families = supported_families()  # a network no client speaks to cannot be watched
    with database.session() as session:
        return [_target(n) for n in list_networks(session) if n.rpc_endpoints and n.family in families
                and n.status != NetworkStatus.SUSPENDED.value]  # fmt: skip


def _target(network: Network) -> Target:
    return Target(network.slug, network.family, network.chain_id, network.block_time_seconds,
                  network.confirmations_credit, tuple(network.rpc_endpoints))  # fmt: skip


@dataclass
class Report:
    """One polled network of a round, as ``actions.do_record_round`` takes it."""

    target: Target
    observation: Observation
    facts: Facts
    expectation: Expectation
    calm_polls: int


@dataclass(frozen=True)
class InFlight:
    """A poll started and not yet recorded."""

    target: Target
    state: NetworkState
    started: float  # the start of the round that started it (time.monotonic()), for take_in
    future: Future[Observation]


class RoundWait:
    """Wakes a round when the last of its polls ends, or when the monitor stops."""

    def __init__(self, polls: int) -> None:
        self._left = polls
        self._lock = threading.Lock()
        self.over = threading.Event()
        if polls == 0:
            self.over.set()

    def one_done(self, _future: Future[Observation]) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.over.set()


class Monitor:
    """Polls when it leads. ``tick`` runs one round; ``start`` runs rounds in a thread."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        leadership: Leadership | None = None,
        make_client: ClientMaker = default_client,
        targets: Callable[[], list[Target]] | None = None,
    ) -> None:
        self.database = database
        self.interval = settings.chain_monitor_interval_seconds
        self.timeout = settings.chain_rpc_timeout_seconds
        self.budget = ROUND_BUDGET * self.interval
        self.leadership = leadership or make_leadership(
            settings, database, self.interval, LEADER_LOCK
        )
        self.make_client = make_client
        self._load_targets = targets or (lambda: load_targets(database))
        self._targets: list[Target] = []
        self._targets_at = -TARGETS_REFRESH_SECONDS
        self.states: dict[str, NetworkState] = {}
        self._in_flight: dict[str, InFlight] = {}
        self._round: RoundWait | None = None
        self.leading = False
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="chain-poll")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def targets(self) -> list[Target]:
        if time.monotonic() - self._targets_at >= TARGETS_REFRESH_SECONDS:
            self._targets = self._load_targets()
            self._targets_at = time.monotonic()
            known = {t.slug for t in self._targets}
            for slug in [s for s in self.states if s not in known]:
                self._discard(slug)
        return self._targets

    def tick(self, *, wait_all: bool = False) -> int:
        """One round: start polls of the networks that are due (none of a network whose poll
        is still in flight), wait for them at most ``budget`` seconds (with ``wait_all``, until
        they all end), and record every poll that has ended by then, earlier rounds' included.
        Polls still running stay in flight for a later round to record.

        Returns the number of observations recorded (0 when another process leads)."""
        if not self._lead():
            return 0
        started = time.monotonic()
        # Due a little early rather than a round late: rounds start every interval, give or
        # take the timer's jitter.
        horizon = started + DUE_SLACK * self.interval
        due = [t for t in self.targets() if t.slug not in self._in_flight
               and self._state(t.slug).next_due <= horizon]  # fmt: skip
        self._round = waiting = RoundWait(len(due))
        if self._stop.is_set():  # stop() came before this round's wait could be woken
            waiting.over.set()
        for target in due:
            state = self._state(target.slug)
            future = self._pool.submit(poll, target, state, self.make_client, self.timeout)
            future.add_done_callback(waiting.one_done)
            self._in_flight[target.slug] = InFlight(target, state, started, future)
        waiting.over.wait(None if wait_all else self.budget)
        finished = [f for f in self._in_flight.values() if f.future.done()]
        for flight in finished:
            del self._in_flight[flight.target.slug]
        reports = self._reports(finished)
        from hashdesk.chains.actions import do_record_round

        with self.database.transaction() as session:
            calm = do_record_round(session, reports, [t.slug for t in self.targets()], utcnow())
        for slug, calm_polls in calm.items():
            if slug in self.states:
                self.states[slug].calm_polls = calm_polls
        return len(reports)

    def polling(self) -> set[str]:
        """The networks whose poll is running (or queued for a free thread)."""
        return {slug for slug, f in self._in_flight.items() if not f.future.done()}

    def _lead(self) -> bool:
        leading = self.leadership.hold()
        if self.leading and not leading:
            log.warning("monitor: lost the leadership; another process polls now")
            self._forget()
        elif leading and not self.leading:
            log.info("monitor: this process leads the polling")
        self.leading = leading
        return leading

    def _state(self, slug: str) -> NetworkState:
        return self.states.setdefault(slug, NetworkState())

    def _reports(self, finished: list[InFlight]) -> list[Report]:
        reports = []
        now = utcnow()
        for flight in finished:
            target, state, observation = flight.target, flight.state, flight.future.result()
            # Due again counted from the start of the round that started the poll: a slow
            # poll is not followed by a longer pause.
            take_in(state, observation, self.interval, flight.started)
            expect = target.expectation(self.interval)
            facts = state.facts(now, expect)
            reports.append(Report(target, observation, facts, expect, state.calm_polls))
        return reports

    def _discard(self, slug: str) -> None:
        """Forget a network. A poll of it still running is never recorded, and its client is
        closed when it ends (closing it under the running poll would log a spurious crash)."""
        state = self.states.pop(slug, None)
        flight = self._in_flight.pop(slug, None)
        if state is None:
            return
        if flight is None:
            state.drop_client()
            return
        flight.future.cancel()  # if it has not started yet
        flight.future.add_done_callback(lambda _future: state.drop_client())

    def _forget(self) -> None:
        """A follower keeps no state: when it leads again, the windows start afresh, and the
        polls it started as leader are dropped."""
        for slug in list(self.states):
            self._discard(slug)
        self._in_flight.clear()

    def run(self) -> None:
        """Rounds until ``stop``; a failing round (database down) is logged and retried."""
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("monitor: a round failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="chain-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if (waiting := self._round) is not None:
            waiting.over.set()  # a round waiting for its polls records what has ended, now
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._forget()
        self.leadership.release()
        self._pool.shutdown(wait=False, cancel_futures=True)
