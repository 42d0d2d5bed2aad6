"""Margin and liquidation arithmetic for perpetual futures, in ``Decimal`` only.

Two kinds of contract:

* **linear** (USDT-margined): ``quantity`` is in base units (BTC), prices and every margin
  amount are in the quote/settlement asset (USDT). Notional at price P = quantity x P.
* **inverse** (coin-margined): ``quantity`` is a number of contracts, each worth
  ``contract_size`` in the quote currency (100 USD for BTCUSD); margin is in the coin (BTC).
  Notional at price P = quantity x contract_size / P, in coin.

The defining equation: a position is liquidated when its equity (wallet balance + unrealised
PnL on the mark price) falls to its maintenance margin, and bankrupt when equity is zero.
Maintenance margin = notional x maintenance_margin_rate - maintenance_amount (the amount makes
the tiered requirement continuous across tiers: see ``tiers.py``).

Venue conventions, where the published formulas differ (``Venue``):

* ``binance`` (the default): the maintenance margin is taken at the liquidation price, and
  when the notional there falls in another tier the price is recomputed with that tier's rate
  and amount until they agree (Binance's USDⓈ-M and COIN-M formulas with cum amounts, which
  also cover cross margin with other positions and hedge mode). This is the exact solution of
  the defining equation.
* ``bybit``: the maintenance margin is taken at the entry price (position value at entry x
  MMR - deduction), so liquidation price = bankruptcy price moved by that margin per unit;
  optionally with the estimated fee to close at the bankruptcy price (``closing_fee_rate``).
* ``coinex`` (linear only): liquidation price = settlement price x (1 -/+ liquidation margin
  rate) / (1 -/+ maintenance margin rate), the rate of the tier at entry and no maintenance
  amount (CoinEx's table has none).

Cross margin with a single position and nothing else is the same as isolated margin with the
whole wallet balance: ``wallet_balance`` is the isolated margin or the cross wallet balance.
Other positions in a cross account enter through ``other_maintenance`` and
``other_unrealised_pnl`` (Binance's TMM and UPNL).

Nothing is rounded here: results carry ``PRECISION`` significant digits (division is the only
inexact step). Venues round displayed prices to the tick; ``round_to_tick`` does that
conservatively when a caller wants the venue's figure. A price that cannot be reached (a long
whose margin covers a fall to zero, an inverse short backed by more coin than it can lose) is
``None``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from functools import wraps
from typing import ParamSpec, Protocol, TypeVar

from hashdesk.core.errors import InvalidInput

PRECISION = 34  # significant digits (IEEE decimal128); far below any venue's tick
ZERO = Decimal(0)
ONE = Decimal(1)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def exact(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``function`` in a decimal context of ``PRECISION`` digits, whatever the caller's."""

    @wraps(function)
    def in_context(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext() as context:
            context.prec = PRECISION
            return function(*args, **kwargs)

    return in_context


class Contract(enum.StrEnum):
    LINEAR = "linear"
    INVERSE = "inverse"


class Side(enum.StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1


class MarginMode(enum.StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class Venue(enum.StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"
    COINEX = "coinex"


class MarginError(InvalidInput):
    """A position or account that the formulas cannot price (names the field at fault)."""


@dataclass(frozen=True)
class MaintenanceRate:
    """One tier's terms: margin = notional x rate - amount."""

    rate: Decimal
    amount: Decimal = ZERO

    def margin(self, notional: Decimal) -> Decimal:
        return notional * self.rate - self.amount

    def maintenance_at(self, notional: Decimal) -> MaintenanceRate:
        """A flat schedule: the same terms at every notional (see ``MaintenanceSchedule``)."""
        return self


class MaintenanceSchedule(Protocol):
    """What a liquidation needs from a tier table: the terms at a notional."""

    def maintenance_at(self, notional: Decimal) -> MaintenanceRate: ...


@dataclass(frozen=True)
class Position:
    contract: Contract
    side: Side
    entry_price: Decimal
    quantity: Decimal  # linear: base units; inverse: contracts
    contract_size: Decimal = ONE  # inverse: quote value of one contract

    @property
    def quote_value(self) -> Decimal:
        """Inverse: the fixed quote (USD) value of the contracts."""
        return self.quantity * self.contract_size

    def notional(self, price: Decimal) -> Decimal:
        """Position value at ``price`` in the margin asset (USDT for linear, coin for inverse)."""
        if self.contract is Contract.LINEAR:
            return self.quantity * price
        return self.quote_value / price

    @property
    def entry_notional(self) -> Decimal:
        return self.notional(self.entry_price)


# --- value, PnL, margin -----------------------------------------------------------------------


@exact
def unrealised_pnl(position: Position, mark_price: Decimal) -> Decimal:
    """Linear: (mark - entry) x qty x side; inverse: contracts x size x (1/entry - 1/mark) x side."""
    sign = position.side.sign
    if position.contract is Contract.LINEAR:
        return (mark_price - position.entry_price) * position.quantity * sign
    return position.quote_value * (ONE / position.entry_price - ONE / mark_price) * sign


@exact
def initial_margin(position: Position, leverage: Decimal) -> Decimal:
    """Notional at entry / leverage."""
    return position.entry_notional / leverage


@exact
def maintenance_margin(
    position: Position, schedule: MaintenanceSchedule, price: Decimal | None = None
) -> Decimal:
    """Notional at ``price`` (default: the entry price) x MMR - maintenance amount, with the
    terms of the tier that notional falls in."""
    notional = position.notional(position.entry_price if price is None else price)
    return schedule.maintenance_at(notional).margin(notional)


@exact
def margin_ratio(
    position: Position, wallet_balance: Decimal, mark_price: Decimal, schedule: MaintenanceSchedule
) -> Decimal:
    """Maintenance margin / margin balance (wallet + unrealised PnL) at the mark price, as
    Binance shows it: the position is liquidated at 1 (100 %). Infinite once equity is gone."""
    equity = wallet_balance + unrealised_pnl(position, mark_price)
    if equity <= 0:
        return Decimal("Infinity")
    return maintenance_margin(position, schedule, mark_price) / equity


@exact
def funding_payment(position: Position, mark_price: Decimal, funding_rate: Decimal) -> Decimal:
    """What the position pays at a funding time (negative: what it receives): position value
    at the mark price x funding rate, paid by longs when the rate is positive."""
    return position.notional(mark_price) * funding_rate * position.side.sign


# --- bankruptcy ---------------------------------------------------------------------------------


@exact
def bankruptcy_price(
    position: Position, wallet_balance: Decimal, closing_fee_rate: Decimal = ZERO
) -> Decimal | None:
    """The mark price at which equity is zero (with ``closing_fee_rate``: at which equity just
    pays the fee to close at that price, Bybit's convention). ``None`` when no positive price
    exhausts the margin."""
    sign = position.side.sign
    if position.contract is Contract.LINEAR:
        quantity = position.quantity
        price = (quantity * position.entry_price - sign * wallet_balance) / (
            quantity * (ONE - sign * closing_fee_rate)
        )
    else:
        value = position.quote_value
        denominator = value / position.entry_price + sign * wallet_balance
        if denominator <= 0:
            return None
        price = value * (ONE + sign * closing_fee_rate) / denominator
    return price if price > 0 else None


# --- liquidation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One position of a symbol in a cross account, with its maintenance schedule (hedge mode
    has a long and a short leg of the same symbol)."""

    position: Position
    schedule: MaintenanceSchedule


@exact
def liquidation_price(
    position: Position,
    wallet_balance: Decimal,
    schedule: MaintenanceSchedule,
    *,
    venue: Venue = Venue.BINANCE,
    closing_fee_rate: Decimal = ZERO,
    other_maintenance: Decimal = ZERO,
    other_unrealised_pnl: Decimal = ZERO,
) -> Decimal | None:
    """The mark price at which the position is liquidated under ``venue``'s convention.

    ``wallet_balance`` is the isolated margin, or the cross wallet balance; in cross margin
    ``other_maintenance``/``other_unrealised_pnl`` are those of the account's other positions
    (Binance convention only).
    """
    if venue is Venue.BINANCE:
        return cross_liquidation_price(
            [Leg(position, schedule)], wallet_balance, other_maintenance, other_unrealised_pnl
        )
    if other_maintenance or other_unrealised_pnl:
        raise MarginError(
            "Other positions in the account are supported with the binance convention only.",
            field="venue",
        )
    if venue is Venue.BYBIT:
        return _bybit_liquidation(position, wallet_balance, schedule, closing_fee_rate)
    return _coinex_liquidation(position, wallet_balance, schedule)


@exact
def cross_liquidation_price(
    legs: Sequence[Leg],
    wallet_balance: Decimal,
    other_maintenance: Decimal = ZERO,
    other_unrealised_pnl: Decimal = ZERO,
) -> Decimal | None:
    """Binance's liquidation price for the legs of one symbol sharing a wallet (one leg in
    one-way mode, long and short legs in hedge mode; isolated = one leg, nothing else).

    Starts from each leg's tier at its entry notional and, while the notional at the computed
    price falls in another tier, recomputes with that tier's rate and amount. For one position
    the tiered requirement is continuous and convex in the notional, so the prices found this
    way move monotonically towards the one solution and the loop ends within the number of
    tiers; the bound also stops a hedge pair whose tiers never agree (an error, not a guess).
    """
    _check_same_symbol(legs)
    balance = wallet_balance - other_maintenance + other_unrealised_pnl
    terms = [leg.schedule.maintenance_at(leg.position.entry_notional) for leg in legs]
    for _ in range(_MAX_TIER_STEPS):
        price = _binance_formula(legs, terms, balance)
        # No positive price under these terms: try those of the smallest notionals, which a
        # price near zero (linear) or near infinity (inverse) would reach.
        moved = [
            leg.schedule.maintenance_at(ZERO if price is None else leg.position.notional(price))
            for leg in legs
        ]
        if moved == terms:
            return price
        terms = moved
    raise MarginError("The tier table has no tier consistent with the liquidation price.")


_MAX_TIER_STEPS = 64  # far more tiers than any venue publishes


def _check_same_symbol(legs: Sequence[Leg]) -> None:
    if not legs:
        raise MarginError("A liquidation price needs at least one position.", field="quantity")
    first = legs[0].position
    for leg in legs[1:]:
        if (leg.position.contract, leg.position.contract_size) != (
            first.contract,
            first.contract_size,
        ):
            raise MarginError("The legs must be of the same contract.", field="contract")


def _binance_formula(
    legs: Sequence[Leg], terms: Sequence[MaintenanceRate], balance: Decimal
) -> Decimal | None:
    """Binance's USDⓈ-M / COIN-M formula with the given terms per leg (None: no positive price).

    USDⓈ-M:  LP = (WB - TMM + UPNL + Σcum - Σ side·q·EP) / (Σ q·MMR - Σ side·q)
    COIN-M:  LP = (Σ Q·MMR + Σ side·Q) / (WB - TMM + UPNL + Σcum + Σ side·Q/EP),  Q = contracts x size
    """
    cum = sum((term.amount for term in terms), ZERO)
    if legs[0].position.contract is Contract.LINEAR:
        numerator = balance + cum
        denominator = ZERO
        for leg, term in zip(legs, terms, strict=True):
            sign, quantity = leg.position.side.sign, leg.position.quantity
            numerator -= sign * quantity * leg.position.entry_price
            denominator += quantity * term.rate - sign * quantity
    else:
        numerator = ZERO
        denominator = balance + cum
        for leg, term in zip(legs, terms, strict=True):
            sign, value = leg.position.side.sign, leg.position.quote_value
            numerator += value * term.rate + sign * value
            denominator += sign * value / leg.position.entry_price
    if denominator == 0:
        return None
    price = numerator / denominator
    return price if price > 0 else None


def _bybit_liquidation(
    position: Position,
    wallet_balance: Decimal,
    schedule: MaintenanceSchedule,
    closing_fee_rate: Decimal,
) -> Decimal | None:
    """Bybit: equity at the liquidation price = maintenance margin at entry (+ the fee to close
    at the bankruptcy price). Linear: LP = entry - side x (margin - MM - fee)/qty; inverse:
    LP = Q / (Q/entry + side x (margin - MM - fee)) with Q the contracts' quote value."""
    bankruptcy = bankruptcy_price(position, wallet_balance, closing_fee_rate)
    held = wallet_balance - maintenance_margin(position, schedule)
    sign = position.side.sign
    if position.contract is Contract.LINEAR:
        if bankruptcy is not None:
            held -= position.quantity * bankruptcy * closing_fee_rate
        price = position.entry_price - sign * held / position.quantity
    else:
        value = position.quote_value
        if bankruptcy is not None:
            held -= value * closing_fee_rate / bankruptcy
        denominator = value / position.entry_price + sign * held
        if denominator <= 0:
            return None
        price = value / denominator
    return price if price > 0 else None


def _coinex_liquidation(
    position: Position, wallet_balance: Decimal, schedule: MaintenanceSchedule
) -> Decimal | None:
    """CoinEx linear: LP = settlement price x (1 ∓ LMR) / (1 ∓ MMR) with the liquidation margin
    rate LMR = position margin (without PnL) / settlement value; the entry price is the
    settlement price when pyramiding auto-settlement is off."""
    if position.contract is not Contract.LINEAR:
        raise MarginError(
            "CoinEx publishes its formula for linear contracts only.", field="contract"
        )
    terms = schedule.maintenance_at(position.entry_notional)
    if terms.amount:
        raise MarginError(
            "CoinEx's formula has no maintenance amount: give 0 with the coinex convention.",
            field="maintenance_amount",
        )
    sign = position.side.sign
    liquidation_margin_rate = wallet_balance / position.entry_notional
    price = (
        position.entry_price * (ONE - sign * liquidation_margin_rate) / (ONE - sign * terms.rate)
    )
    return price if price > 0 else None


# --- presentation helpers ---------------------------------------------------------------------


def round_to_tick(price: Decimal, tick: Decimal, side: Side) -> Decimal:
    """A liquidation or bankruptcy price on the venue's tick, rounded towards the entry price
    (up for a long, down for a short) as Bybit documents for the bankruptcy price: the shown
    price is never beyond the true one."""
    rounding = ROUND_CEILING if side is Side.LONG else ROUND_FLOOR
    steps = (price / tick).to_integral_value(rounding=rounding)
    return steps * tick


@exact
def plain(value: Decimal) -> str:
    """A decimal as a plain string without exponent or trailing zeros ('19700', '0.0016')."""
    normalised = (value + 0).normalize()  # + 0 turns -0 into 0
    return format(normalised, "f")
