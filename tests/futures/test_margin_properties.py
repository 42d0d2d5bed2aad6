"""Properties of the margin arithmetic that must hold for every position (hypothesis)."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hashdesk.futures import (
    Contract,
    Leg,
    MaintenanceRate,
    MaintenanceSchedule,
    MarginError,
    Position,
    Side,
    Venue,
    bankruptcy_price,
    cross_liquidation_price,
    demo_tier_table,
    funding_payment,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    margin_ratio,
    unrealised_pnl,
)

TOLERANCE = D("1e-24")  # relative; the library carries 34 digits

prices = st.decimals(min_value=D("0.5"), max_value=D("150000"), places=2)
quantities = st.decimals(min_value=D("0.001"), max_value=D("500"), places=3)
contract_counts = st.integers(min_value=1, max_value=1_000_000).map(D)
leverages = st.integers(min_value=1, max_value=125).map(D)
rates = st.decimals(min_value=D(0), max_value=D("0.05"), places=4)
contracts = st.sampled_from(Contract)
sides = st.sampled_from(Side)


@st.composite
def positions(
    draw: st.DrawFn, contract: Contract | None = None, side: Side | None = None
) -> Position:
    kind = draw(contracts) if contract is None else contract
    chosen = draw(sides) if side is None else side
    entry = draw(prices)
    if kind is Contract.LINEAR:
        return Position(kind, chosen, entry, draw(quantities))
    return Position(kind, chosen, entry, draw(contract_counts), D(100))


def close(left: D, right: D) -> bool:
    return abs(left - right) <= TOLERANCE * max(abs(left), abs(right), D(1))


def ordered(*values: D) -> bool:
    """Non-decreasing, allowing for the last digit where two formulas meet (MMR 0: the
    liquidation price is the bankruptcy price, reached by different arithmetic)."""
    return all(a <= b or close(a, b) for a, b in itertools.pairwise(values))


def or_zero(price: D | None) -> D:
    """A long's missing price: no positive price reaches it."""
    return D(0) if price is None else price


def or_infinity(price: D | None) -> D:
    """A short's missing price: no rise reaches it (inverse contracts can lose at most
    their quote value in coin)."""
    return D("Infinity") if price is None else price


@settings(max_examples=150)
@given(positions(side=Side.LONG), leverages, leverages, rates)
def test_a_longs_liquidation_price_rises_with_leverage_between_bankruptcy_and_entry(
    position: Position, low: D, high: D, rate: D
) -> None:
    low, high = sorted((low, high))
    assume(rate < 1 / high)  # otherwise the position is liquidated as it opens
    terms = MaintenanceRate(rate)
    for venue in (Venue.BINANCE, Venue.BYBIT):
        at_low = liquidation_price(position, initial_margin(position, low), terms, venue=venue)
        at_high = liquidation_price(position, initial_margin(position, high), terms, venue=venue)
        assert ordered(or_zero(at_low), or_zero(at_high))
        bankruptcy = bankruptcy_price(position, initial_margin(position, high))
        assert ordered(or_zero(bankruptcy), or_zero(at_high), position.entry_price)


@settings(max_examples=150)
@given(positions(side=Side.SHORT), leverages, leverages, rates)
def test_a_shorts_liquidation_price_falls_with_leverage_between_entry_and_bankruptcy(
    position: Position, low: D, high: D, rate: D
) -> None:
    low, high = sorted((low, high))
    assume(rate < 1 / high)
    terms = MaintenanceRate(rate)
    for venue in (Venue.BINANCE, Venue.BYBIT):
        at_low = liquidation_price(position, initial_margin(position, low), terms, venue=venue)
        at_high = liquidation_price(position, initial_margin(position, high), terms, venue=venue)
        assert ordered(position.entry_price, or_infinity(at_high), or_infinity(at_low))
        bankruptcy = bankruptcy_price(position, initial_margin(position, high))
        assert ordered(or_infinity(at_high), or_infinity(bankruptcy))


@given(positions(), leverages, rates, st.decimals(min_value=D("0.01"), max_value=D(1000), places=2))
def test_adding_margin_moves_the_liquidation_price_away_from_entry(
    position: Position, leverage: D, rate: D, added: D
) -> None:
    assume(rate < 1 / leverage)
    wallet = initial_margin(position, leverage)
    more = wallet + added * (1 if position.contract is Contract.LINEAR else D("0.001"))
    before = liquidation_price(position, wallet, MaintenanceRate(rate))
    after = liquidation_price(position, more, MaintenanceRate(rate))
    if position.side is Side.LONG:
        assert ordered(or_zero(after), or_zero(before))
    else:
        assert ordered(or_infinity(before), or_infinity(after))


@given(positions(), leverages, rates, st.decimals(min_value=D(0), max_value=D(50), places=2),
       st.decimals(min_value=D(-50), max_value=D(50), places=2))  # fmt: skip
def test_isolated_equals_cross_with_nothing_else_and_others_shift_the_wallet(
    position: Position, leverage: D, rate: D, others_margin: D, others_pnl: D
) -> None:
    assume(rate < 1 / leverage)
    wallet = initial_margin(position, leverage)
    terms = MaintenanceRate(rate)
    isolated = liquidation_price(position, wallet, terms)
    assert cross_liquidation_price([Leg(position, terms)], wallet) == isolated
    # Other positions in a cross account act through wallet - their margin + their PnL.
    scale = D(1) if position.contract is Contract.LINEAR else D("0.0001")
    shifted = wallet - others_margin * scale + others_pnl * scale
    assume(shifted > maintenance_margin(position, terms))
    assert cross_liquidation_price(
        [Leg(position, terms)], wallet, others_margin * scale, others_pnl * scale
    ) == liquidation_price(position, shifted, terms)


def tiered(position: Position) -> MaintenanceSchedule:
    return demo_tier_table("BTCUSDT" if position.contract is Contract.LINEAR else "BTCUSD")


@settings(max_examples=200)
@given(positions(), leverages)
def test_maintenance_margin_at_the_liquidation_price_equals_equity_there(
    position: Position, leverage: D
) -> None:
    """The defining equation, with the demo tier tables (so across tier changes)."""
    schedule = tiered(position)
    wallet = initial_margin(position, leverage)
    assume(wallet > maintenance_margin(position, schedule))
    price = liquidation_price(position, wallet, schedule)
    assume(price is not None)
    assert price is not None
    equity = wallet + unrealised_pnl(position, price)
    assert close(equity, maintenance_margin(position, schedule, price))
    assert close(margin_ratio(position, wallet, price, schedule), D(1))


@given(positions(), leverages, rates)
def test_bybit_liquidates_where_equity_meets_the_margin_at_entry(
    position: Position, leverage: D, rate: D
) -> None:
    assume(rate < 1 / leverage)
    wallet = initial_margin(position, leverage)
    price = liquidation_price(position, wallet, MaintenanceRate(rate), venue=Venue.BYBIT)
    assume(price is not None)
    assert price is not None
    equity = wallet + unrealised_pnl(position, price)
    assert close(equity, maintenance_margin(position, MaintenanceRate(rate)))


@given(positions(), leverages)
def test_equity_is_zero_at_the_bankruptcy_price(position: Position, leverage: D) -> None:
    wallet = initial_margin(position, leverage)
    price = bankruptcy_price(position, wallet)
    assume(price is not None)
    assert price is not None
    assert close(wallet + unrealised_pnl(position, price), D(0))


@given(contracts, prices, quantities, quantities, prices, rates, rates)
def test_hedge_mode_legs_share_one_liquidation_price(
    contract: Contract, long_entry: D, long_size: D, short_size: D, short_entry: D,
    long_rate: D, short_rate: D,
) -> None:  # fmt: skip
    """Binance's combined formula: at the price, the shared wallet plus both legs' PnL equals
    both legs' maintenance margin."""
    size = D(1) if contract is Contract.LINEAR else D(100)
    scale = D(1) if contract is Contract.LINEAR else D(1000)  # inverse: contracts, not coins
    long = Position(contract, Side.LONG, long_entry, long_size * scale, size)
    short = Position(contract, Side.SHORT, short_entry, short_size * scale, size)
    wallet = (long.entry_notional + short.entry_notional) / 10
    legs = [Leg(long, MaintenanceRate(long_rate)), Leg(short, MaintenanceRate(short_rate))]
    price = cross_liquidation_price(legs, wallet)
    assume(price is not None)
    assert price is not None
    equity = wallet + unrealised_pnl(long, price) + unrealised_pnl(short, price)
    required = sum(maintenance_margin(leg.position, leg.schedule, price) for leg in legs)
    assert close(equity, required)


def test_hedge_mode_with_tiers_settles_on_consistent_tiers() -> None:
    table = demo_tier_table("BTCUSDT")
    long = Position(Contract.LINEAR, Side.LONG, D(30000), D(20))
    short = Position(Contract.LINEAR, Side.SHORT, D(31000), D(5))
    price = cross_liquidation_price([Leg(long, table), Leg(short, table)], D(60000))
    assert price is not None
    assert D(0) < price < D(30000)
    equity = D(60000) + unrealised_pnl(long, price) + unrealised_pnl(short, price)
    required = maintenance_margin(long, table, price) + maintenance_margin(short, table, price)
    assert close(equity, required)


def test_legs_of_different_contracts_are_refused() -> None:
    linear = Position(Contract.LINEAR, Side.LONG, D(100), D(1))
    inverse = Position(Contract.INVERSE, Side.SHORT, D(100), D(1), D(10))
    with pytest.raises(MarginError) as raised:
        cross_liquidation_price(
            [Leg(linear, MaintenanceRate(D("0.01"))), Leg(inverse, MaintenanceRate(D("0.01")))],
            D(10),
        )
    assert raised.value.field == "contract"


@given(positions(), prices, st.decimals(min_value=D("-0.01"), max_value=D("0.01"), places=6))
def test_funding_is_paid_by_one_side_to_the_other(position: Position, mark: D, rate: D) -> None:
    mirror = Position(
        position.contract,
        Side.SHORT if position.side is Side.LONG else Side.LONG,
        position.entry_price,
        position.quantity,
        position.contract_size,
    )
    paid = funding_payment(position, mark, rate)
    assert paid == -funding_payment(mirror, mark, rate)
    assert paid == position.notional(mark) * rate * position.side.sign


def test_margin_ratio_is_infinite_once_equity_is_gone() -> None:
    position = Position(Contract.LINEAR, Side.LONG, D(100), D(1))
    assert margin_ratio(position, D(10), D(90), MaintenanceRate(D("0.01"))) == D("Infinity")
    assert margin_ratio(position, D(10), D(100), MaintenanceRate(D("0.01"))) == D("0.1")


def test_no_liquidation_price_when_the_margin_covers_everything() -> None:
    # A 1x long cannot lose more than its margin; an inverse short backed by more coin than
    # its contracts are worth at entry cannot be liquidated by any rise.
    long = Position(Contract.LINEAR, Side.LONG, D(100), D(1))
    assert liquidation_price(long, D(100), MaintenanceRate(D("0.004"))) is None
    assert bankruptcy_price(long, D(100)) is None
    short = Position(Contract.INVERSE, Side.SHORT, D(100), D(100), D(1))
    assert liquidation_price(short, D(2), MaintenanceRate(D("0.004"))) is None
    assert bankruptcy_price(short, D(2)) is None
