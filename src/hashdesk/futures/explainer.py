"""The position explainer: when and why a position was (or would be) liquidated.

Input: a position (``PositionSpec``, the ``--position`` JSON), its margin changes over time
(``--changes`` CSV: ``time,kind,amount[,note]``) and a mark-price series (``--marks`` CSV:
``time,mark_price``). Output: an ``Explanation`` with the first liquidation, the changes that
moved the liquidation price and by how much, the extra margin that would have avoided it, the
part funding and fees played, sentences to show the trader and the data of a chart.

How the series is read:

* The position (entry, quantity) is fixed; what moves its liquidation price is the margin
  backing it (the isolated margin, or the cross wallet of a position alone in its account),
  which starts at ``wallet_balance`` and changes with each row of the changes file. Kinds:
  ``add_margin`` / ``remove_margin`` (a positive amount, added or taken away), ``funding`` and
  ``fee`` (signed as the exchange's income history shows them: negative when paid, positive
  when received, e.g. a maker rebate). All of them change the same margin, as Binance charges
  an isolated position's funding to its isolated margin.
* The liquidation price at each moment is ``margin.liquidation_price`` with the margin at that
  moment, under the position's venue convention; nothing is re-derived here.
* The mark price is a step function: a published mark holds until the next one. Changes at a
  millisecond apply before the mark published at that same millisecond. A change can itself
  liquidate the position (a funding payment lifts a long's line above the mark in force).
* Liquidated means the mark in force reached the line: at or below it for a long, at or above
  for a short. The first such moment ends the position; the chart stops the line there.
* Cross margin: the position is taken to be alone in its account (the files carry no other
  positions), so its cross wallet is ``wallet_balance`` and the prices are those of isolated
  margin with that wallet.
* The extra margin is the least multiple of ``margin_step`` (default 0.01 for linear, 1e-8
  for inverse) which, added to the opening margin, keeps every mark of the series clear of
  the line: one step less does not. It is found by a search over whole steps, checking each
  candidate against the same series, so it is exact for every venue convention.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from hashdesk.core.i18n import N_
from hashdesk.futures.margin import (
    ZERO,
    Contract,
    MaintenanceRate,
    MaintenanceSchedule,
    MarginError,
    MarginMode,
    Position,
    Side,
    Venue,
    exact,
    liquidation_price,
)
from hashdesk.futures.records import (
    Row,
    SecondsNotMilliseconds,
    Sentence,
    file_error,
    format_time,
    parse_time,
    read_csv,
    read_json_object,
    shown,
)
from hashdesk.futures.schemas import Number, field_errors
from hashdesk.futures.tiers import TierTable, load_tier_tables, parse_tier_tables

LINEAR_STEP = Decimal("0.01")  # a cent of USDT
INVERSE_STEP = Decimal("0.00000001")  # a satoshi
MAX_CHART_POINTS = 2000
_MAX_COUNTERFACTUALS = 20  # changes re-run one by one; the rest are summed up


class ChangeKind(enum.StrEnum):
    ADD_MARGIN = "add_margin"
    REMOVE_MARGIN = "remove_margin"
    FUNDING = "funding"
    FEE = "fee"

    @property
    def is_cost(self) -> bool:
        return self in (ChangeKind.FUNDING, ChangeKind.FEE)


_KIND_ALIASES = {
    "add": ChangeKind.ADD_MARGIN, "add_margin": ChangeKind.ADD_MARGIN,
    "remove": ChangeKind.REMOVE_MARGIN, "remove_margin": ChangeKind.REMOVE_MARGIN,
    "reduce_margin": ChangeKind.REMOVE_MARGIN, "funding": ChangeKind.FUNDING,
    "funding_fee": ChangeKind.FUNDING, "fee": ChangeKind.FEE, "commission": ChangeKind.FEE,
    "trading_fee": ChangeKind.FEE,
}  # fmt: skip


@dataclass(frozen=True)
class MarginChange:
    time_ms: int
    kind: ChangeKind
    amount: Decimal  # signed change to the margin: + added or received, - removed or paid
    row: int = 0
    note: str = ""


@dataclass(frozen=True)
class MarkPrice:
    time_ms: int
    price: Decimal


# --- the position file --------------------------------------------------------------------


def _time_value(value: Any) -> int:
    if isinstance(value, Decimal):  # a JSON number read exactly
        if value != value.to_integral_value():
            raise ValueError("must be whole milliseconds or an ISO 8601 time")
        value = int(value)
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise ValueError("must be milliseconds since 1970 or an ISO 8601 time")
    try:
        return parse_time(value)
    except SecondsNotMilliseconds:
        raise ValueError(f"{value} looks like seconds; give milliseconds since 1970") from None
    except ValueError:
        raise ValueError("must be milliseconds since 1970 or an ISO 8601 time") from None


TimeMs = Annotated[int, BeforeValidator(_time_value)]


class PositionSpec(BaseModel):
    """The ``--position`` JSON. The maintenance terms are a tier table (``tiers``: the name of
    a table in the tier file or the demo tables, or the list of tiers itself) or one rate and
    amount (``maintenance_margin_rate``, ``maintenance_amount``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = ""
    contract: Contract
    side: Side
    mode: MarginMode = MarginMode.ISOLATED
    entry_price: Annotated[Number, Field(gt=0)]
    quantity: Annotated[Number, Field(gt=0)]
    contract_size: Annotated[Number, Field(gt=0)] | None = None
    wallet_balance: Annotated[Number, Field(gt=0)]
    opened_at: TimeMs | None = None
    tiers: str | list[dict[str, Any]] | None = None
    maintenance_margin_rate: Annotated[Number, Field(ge=0, lt=1)] | None = None
    maintenance_amount: Annotated[Number, Field(ge=0)] | None = None
    venue: Venue | None = None
    settlement_asset: str | None = None
    margin_step: Annotated[Number, Field(gt=0)] | None = None


@dataclass(frozen=True)
class PositionSetup:
    """A position ready to explain: the library's objects and the display details."""

    position: Position
    schedule: MaintenanceSchedule
    opening_margin: Decimal
    venue: Venue = Venue.BINANCE
    mode: MarginMode = MarginMode.ISOLATED
    symbol: str = ""
    asset: str = ""
    margin_step: Decimal = LINEAR_STEP
    opened_at: int | None = None


def load_position(path: Path, tables: Mapping[str, TierTable] | None = None) -> PositionSetup:
    """The position file, checked; ``tables`` are the tier tables a name may refer to (default:
    the demo tables)."""
    data = read_json_object(path)
    try:
        spec = PositionSpec.model_validate(data)
    except ValidationError as error:
        field_name, problem = field_errors(error)[0]
        raise file_error(
            "{file}, field {column}: {problem}", file=path, column=field_name, problem=problem
        ) from error
    return setup_from_spec(spec, path, tables)


def setup_from_spec(
    spec: PositionSpec, path: Path, tables: Mapping[str, TierTable] | None = None
) -> PositionSetup:
    table = _tier_table(spec, path, tables)
    schedule: MaintenanceSchedule
    if table is not None:
        schedule = table
    else:
        schedule = MaintenanceRate(spec.maintenance_margin_rate or ZERO,
                                   spec.maintenance_amount or ZERO)  # fmt: skip
    size = spec.contract_size or (table.contract_size if table else None)
    if spec.contract is Contract.INVERSE and size is None:
        raise file_error(
            "{file}, field {column}: required for inverse contracts (the quote value of one "
            "contract, e.g. 100 for BTCUSD).",
            file=path, column="contract_size",
        )  # fmt: skip
    linear = spec.contract is Contract.LINEAR
    position = Position(spec.contract, spec.side, spec.entry_price, spec.quantity,
                        Decimal(1) if linear else size or Decimal(1))  # fmt: skip
    return PositionSetup(
        position=position,
        schedule=schedule,
        opening_margin=spec.wallet_balance,
        venue=spec.venue or Venue.BINANCE,
        mode=spec.mode,
        symbol=spec.symbol,
        asset=spec.settlement_asset or _settlement_asset(spec, table),
        margin_step=spec.margin_step or (LINEAR_STEP if linear else INVERSE_STEP),
        opened_at=spec.opened_at,
    )


def _tier_table(
    spec: PositionSpec, path: Path, tables: Mapping[str, TierTable] | None
) -> TierTable | None:
    has_rate = spec.maintenance_margin_rate is not None
    if (spec.tiers is None) == (not has_rate):
        raise file_error(
            "{file}, field {column}: give either tiers (a table name or a list of tiers) or "
            "maintenance_margin_rate with maintenance_amount, not both and not neither.",
            file=path, column="tiers",
        )  # fmt: skip
    if spec.tiers is None:
        return None
    if isinstance(spec.tiers, list):
        name = spec.symbol or "position"
        table = parse_tier_tables({name: {"contract": spec.contract.value,
                                          "tiers": spec.tiers}})[name]  # fmt: skip
    else:
        known = load_tier_tables() if tables is None else tables
        if spec.tiers not in known:
            raise file_error(
                "{file}, field {column}: no tier table named {name} (there are {known}).",
                file=path, column="tiers", name=spec.tiers, known=", ".join(sorted(known)),
            )  # fmt: skip
        table = known[spec.tiers]
    if table.contract is not spec.contract:
        raise file_error(
            "{file}, field {column}: the tier table is for {kind} contracts.",
            file=path, column="tiers", kind=table.contract.value,
        )  # fmt: skip
    return table


def _settlement_asset(spec: PositionSpec, table: TierTable | None) -> str:
    if table is not None and table.settlement_asset:
        return table.settlement_asset
    if spec.contract is Contract.LINEAR:
        return "USDT"
    base, found, _ = spec.symbol.upper().partition("USD")
    return base if found and base else ""


# --- the CSV files --------------------------------------------------------------------------

_MARK_ALIASES = {"timestamp": "time", "time_ms": "time", "mark": "mark_price",
                 "markprice": "mark_price", "price": "mark_price"}  # fmt: skip
_CHANGE_ALIASES = {"timestamp": "time", "time_ms": "time", "type": "kind"}


def read_marks(path: Path) -> list[MarkPrice]:
    """The mark-price series, in time order (exports newest-first are fine)."""
    rows = read_csv(path, ("time", "mark_price"), _MARK_ALIASES)
    marks = sorted(
        ((row.time_ms("time"), row.decimal("mark_price", positive=True), row) for row in rows),
        key=lambda item: item[0],
    )
    if not marks:
        raise file_error("{file}: there are no mark prices in it.", file=path)
    unique: list[MarkPrice] = []
    previous: tuple[int, Decimal, Row] | None = None
    for time_ms, price, row in marks:
        if previous is not None and previous[0] == time_ms:
            if previous[1] != price:
                raise file_error(
                    "{file}, row {row}, column {column}: the time repeats row {other} with "
                    "another price.",
                    file=path, row=row.number, column="time", other=previous[2].number,
                )  # fmt: skip
            continue
        unique.append(MarkPrice(time_ms, price))
        previous = (time_ms, price, row)
    return unique


def read_changes(path: Path) -> list[MarginChange]:
    """The margin changes, in time order (a stable sort: same-millisecond rows keep theirs)."""
    rows = read_csv(path, ("time", "kind", "amount"), _CHANGE_ALIASES)
    return sorted((_change(row) for row in rows), key=lambda change: change.time_ms)


def _change(row: Row) -> MarginChange:
    text = row.required("kind")
    kind = _KIND_ALIASES.get(text.lower())
    if kind is None:
        raise file_error(
            "{file}, row {row}, column {column}: {value} is not a kind of change (add_margin, "
            "remove_margin, funding or fee).",
            file=row.file, row=row.number, column="kind", value=text,
        )  # fmt: skip
    amount = row.decimal("amount")
    if kind.is_cost:
        signed = amount
    else:
        if amount <= 0:
            raise file_error(
                "{file}, row {row}, column {column}: give the margin {verb} as a positive "
                "amount.",
                file=row.file, row=row.number, column="amount", verb=kind.value,
            )  # fmt: skip
        signed = amount if kind is ChangeKind.ADD_MARGIN else -amount
    return MarginChange(row.time_ms("time"), kind, signed, row.number, row.text("note"))


# --- the timeline -------------------------------------------------------------------------


@dataclass(frozen=True)
class Crossing:
    """The first moment the mark in force was at or beyond the liquidation price."""

    time_ms: int
    mark_price: Decimal
    liquidation_price: Decimal | None  # None: a margin so negative no price solves it
    margin: Decimal
    by_change: bool  # the margin changed (the line moved) while this mark was in force
    change_rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Segment:
    """A stretch of time with one margin: the changes that opened it, then its marks (the
    first one carried in from before the changes when no mark was published with them)."""

    start_ms: int
    changes: tuple[MarginChange, ...]
    marks: tuple[MarkPrice, ...]
    carried: bool
    worst: MarkPrice | None  # the lowest mark for a long, the highest for a short


class Timeline:
    """The changes and marks of one position cut into stretches of constant margin; every
    question (actual, without some changes, with extra margin) is a list of margins, one per
    stretch, run against the same marks."""

    def __init__(self, setup: PositionSetup, changes: Sequence[MarginChange],
                 marks: Sequence[MarkPrice]) -> None:  # fmt: skip
        self.setup = setup
        self.side = setup.position.side
        linear = setup.position.contract is Contract.LINEAR
        self._none_means_always = linear == (self.side is Side.SHORT)
        self.segments = _segments(self.side, changes, marks)
        self._lines: dict[Decimal, Decimal | None] = {}

    def margins(
        self, keep: Callable[[MarginChange], bool] = lambda change: True, extra: Decimal = ZERO
    ) -> list[Decimal]:
        running = self.setup.opening_margin + extra
        margins = []
        for segment in self.segments:
            running += sum((c.amount for c in segment.changes if keep(c)), ZERO)
            margins.append(running)
        return margins

    def line(self, margin: Decimal) -> Decimal | None:
        """The liquidation price with ``margin`` behind the position (None: no mark reaches it)."""
        if margin not in self._lines:
            setup = self.setup
            self._lines[margin] = liquidation_price(
                setup.position, margin, setup.schedule, venue=setup.venue
            )
        return self._lines[margin]

    def crosses(self, mark: Decimal, line: Decimal | None) -> bool:
        if line is None:
            # No positive price solves the equation. For a linear long or an inverse short the
            # margin outlasts any move; for a linear short or an inverse long it means a margin
            # so negative that every price is past the line.
            return self._none_means_always
        return mark <= line if self.side is Side.LONG else mark >= line

    def first_crossing(self, margins: Sequence[Decimal]) -> Crossing | None:
        for segment, margin in zip(self.segments, margins, strict=True):
            line = self.line(margin)
            if segment.worst is None or not self.crosses(segment.worst.price, line):
                continue
            for index, mark in enumerate(segment.marks):
                if self.crosses(mark.price, line):
                    by_change = index == 0 and segment.carried
                    rows = tuple(c.row for c in segment.changes) if by_change else ()
                    return Crossing(mark.time_ms, mark.price, line, margin, by_change, rows)
        return None

    def survives(self, margins: Sequence[Decimal]) -> bool:
        return not any(
            segment.worst is not None and self.crosses(segment.worst.price, self.line(margin))
            for segment, margin in zip(self.segments, margins, strict=True)
        )

    def extra_margin_needed(self) -> Decimal:
        """The least whole number of ``margin_step`` that, added at the start, keeps the
        position clear of the line over the whole series."""
        step = self.setup.margin_step
        actual = self.margins()
        if self.survives(actual):
            return ZERO

        def enough(steps: int) -> bool:
            extra = step * steps
            return self.survives([margin + extra for margin in actual])

        high = 1
        while not enough(high):
            high *= 2
            if high > 2**200:  # no margin helps: a convention without a reachable solution
                raise MarginError("No amount of margin keeps this position clear of the marks.")
        low = high // 2  # not enough (or zero, known not enough)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if enough(middle) else (middle, high)
        return step * high


def _segments(
    side: Side, changes: Sequence[MarginChange], marks: Sequence[MarkPrice]
) -> list[_Segment]:
    groups = _group_by_time(changes)
    starts = [marks[0].time_ms if marks else 0] + [group[0].time_ms for group in groups]
    bounds = [*(group[0].time_ms for group in groups), None]
    segments = []
    index = 0
    for number, start in enumerate(starts):
        end = bounds[number]
        inside: list[MarkPrice] = []
        while index < len(marks) and (end is None or marks[index].time_ms < end):
            inside.append(marks[index])
            index += 1
        opening = () if number == 0 else groups[number - 1]
        carried = (
            bool(opening) and index - len(inside) > 0 and (not inside or inside[0].time_ms != start)
        )
        if carried:
            inside.insert(0, MarkPrice(start, marks[index - len(inside) - 1].price))
        segments.append(_Segment(start, opening, tuple(inside), carried, _worst(side, inside)))
    return segments


def _group_by_time(changes: Sequence[MarginChange]) -> list[tuple[MarginChange, ...]]:
    groups: list[list[MarginChange]] = []
    for change in changes:
        if groups and groups[-1][0].time_ms == change.time_ms:
            groups[-1].append(change)
        else:
            groups.append([change])
    return [tuple(group) for group in groups]


def _worst(side: Side, marks: Sequence[MarkPrice]) -> MarkPrice | None:
    if not marks:
        return None
    if side is Side.LONG:
        return min(marks, key=lambda mark: mark.price)
    return max(marks, key=lambda mark: mark.price)


# --- the explanation ----------------------------------------------------------------------


class CostEffect(enum.StrEnum):
    """What funding and fees did to the liquidation (``none``: there were none)."""

    NONE = "none"
    DECISIVE = "decisive"  # without them: no liquidation over the series
    BROUGHT_FORWARD = "brought_forward"  # without them: liquidated later
    NOT_DECISIVE = "not_decisive"  # without them: liquidated at the same moment
    NOT_LIQUIDATED = "not_liquidated"


@dataclass(frozen=True)
class LineMove:
    """One change and what it did to the liquidation price."""

    time_ms: int
    kind: ChangeKind
    amount: Decimal
    row: int
    note: str
    margin_after: Decimal
    line_before: Decimal | None
    line_after: Decimal | None
    shift: Decimal | None
    before_liquidation: bool
    decisive: bool = False  # without it, no liquidation at that moment
    liquidated_without: int | None = None  # when it would have been instead (decisive/saving)
    saved: bool = False  # a margin added without which the position fell earlier


@dataclass(frozen=True)
class Approach:
    """The mark and the line at one moment; ``distance`` is (mark - line) / mark x side."""

    time_ms: int
    mark_price: Decimal
    liquidation_price: Decimal | None
    distance: Decimal | None


@dataclass(frozen=True)
class ChartPoint:
    time_ms: int
    mark_price: float
    liquidation_price: float | None


@dataclass(frozen=True)
class ChartEvent:
    time_ms: int
    kind: str  # a ChangeKind value, or "liquidation"
    amount: float | None
    price: float | None  # the line after the change, or the mark at the liquidation


@dataclass(frozen=True)
class Chart:
    """What a page draws: the mark and the line over time (floats: for drawing only; the
    exact figures are in the explanation) and the events on them."""

    points: tuple[ChartPoint, ...]
    events: tuple[ChartEvent, ...]


@dataclass(frozen=True)
class CostSummary:
    funding_paid: Decimal  # net, before the liquidation (or over the series)
    fees_paid: Decimal
    line_shift: Decimal | None  # what they moved the line by, at the liquidation (or the end)
    effect: CostEffect
    funding_alone_decisive: bool
    fees_alone_decisive: bool
    liquidated_without: int | None


@dataclass(frozen=True)
class Explanation:
    symbol: str
    side: Side
    contract: Contract
    mode: MarginMode
    venue: Venue
    asset: str
    opening_margin: Decimal
    start_ms: int
    end_ms: int
    liquidated: bool
    liquidation: Crossing | None
    extra_margin_needed: Decimal
    margin_step: Decimal
    moves: tuple[LineMove, ...]
    costs: CostSummary
    closest: Approach | None
    final: Approach | None  # the last mark and the line with the final margin (if not liquidated)
    peak: Approach | None  # the best mark before the liquidation (the start of the fall)
    sentences: tuple[Sentence, ...]
    chart: Chart = field(repr=False, default=Chart((), ()))


@exact
def explain(
    setup: PositionSetup,
    marks: Sequence[MarkPrice],
    changes: Sequence[MarginChange] = (),
    *,
    max_chart_points: int = MAX_CHART_POINTS,
) -> Explanation:
    """The explanation of ``setup`` over ``marks``, with ``changes`` to its margin."""
    marks = _from_opening(setup, marks)
    _check_changes(setup, changes)
    timeline = Timeline(setup, changes, marks)
    actual = timeline.margins()
    crossing = timeline.first_crossing(actual)
    moves = _moves(timeline, actual, crossing)
    costs = _costs(timeline, actual, crossing)
    closest = None if crossing else _closest(timeline, actual)
    final = None if crossing else _approach(timeline, marks[-1], actual[-1])
    peak = _peak(timeline, marks, crossing) if crossing else None
    explanation = Explanation(
        symbol=setup.symbol, side=setup.position.side, contract=setup.position.contract,
        mode=setup.mode, venue=setup.venue, asset=setup.asset,
        opening_margin=setup.opening_margin, start_ms=marks[0].time_ms,
        end_ms=marks[-1].time_ms, liquidated=crossing is not None, liquidation=crossing,
        extra_margin_needed=timeline.extra_margin_needed(), margin_step=setup.margin_step,
        moves=tuple(moves), costs=costs, closest=closest, final=final, peak=peak,
        sentences=(),
        chart=_chart(timeline, actual, crossing, max_chart_points),
    )  # fmt: skip
    return _with_sentences(explanation)


def explain_files(
    position: Path, marks: Path, changes: Path | None = None, tiers: Path | None = None
) -> Explanation:
    tables = load_tier_tables(tiers) if tiers is not None else None
    setup = load_position(position, tables)
    return explain(setup, read_marks(marks), read_changes(changes) if changes else [])


def _from_opening(setup: PositionSetup, marks: Sequence[MarkPrice]) -> list[MarkPrice]:
    if not marks:
        raise MarginError("There are no mark prices to explain the position with.",
                          field="marks")  # fmt: skip
    if setup.opened_at is None:
        return list(marks)
    kept = [mark for mark in marks if mark.time_ms >= setup.opened_at]
    if not kept:
        raise MarginError(
            "Every mark price is before the position was opened ({time}).",
            field="marks", time=format_time(setup.opened_at),
        )  # fmt: skip
    return kept


def _check_changes(setup: PositionSetup, changes: Sequence[MarginChange]) -> None:
    for change in changes:
        if setup.opened_at is not None and change.time_ms < setup.opened_at:
            raise MarginError(
                "The margin change in row {row} is before the position was opened ({time}).",
                field=f"changes:{change.row}:time", row=change.row,
                time=format_time(setup.opened_at),
            )  # fmt: skip


def _moves(
    timeline: Timeline, actual: Sequence[Decimal], crossing: Crossing | None
) -> list[LineMove]:
    moves: list[LineMove] = []
    margin = timeline.setup.opening_margin
    counterfactuals = 0
    for segment in timeline.segments:
        for change in segment.changes:
            before, margin = margin, margin + change.amount
            line_before, line_after = timeline.line(before), timeline.line(margin)
            early = crossing is None or change.time_ms <= crossing.time_ms
            move = LineMove(
                change.time_ms, change.kind, change.amount, change.row, change.note, margin,
                line_before, line_after, _difference(line_after, line_before), early,
            )  # fmt: skip
            if early and counterfactuals < _MAX_COUNTERFACTUALS:
                move, ran = _counterfactual(timeline, move, change, crossing)
                counterfactuals += ran
            moves.append(move)
    return moves


def _counterfactual(
    timeline: Timeline, move: LineMove, change: MarginChange, crossing: Crossing | None
) -> tuple[LineMove, int]:
    """Whether the position's fate hangs on this one change (margin taken or paid away that
    liquidated it then; margin added that kept it alive)."""
    if crossing is not None and change.amount < 0:
        line = timeline.line(crossing.margin - change.amount)
        if timeline.crosses(crossing.mark_price, line):
            return move, 0
        instead = timeline.first_crossing(timeline.margins(lambda c: c is not change))
        return _replace(move, decisive=True, liquidated_without=_time(instead)), 1
    if change.kind is ChangeKind.ADD_MARGIN:
        instead = timeline.first_crossing(timeline.margins(lambda c: c is not change))
        if instead is not None and (crossing is None or instead.time_ms < crossing.time_ms):
            return _replace(move, saved=True, liquidated_without=instead.time_ms), 1
        return move, 1
    return move, 0


def _replace(move: LineMove, **changes: Any) -> LineMove:
    values = {name: getattr(move, name) for name in move.__dataclass_fields__}
    values.update(changes)
    return LineMove(**values)


def _costs(timeline: Timeline, actual: Sequence[Decimal], crossing: Crossing | None) -> CostSummary:
    until = crossing.time_ms if crossing else None
    costs = [
        change
        for segment in timeline.segments
        for change in segment.changes
        if change.kind.is_cost and (until is None or change.time_ms <= until)
    ]
    funding = -sum((c.amount for c in costs if c.kind is ChangeKind.FUNDING), ZERO)
    fees = -sum((c.amount for c in costs if c.kind is ChangeKind.FEE), ZERO)
    margin = crossing.margin if crossing else actual[-1]
    shift = _difference(timeline.line(margin), timeline.line(margin + funding + fees))
    if not costs:
        return CostSummary(funding, fees, shift, CostEffect.NONE, False, False, None)
    if crossing is None:
        return CostSummary(funding, fees, shift, CostEffect.NOT_LIQUIDATED, False, False, None)
    without_both = timeline.first_crossing(timeline.margins(lambda c: not c.kind.is_cost))
    effect = _effect(crossing, without_both)
    funding_alone = fees_alone = False
    if effect is CostEffect.DECISIVE:
        funding_alone = timeline.survives(
            timeline.margins(lambda c: c.kind is not ChangeKind.FUNDING)
        )
        fees_alone = timeline.survives(timeline.margins(lambda c: c.kind is not ChangeKind.FEE))
    return CostSummary(funding, fees, shift, effect, funding_alone, fees_alone,
                       _time(without_both))  # fmt: skip


def _effect(crossing: Crossing, without: Crossing | None) -> CostEffect:
    if without is None:
        return CostEffect.DECISIVE
    if without.time_ms > crossing.time_ms:
        return CostEffect.BROUGHT_FORWARD
    return CostEffect.NOT_DECISIVE


def _closest(timeline: Timeline, actual: Sequence[Decimal]) -> Approach | None:
    nearest: Approach | None = None
    for segment, margin in zip(timeline.segments, actual, strict=True):
        if segment.worst is None:
            continue
        approach = _approach(timeline, segment.worst, margin)
        if approach.distance is None:
            continue
        if nearest is None or nearest.distance is None or approach.distance < nearest.distance:
            nearest = approach
    return nearest


def _approach(timeline: Timeline, mark: MarkPrice, margin: Decimal) -> Approach:
    line = timeline.line(margin)
    distance = None
    if line is not None:
        distance = (mark.price - line) / mark.price * timeline.side.sign
    return Approach(mark.time_ms, mark.price, line, distance)


def _peak(timeline: Timeline, marks: Sequence[MarkPrice], crossing: Crossing) -> Approach:
    """The best mark before the liquidation: where the fall (or rise) that ended it began."""
    before = [mark for mark in marks if mark.time_ms <= crossing.time_ms] or [marks[0]]
    if timeline.side is Side.LONG:
        best = max(before, key=lambda mark: (mark.price, -mark.time_ms))
    else:
        best = min(before, key=lambda mark: (mark.price, -mark.time_ms))
    change = (crossing.mark_price - best.price) / best.price
    return Approach(best.time_ms, best.price, None, change)


def _difference(after: Decimal | None, before: Decimal | None) -> Decimal | None:
    return None if after is None or before is None else after - before


def _time(crossing: Crossing | None) -> int | None:
    return None if crossing is None else crossing.time_ms


# --- the chart ------------------------------------------------------------------------------


def _chart(
    timeline: Timeline, actual: Sequence[Decimal], crossing: Crossing | None, limit: int
) -> Chart:
    points: list[ChartPoint] = []
    events: list[ChartEvent] = []
    for segment, margin in zip(timeline.segments, actual, strict=True):
        line = timeline.line(margin)
        for change in segment.changes:
            events.append(ChartEvent(change.time_ms, change.kind.value, float(change.amount),
                                     _float(line)))  # fmt: skip
        for mark in segment.marks:
            ended = crossing is not None and mark.time_ms > crossing.time_ms
            points.append(ChartPoint(mark.time_ms, float(mark.price),
                                     None if ended else _float(line)))  # fmt: skip
    if crossing is not None:
        events.append(ChartEvent(crossing.time_ms, "liquidation", None,
                                 float(crossing.mark_price)))  # fmt: skip
    keep = {event.time_ms for event in events}
    return Chart(tuple(_thinned(points, limit, keep)), tuple(events))


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _thinned(points: Sequence[ChartPoint], limit: int, keep: set[int]) -> list[ChartPoint]:
    """At most about ``limit`` points that still show every high and low: per bucket of time
    order, its lowest and highest mark, plus the points at the events."""
    if len(points) <= limit:
        return list(points)
    buckets = max(1, limit // 2)
    size = -(-len(points) // buckets)
    chosen: set[int] = set()
    for start in range(0, len(points), size):
        bucket = range(start, min(start + size, len(points)))
        chosen.add(min(bucket, key=lambda i: points[i].mark_price))
        chosen.add(max(bucket, key=lambda i: points[i].mark_price))
    chosen.update(i for i, point in enumerate(points) if point.time_ms in keep)
    chosen.update((0, len(points) - 1))
    return [points[i] for i in sorted(chosen)]


# --- the sentences ------------------------------------------------------------------------

LIQUIDATED_LONG = N_(
    "The long position was liquidated at {time}: the mark price fell to {mark}, at or below "
    "the liquidation price of {line}."
)
LIQUIDATED_SHORT = N_(
    "The short position was liquidated at {time}: the mark price rose to {mark}, at or above "
    "the liquidation price of {line}."
)
LIQUIDATED_BY_CHANGE = N_(
    "The position was liquidated at {time}, when a change to its margin moved the liquidation "
    "price to {line}, past the mark price of {mark}."
)
FELL = N_("The mark price had fallen {percent} from {peak} at {peak_time}, in {seconds} seconds.")
ROSE = N_("The mark price had risen {percent} from {peak} at {peak_time}, in {seconds} seconds.")
MOVE_TEMPLATES = {
    (ChangeKind.ADD_MARGIN, True): N_(
        "At {time}, {amount} {asset} of margin was added: the liquidation price moved from "
        "{before} to {after}."
    ),
    (ChangeKind.REMOVE_MARGIN, False): N_(
        "At {time}, {amount} {asset} of margin was removed: the liquidation price moved from "
        "{before} to {after}."
    ),
    (ChangeKind.FUNDING, False): N_(
        "At {time}, the position paid {amount} {asset} of funding: the liquidation price moved "
        "from {before} to {after}."
    ),
    (ChangeKind.FUNDING, True): N_(
        "At {time}, the position received {amount} {asset} of funding: the liquidation price "
        "moved from {before} to {after}."
    ),
    (ChangeKind.FEE, False): N_(
        "At {time}, a fee of {amount} {asset} was charged: the liquidation price moved from "
        "{before} to {after}."
    ),
    (ChangeKind.FEE, True): N_(
        "At {time}, a rebate of {amount} {asset} was credited: the liquidation price moved from "
        "{before} to {after}."
    ),
}
DECISIVE_NEVER = N_(
    "Without the change at {time} ({amount} {asset}), the position would have survived the "
    "whole series."
)
DECISIVE_LATER = N_(
    "Without the change at {time} ({amount} {asset}), it would not have been liquidated then, "
    "but later, at {instead}."
)
SAVED = N_(
    "The {amount} {asset} of margin added at {time} saved the position: without it, it would "
    "have been liquidated at {instead}."
)
DELAYED = N_(
    "The {amount} {asset} of margin added at {time} delayed the liquidation: without it, it "
    "would have come at {instead}."
)
COSTS_BEFORE = N_(
    "Up to the liquidation, the position paid {funding} {asset} in funding (net) and {fees} "
    "{asset} in fees; together they moved the liquidation price by {shift}."
)
COSTS_OVER = N_(
    "Over the series, the position paid {funding} {asset} in funding (net) and {fees} {asset} "
    "in fees; together they moved the liquidation price by {shift}."
)
COSTS_DECISIVE = N_(
    "Funding and fees made the difference: without them the position would have survived the "
    "whole series."
)
FUNDING_ALONE = N_(
    "Funding alone made the difference: without it the position would have survived."
)
FEES_ALONE = N_("Fees alone made the difference: without them the position would have survived.")
COSTS_FORWARD = N_(
    "Funding and fees brought the liquidation forward: without them it would have come at "
    "{instead}."
)
COSTS_NOT = N_(
    "Funding and fees did not make the difference: without them the position would still have "
    "been liquidated at {time}."
)
EXTRA = N_(
    "{amount} {asset} more margin from the start would have avoided liquidation over this "
    "series (one step of {step} {asset} less would not)."
)
SURVIVED = N_("The position was not liquidated between {start} and {end}.")
CLOSEST = N_(
    "It came closest at {time}: the mark price was {mark} and the liquidation price {line}, "
    "{percent} away."
)
WOULD_FALL = N_(
    "With its margin at the end of the series, it would be liquidated if the mark price fell "
    "{percent} from {mark} to {line}."
)
WOULD_RISE = N_(
    "With its margin at the end of the series, it would be liquidated if the mark price rose "
    "{percent} from {mark} to {line}."
)
NEVER = N_("With its margin at the end of the series, no mark price would liquidate it.")
_NARRATED_MOVES = 10  # margin adds and removes told one by one; funding and fees are summed


def _with_sentences(explanation: Explanation) -> Explanation:
    sentences = [
        *_liquidation_sentences(explanation),
        *_move_sentences(explanation),
        *_cost_sentences(explanation),
        *_outlook_sentences(explanation),
    ]
    return _replace_explanation(explanation, sentences=tuple(sentences))


def _replace_explanation(explanation: Explanation, **changes: Any) -> Explanation:
    values = {name: getattr(explanation, name) for name in explanation.__dataclass_fields__}
    values.update(changes)
    return Explanation(**values)


def _sentence(template: str, **params: str) -> Sentence:
    return Sentence(template, params)


def _percent(ratio: Decimal) -> str:
    # The sign travels with the number: a "%" in a template would read as a printf placeholder
    # to the catalog checks ("% f"), and some languages put it elsewhere.
    return shown(abs(ratio) * 100, 3) + "%"


def _liquidation_sentences(explanation: Explanation) -> Iterable[Sentence]:
    crossing = explanation.liquidation
    if crossing is None:
        yield _sentence(SURVIVED, start=format_time(explanation.start_ms),
                        end=format_time(explanation.end_ms))  # fmt: skip
        return
    common = {"time": format_time(crossing.time_ms), "mark": shown(crossing.mark_price),
              "line": _price(crossing.liquidation_price)}  # fmt: skip
    if crossing.by_change:
        yield _sentence(LIQUIDATED_BY_CHANGE, **common)
    else:
        long = explanation.side is Side.LONG
        yield _sentence(LIQUIDATED_LONG if long else LIQUIDATED_SHORT, **common)
    peak = explanation.peak
    if peak is not None and peak.distance and peak.time_ms < crossing.time_ms:
        seconds = Decimal(crossing.time_ms - peak.time_ms) / 1000
        yield _sentence(FELL if explanation.side is Side.LONG else ROSE,
                        percent=_percent(peak.distance), peak=shown(peak.mark_price),
                        peak_time=format_time(peak.time_ms), seconds=shown(seconds, 6))  # fmt: skip


def _move_sentences(explanation: Explanation) -> Iterable[Sentence]:
    asset = explanation.asset
    narrated = 0
    for move in explanation.moves:
        if not move.before_liquidation:
            continue
        told = not move.kind.is_cost or move.decisive
        if told and narrated < _NARRATED_MOVES:
            narrated += 1
            yield _sentence(MOVE_TEMPLATES[(move.kind, move.amount > 0)],
                            time=format_time(move.time_ms), amount=shown(abs(move.amount)),
                            asset=asset, before=_price(move.line_before),
                            after=_price(move.line_after))  # fmt: skip
        params = {"time": format_time(move.time_ms), "amount": shown(move.amount),
                  "asset": asset}  # fmt: skip
        if move.decisive:
            if move.liquidated_without is None:
                yield _sentence(DECISIVE_NEVER, **params)
            else:
                yield _sentence(DECISIVE_LATER, instead=format_time(move.liquidated_without),
                                **params)  # fmt: skip
        if move.saved and move.liquidated_without is not None:
            params["amount"] = shown(abs(move.amount))
            template = DELAYED if explanation.liquidated else SAVED
            yield _sentence(template, instead=format_time(move.liquidated_without), **params)


def _price(value: Decimal | None) -> str:
    return "—" if value is None else shown(value)


def _cost_sentences(explanation: Explanation) -> Iterable[Sentence]:
    costs = explanation.costs
    if costs.effect is CostEffect.NONE:
        return
    yield _sentence(
        COSTS_BEFORE if explanation.liquidated else COSTS_OVER,
        funding=shown(costs.funding_paid), fees=shown(costs.fees_paid),
        asset=explanation.asset, shift=_price(costs.line_shift),
    )  # fmt: skip
    if costs.effect is CostEffect.DECISIVE:
        yield _sentence(COSTS_DECISIVE)
        if costs.funding_alone_decisive:
            yield _sentence(FUNDING_ALONE)
        if costs.fees_alone_decisive:
            yield _sentence(FEES_ALONE)
    elif costs.effect is CostEffect.BROUGHT_FORWARD and costs.liquidated_without is not None:
        yield _sentence(COSTS_FORWARD, instead=format_time(costs.liquidated_without))
    elif costs.effect is CostEffect.NOT_DECISIVE and explanation.liquidation is not None:
        yield _sentence(COSTS_NOT, time=format_time(explanation.liquidation.time_ms))


def _outlook_sentences(explanation: Explanation) -> Iterable[Sentence]:
    if explanation.liquidated:
        yield _sentence(EXTRA, amount=shown(explanation.extra_margin_needed),
                        asset=explanation.asset, step=shown(explanation.margin_step))  # fmt: skip
        return
    closest = explanation.closest
    if closest is not None and closest.distance is not None:
        yield _sentence(CLOSEST, time=format_time(closest.time_ms),
                        mark=shown(closest.mark_price), line=_price(closest.liquidation_price),
                        percent=_percent(closest.distance))  # fmt: skip
    final = explanation.final
    if final is None or final.liquidation_price is None or final.distance is None:
        yield _sentence(NEVER)
        return
    yield _sentence(WOULD_FALL if explanation.side is Side.LONG else WOULD_RISE,
                    percent=_percent(final.distance), mark=shown(final.mark_price),
                    line=shown(final.liquidation_price))  # fmt: skip
