"""The monitor's rules and its reorg window, as pure functions: no node, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hashdesk.chains.incidents import (
    CALM_POLLS,
    Assessment,
    Expectation,
    Facts,
    assess,
    decide,
    slow_after,
    stalled_after,
)
from hashdesk.chains.models import Level
from hashdesk.chains.monitor import HeadWindow
from hashdesk.chains.rpc import Head

ETHEREUM = Expectation(block_time=12.0, confirmations_credit=12, poll_interval=2.0)
SOLANA = Expectation(block_time=0.4, confirmations_credit=1, poll_interval=2.0)
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_healthy_network_is_operational() -> None:
    facts = Facts(head_age=5, mean_block_seconds=12.1, blocks_measured=40)
    assert assess(facts, ETHEREUM) == Assessment(Level.OPERATIONAL, ())


@pytest.mark.parametrize(
    ("errors", "level"),
    [(1, Level.OPERATIONAL), (2, Level.OPERATIONAL), (3, Level.MAJOR_OUTAGE)],
)
def test_rpc_unreachable_is_a_major_outage_after_three_failed_polls(
    errors: int, level: Level
) -> None:
    assert assess(Facts(consecutive_errors=errors), ETHEREUM).level is level


def test_an_unreachable_node_hides_the_stale_head() -> None:
    """The head's age says nothing while the node cannot be asked: one reason, not two."""
    facts = Facts(consecutive_errors=5, head_age=10_000)
    assert assess(facts, ETHEREUM).reasons == ("rpc_unreachable",)


def test_a_node_of_another_chain_is_a_major_outage() -> None:
    assert assess(Facts(wrong_chain=True), ETHEREUM) == Assessment(
        Level.MAJOR_OUTAGE, ("wrong_chain",)
    )


def test_head_age_thresholds_are_multiples_of_the_block_time() -> None:
    assert slow_after(ETHEREUM) == 60 and stalled_after(ETHEREUM) == 240
    assert assess(Facts(head_age=59), ETHEREUM).level is Level.OPERATIONAL
    assert assess(Facts(head_age=61), ETHEREUM) == Assessment(Level.DEGRADED, ("head_slow",))
    assert assess(Facts(head_age=241), ETHEREUM) == Assessment(
        Level.PARTIAL_OUTAGE, ("head_stalled",)
    )


def test_fast_chains_get_a_floor_in_poll_intervals() -> None:
    """0.4 s blocks polled every 2 s: a head cannot be seen to move faster than it is polled."""
    assert slow_after(SOLANA) == 6.0
    assert assess(Facts(head_age=4), SOLANA).level is Level.OPERATIONAL


def test_block_time_lag_needs_enough_blocks() -> None:
    slow = Facts(head_age=1, mean_block_seconds=30, blocks_measured=9)
    assert assess(slow, ETHEREUM).level is Level.OPERATIONAL
    slow = Facts(head_age=1, mean_block_seconds=30, blocks_measured=10)
    assert assess(slow, ETHEREUM) == Assessment(Level.DEGRADED, ("slow_blocks",))


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (1, Assessment(Level.OPERATIONAL, ())),
        (2, Assessment(Level.DEGRADED, ("reorg",))),
        (11, Assessment(Level.DEGRADED, ("reorg",))),
        (12, Assessment(Level.PARTIAL_OUTAGE, ("deep_reorg",))),
    ],
)
def test_reorgs_by_depth_against_the_credit_confirmations(depth: int, expected: Assessment) -> None:
    assert assess(Facts(reorg_depth=depth), ETHEREUM) == expected


def test_congestion_from_fees_and_the_mempool() -> None:
    assert assess(Facts(base_fee_ratio=4.5), ETHEREUM).reasons == ("congested",)
    assert assess(Facts(pending=50, pending_ratio=20), ETHEREUM).level is Level.OPERATIONAL
    assert assess(Facts(pending=5000, pending_ratio=20), ETHEREUM).reasons == ("mempool_full",)


def test_the_worst_rule_wins_and_every_reason_is_listed_worst_first() -> None:
    facts = Facts(head_age=300, base_fee_ratio=5, reorg_depth=3)
    assert assess(facts, ETHEREUM) == Assessment(
        Level.PARTIAL_OUTAGE, ("head_stalled", "reorg", "congested")
    )


def test_maintenance_outranks_what_the_monitor_sees() -> None:
    facts = Facts(consecutive_errors=10, in_maintenance=True)
    assert assess(facts, ETHEREUM) == Assessment(Level.MAINTENANCE, ("maintenance",))


def test_incidents_open_at_once_and_resolve_after_calm_polls() -> None:
    degraded = Assessment(Level.DEGRADED, ("head_slow",))
    calm = Assessment(Level.OPERATIONAL, ())
    assert decide(None, calm, 0).action == "none"
    assert decide(None, degraded, 0).action == "open"
    assert decide(Level.DEGRADED, degraded, 0).action == "none"
    assert decide(Level.DEGRADED, Assessment(Level.MAJOR_OUTAGE, ()), 0).action == "change"
    first = decide(Level.DEGRADED, calm, 0)
    assert (first.action, first.calm_polls) == ("none", 1)
    assert CALM_POLLS == 2
    assert decide(Level.DEGRADED, calm, first.calm_polls).action == "resolve"
    assert decide(Level.DEGRADED, degraded, 1).calm_polls == 0  # a relapse starts over


# --- the window of recent heads --------------------------------------------------------------


class Chain:
    """Block hashes by height, as a node would answer ``block_hash``."""

    def __init__(self, length: int, tag: str = "a") -> None:
        self.hashes = {h: f"{tag}{h}" for h in range(length + 1)}
        self.asked: list[int] = []

    def head(self, at: datetime) -> Head:
        height = max(self.hashes)
        return Head(height, self.hashes[height], at)

    def hash_at(self, height: int) -> str | None:
        self.asked.append(height)
        return self.hashes.get(height)

    def replace_from(self, height: int, tag: str, new_length: int | None = None) -> None:
        tip = max(self.hashes) if new_length is None else new_length
        for h in [h for h in self.hashes if h >= height]:
            del self.hashes[h]
        for h in range(height, tip + 1):
            self.hashes[h] = f"{tag}{h}"


def _follow(window: HeadWindow, chain: Chain, blocks: int, start: datetime = T0) -> datetime:
    """Grow ``chain`` one block per 12 s and show each head to the window."""
    at = start
    for _ in range(blocks):
        chain.hashes[max(chain.hashes) + 1] = f"a{max(chain.hashes) + 1}"
        at += timedelta(seconds=12)
        assert window.advance(chain.head(at), chain.hash_at, at) is None
    return at


def test_a_growing_chain_has_no_reorg_and_its_mean_block_time() -> None:
    window, chain = HeadWindow(), Chain(100)
    _follow(window, chain, 20)
    mean, blocks = window.mean_block_seconds()
    assert (mean, blocks) == (12.0, 19)


def test_the_same_head_twice_costs_no_call() -> None:
    window, chain = HeadWindow(), Chain(100)
    window.advance(chain.head(T0), chain.hash_at, T0)
    chain.asked.clear()
    assert window.advance(chain.head(T0), chain.hash_at, T0) is None
    assert chain.asked == []


def test_a_reorg_at_the_same_height_and_its_depth() -> None:
    window, chain = HeadWindow(), Chain(100)
    at = _follow(window, chain, 10)  # heights 101..110 seen
    chain.replace_from(108, "b")  # 108, 109, 110 replaced, same tip
    found = window.advance(chain.head(at), chain.hash_at, at)
    assert found is not None
    assert (found.height, found.depth, found.old_hash, found.new_hash) == (108, 3, "a108", "b108")


def test_a_reorg_seen_after_the_new_branch_grew() -> None:
    window, chain = HeadWindow(), Chain(100)
    at = _follow(window, chain, 10)
    chain.replace_from(109, "b", new_length=113)
    found = window.advance(chain.head(at), chain.hash_at, at)
    assert found is not None and (found.height, found.depth) == (109, 2)
    # the new branch is now the known one: no second report for the same reorg
    chain.hashes[114] = "b114"
    assert window.advance(chain.head(at), chain.hash_at, at) is None


def test_a_chain_that_got_shorter_dropped_its_top_blocks() -> None:
    window, chain = HeadWindow(), Chain(100)
    at = _follow(window, chain, 5)  # tip 105
    for h in (104, 105):
        del chain.hashes[h]
    found = window.advance(chain.head(at), chain.hash_at, at)
    assert found is not None
    assert (found.height, found.depth, found.old_hash, found.new_hash) == (104, 2, "a104", None)


def test_head_age_starts_from_the_first_blocks_own_time() -> None:
    window, chain = HeadWindow(), Chain(10)
    old = T0 - timedelta(minutes=30)
    window.advance(chain.head(old), chain.hash_at, T0)
    assert window.head_age(T0) == 1800
