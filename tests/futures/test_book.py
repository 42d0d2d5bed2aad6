"""The vectorised book agrees with the Decimal library, and reports each crossing once."""

from __future__ import annotations

import random
from decimal import Decimal as D

import numpy as np
import pytest

from hashdesk.futures import Contract, Position, Side, demo_tier_table, margin_ratio
from hashdesk.futures.book import BookPositions, MarginBook

LINEAR_TABLES = [demo_tier_table("BTCUSDT"), demo_tier_table("ETHUSDT")]
INVERSE_TABLES = [demo_tier_table("BTCUSD")]


def random_book(
    contract: Contract, count: int, seed: int
) -> tuple[MarginBook, list[tuple[Position, int]], list[D]]:
    generator = random.Random(seed)
    tables = LINEAR_TABLES if contract is Contract.LINEAR else INVERSE_TABLES
    symbols: list[int] = []
    sides: list[float] = []
    quantities: list[float] = []
    entries: list[float] = []
    wallets: list[D] = []
    positions: list[tuple[Position, int]] = []
    for _ in range(count):
        symbol = generator.randrange(len(tables))
        side = generator.choice(list(Side))
        entry = D(generator.randrange(1000, 60000))
        if contract is Contract.LINEAR:
            quantity = D(generator.randrange(1, 500_000)) / 1000  # up to 500 BTC: many tiers
        else:
            quantity = D(generator.randrange(1, 300_000))
        position = Position(contract, side, entry, quantity, tables[symbol].contract_size)
        leverage = generator.randrange(2, 50)
        symbols.append(symbol)
        sides.append(float(side.sign))
        quantities.append(float(quantity))
        entries.append(float(entry))
        wallets.append(D(repr(float(position.entry_notional / leverage))))
        positions.append((position, symbol))
    columns = BookPositions(
        np.array(symbols, dtype=np.intp), np.array(sides), np.array(quantities),
        np.array(entries), np.array([float(wallet) for wallet in wallets]),
    )  # fmt: skip
    return MarginBook(contract, tables, columns), positions, wallets


@pytest.mark.parametrize("contract", list(Contract))
def test_ratios_match_the_decimal_library(contract: Contract) -> None:
    book, positions, wallets = random_book(contract, 300, seed=7)
    tables = LINEAR_TABLES if contract is Contract.LINEAR else INVERSE_TABLES
    marks = [31234.5, 1890.25][: len(tables)]
    ratios = book.evaluate(marks).copy()
    assert sorted(book.ids.tolist()) == list(range(300))
    tiers_seen = set()
    for row, position_id in enumerate(book.ids.tolist()):
        position, symbol = positions[position_id]
        table, mark = tables[symbol], D(repr(marks[symbol]))
        tiers_seen.add(table.tier_for(position.notional(mark)))
        expected = margin_ratio(position, wallets[position_id], mark, table)
        if expected.is_infinite():
            assert np.isinf(ratios[row])
        else:
            assert ratios[row] == pytest.approx(float(expected), rel=1e-9)
    assert len(tiers_seen) >= 4  # the runs of several tiers were exercised


def test_each_crossing_is_reported_once_and_rearms() -> None:
    table = demo_tier_table("BTCUSDT")
    # One long: 1 BTC at 20,000 with 400 USDT (50x). MM at mark m: 0.004 m (tier 1).
    columns = BookPositions(
        np.array([0], dtype=np.intp), np.array([1.0]), np.array([1.0]), np.array([20000.0]),
        np.array([400.0]),
    )  # fmt: skip
    book = MarginBook(Contract.LINEAR, [table], columns, thresholds=(0.5, 1.0))

    def tick(mark: float) -> list[int]:
        book.evaluate([mark])
        return book.crossings().risen.tolist()

    assert tick(20000) == []  # 80 / 400 = 0.2
    assert tick(19750) == [0]  # 79 / 150 = 0.53: crossed 0.5
    assert tick(19740) == []  # 78.96 / 140 = 0.56: same level, no second report
    assert book.levels.tolist() == [1]
    assert book.liquidated().tolist() == []
    assert tick(19650) == [0]  # 78.6 / 50 = 1.57: crossed 1.0, liquidated
    assert book.liquidated().tolist() == [0]
    assert tick(20000) == []  # back to safety: re-armed
    assert tick(19750) == [0]


def test_results_carry_the_callers_ids_whatever_the_input_order() -> None:
    tables = [demo_tier_table("BTCUSDT"), demo_tier_table("ETHUSDT")]
    # ids 501..504: two ETH positions first, then two BTC ones, sizes out of order.
    columns = BookPositions(
        symbols=np.array([1, 1, 0, 0], dtype=np.intp),
        sides=np.array([1.0, -1.0, 1.0, -1.0]),
        quantities=np.array([30.0, 2.0, 5.0, 0.5]),
        entry_prices=np.array([3000.0, 3000.0, 60000.0, 60000.0]),
        wallet_balances=np.array([9000.0, 600.0, 6000.0, 3000.0]),
        ids=np.array([501, 502, 503, 504], dtype=np.intp),
    )
    book = MarginBook(Contract.LINEAR, tables, columns, thresholds=(1.0,))
    ratios = dict(zip(book.ids.tolist(), book.evaluate([60000.0, 3000.0]).tolist(), strict=True))
    # The 10x ETH long (90,000 USDT: tier 2, 0.65 %, 15) at its entry price.
    assert ratios[501] == pytest.approx((90000 * 0.0065 - 15) / 9000)
    assert ratios[504] == pytest.approx(30000 * 0.004 / 3000)
    book.crossings()
    # BTC to 58,900: the 5 BTC long (6,000 USDT) keeps 500 of equity against a maintenance
    # margin of 294,500 x 1 % - 1,300 = 1,645 (tier 3).
    book.evaluate([58900.0, 3000.0])
    assert book.crossings().risen.tolist() == [503]
    assert book.liquidated().tolist() == [503]


def test_hysteresis_rearms_only_below_the_gap_and_levels_survive_a_rebuild() -> None:
    table = demo_tier_table("BTCUSDT")
    # The long of the test above; thresholds 0.5 and 1.0, re-armed 0.1 below each.
    columns = BookPositions(
        np.array([0], dtype=np.intp), np.array([1.0]), np.array([1.0]), np.array([20000.0]),
        np.array([400.0]), ids=np.array([7], dtype=np.intp),
    )  # fmt: skip
    book = MarginBook(Contract.LINEAR, [table], columns, thresholds=(0.5, 1.0), rearm_gap=0.1)

    def tick(mark: float) -> tuple[list[int], list[int]]:
        found = book.crossings(book.evaluate_symbol(0, mark))
        return found.risen.tolist(), found.changed_levels.tolist()

    assert tick(19750) == ([7], [1])  # 0.53: crossed 0.5
    assert tick(19765) == ([], [])  # 79.06 / 165 = 0.479: below 0.5, above 0.4: latched
    assert tick(19750) == ([], [])  # so not a second report
    assert tick(19800) == ([], [0])  # 79.2 / 200 = 0.396: re-armed (a change to save)
    assert tick(19650) == ([7], [2])  # 1.57: straight to the second threshold, one report
    # A book rebuilt from the saved level does not report the same crossing again.
    saved = BookPositions(*[getattr(columns, name) for name in
                            ("symbols", "sides", "quantities", "entry_prices", "wallet_balances",
                             "ids")], levels=np.array([2], dtype=np.intp))  # fmt: skip
    rebuilt = MarginBook(Contract.LINEAR, [table], saved, thresholds=(0.5, 1.0), rearm_gap=0.1)
    assert rebuilt.crossings(rebuilt.evaluate_symbol(0, 19650)).risen.tolist() == []
