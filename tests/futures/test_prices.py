"""Price-discrepancy checks: a trader's fill against the server log and three venues' data
(trades on two, 1-second candles on the third, each spelling the symbol its own way), and a
liquidation against the mark price, over hand-built CSV files."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hashdesk.cli import main
from hashdesk.futures.prices import (
    CheckSettings,
    FillCheck,
    LiquidationVerdict,
    MarketPrint,
    MatchStatus,
    TradeSide,
    Verdict,
    check_fill_files,
    check_liquidation_files,
    compare_with_market,
)
from hashdesk.futures.records import FuturesFileError, render_sentences

T = 1_772_352_010_000  # 2026-03-01 08:00:10 UTC, the fill's time


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


class Desk:
    """The files of one case, in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def fill(self, price: str, *, side: str = "buy", quantity: str = "0.5", **more: Any) -> Path:
        data = {"symbol": "BTCUSDT", "side": side, "price": price, "quantity": quantity,
                "time": T, **more}  # fmt: skip
        return write(self.folder / "fill.json", json.dumps(data))

    def log(self, *rows: tuple[str, str, str, str, int, str]) -> Path:
        """Rows of (trade_id, side, price, qty, time offset from T, order_id)."""
        lines = ["trade_id,symbol,side,price,qty,time,order_id"]
        lines += [f"{tid},BTCUSDT,{side},{price},{qty},{T + dt},{order}"
                  for tid, side, price, qty, dt, order in rows]  # fmt: skip
        return write(self.folder / "log.csv", "\n".join(lines))

    def trades(self, name: str, venue: str, symbol: str, *prints: tuple[int, str]) -> Path:
        lines = ["venue,symbol,time,price,qty"]
        lines += [f"{venue},{symbol},{T + dt},{price},0.1" for dt, price in prints]
        return write(self.folder / name, "\n".join(lines))

    def candles(self, name: str, *candles: tuple[int, str, str, str, str]) -> Path:
        """1-second candles of venue 'okx' as (open time offset, open, high, low, close)."""
        lines = ["venue,symbol,time,open,high,low,close"]
        lines += [f"okx,BTC-USDT-SWAP,{T + dt},{o},{h},{low},{c}" for dt, o, h, low, c in candles]
        return write(self.folder / name, "\n".join(lines))


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return Desk(tmp_path)


def calm_market(desk: Desk) -> list[Path]:
    return [
        desk.trades("binance.csv", "binance", "BTCUSDT",
                    (-200, "60000"), (-50, "60002"), (100, "60004")),
        desk.trades("bybit.csv", "bybit", "btc_usdt", (-100, "59998"), (150, "60001")),
        desk.candles("okx.csv", (-1000, "60000", "60003", "59996", "60001"),
                     (0, "60001", "60006", "59997", "60003")),
    ]  # fmt: skip


def check(desk: Desk, fill: Path, log: Path, market: list[Path], **options: Any) -> FillCheck:
    return check_fill_files(fill, log, market, CheckSettings(**options))


def text(result: Any) -> str:
    return " ".join(render_sentences(result.sentences, "en"))


# --- verdicts -------------------------------------------------------------------------------


def test_a_fill_inside_the_market_is_consistent(desk: Desk) -> None:
    log = desk.log(
        ("t-1", "buy", "60001.5", "0.5", 3, "o-1"), ("t-0", "sell", "60001.5", "0.5", 1, "o-0")
    )
    result = check(desk, desk.fill("60001.5"), log, calm_market(desk))
    assert result.match.status is MatchStatus.FOUND
    assert result.match.trade is not None and result.match.trade.trade_id == "t-1"
    assert result.verdict is Verdict.CONSISTENT
    comparison = result.comparison
    assert comparison.time_ms == T + 3  # the log's time, not the trader's
    assert (comparison.venues_with_data, comparison.inside_count, comparison.quorum) == (3, 3, 2)
    rows = {row.venue: row for row in comparison.venues}
    assert rows["binance"].prints == 3 and rows["binance"].low == D(60000)
    assert rows["binance"].high == D(60004) and rows["binance"].distance == 0
    assert rows["bybit"].prints == 2  # btc_usdt is BTCUSDT
    # Both candles overlap T ± 250 ms: the one before ends at T, the one holding T.
    assert rows["okx"].kind == "candle" and rows["okx"].prints == 2
    assert rows["okx"].low == D(59996) and rows["okx"].high == D(60006)
    assert comparison.consensus_mid == D("60001")  # median of 60002, 59999.5, 60001
    assert "inside the range the market traded in within ±250 ms" in text(result)


def test_outside_but_explained_by_a_fast_market(desk: Desk) -> None:
    market = [
        desk.trades("binance.csv", "binance", "BTCUSDT", (-240, "60000"), (200, "60150")),
        desk.trades("bybit.csv", "bybit", "BTCUSDT", (-200, "60010"), (240, "60140")),
        desk.candles("okx.csv", (0, "60000", "60160", "59995", "60150")),
    ]
    log = desk.log(("t-9", "buy", "60190", "0.5", 0, "o-9"))
    result = check(desk, desk.fill("60190"), log, market)
    assert result.verdict is Verdict.FAST_MARKET
    assert result.comparison.inside_count == 0
    assert result.comparison.fast_count == 3
    binance = result.comparison.venues[0]
    assert binance.venue == "binance" and binance.distance == D(40)
    assert binance.move_bps is not None and binance.move_bps > 20
    assert "a fast market explains it" in text(result)


def test_outside_but_the_order_walked_the_book(desk: Desk) -> None:
    log = desk.log(("t-1", "buy", "60000", "0.2", -1, "o-7"), ("t-2", "buy", "60030", "0.3", 0, "o-7"),
                   ("t-3", "buy", "60080", "0.5", 1, "o-7"))  # fmt: skip
    result = check(desk, desk.fill("60080"), log, calm_market(desk))
    assert result.verdict is Verdict.SLIPPAGE
    order = result.order
    assert order is not None and order.fills == 3 and order.best_price == D(60000)
    assert order.best_consistent
    assert order.average_price == D("60049")  # (12000 + 18009 + 30040) / 1
    assert order.slippage_bps.quantize(D("0.01")) == D("13.33")
    assert "walked the book" in text(result)


def test_an_unexplained_price_is_an_anomaly(desk: Desk) -> None:
    log = desk.log(("t-5", "buy", "60600", "0.5", 0, "o-5"))
    result = check(desk, desk.fill("60600"), log, calm_market(desk))
    assert result.verdict is Verdict.ANOMALY
    assert result.comparison.adverse_bps is not None and result.comparison.adverse_bps > 90
    assert "escalate to engineering" in text(result)
    # A buy far below the market is in the trader's favour, but no market was there either.
    cheap_log = desk.log(("t-6", "buy", "59400", "0.5", 0, "o-6"))
    cheap = check(desk, desk.fill("59400"), cheap_log, calm_market(desk))
    assert cheap.verdict is Verdict.ANOMALY
    assert cheap.comparison.adverse_bps is not None and cheap.comparison.adverse_bps < -90


def test_clock_skew_tolerance(desk: Desk) -> None:
    # The venues traded at the fill's price about 200 ms after the exchange logged it.
    market = [
        desk.trades("binance.csv", "binance", "BTCUSDT", (-50, "60000"), (200, "60100")),
        desk.trades("bybit.csv", "bybit", "BTCUSDT", (-80, "60001"), (180, "60098"), (220, "60102")),
    ]  # fmt: skip
    log = desk.log(("t-4", "buy", "60100", "0.5", 0, "o-4"))
    fill = desk.fill("60100")
    assert check(desk, fill, log, market).verdict is Verdict.CONSISTENT
    tight = check(desk, fill, log, market, skew_ms=100)
    assert tight.verdict is Verdict.ANOMALY
    offsets = {row.venue: row.reached_offset_ms for row in tight.comparison.venues}
    assert offsets == {"binance": 200, "bybit": 180}
    assert "bybit traded at this price +180 ms from the logged time" in text(tight)


def test_not_found_ambiguous_and_by_trade_id(desk: Desk) -> None:
    log = desk.log(("t-1", "buy", "60001", "0.5", 2, "o-1"), ("t-2", "buy", "60001.5", "0.5", 10, "o-2"),
                   ("t-3", "buy", "60001.5", "0.5", 20, "o-3"))  # fmt: skip
    market = calm_market(desk)
    missing = check(desk, desk.fill("60001.2"), log, market)
    assert missing.verdict is Verdict.NOT_FOUND and missing.match.status is MatchStatus.NOT_FOUND
    assert missing.match.nearest[0].trade_id == "t-1"
    assert missing.compared == "trader" and missing.comparison.consistent
    assert "No trade in the server log matches the fill" in text(missing)
    ambiguous = check(desk, desk.fill("60001.5"), log, market)
    assert ambiguous.verdict is Verdict.AMBIGUOUS
    assert [t.trade_id for t in ambiguous.match.candidates] == ["t-2", "t-3"]
    # Outside the match window: not found.
    assert check(desk, desk.fill("60001.5"), log, market, match_window_ms=5).verdict is (
        Verdict.NOT_FOUND
    )
    by_id = check(desk, desk.fill("60001.2", trade_id="t-1"), log, market)
    assert by_id.match.status is MatchStatus.FOUND
    assert by_id.match.differences == ("price", "time")
    assert by_id.comparison.price == D(60001)  # the log's figures are checked
    assert by_id.verdict is Verdict.CONSISTENT


def test_no_market_data_in_the_window(desk: Desk) -> None:
    market = [desk.trades("binance.csv", "binance", "BTCUSDT", (-5000, "60000"))]
    log = desk.log(("t-1", "buy", "60001", "0.5", 0, "o-1"))
    result = check(desk, desk.fill("60001"), log, market)
    assert result.verdict is Verdict.NO_MARKET_DATA
    assert result.comparison.venues[0].prints == 0


# --- liquidations ---------------------------------------------------------------------------


def liquidation(desk: Desk, price: str = "57286.43", side: str = "long") -> Path:
    data = {"symbol": "BTCUSDT", "side": side, "price": price, "time": T}
    return write(desk.folder / "liquidation.json", json.dumps(data))


def marks(desk: Desk, *rows: tuple[int, str]) -> Path:
    lines = ["time,mark_price", *(f"{T + dt},{price}" for dt, price in rows)]
    return write(desk.folder / "marks.csv", "\n".join(lines))


def test_a_liquidation_where_the_mark_was_there(desk: Desk) -> None:
    series = marks(desk, (-3000, "57600"), (-1000, "57400"), (120, "57280"), (1000, "57350"))
    result = check_liquidation_files(liquidation(desk), series)
    assert result.verdict is LiquidationVerdict.CONFIRMED
    assert result.extreme is not None and result.extreme.price == D(57280)
    assert result.mark_at_time is not None and result.mark_at_time.price == D(57400)
    assert [m.price for m in result.window_marks] == [D(57400), D(57280)]
    assert "at or below the liquidation price 57286.43" in text(result)


def test_a_liquidation_the_mark_never_reached(desk: Desk) -> None:
    # The mark touched the price three seconds before and had recovered by the liquidation.
    series = marks(desk, (-3000, "57200"), (-2000, "57400"), (100, "57310"), (2000, "57290"))
    result = check_liquidation_files(liquidation(desk), series)
    assert result.verdict is LiquidationVerdict.NOT_REACHED
    assert result.distance_bps is not None and result.distance_bps.quantize(D("0.1")) == D("4.1")
    assert result.first_reached is not None and result.first_reached.time_ms == T - 3000
    sentences = text(result)
    assert "did not reach the liquidation price 57286.43" in sentences
    assert "Escalate to engineering" in sentences
    # A short liquidated at 57300 was right: the mark was at or above it.
    short = check_liquidation_files(liquidation(desk, "57300", "short"), series)
    assert short.verdict is LiquidationVerdict.CONFIRMED


def test_a_liquidation_against_the_index_components(desk: Desk) -> None:
    components = [
        desk.trades("binance.csv", "binance", "BTCUSDT", (-500, "57400"), (100, "57270")),
        desk.trades("bybit.csv", "bybit", "BTCUSDT", (-400, "57390"), (150, "57280")),
        desk.trades("kraken.csv", "kraken", "BTCUSDT", (-300, "57500")),
    ]
    result = check_liquidation_files(liquidation(desk), None, components)
    assert result.source == "index"
    assert result.verdict is LiquidationVerdict.CONFIRMED  # median(57270, 57280, 57500) = 57280
    assert result.extreme is not None and result.extreme.price == D(57280)
    assert "median of the venues' prices" in text(result)


# --- bad files and the commands -------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "content", "message"),
    [
        ("market", "venue,symbol,time,last\nbinance,BTCUSDT,1772352010000,1\n",
         "market.csv, row 1: the header needs a price column (trades) or open, high, low and close"),
        ("market", "venue,symbol,time,open,high,low,close\nokx,BTCUSDT,1772352010000,5,6,5.5,5.8\n",
         "market.csv, row 2, column low: the low must be at most the open and close"),
        ("market", "venue,symbol,time,price\nbinance,BTCUSDT,1772352010000,\n",
         "market.csv, row 2, column price: the value is missing."),
        ("log", "trade_id,symbol,side,price,qty,time,order_id\nt,BTCUSDT,long,1,1,1772352010000,o\n",
         "log.csv, row 2, column side: long is not buy or sell."),
        ("log", "trade_id,symbol,side,price,qty,time,order_id\nt,BTCUSDT,buy,1,x,1772352010000,o\n",
         "log.csv, row 2, column qty: x is not a number."),
        ("log", "trade_id,symbol,side,price,time\nt,BTCUSDT,buy,1,1772352010000\n",
         "log.csv, row 1: the header has no qty column"),
        ("fill", '{"symbol": "BTCUSDT", "side": "buy", "price": "1", "quantity": "1"}',
         "fill.json, field time: Field required"),
        ("fill", "[1, 2]", "fill.json: must hold one JSON object."),
    ],
)  # fmt: skip
def test_bad_files_are_named_with_row_and_column(
    desk: Desk, target: str, content: str, message: str
) -> None:
    files = {"fill": desk.fill("60001"), "log": desk.log(("t-1", "buy", "60001", "0.5", 0, "o")),
             "market": calm_market(desk)[0]}  # fmt: skip
    files[target] = write(
        desk.folder / f"{target}{'.json' if target == 'fill' else '.csv'}", content
    )
    with pytest.raises(FuturesFileError) as caught:
        check_fill_files(files["fill"], files["log"], [files["market"]])
    assert message in caught.value.render()


def test_check_fill_command(desk: Desk) -> None:
    market = calm_market(desk)
    log = desk.log(("t-5", "buy", "60600", "0.5", 0, "o-5"))
    args = ["futures", "check-fill", "--fill", str(desk.fill("60600")), "--log", str(log),
            *(part for path in market for part in ("--market", str(path)))]  # fmt: skip
    as_json = CliRunner().invoke(main, [*args, "--json", "--skew-ms", "300"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["verdict"] == "anomaly" and data["skew_ms"] == 300
    assert data["comparison"]["window_start_ms"] == T - 300
    assert [row["venue"] for row in data["comparison"]["venues"]] == ["binance", "bybit", "okx"]
    assert data["comparison"]["venues"][0]["high"] == "60004"
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 0
    assert plain.stdout.startswith("verdict: anomaly\n")
    assert "venue    kind    prints  low" in plain.stdout
    bad = CliRunner().invoke(main, [*args, "--skew-ms", "-1"])
    assert bad.exit_code == 2  # click refuses it, naming the option


def test_check_liquidation_command(desk: Desk) -> None:
    series = marks(desk, (-1000, "57400"), (120, "57280"))
    args = ["futures", "check-liquidation", "--liquidation", str(liquidation(desk))]
    result = CliRunner().invoke(main, [*args, "--marks", str(series), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verdict"] == "confirmed"
    neither = CliRunner().invoke(main, args)
    assert neither.exit_code == 1 and "give --marks or --index" in neither.stderr


# --- properties (hypothesis) ----------------------------------------------------------------

venue_prices = st.lists(st.integers(59_000, 61_000), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(venue_prices, min_size=1, max_size=4), st.data())
def test_inside_every_venue_is_consistent_and_far_outside_is_not(
    venues: list[list[int]], data: st.DataObject
) -> None:
    prints = [
        MarketPrint(f"v{n}", "BTCUSDT", T + i * 10 - 100, T + i * 10 - 99, D(p), D(p), D(p),
                    "trade", i + 2)
        for n, prices in enumerate(venues)
        for i, p in enumerate(prices)
    ]  # fmt: skip
    low = max(min(prices) for prices in venues)
    high = min(max(prices) for prices in venues)
    side = data.draw(st.sampled_from(TradeSide))
    if low <= high:  # a price every venue's range holds
        price = D(data.draw(st.integers(low, high)))
        inside = compare_with_market(price, T, side, prints, CheckSettings())
        assert inside.consistent
    top = max(max(prices) for prices in venues)
    far = D(top) * 2  # beyond any range and any move of at most 2000 in 59000
    outside = compare_with_market(far, T, side, prints, CheckSettings())
    assert not outside.consistent and not outside.fast_market


def test_fill_times_in_iso_8601_or_milliseconds_agree(desk: Desk) -> None:
    log = desk.log(("t-1", "buy", "60001.5", "0.5", 3, "o-1"))
    market = calm_market(desk)
    in_ms = check(desk, desk.fill("60001.5"), log, market)
    iso = check(desk, desk.fill("60001.5", time="2026-03-01T08:00:10.000Z"), log, market)
    assert iso.fill.time == T
    assert iso.match == in_ms.match and iso.verdict is in_ms.verdict is Verdict.CONSISTENT
    seconds = desk.fill("60001.5", time=1_772_352_010)
    with pytest.raises(FuturesFileError) as caught:
        check(desk, seconds, log, market)
    assert "fill.json, field time: 1772352010 looks like seconds" in caught.value.render()
