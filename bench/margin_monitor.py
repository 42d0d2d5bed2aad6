"""Margin monitor: 100,000 positions' margin ratios re-evaluated per mark-price tick.

    .venv/bin/python bench/margin_monitor.py [--positions 100000] [--ticks 2000] [--seed 1]
        [--cross-share 0.5] [--markdown /tmp/futures_results.md]

Builds a book of linear positions over BTCUSDT and ETHUSDT (demo tier tables: 10 and 9 tiers)
and one of inverse BTCUSD positions (``--cross-share`` of them in cross accounts of two positions
sharing one wallet: the account's ratio is summed with ``np.bincount`` on every tick), then
for each of ``--ticks`` random-walk mark-price
updates measures, one tick at a time (``time.perf_counter_ns``):

- ``book``: ``MarginBook.evaluate`` (tiered maintenance margin, PnL, equity, ratio, into
  buffers allocated once) + ``crossings`` (the margin-call monitor's threshold-crossing
  detection: warning 0.8 and critical 0.9 with a 0.05 re-arm gap, the settings' defaults;
  which positions rose a level, which changed level);
- ``monitor tick``: what ``MarginMonitor`` runs per mark update, one symbol at a time:
  ``evaluate_symbol`` + ``crossings`` of that symbol's rows, for every symbol of the book;
- ``book.evaluate``: the ratio alone;
- ``plain``: the same ratio as a plain numpy expression that allocates its temporaries
  (``np.max(notional * rates - amounts, axis=0)``, ``np.where(equity > 0, mm / equity, inf)``);
- ``plain, one tier``: for scale, that expression without tiers (first tier's rate only).

Prints median and p95 per tick in ms, and plain / book.evaluate. The results agree
(checked on every tick). The target is < 10 ms per tick for 100,000 positions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hashdesk.futures import Contract, TierTable, demo_tier_table
from hashdesk.futures.book import BookPositions, MarginBook

Floats = NDArray[np.float64]
THRESHOLDS = (0.8, 0.9)  # HASHDESK_MARGIN_WARNING_RATIO, HASHDESK_MARGIN_CRITICAL_RATIO
REARM_GAP = 0.05  # HASHDESK_MARGIN_REARM_GAP


@dataclass
class Setup:
    book: MarginBook
    plain: PlainBook
    starts: Floats


@dataclass
class PlainBook:
    """The same positions for the obvious expression, in input order, with each position's
    tier lines gathered once (K x n), as one would write it first."""

    contract: Contract
    symbols: NDArray[np.intp]
    size: Floats
    signs: Floats
    entries: Floats
    wallets: Floats
    rates: Floats
    amounts: Floats
    accounts: NDArray[np.intp]  # -1: isolated

    def ratio(self, marks: Floats) -> Floats:
        mark = marks[self.symbols]
        if self.contract is Contract.LINEAR:
            notional = self.size * mark
            pnl = self.signs * self.size * (mark - self.entries)
        else:
            notional = self.size / mark
            pnl = self.signs * self.size * (1 / self.entries - 1 / mark)
        equity = self.wallets + pnl
        maintenance = np.max(notional * self.rates - self.amounts, axis=0)
        cross = self.accounts >= 0
        if cross.any():  # an account: its positions' sums over the wallet it shares
            accounts = self.accounts[cross]
            first = np.zeros(accounts.max() + 1)
            first[accounts] = self.wallets[cross]
            equity[cross] = np.bincount(accounts, pnl[cross])[accounts] + first[accounts]
            maintenance[cross] = np.bincount(accounts, maintenance[cross])[accounts]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio: Floats = np.where(equity > 0, maintenance / equity, np.inf)
        return ratio

    def ratio_one_tier(self, marks: Floats) -> Floats:
        """For scale: the same without tiers (every position at its first tier's rate)."""
        mark = marks[self.symbols]
        notional = self.size * mark if self.contract is Contract.LINEAR else self.size / mark
        equity = self.wallets + self.signs * self.size * (mark - self.entries)
        if self.contract is Contract.INVERSE:
            equity = self.wallets + self.signs * self.size * (1 / self.entries - 1 / mark)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio: Floats = np.where(equity > 0, notional * self.rates[0] / equity, np.inf)
        return ratio


def tier_lines(tables: list[TierTable], symbols: NDArray[np.intp]) -> tuple[Floats, Floats]:
    depth = max(len(table.tiers) for table in tables)
    rates = np.array([[float(t.tiers[min(k, len(t.tiers) - 1)].maintenance_margin_rate)
                       for k in range(depth)] for t in tables])  # fmt: skip
    amounts = np.array([[float(t.tiers[min(k, len(t.tiers) - 1)].maintenance_amount)
                         for k in range(depth)] for t in tables])  # fmt: skip
    return rates[symbols].T.copy(), amounts[symbols].T.copy()


def make_setup(contract: Contract, count: int, generator: np.random.Generator,
               cross_share: float) -> Setup:  # fmt: skip
    if contract is Contract.LINEAR:
        tables = [demo_tier_table("BTCUSDT"), demo_tier_table("ETHUSDT")]
        starts = np.array([60000.0, 3000.0])
        notional = generator.lognormal(np.log(20000), 1.5, count)  # USDT, a few in high tiers
    else:
        tables = [demo_tier_table("BTCUSD")]
        starts = np.array([60000.0])
        notional = generator.lognormal(np.log(0.5), 1.5, count)  # BTC
    symbols = generator.integers(0, len(tables), count).astype(np.intp)
    entries = starts[symbols] * generator.uniform(0.995, 1.005, count)
    leverage = generator.choice([2.0, 5.0, 10.0, 20.0, 50.0], count)
    sides = generator.choice([-1.0, 1.0], count)
    if contract is Contract.LINEAR:
        quantities = notional / entries
        size = quantities
    else:
        sizes = np.array([float(table.contract_size) for table in tables])[symbols]
        quantities = np.maximum(np.round(notional * entries / sizes), 1.0)
        size = quantities * sizes
    wallets = notional / leverage
    # Cross accounts of two positions (the first ``cross_share`` of the rows, in pairs),
    # each pair's wallet the sum of what the two would hold isolated.
    paired = int(count * cross_share) // 2 * 2
    accounts = np.full(count, -1, dtype=np.intp)
    accounts[:paired] = np.arange(paired) // 2
    wallets[:paired] = np.repeat(wallets[:paired:2] + wallets[1:paired:2], 2)
    positions = BookPositions(symbols, sides, quantities, entries, wallets, accounts=accounts)
    book = MarginBook(contract, tables, positions, thresholds=THRESHOLDS, rearm_gap=REARM_GAP)
    rates, amounts = tier_lines(tables, symbols)
    plain = PlainBook(contract, symbols, size, sides, entries, wallets, rates, amounts, accounts)
    return Setup(book, plain, starts)


@dataclass
class Timing:
    """Per tick: wall-clock ms, and this thread's CPU ms (what the tick costs when another
    process does not take the core away mid-tick: the machine is shared)."""

    wall: list[float]
    cpu: list[float]


def time_ticks(run: Callable[[Floats], object], ticks: list[Floats]) -> Timing:
    for marks in ticks[:50]:  # warm caches and the allocator
        run(marks)
    timing = Timing([], [])
    for marks in ticks:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        run(marks)
        timing.cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
        timing.wall.append((time.perf_counter_ns() - started) / 1e6)
    return timing


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


def random_walk(starts: Floats, count: int, generator: np.random.Generator) -> list[Floats]:
    steps = generator.normal(0.0, 0.0005, (count, len(starts)))  # ~5 bp per tick
    return [row for row in starts * np.exp(np.cumsum(steps, axis=0))]


def measure(contract: Contract, count: int, ticks: int, seed: int,
            cross_share: float) -> dict[str, Timing]:  # fmt: skip
    generator = np.random.default_rng(seed)
    setup = make_setup(contract, count, generator, cross_share)
    book = setup.book
    marks = random_walk(setup.starts, ticks, generator)
    for tick in marks[:: max(1, ticks // 20)]:  # the two ways agree, row for row
        expected = setup.plain.ratio(tick)[book.ids]
        actual = book.evaluate(tick)
        # Far past liquidation equity is a small difference of large numbers: compare the
        # positions that matter to a monitor closely, and the rest only as liquidated.
        near = expected < 10
        np.testing.assert_allclose(actual[near], expected[near], rtol=1e-9)
        assert (actual[~near] >= 1).all()

    def full(tick: Floats) -> None:
        book.evaluate(tick)
        book.crossings()

    def monitor_tick(tick: Floats) -> None:
        for symbol, mark in enumerate(tick.tolist()):
            book.crossings(book.evaluate_symbol(symbol, mark))

    first, later = count_calls(book, marks)
    print(f"{contract.value}: {len(book):,} positions; margin calls: {first:,} at the first "
          f"tick (already past a threshold), {later:,} over the next {len(marks) - 1} ticks")  # fmt: skip
    return {
        "book": time_ticks(full, marks),
        "monitor tick": time_ticks(monitor_tick, marks),
        "book.evaluate": time_ticks(book.evaluate, marks),
        "plain": time_ticks(setup.plain.ratio, marks),
        "plain, one tier": time_ticks(setup.plain.ratio_one_tier, marks),
    }


def count_calls(book: MarginBook, marks: list[Floats]) -> tuple[int, int]:
    """Crossings reported at the first tick and over the rest of the walk (so the timed
    detection has work to do); the levels are then reset for the timed runs."""
    counts = []
    for tick in marks:
        book.evaluate(tick)
        counts.append(len(book.crossings().risen))
    book.levels.fill(0)
    return counts[0], sum(counts[1:])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(results: dict[str, dict[str, Timing]], args: argparse.Namespace) -> str:
    lines = [
        "# Futures margin monitor benchmark",
        "",
        f"- command: `.venv/bin/python bench/margin_monitor.py --positions {args.positions} "
        f"--ticks {args.ticks} --seed {args.seed} --cross-share {args.cross_share}`",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores "
        f"(shared), Python {platform.python_version()}, numpy {np.__version__}",
        f"- {args.positions:,} positions per book ({args.cross_share:.0%} in cross accounts "
        f"of two), {args.ticks} ticks, one tick at a time",
        "",
        f"- load average before the run: {args.load}",
        "",
        "| book | step | median ms/tick | p95 ms/tick | median CPU ms/tick | p95 CPU ms/tick |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for contract, timings in results.items():
        for step, timing in timings.items():
            figures = [statistics.median(timing.wall), p95(timing.wall),
                       statistics.median(timing.cpu), p95(timing.cpu)]  # fmt: skip
            lines.append(
                f"| {contract} | {step} | " + " | ".join(f"{v:.3f}" for v in figures) + " |"
            )
    lines.append("")
    for contract, timings in results.items():
        book = statistics.median(timings["book.evaluate"].wall)
        tiered = statistics.median(timings["plain"].wall) / book
        flat = statistics.median(timings["plain, one tier"].wall) / book
        lines.append(
            f"- {contract}: median ms, plain tiered expression / book.evaluate = {tiered:.1f}x; "
            f"plain one-tier expression / book.evaluate = {flat:.1f}x"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cross-share", type=float, default=0.5,
                        help="share of the positions in cross accounts of two")  # fmt: skip
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    args.load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    results = {
        contract.value: measure(contract, args.positions, args.ticks, args.seed, args.cross_share)
        for contract in Contract
    }
    text = report(results, args)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
