"""Price-discrepancy checks: was a fill (or a liquidation) at a price the market was at?

**A fill.** The trader's fill (``FillSpec``: symbol, side, price, quantity, time in ms) is
looked up in the exchange's server-side trade log (CSV: ``trade_id, symbol, side, price, qty,
time, order_id``): by ``trade_id`` when the trader gives one, else by symbol, side, price and
quantity within ``match_window_ms`` of the time (one row found, several: ambiguous, none: not
found, with the nearest rows as evidence). The logged trade is then compared with reference
market data from several venues (CSV: ``venue, symbol, time`` and either ``price[, qty]``,
trades, or ``open, high, low, close``, candles of ``candle_ms``, 1 s by default, stamped with
their opening time) inside a window of ± ``skew_ms`` (clock skew between the exchange and the
venues, 250 ms by default). Per venue: the prints in the window, their low and high, the
nearest price to the fill and its distance, how far the market moved, and the nearest moment
(within ``horizon_ms``) the venue traded at the fill's price. The verdict:

* ``consistent``: inside the range of at least half of the venues that have data (a fill
  within ``tolerance_bps`` of a range counts as inside: other venues' ticks are finer);
* ``slippage``: outside, but the order was filled in several parts and walked the book: its
  best fill was consistent with the market and this one is further in the adverse direction;
* ``fast_market``: outside, but within one move of the market's own range where the market
  moved at least ``fast_market_bps`` inside the window (at least half of the venues);
* ``anomaly``: none of these: escalate to engineering with the evidence table;
* ``not_found`` / ``ambiguous``: the log has no or several matching trades; the comparison is
  still made with the trader's figures, as evidence;
* ``no_market_data``: no venue has data in the window.

Venues spell symbols differently: ``BTC-USDT-SWAP``, ``BTC_USDT`` and ``BTCUSDT`` are the same
(``records.normalise_symbol``).

**A liquidation.** Given the liquidation's time, trigger price and the position's side, and a
mark-price series (or the venues' index components, whose median stands in for the index):
was the mark at or beyond that price within ± ``skew_ms``? ``confirmed`` or ``not_reached``
(escalate), with the marks in the window and the first moment the mark reached the price.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hashdesk.core.i18n import N_
from hashdesk.futures.explainer import MarkPrice, TimeMs, read_marks
from hashdesk.futures.margin import ZERO, Side, exact
from hashdesk.futures.records import (
    Row,
    Sentence,
    file_error,
    format_time,
    normalise_symbol,
    read_csv,
    read_json_object,
    shown,
)
from hashdesk.futures.schemas import Number, field_errors

BPS = Decimal(10_000)


class TradeSide(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 when a higher price is worse for the trader (a buy)."""
        return 1 if self is TradeSide.BUY else -1


@dataclass(frozen=True)
class CheckSettings:
    skew_ms: int = 250
    match_window_ms: int = 1000
    tolerance_bps: Decimal = Decimal(1)
    fast_market_bps: Decimal = Decimal(20)
    horizon_ms: int = 5000
    candle_ms: int = 1000


class FillSpec(BaseModel):
    """The ``--fill`` JSON: the fill as the trader reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str
    side: TradeSide
    price: Annotated[Number, Field(gt=0)]
    quantity: Annotated[Number, Field(gt=0)]
    time: TimeMs
    order_id: str | None = None
    trade_id: str | None = None


class LiquidationSpec(BaseModel):
    """The ``--liquidation`` JSON: when, at which trigger (mark) price, which position side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = ""
    side: Side
    price: Annotated[Number, Field(gt=0)]
    time: TimeMs


@dataclass(frozen=True)
class LoggedTrade:
    trade_id: str
    symbol: str
    side: TradeSide
    price: Decimal
    quantity: Decimal
    time_ms: int
    order_id: str
    row: int


@dataclass(frozen=True)
class MarketPrint:
    """A venue's trade (``low == high``, one millisecond) or candle (``time_ms`` to ``end_ms``,
    exclusive)."""

    venue: str
    symbol: str
    time_ms: int
    end_ms: int
    low: Decimal
    high: Decimal
    close: Decimal
    kind: str  # "trade" or "candle"
    row: int


# --- reading ------------------------------------------------------------------------------

_LOG_ALIASES = {"id": "trade_id", "tradeid": "trade_id", "quantity": "qty", "size": "qty",
                "amount": "qty", "timestamp": "time", "time_ms": "time", "orderid": "order_id"}  # fmt: skip
_MARKET_ALIASES = {"exchange": "venue", "source": "venue", "timestamp": "time",
                   "time_ms": "time", "quantity": "qty", "size": "qty"}  # fmt: skip
_SIDES = {"buy": TradeSide.BUY, "b": TradeSide.BUY, "bid": TradeSide.BUY,
          "sell": TradeSide.SELL, "s": TradeSide.SELL, "ask": TradeSide.SELL}  # fmt: skip


_Spec = TypeVar("_Spec", bound=BaseModel)


def load_spec(path: Path, model: type[_Spec]) -> _Spec:
    try:
        return model.model_validate(read_json_object(path))
    except ValidationError as error:
        column, problem = field_errors(error)[0]
        raise file_error(
            "{file}, field {column}: {problem}", file=path, column=column, problem=problem
        ) from error


def read_trade_log(path: Path) -> list[LoggedTrade]:
    rows = read_csv(path, ("trade_id", "symbol", "side", "price", "qty", "time"), _LOG_ALIASES)
    return [_logged_trade(row) for row in rows]


def _logged_trade(row: Row) -> LoggedTrade:
    return LoggedTrade(row.required("trade_id"), row.required("symbol"), _side(row),
                       row.decimal("price", positive=True), row.decimal("qty", positive=True),
                       row.time_ms("time"), row.text("order_id"), row.number)  # fmt: skip


def _side(row: Row) -> TradeSide:
    text = row.required("side")
    side = _SIDES.get(text.lower())
    if side is None:
        raise file_error(
            "{file}, row {row}, column {column}: {value} is not buy or sell.",
            file=row.file, row=row.number, column="side", value=text,
        )  # fmt: skip
    return side


def read_market(path: Path, candle_ms: int = 1000) -> list[MarketPrint]:
    """A venue data file: trades (``price``) or candles (``open, high, low, close``)."""
    rows = read_csv(path, ("venue", "symbol", "time"), _MARKET_ALIASES)
    if not rows:
        raise file_error("{file}: there is no market data in it.", file=path)
    columns = set(rows[0].cells)
    if {"open", "high", "low", "close"} <= columns:
        return [_candle(row, candle_ms) for row in rows]
    if "price" in columns:
        return [_trade(row) for row in rows]
    raise file_error(
        "{file}, row 1: the header needs a price column (trades) or open, high, low and close "
        "columns (candles).",
        file=path, row=1,
    )  # fmt: skip


def _trade(row: Row) -> MarketPrint:
    time_ms, price = row.time_ms("time"), row.decimal("price", positive=True)
    return MarketPrint(row.required("venue"), row.required("symbol"), time_ms, time_ms + 1,
                       price, price, price, "trade", row.number)  # fmt: skip


def _candle(row: Row, candle_ms: int) -> MarketPrint:
    time_ms = row.time_ms("time")
    open_, close = row.decimal("open", positive=True), row.decimal("close", positive=True)
    low, high = row.decimal("low", positive=True), row.decimal("high", positive=True)
    if not low <= min(open_, close) <= max(open_, close) <= high:
        raise file_error(
            "{file}, row {row}, column {column}: the low must be at most the open and close, "
            "and the high at least them.",
            file=row.file, row=row.number, column="low",
        )  # fmt: skip
    return MarketPrint(row.required("venue"), row.required("symbol"), time_ms,
                       time_ms + candle_ms, low, high, close, "candle", row.number)  # fmt: skip


# --- finding the fill in the log ------------------------------------------------------------


class MatchStatus(enum.StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class FillMatch:
    status: MatchStatus
    trade: LoggedTrade | None
    candidates: tuple[LoggedTrade, ...]  # the matching rows (several: ambiguous)
    differences: tuple[str, ...]  # fields where the log disagrees with the trader (by trade_id)
    nearest: tuple[LoggedTrade, ...]  # not found: the log rows of the symbol closest in time


def find_fill(fill: FillSpec, log: Sequence[LoggedTrade], settings: CheckSettings) -> FillMatch:
    symbol = normalise_symbol(fill.symbol)
    same_symbol = [trade for trade in log if normalise_symbol(trade.symbol) == symbol]
    if fill.trade_id:
        candidates = [trade for trade in same_symbol if trade.trade_id == fill.trade_id]
    else:
        candidates = [trade for trade in same_symbol if _matches(fill, trade, settings)]
        exact_time = [trade for trade in candidates if trade.time_ms == fill.time]
        if len(candidates) > 1 and len(exact_time) == 1:
            candidates = exact_time  # the same millisecond settles it
    if len(candidates) == 1:
        trade = candidates[0]
        return FillMatch(MatchStatus.FOUND, trade, (trade,), _differences(fill, trade), ())
    if candidates:
        return FillMatch(MatchStatus.AMBIGUOUS, None, tuple(candidates), (), ())
    nearest = sorted(same_symbol, key=lambda trade: abs(trade.time_ms - fill.time))[:5]
    return FillMatch(MatchStatus.NOT_FOUND, None, (), (), tuple(nearest))


def _matches(fill: FillSpec, trade: LoggedTrade, settings: CheckSettings) -> bool:
    return (
        trade.side is fill.side
        and trade.price == fill.price
        and trade.quantity == fill.quantity
        and abs(trade.time_ms - fill.time) <= settings.match_window_ms
        and (not fill.order_id or not trade.order_id or trade.order_id == fill.order_id)
    )


def _differences(fill: FillSpec, trade: LoggedTrade) -> tuple[str, ...]:
    found = []
    if trade.side is not fill.side:
        found.append("side")
    if trade.price != fill.price:
        found.append("price")
    if trade.quantity != fill.quantity:
        found.append("quantity")
    if trade.time_ms != fill.time:
        found.append("time")
    if fill.order_id and trade.order_id and trade.order_id != fill.order_id:
        found.append("order_id")
    return tuple(found)


# --- the market around a moment -------------------------------------------------------------


@dataclass(frozen=True)
class VenueEvidence:
    """One row of the evidence table (prices are None when the venue has no print in the
    window)."""

    venue: str
    kind: str
    prints: int
    low: Decimal | None
    high: Decimal | None
    nearest_price: Decimal | None
    distance: Decimal | None  # price - nearest price (0 inside the range)
    distance_bps: Decimal | None
    inside: bool
    move_bps: Decimal | None  # the range's width, in bps of its middle
    fast: bool  # moved at least fast_market_bps, and the price within one such move
    reached_offset_ms: int | None  # nearest moment it traded at the price (+ after, - before)


@dataclass(frozen=True)
class MarketComparison:
    price: Decimal
    time_ms: int
    window_start_ms: int
    window_end_ms: int
    venues: tuple[VenueEvidence, ...]
    venues_with_data: int
    inside_count: int
    fast_count: int
    quorum: int
    consensus_mid: Decimal | None  # median of the venues' range middles
    deviation_bps: Decimal | None  # (price - mid) / mid
    adverse_bps: Decimal | None  # the same, positive when worse for the trader

    @property
    def consistent(self) -> bool:
        return self.venues_with_data > 0 and self.inside_count >= self.quorum

    @property
    def fast_market(self) -> bool:
        return self.venues_with_data > 0 and self.fast_count >= self.quorum

    @property
    def outside_bps(self) -> Decimal | None:
        """The distance to the nearest venue range, in bps."""
        distances = [abs(v.distance_bps) for v in self.venues if v.distance_bps is not None]
        return min(distances) if distances else None


@exact
def compare_with_market(
    price: Decimal, time_ms: int, side: TradeSide, prints: Sequence[MarketPrint],
    settings: CheckSettings,
) -> MarketComparison:  # fmt: skip
    start, end = time_ms - settings.skew_ms, time_ms + settings.skew_ms
    venues = sorted({p.venue for p in prints})
    evidence = tuple(
        _venue_evidence(venue, [p for p in prints if p.venue == venue], price, time_ms, settings)
        for venue in venues
    )
    with_data = [v for v in evidence if v.prints]
    mid = None
    if with_data:
        mid = Decimal(
            median(
                (v.low + v.high) / 2 for v in with_data if v.low is not None and v.high is not None
            )
        )
    deviation = None if mid is None else (price - mid) / mid * BPS
    return MarketComparison(
        price, time_ms, start, end, evidence, len(with_data),
        sum(v.inside for v in with_data), sum(v.fast for v in with_data),
        -(-len(with_data) // 2), mid, deviation,
        None if deviation is None else deviation * side.sign,
    )  # fmt: skip


def _venue_evidence(
    venue: str, prints: Sequence[MarketPrint], price: Decimal, time_ms: int,
    settings: CheckSettings,
) -> VenueEvidence:  # fmt: skip
    start, end = time_ms - settings.skew_ms, time_ms + settings.skew_ms
    window = [p for p in prints if p.time_ms <= end and p.end_ms > start]
    kind = prints[0].kind if prints else "trade"
    reached = _reached_offset(prints, price, time_ms, settings)
    if not window:
        return VenueEvidence(venue, kind, 0, None, None, None, None, None, False, None, False,
                             reached)  # fmt: skip
    low, high = min(p.low for p in window), max(p.high for p in window)
    tolerance = price * settings.tolerance_bps / BPS
    nearest = min(max(price, low), high)
    distance = price - nearest
    move = high - low
    move_bps = move / ((low + high) / 2) * BPS
    fast = move_bps >= settings.fast_market_bps and (
        low - move - tolerance <= price <= high + move + tolerance
    )
    return VenueEvidence(
        venue, kind, len(window), low, high, nearest, distance, distance / nearest * BPS,
        low - tolerance <= price <= high + tolerance, move_bps, fast, reached,
    )  # fmt: skip


def _reached_offset(
    prints: Sequence[MarketPrint], price: Decimal, time_ms: int, settings: CheckSettings
) -> int | None:
    """The signed offset from ``time_ms`` to the nearest print (within the horizon) whose range
    holds ``price``: how much clock skew would make the venue agree."""
    tolerance = price * settings.tolerance_bps / BPS
    best: int | None = None
    for p in prints:
        if not p.low - tolerance <= price <= p.high + tolerance:
            continue
        if p.time_ms <= time_ms < p.end_ms:
            offset = 0
        elif p.time_ms > time_ms:
            offset = p.time_ms - time_ms
        else:
            offset = p.end_ms - 1 - time_ms
        if abs(offset) <= settings.horizon_ms and (best is None or abs(offset) < abs(best)):
            best = offset
    return best


# --- the fill check -----------------------------------------------------------------------


class Verdict(enum.StrEnum):
    CONSISTENT = "consistent"
    SLIPPAGE = "slippage"
    FAST_MARKET = "fast_market"
    ANOMALY = "anomaly"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    NO_MARKET_DATA = "no_market_data"


@dataclass(frozen=True)
class OrderWalk:
    """The order's fills in the log, when it had several: did it walk the book?"""

    order_id: str
    fills: int
    best_price: Decimal
    best_time_ms: int
    average_price: Decimal  # volume-weighted
    slippage_bps: Decimal  # this fill against the best, positive when worse
    best_consistent: bool  # the best fill was where the market was

    @property
    def explains(self) -> bool:
        return self.best_consistent and self.slippage_bps > 0


@dataclass(frozen=True)
class FillCheck:
    fill: FillSpec
    match: FillMatch
    compared: str  # "log": the logged trade; "trader": the trader's own figures
    comparison: MarketComparison
    order: OrderWalk | None
    verdict: Verdict
    skew_ms: int
    match_window_ms: int
    sentences: tuple[Sentence, ...] = ()


def check_fill(
    fill: FillSpec, log: Sequence[LoggedTrade], market: Sequence[MarketPrint],
    settings: CheckSettings | None = None,
) -> FillCheck:  # fmt: skip
    settings = settings or CheckSettings()
    symbol = normalise_symbol(fill.symbol)
    prints = [p for p in market if normalise_symbol(p.symbol) == symbol]
    match = find_fill(fill, log, settings)
    trade = match.trade
    price, time_ms = (trade.price, trade.time_ms) if trade else (fill.price, fill.time)
    side = trade.side if trade else fill.side  # by trade_id, the log's side may differ
    comparison = compare_with_market(price, time_ms, side, prints, settings)
    order = _order_walk(trade, log, prints, settings) if trade else None
    verdict = _verdict(match, comparison, order)
    result = FillCheck(fill, match, "log" if trade else "trader", comparison, order, verdict,
                       settings.skew_ms, settings.match_window_ms)  # fmt: skip
    return replace(result, sentences=tuple(_fill_sentences(result)))


def _verdict(match: FillMatch, comparison: MarketComparison, order: OrderWalk | None) -> Verdict:
    if match.status is MatchStatus.NOT_FOUND:
        return Verdict.NOT_FOUND
    if match.status is MatchStatus.AMBIGUOUS:
        return Verdict.AMBIGUOUS
    if comparison.venues_with_data == 0:
        return Verdict.NO_MARKET_DATA
    if comparison.consistent:
        return Verdict.CONSISTENT
    if order is not None and order.explains:
        return Verdict.SLIPPAGE
    if comparison.fast_market:
        return Verdict.FAST_MARKET
    return Verdict.ANOMALY


@exact
def _order_walk(
    trade: LoggedTrade, log: Sequence[LoggedTrade], prints: Sequence[MarketPrint],
    settings: CheckSettings,
) -> OrderWalk | None:  # fmt: skip
    if not trade.order_id:
        return None
    fills = [t for t in log if t.order_id == trade.order_id and t.symbol == trade.symbol]
    if len(fills) < 2:
        return None
    sign = trade.side.sign
    best = min(fills, key=lambda t: (t.price * sign, t.time_ms))
    volume = sum((t.quantity for t in fills), ZERO)
    average = sum((t.price * t.quantity for t in fills), ZERO) / volume
    at_best = compare_with_market(best.price, best.time_ms, trade.side, prints, settings)
    return OrderWalk(
        trade.order_id, len(fills), best.price, best.time_ms, average,
        (trade.price - best.price) / best.price * BPS * sign,
        at_best.consistent or at_best.fast_market,
    )  # fmt: skip


def check_fill_files(
    fill: Path, log: Path, markets: Sequence[Path], settings: CheckSettings | None = None
) -> FillCheck:
    settings = settings or CheckSettings()
    prints = [p for path in markets for p in read_market(path, settings.candle_ms)]
    return check_fill(load_spec(fill, FillSpec), read_trade_log(log), prints, settings)


FOUND = N_(
    "The fill is in the server log: trade {trade_id} of order {order_id}, {quantity} at "
    "{price} at {time}."
)
DIFFERS = N_(
    "The server log records trade {trade_id} differently from the trader's report ({fields}): "
    "the log's figures are the ones checked."
)
NOT_FOUND = N_(
    "No trade in the server log matches the fill ({quantity} at {price} within {window} ms of "
    "{time}); check the time zone and the order ID with the trader. Compared with the trader's "
    "own figures:"
)
AMBIGUOUS = N_(
    "{count} trades in the server log match the fill equally well ({ids}); ask the trader for "
    "the order or trade ID. Compared with the trader's own figures:"
)
CONSISTENT = N_(
    "The price {price} is inside the range the market traded in within ±{skew} ms of {time}: "
    "{inside} of {venues} venues traded there (consensus mid {mid}, {deviation} bps away)."
)
OUTSIDE = N_(
    "The price {price} is outside the range most venues traded in within ±{skew} ms of {time}: "
    "{outside} bps from the nearest venue's range (consensus mid {mid}, {deviation} bps away)."
)
SLIPPAGE = N_(
    "Order {order_id} was filled in {fills} parts, from {best} (where the market was) to "
    "{price}: the order walked the book, {slippage} bps of slippage. Not an exchange error."
)
FAST_MARKET = N_(
    "The market moved up to {move} bps within ±{skew} ms and the price is within that move of "
    "where the venues traded: a fast market explains it."
)
ANOMALY = N_(
    "Neither slippage nor a fast market explains the difference: escalate to engineering with "
    "this evidence."
)
SKEW_WOULD_EXPLAIN = N_(
    "{venue} traded at this price {offset} ms from the logged time: a clock skew that large "
    "would explain it, if the exchange's clock can be that far off."
)
NO_MARKET_DATA = N_(
    "No venue's data covers ±{skew} ms around {time}: add market data for that moment or widen "
    "the tolerance."
)


def _fill_sentences(result: FillCheck) -> Iterable[Sentence]:
    yield from _match_sentences(result)
    comparison = result.comparison
    if comparison.venues_with_data == 0:
        yield Sentence(NO_MARKET_DATA, {"skew": str(result.skew_ms),
                                        "time": format_time(comparison.time_ms)})  # fmt: skip
        return
    params = {
        "price": shown(comparison.price), "skew": str(result.skew_ms),
        "time": format_time(comparison.time_ms), "inside": str(comparison.inside_count),
        "venues": str(comparison.venues_with_data), "mid": _shown(comparison.consensus_mid),
        "deviation": _shown(comparison.deviation_bps, 3),
        "outside": _shown(comparison.outside_bps, 3),
    }  # fmt: skip
    if comparison.consistent:
        yield Sentence(CONSISTENT, params)
        return
    yield Sentence(OUTSIDE, params)
    yield from _explanation_sentences(result)


def _explanation_sentences(result: FillCheck) -> Iterable[Sentence]:
    order, comparison = result.order, result.comparison
    if result.verdict is Verdict.SLIPPAGE and order is not None:
        yield Sentence(SLIPPAGE, {"order_id": order.order_id, "fills": str(order.fills),
                                  "best": shown(order.best_price), "price": shown(comparison.price),
                                  "slippage": shown(order.slippage_bps, 3)})  # fmt: skip
    elif comparison.fast_market:
        moves = [v.move_bps for v in comparison.venues if v.move_bps is not None]
        yield Sentence(FAST_MARKET, {"move": shown(max(moves), 3), "skew": str(result.skew_ms)})
    elif result.verdict is Verdict.ANOMALY:
        yield Sentence(ANOMALY, {})
    offsets = [v for v in comparison.venues if v.reached_offset_ms is not None]
    if offsets and result.verdict in (Verdict.ANOMALY, Verdict.FAST_MARKET):
        closest = min(offsets, key=lambda v: abs(v.reached_offset_ms or 0))
        yield Sentence(SKEW_WOULD_EXPLAIN, {"venue": closest.venue,
                                            "offset": f"{closest.reached_offset_ms:+d}"})  # fmt: skip


def _match_sentences(result: FillCheck) -> Iterable[Sentence]:
    match, fill = result.match, result.fill
    if match.trade is not None:
        trade = match.trade
        yield Sentence(FOUND, {"trade_id": trade.trade_id, "order_id": trade.order_id or "—",
                               "quantity": shown(trade.quantity), "price": shown(trade.price),
                               "time": format_time(trade.time_ms)})  # fmt: skip
        if match.differences:
            yield Sentence(DIFFERS, {"trade_id": trade.trade_id,
                                     "fields": ", ".join(match.differences)})  # fmt: skip
    elif match.status is MatchStatus.AMBIGUOUS:
        yield Sentence(AMBIGUOUS, {"count": str(len(match.candidates)),
                                   "ids": ", ".join(t.trade_id for t in match.candidates)})  # fmt: skip
    else:
        yield Sentence(NOT_FOUND, {"quantity": shown(fill.quantity), "price": shown(fill.price),
                                   "window": str(result.match_window_ms),
                                   "time": format_time(fill.time)})  # fmt: skip


def _shown(value: Decimal | None, digits: int = 8) -> str:
    return "—" if value is None else shown(value, digits)


# --- the liquidation check ----------------------------------------------------------------


class LiquidationVerdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    NOT_REACHED = "not_reached"
    NO_DATA = "no_mark_data"


@dataclass(frozen=True)
class LiquidationCheck:
    liquidation: LiquidationSpec
    source: str  # "mark" or "index"
    skew_ms: int
    mark_at_time: MarkPrice | None  # the mark in force at the liquidation time
    window_marks: tuple[MarkPrice, ...]  # the marks in force within ± skew
    extreme: MarkPrice | None  # the lowest (long) or highest (short) of them
    distance_bps: Decimal | None  # how far the extreme stayed from the price (<= 0: reached)
    first_reached: MarkPrice | None  # the first mark at or beyond the price within the horizon
    verdict: LiquidationVerdict
    sentences: tuple[Sentence, ...] = ()


def index_series(prints: Sequence[MarketPrint]) -> list[MarkPrice]:
    """A stand-in index from the venues' prints: at each print, the median of every venue's
    latest price (a trade's price, a candle's close at its end)."""
    latest: dict[str, Decimal] = {}
    series: list[MarkPrice] = []
    events = sorted(
        ((p.time_ms if p.kind == "trade" else p.end_ms - 1, p) for p in prints),
        key=lambda item: item[0],
    )
    for time_ms, p in events:
        latest[p.venue] = p.close
        value = Decimal(median(latest.values()))
        if series and series[-1].time_ms == time_ms:
            series[-1] = MarkPrice(time_ms, value)
        else:
            series.append(MarkPrice(time_ms, value))
    return series


@exact
def check_liquidation_price(
    liquidation: LiquidationSpec, marks: Sequence[MarkPrice], source: str = "mark",
    settings: CheckSettings | None = None,
) -> LiquidationCheck:  # fmt: skip
    settings = settings or CheckSettings()
    at, skew = liquidation.time, settings.skew_ms
    in_force = _in_force(marks, at - skew, at + skew)
    mark_now = _in_force(marks, at, at)
    sign = liquidation.side.sign  # a long is liquidated as the mark falls to the price
    price = liquidation.price
    tolerance = price * settings.tolerance_bps / BPS
    extreme = min(in_force, key=lambda m: m.price * sign) if in_force else None
    distance = None if extreme is None else (extreme.price - price) / price * BPS * sign
    horizon = _in_force(marks, at - settings.horizon_ms, at + settings.horizon_ms)
    first = next((m for m in horizon if (m.price - price) * sign <= tolerance), None)
    if extreme is None:
        verdict = LiquidationVerdict.NO_DATA
    elif (extreme.price - price) * sign <= tolerance:
        verdict = LiquidationVerdict.CONFIRMED
    else:
        verdict = LiquidationVerdict.NOT_REACHED
    result = LiquidationCheck(liquidation, source, skew, mark_now[-1] if mark_now else None,
                              tuple(in_force), extreme, distance, first, verdict)  # fmt: skip
    return replace(result, sentences=tuple(_liquidation_sentences(result)))


def _in_force(marks: Sequence[MarkPrice], start: int, end: int) -> list[MarkPrice]:
    """The marks in force from ``start`` to ``end``: the one published last before ``start``
    (stamped ``start``) and those published in between."""
    before = [m for m in marks if m.time_ms <= start]
    inside = [m for m in marks if start < m.time_ms <= end]
    carried = [MarkPrice(start, before[-1].price)] if before else []
    return carried + inside


def check_liquidation_files(
    liquidation: Path, marks: Path | None, index: Sequence[Path] = (),
    settings: CheckSettings | None = None,
) -> LiquidationCheck:  # fmt: skip
    settings = settings or CheckSettings()
    spec = load_spec(liquidation, LiquidationSpec)
    if marks is not None:
        return check_liquidation_price(spec, read_marks(marks), "mark", settings)
    prints = [p for path in index for p in read_market(path, settings.candle_ms)]
    if spec.symbol:
        symbol = normalise_symbol(spec.symbol)
        prints = [p for p in prints if normalise_symbol(p.symbol) == symbol]
    return check_liquidation_price(spec, index_series(prints), "index", settings)


CONFIRMED_LONG = N_(
    "The mark price was at or below the liquidation price {price} within ±{skew} ms of {time}: "
    "its lowest there was {extreme} at {extreme_time}."
)
CONFIRMED_SHORT = N_(
    "The mark price was at or above the liquidation price {price} within ±{skew} ms of {time}: "
    "its highest there was {extreme} at {extreme_time}."
)
NOT_REACHED = N_(
    "The mark price did not reach the liquidation price {price} within ±{skew} ms of {time}: "
    "it stayed {distance} bps away (at best {extreme} at {extreme_time}). Escalate to "
    "engineering with this evidence."
)
FIRST_REACHED = N_(
    "The mark price first reached that price at {first} ({offset} ms from the liquidation)."
)
NO_MARK_DATA = N_(
    "There is no mark price at or before ±{skew} ms of {time}: the check needs the marks of that moment."
)
INDEX_NOTE = N_(
    "The mark was approximated by the median of the venues' prices (the index components), "
    "without the funding basis the exchange adds."
)


def _liquidation_sentences(result: LiquidationCheck) -> Iterable[Sentence]:
    spec = result.liquidation
    params = {"price": shown(spec.price), "skew": str(result.skew_ms),
              "time": format_time(spec.time)}  # fmt: skip
    if result.source == "index":
        yield Sentence(INDEX_NOTE, {})
    extreme = result.extreme
    if extreme is None:
        yield Sentence(NO_MARK_DATA, params)
        return
    params.update(extreme=shown(extreme.price), extreme_time=format_time(extreme.time_ms),
                  distance=_shown(result.distance_bps, 3))  # fmt: skip
    if result.verdict is LiquidationVerdict.CONFIRMED:
        long = spec.side is Side.LONG
        yield Sentence(CONFIRMED_LONG if long else CONFIRMED_SHORT, params)
    else:
        yield Sentence(NOT_REACHED, params)
    first = result.first_reached
    if first is not None and abs(first.time_ms - spec.time) > result.skew_ms:
        yield Sentence(FIRST_REACHED, {"first": format_time(first.time_ms),
                                       "offset": f"{first.time_ms - spec.time:+d}"})  # fmt: skip
