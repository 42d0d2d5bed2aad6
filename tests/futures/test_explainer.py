"""The position explainer: when and why a position was (or would be) liquidated, over
hand-built mark-price series and margin changes written as the CSV files support receives."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashdesk.cli import main
from hashdesk.futures import (
    MaintenanceRate,
    Position,
    TierTableError,
    liquidation_price,
    parse_tier_tables,
)
from hashdesk.futures.explainer import (
    ChangeKind,
    CostEffect,
    MarginChange,
    MarkPrice,
    PositionSetup,
    explain,
    explain_files,
)
from hashdesk.futures.margin import Contract, Side
from hashdesk.futures.records import FuturesFileError, Sentence, render_sentences

T0 = 1_772_352_000_000  # 2026-03-01 08:00:00 UTC
TERMS = MaintenanceRate(D("0.005"))
LONG = Position(Contract.LINEAR, Side.LONG, D(60000), D(1))


def line_at(margin: D) -> D:
    """Binance USDⓈ-M, one position: LP = (WB - q x EP) / (q x MMR - q); 57286.43 at 3000."""
    return (D(60000) - margin) / D("0.995")


POSITION_JSON: dict[str, Any] = {
    "symbol": "BTCUSDT", "contract": "linear", "side": "long", "mode": "isolated",
    "entry_price": "60000", "quantity": "1", "wallet_balance": "3000",
    "maintenance_margin_rate": "0.005", "maintenance_amount": "0",
}  # fmt: skip


def setup(margin: D = D(3000), position: Position = LONG) -> PositionSetup:
    return PositionSetup(position, TERMS, margin, asset="USDT")


def series(*prices: int | str, start: int = T0, step: int = 1000) -> list[MarkPrice]:
    return [MarkPrice(start + i * step, D(price)) for i, price in enumerate(prices)]


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def close(value: D, expected: D) -> bool:
    """Equal to the library's 34 digits (a difference of two prices loses the last ones)."""
    return abs(value - expected) < D("1e-25")


def text_of(sentences: tuple[Sentence, ...]) -> str:
    return " ".join(render_sentences(sentences, "en"))


# --- the three stories -------------------------------------------------------------------


def test_a_long_liquidated_by_a_fast_drop() -> None:
    marks = series(60000, 59990, 60010, 59000, 57900, 57280, 57000, 57500)
    result = explain(setup(), marks)
    assert result.liquidated
    crossing = result.liquidation
    assert crossing is not None
    assert crossing.time_ms == T0 + 5000  # 57280 is the first mark at or below 57286.43
    assert crossing.mark_price == D(57280)
    assert crossing.liquidation_price == liquidation_price(LONG, D(3000), TERMS) == line_at(D(3000))
    assert not crossing.by_change
    # The fall began at the high of 60010, three seconds earlier (08:00:02 to :05).
    assert result.peak is not None and result.peak.mark_price == D(60010)
    # Survive 57000 (the lowest mark): W > q x EP - m x q x (1 - MMR) = 60000 - 56715 = 3285.
    assert result.extra_margin_needed == D("285.01")
    assert result.costs.effect is CostEffect.NONE
    text = text_of(result.sentences)
    assert "liquidated at 2026-03-01 08:00:05.000 UTC" in text
    assert "fell to 57280" in text and "57286.432" in text
    assert "fallen 4.55% from 60010" in text and "in 3 seconds" in text
    assert "285.01 USDT more margin" in text
    # The chart: every mark, the line until the liquidation, then none.
    points = result.chart.points
    assert [p.time_ms for p in points] == [m.time_ms for m in marks]
    assert points[5].liquidation_price == pytest.approx(float(line_at(D(3000))))
    assert points[6].liquidation_price is None
    assert result.chart.events[-1].kind == "liquidation"


def test_a_margin_add_saves_the_position() -> None:
    marks = series(60000, 59000, 58000, 57500, 57200, 57400, 58000)
    add = MarginChange(T0 + 2500, ChangeKind.ADD_MARGIN, D(200), row=2)
    result = explain(setup(), marks, [add])
    assert not result.liquidated
    (move,) = result.moves
    assert move.line_before == line_at(D(3000))
    assert move.line_after == D(56800) / D("0.995")  # 57085.43
    assert move.shift is not None and close(move.shift, -D(200) / D("0.995"))
    assert move.saved and move.liquidated_without == T0 + 4000  # 57200 under the old line
    assert result.extra_margin_needed == 0
    assert result.closest is not None and result.closest.mark_price == D(57200)
    text = text_of(result.sentences)
    assert "The 200 USDT of margin added at 2026-03-01 08:00:02.500 UTC saved the position" in text
    assert "would have been liquidated at 2026-03-01 08:00:04.000 UTC" in text
    assert "would be liquidated if the mark price fell" in text


def test_funding_pushes_a_position_over_the_line() -> None:
    # The mark hovers 14 USDT above the line; a 20 USDT funding payment lifts the line past it.
    marks = series(57400, 57320, 57300, 57305, 57310, start=T0, step=60_000)
    funding = MarginChange(T0 + 150_000, ChangeKind.FUNDING, D(-20), row=2)
    result = explain(setup(), marks, [funding])
    crossing = result.liquidation
    assert crossing is not None
    assert crossing.by_change and crossing.change_rows == (2,)
    assert crossing.time_ms == T0 + 150_000  # at the payment, with the mark of 08:02 in force
    assert crossing.mark_price == D(57300)
    assert crossing.liquidation_price == D(57020) / D("0.995")  # 57306.53
    (move,) = result.moves
    assert move.decisive and move.liquidated_without is None
    assert result.costs.effect is CostEffect.DECISIVE
    assert result.costs.funding_alone_decisive and not result.costs.fees_alone_decisive
    assert result.costs.funding_paid == D(20)
    assert result.costs.line_shift is not None
    assert close(result.costs.line_shift, D(20) / D("0.995"))
    text = text_of(result.sentences)
    assert "when a change to its margin moved the liquidation price to 57306.533" in text
    assert "paid 20 USDT of funding" in text
    assert "Funding and fees made the difference" in text
    assert "Funding alone made the difference" in text


def test_fees_that_only_bring_the_liquidation_forward() -> None:
    marks = series(58000, 57300, 57290, 57200, start=T0, step=1000)
    fee = MarginChange(T0 + 500, ChangeKind.FEE, D(-10), row=2)
    result = explain(setup(), marks, [fee])
    # With the fee the line is 57296.48: 57290 is under it; without, 57286.43: 57200 is.
    assert result.liquidation is not None and result.liquidation.time_ms == T0 + 2000
    assert result.costs.effect is CostEffect.BROUGHT_FORWARD
    assert result.costs.liquidated_without == T0 + 3000
    assert "brought the liquidation forward" in text_of(result.sentences)


def test_a_change_applies_before_the_mark_of_the_same_millisecond() -> None:
    marks = series(58000, 57250)  # 57250 is below the line at 3000, above the line at 3100
    add = MarginChange(T0 + 1000, ChangeKind.ADD_MARGIN, D(100))
    assert not explain(setup(), marks, [add]).liquidated
    assert explain(setup(), marks, []).liquidated


def test_a_short_inverse_position_with_a_tier_table(tmp_path: Path) -> None:
    position = write(tmp_path / "short.json", json.dumps({
        "symbol": "BTCUSD", "contract": "inverse", "side": "short", "entry_price": "50000",
        "quantity": "1000", "wallet_balance": "0.2", "tiers": "BTCUSD",
    }))  # fmt: skip
    marks = write(
        tmp_path / "marks.csv",
        """
time,mark_price
2026-03-01T08:00:00Z,50000
2026-03-01T08:00:01.500Z,55000
2026-03-01T08:00:03Z,60500
2026-03-01T08:00:04Z,59000
""",
    )
    result = explain_files(position, marks)
    crossing = result.liquidation
    assert crossing is not None and crossing.time_ms == T0 + 3000
    # 1000 contracts x 100 USD: Binance COIN-M, first tier (0.004), checked by the library.
    assert result.asset == "BTC"
    assert crossing.liquidation_price > D(55000)
    assert result.extra_margin_needed > 0
    assert result.margin_step == D("0.00000001")
    assert "rose to 60500, at or above" in text_of(result.sentences)


# --- the extra margin, for any series (hypothesis) -----------------------------------------


@st.composite
def stories(draw: st.DrawFn) -> tuple[PositionSetup, list[MarkPrice], list[MarginChange]]:
    side = draw(st.sampled_from(Side))
    entry = D(draw(st.integers(20_000, 80_000)))
    quantity = D(draw(st.integers(1, 2000))) / 1000
    margin = (entry * quantity * D(draw(st.integers(2, 50))) / 100).quantize(D("0.01"))
    moves = draw(st.lists(st.integers(-400, 400), min_size=1, max_size=25))
    marks, price = [], entry
    for i, move in enumerate(moves):
        price = max(price + D(move) * entry / 10_000, D(1))
        marks.append(MarkPrice(T0 + i * 1000, price.quantize(D("0.1"))))
    changes = [
        MarginChange(T0 + time * 500, kind, amount)
        for time, kind, amount in draw(st.lists(
            st.tuples(st.integers(0, 2 * len(moves)), st.sampled_from(ChangeKind),
                      st.decimals(D("0.01"), margin / 3, places=2)),
            max_size=4,
        ))
    ]  # fmt: skip
    signed = [
        MarginChange(c.time_ms, c.kind, -c.amount if c.kind is not ChangeKind.ADD_MARGIN else c.amount)
        for c in sorted(changes, key=lambda c: c.time_ms)
    ]  # fmt: skip
    position = Position(Contract.LINEAR, side, entry, quantity)
    rate = MaintenanceRate(D(draw(st.integers(1, 20))) / 1000)
    return PositionSetup(position, rate, margin, asset="USDT"), marks, signed


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories())
def test_the_extra_margin_is_the_least_that_avoids_liquidation(
    story: tuple[PositionSetup, list[MarkPrice], list[MarginChange]],
) -> None:
    base, marks, changes = story
    result = explain(base, marks, changes)
    extra = result.extra_margin_needed
    assert (extra == 0) == (not result.liquidated)
    with_extra = PositionSetup(base.position, base.schedule, base.opening_margin + extra)
    assert not explain(with_extra, marks, changes).liquidated
    if extra > 0:
        one_step_less = PositionSetup(
            base.position, base.schedule, base.opening_margin + extra - base.margin_step
        )
        assert explain(one_step_less, marks, changes).liquidated


# --- files, errors and the command ---------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "position": write(tmp_path / "position.json", json.dumps(POSITION_JSON)),
        # newest first, as some exports are
        "marks": write(
            tmp_path / "marks.csv",
            f"""
time,mark_price
{T0 + 3000},57100
{T0 + 2000},57500
{T0 + 1000},58500
{T0},60000
""",
        ),
        "changes": write(
            tmp_path / "changes.csv",
            f"""
time,kind,amount,note
{T0 + 500},funding,-3.2,08:00 funding
{T0 + 1500},add_margin,50,
""",
        ),
    }


def test_files_are_read_and_sorted(files: dict[str, Path]) -> None:
    result = explain_files(files["position"], files["marks"], files["changes"])
    assert [move.kind for move in result.moves] == [ChangeKind.FUNDING, ChangeKind.ADD_MARGIN]
    assert result.moves[0].note == "08:00 funding"
    assert result.liquidation is not None and result.liquidation.time_ms == T0 + 3000


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("marks", "time,mark_price\n1772352000000,abc\n",
         "marks.csv, row 2, column mark_price: abc is not a number."),
        ("marks", "time,price_x\n1772352000000,1\n",
         "marks.csv, row 1: the header has no mark_price column"),
        ("marks", "time,mark_price\n1772352000,60000\n",
         "marks.csv, row 2, column time: 1772352000 looks like seconds"),
        ("marks", "time,mark_price\nyesterday,60000\n",
         "marks.csv, row 2, column time: yesterday is not a time"),
        ("marks", "time,mark_price\n1772352000000,60000\n1772352000000,60001\n",
         "marks.csv, row 3, column time: the time repeats row 2 with another price."),
        ("marks", "time,mark_price\n1772352000000,-5\n",
         "marks.csv, row 2, column mark_price: -5 must be above zero."),
        ("marks", "time,mark_price\n", "marks.csv: there are no mark prices in it."),
        ("changes", "time,kind,amount\n1772352000000,deposit,5\n",
         "changes.csv, row 2, column kind: deposit is not a kind of change"),
        ("changes", "time,kind,amount\n1772352000000,add_margin,-5\n",
         "changes.csv, row 2, column amount: give the margin add_margin as a positive amount."),
        ("changes", "time,kind,amount\n1772352000000,fee,1,extra\n",
         "changes.csv, row 2: 4 cells but the header has 3."),
    ],
)  # fmt: skip
def test_bad_csv_files_are_named_with_row_and_column(
    files: dict[str, Path], name: str, text: str, message: str
) -> None:
    files[name].write_text(text, encoding="utf-8")
    with pytest.raises(FuturesFileError) as caught:
        explain_files(files["position"], files["marks"], files["changes"])
    assert message in caught.value.render()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": "-1"}, "position.json, field quantity: Input should be greater than 0"),
        ({"tiers": "BTCUSDT"}, "position.json, field tiers: give either tiers"),
        ({"colour": "red"}, "position.json, field colour: Extra inputs are not permitted"),
        ({"maintenance_margin_rate": None, "tiers": "DOGEUSDT"},
         "position.json, field tiers: no tier table named DOGEUSDT"),
        ({"maintenance_margin_rate": None, "tiers": "BTCUSD"},
         "position.json, field tiers: the tier table is for inverse contracts."),
        ({"contract": "inverse"}, "position.json, field contract_size: required for inverse"),
    ],
)  # fmt: skip
def test_bad_position_files(files: dict[str, Path], change: dict[str, Any], message: str) -> None:
    data = {key: value for key, value in {**POSITION_JSON, **change}.items() if value is not None}
    files["position"].write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FuturesFileError) as caught:
        explain_files(files["position"], files["marks"], files["changes"])
    assert message in caught.value.render()


def test_the_command_prints_json_with_the_chart(files: dict[str, Path]) -> None:
    args = ["futures", "explain", "--position", str(files["position"]), "--marks",
            str(files["marks"]), "--changes", str(files["changes"]), "--json"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["liquidated"] is True
    assert data["liquidation"]["mark_price"] == "57100"
    assert D(data["liquidation"]["liquidation_price"]) == D("56953.2") / D("0.995")
    assert data["locale"] == "en"
    assert data["text"][0].startswith("The long position was liquidated at 2026-03-01 08:00:03")
    assert {event["kind"] for event in data["chart"]["events"]} == {
        "funding", "add_margin", "liquidation",
    }  # fmt: skip
    assert len(data["chart"]["points"]) == 6  # 4 marks + the mark in force at each change
    assert data["sentences"][0]["template"].startswith("The long position was liquidated at {time}")


def test_the_command_refuses_bad_input_without_a_traceback(files: dict[str, Path]) -> None:
    files["marks"].write_text("time,mark_price\n1772352000000,x\n", encoding="utf-8")
    base = [
        "futures",
        "explain",
        "--position",
        str(files["position"]),
        "--marks",
        str(files["marks"]),
    ]
    result = CliRunner().invoke(main, base)
    assert result.exit_code == 1
    assert "marks.csv, row 2, column mark_price: x is not a number." in result.stderr
    assert "Traceback" not in result.output
    unknown = CliRunner().invoke(main, [*base, "--locale", "xx"])
    assert unknown.exit_code == 1 and "locale:" in unknown.stderr


def test_sentences_are_rendered_through_the_catalog() -> None:
    result = explain(setup(), series(60000, 57000))
    german = {result.sentences[0].template: "Liquidiert um {time} bei {mark} (Linie {line})."}
    first = result.sentences[0].render(lambda message: german.get(message, message))
    assert first == "Liquidiert um 2026-03-01 08:00:01.000 UTC bei 57000 (Linie 57286.432)."
    broken = result.sentences[0].render(lambda message: "{nonsense}")
    assert broken.startswith("The long position was liquidated")  # falls back to English
    # The shipped catalogs translate them, with every value in its place.
    german_text, english_text = (
        render_sentences(result.sentences, locale) for locale in ("de", "en")
    )
    assert german_text != english_text
    assert "57000" in german_text[0]


def test_long_series_are_thinned_for_the_chart_but_keep_the_extremes() -> None:
    prices = [60000 + (i % 50) * 10 for i in range(10_000)]
    prices[7777] = 59000
    result = explain(setup(), series(*prices), max_chart_points=500)
    points = result.chart.points
    assert len(points) <= 520
    assert min(p.mark_price for p in points) == 59000
    assert points[0].time_ms == T0 and points[-1].time_ms == T0 + 9_999_000


def test_a_margin_removal_that_liquidated_the_position_then() -> None:
    # Removing 300 lifts the line from 57286.43 to 57587.94: 57500 is then under it.
    marks = series(58500, 57500, 57600, 57280, start=T0, step=1000)
    remove = MarginChange(T0 + 500, ChangeKind.REMOVE_MARGIN, D(-300), row=2)
    result = explain(setup(), marks, [remove])
    assert result.liquidation is not None and result.liquidation.time_ms == T0 + 1000
    (move,) = result.moves
    assert move.decisive and move.liquidated_without == T0 + 3000
    text = text_of(result.sentences)
    assert "300 USDT of margin was removed" in text
    assert "it would not have been liquidated then, but later, at 2026-03-01 08:00:03.000" in text


def test_a_margin_too_negative_for_any_price_liquidates_a_short_at_once() -> None:
    short = Position(Contract.LINEAR, Side.SHORT, D(60000), D(1))
    drained = MarginChange(T0 + 500, ChangeKind.FEE, D(-70000))  # a data error, not a market
    result = explain(setup(position=short), series(60000, 59000), [drained])
    assert result.liquidation is not None
    assert result.liquidation.time_ms == T0 + 500 and result.liquidation.liquidation_price is None


TWO_TIERS = [
    {"floor": "0", "cap": "50000", "max_leverage": "125", "maintenance_margin_rate": "0.004",
     "maintenance_amount": "0"},
    {"floor": "50000", "cap": "250000", "max_leverage": "100", "maintenance_margin_rate": "0.005",
     "maintenance_amount": "50"},
]  # fmt: skip


def test_tiers_inline_or_from_a_tier_file(files: dict[str, Path], tmp_path: Path) -> None:
    inline = {**POSITION_JSON, "tiers": TWO_TIERS}
    del inline["maintenance_margin_rate"], inline["maintenance_amount"]
    files["position"].write_text(json.dumps(inline), encoding="utf-8")
    from_inline = explain_files(files["position"], files["marks"])
    table = parse_tier_tables({"X": {"contract": "linear", "tiers": TWO_TIERS}})["X"]
    expected = liquidation_price(LONG, D(3000), table)
    # 1 BTC near 57000 is a 57000 USDT notional: the second tier, 0.5 % less 50 USDT.
    assert expected == (D(60000) - D(3000) - D(50)) / D("0.995")
    assert from_inline.liquidation is not None
    assert from_inline.liquidation.liquidation_price == expected
    tier_file = write(tmp_path / "tiers.json", json.dumps({"MYBTC": {
        "contract": "linear", "settlement_asset": "USDT", "tiers": TWO_TIERS}}))  # fmt: skip
    by_name = {**inline, "tiers": "MYBTC"}
    files["position"].write_text(json.dumps(by_name), encoding="utf-8")
    from_file = explain_files(files["position"], files["marks"], tiers=tier_file)
    assert from_file.liquidation == from_inline.liquidation
    broken = [dict(TWO_TIERS[0]), dict(TWO_TIERS[1], maintenance_amount="60")]
    files["position"].write_text(json.dumps({**inline, "tiers": broken}), encoding="utf-8")
    with pytest.raises(TierTableError) as caught:
        explain_files(files["position"], files["marks"])
    assert caught.value.field == "BTCUSDT.tiers[1].maintenance_amount"
