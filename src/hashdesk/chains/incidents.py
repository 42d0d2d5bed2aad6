"""The rules that turn what the monitor saw into a level, and when an incident opens,
changes level or resolves. Pure functions of their inputs: no database, no clock, no RPC.

The rules, each with the reason code it reports (``REASONS`` has the traders' wording):

============================  =================================================  ================
reason                        when                                               level
============================  =================================================  ================
``maintenance``               a maintenance window is running                    maintenance
``rpc_unreachable``           ``RPC_FAILURES_MAJOR`` polls in a row failed       major outage
``wrong_chain``               the endpoint answers for another chain id          major outage
``head_stalled``              no new block for ``STALLED_BLOCKS`` block times    partial outage
``deep_reorg``                a recent reorg as deep as the credit confirmations partial outage
``head_slow``                 no new block for ``SLOW_BLOCKS`` block times       degraded
``slow_blocks``               blocks come ``LAG_FACTOR`` times slower than       degraded
                              expected, over at least ``LAG_MIN_BLOCKS`` blocks
``reorg``                     a recent reorg of ``REORG_MIN_DEPTH`` blocks or    degraded
                              more
``congested``                 base fee ``FEE_FACTOR`` times its recent median    degraded
``mempool_full``              pending transactions ``MEMPOOL_FACTOR`` times      degraded
                              their recent median (and at least
                              ``MEMPOOL_MIN``)
============================  =================================================  ================

The network's level is the worst of the rules that hold. Every "block times" threshold has a
floor in poll intervals: a head cannot be seen to move faster than it is polled, so a chain
with 0.4 s blocks polled every 2 s is not "slow" after two polls.

An incident opens as soon as the level leaves operational (the rules already wait: three
failed polls, five block times) and resolves after ``CALM_POLLS`` operational polls in a row,
so a network on the edge of a threshold does not open and resolve an incident every poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashdesk.chains.models import SEVERITY, Level
from hashdesk.core.i18n import N_

RPC_FAILURES_MAJOR = 3
SLOW_BLOCKS = 5.0
STALLED_BLOCKS = 20.0
SLOW_FLOOR_POLLS = 3.0
STALLED_FLOOR_POLLS = 10.0
LAG_FACTOR = 2.0
LAG_MIN_BLOCKS = 10
REORG_MIN_DEPTH = 2
# A reorg keeps its network degraded this many block times (floor: REORG_HOLD_POLLS polls),
# long enough for traders whose deposit it dropped to read why.
REORG_HOLD_BLOCKS = 20.0
REORG_HOLD_POLLS = 10.0
FEE_FACTOR = 4.0
MEMPOOL_FACTOR = 10.0
MEMPOOL_MIN = 1000
CALM_POLLS = 2

REASONS = {
    "maintenance": N_("Scheduled maintenance"),
    "rpc_unreachable": N_("Our connection to the network's nodes is down"),
    "wrong_chain": N_("Our node answers for a different chain"),
    "head_stalled": N_("No new blocks for a long time"),
    "deep_reorg": N_("A deep chain reorganisation"),
    "head_slow": N_("New blocks are late"),
    "slow_blocks": N_("Blocks are slower than usual"),
    "reorg": N_("A chain reorganisation"),
    "congested": N_("The network is congested (high fees)"),
    "mempool_full": N_("Many transactions are waiting to be confirmed"),
}

LEVEL_LABELS = {
    Level.OPERATIONAL.value: N_("Operational"),
    Level.DEGRADED.value: N_("Degraded performance"),
    Level.PARTIAL_OUTAGE.value: N_("Partial outage"),
    Level.MAJOR_OUTAGE.value: N_("Major outage"),
    Level.MAINTENANCE.value: N_("Maintenance"),
}


@dataclass(frozen=True)
class Expectation:
    """What the registry says a network should do, and how often it is polled."""

    block_time: float
    confirmations_credit: int
    poll_interval: float


@dataclass(frozen=True)
class Facts:
    """What the monitor knows about one network right now (None: not known yet)."""

    consecutive_errors: int = 0
    wrong_chain: bool = False
    head_age: float | None = None  # seconds since the current head first showed
    mean_block_seconds: float | None = None
    blocks_measured: int = 0
    reorg_depth: int | None = None  # of the deepest reorg still within its hold time
    base_fee_ratio: float | None = None  # the latest base fee over the window's median
    pending: int | None = None
    pending_ratio: float | None = None
    in_maintenance: bool = False


@dataclass(frozen=True)
class Assessment:
    level: Level
    reasons: tuple[str, ...]


def worst(levels: list[Level]) -> Level:
    return max(levels, key=SEVERITY.__getitem__, default=Level.OPERATIONAL)


def slow_after(expect: Expectation) -> float:
    return max(SLOW_BLOCKS * expect.block_time, SLOW_FLOOR_POLLS * expect.poll_interval)


def stalled_after(expect: Expectation) -> float:
    return max(STALLED_BLOCKS * expect.block_time, STALLED_FLOOR_POLLS * expect.poll_interval)


def reorg_hold(expect: Expectation) -> float:
    return max(REORG_HOLD_BLOCKS * expect.block_time, REORG_HOLD_POLLS * expect.poll_interval)


def _connection_rules(facts: Facts) -> list[tuple[Level, str]]:
    found = []
    if facts.consecutive_errors >= RPC_FAILURES_MAJOR:
        found.append((Level.MAJOR_OUTAGE, "rpc_unreachable"))
    if facts.wrong_chain:
        found.append((Level.MAJOR_OUTAGE, "wrong_chain"))
    return found


def _head_rules(facts: Facts, expect: Expectation) -> list[tuple[Level, str]]:
    found = []
    if facts.head_age is not None and facts.head_age > stalled_after(expect):
        found.append((Level.PARTIAL_OUTAGE, "head_stalled"))
    elif facts.head_age is not None and facts.head_age > slow_after(expect):
        found.append((Level.DEGRADED, "head_slow"))
    mean = facts.mean_block_seconds
    measured = mean is not None and facts.blocks_measured >= LAG_MIN_BLOCKS
    if measured and mean is not None and mean > LAG_FACTOR * expect.block_time:
        found.append((Level.DEGRADED, "slow_blocks"))
    return found


def _reorg_rules(facts: Facts, expect: Expectation) -> list[tuple[Level, str]]:
    depth = facts.reorg_depth
    if depth is None:
        return []
    if depth >= max(expect.confirmations_credit, REORG_MIN_DEPTH):
        return [(Level.PARTIAL_OUTAGE, "deep_reorg")]
    if depth >= REORG_MIN_DEPTH:
        return [(Level.DEGRADED, "reorg")]
    return []


def _congestion_rules(facts: Facts) -> list[tuple[Level, str]]:
    found = []
    if facts.base_fee_ratio is not None and facts.base_fee_ratio >= FEE_FACTOR:
        found.append((Level.DEGRADED, "congested"))
    busy = facts.pending is not None and facts.pending >= MEMPOOL_MIN
    if busy and facts.pending_ratio is not None and facts.pending_ratio >= MEMPOOL_FACTOR:
        found.append((Level.DEGRADED, "mempool_full"))
    return found


def assess(facts: Facts, expect: Expectation) -> Assessment:
    """The network's level and every reason for it, worst first."""
    if facts.in_maintenance:
        return Assessment(Level.MAINTENANCE, ("maintenance",))
    found = _connection_rules(facts)
    if not found:  # the head and the mempool say nothing while the node cannot be reached
        found += _head_rules(facts, expect) + _reorg_rules(facts, expect)
        found += _congestion_rules(facts)
    found.sort(key=lambda item: -SEVERITY[item[0]])
    return Assessment(worst([level for level, _ in found]), tuple(reason for _, reason in found))


@dataclass(frozen=True)
class Decision:
    """What to do with a network's incident after one assessment."""

    action: str  # "none", "open", "change", "resolve"
    calm_polls: int  # operational polls in a row so far, carried to the next decision


def decide(open_level: Level | None, assessment: Assessment, calm_polls: int) -> Decision:
    """``open_level``: the level of the network's open incident, None when it has none."""
    calm = calm_polls + 1 if assessment.level is Level.OPERATIONAL else 0
    if open_level is None:
        return Decision("none" if assessment.level is Level.OPERATIONAL else "open", calm)
    if assessment.level is Level.OPERATIONAL:
        return Decision("resolve" if calm >= CALM_POLLS else "none", calm)
    return Decision("none" if assessment.level is open_level else "change", calm)
