"""Writes of the margin-call monitor: the connector's positions, the monitor's mark prices and
level changes, and the margin calls they cause (portal alert + email through the outbox, and
live events once committed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.config import Settings
from hashdesk.core.errors import InvalidInput, NotFound
from hashdesk.core.events import publish_on_commit
from hashdesk.core.i18n import N_
from hashdesk.futures.margin import ONE, Contract, MarginMode, Position
from hashdesk.futures.models import FuturesMark, FuturesPosition, MarginAlert, RiskEntry
from hashdesk.futures.queries import cross_peers
from hashdesk.futures.records import shown
from hashdesk.futures.schedules import figures_of
from hashdesk.futures.schemas import MarkUpdate, OpenPosition, PositionMode, PositionsReplace
from hashdesk.futures.tiers import TierTable, TierTableError
from hashdesk.notify import do_enqueue_email
from hashdesk.tickets.actions import CONSOLE_CHANNEL

POSITIONS_CHANNEL = "futures:positions"  # the monitor reloads on these
MARKS_CHANNEL = "futures:marks"  # mark prices for the monitor (the signed POST publishes here)
ALERT_EVENT = "futures.margin_call"
POSITIONS_EVENT = "futures.positions"
RISK_EVENT = "futures.risk"  # a new snapshot of the positions most at risk
LEVEL_LABELS = {1: N_("warning"), 2: N_("critical")}
SIDE_LABELS = {"long": N_("long"), "short": N_("short")}
EXHAUSTED = Decimal(999)  # the stored ratio of a position whose equity is gone (infinite)


# --- the connector's positions ----------------------------------------------------------------


def check_replace_positions(
    session: Session, external_id: str, data: PositionsReplace, tables: Mapping[str, TierTable]
) -> tuple[Trader, list[FuturesPosition]]:
    """Validate every position against the tier tables (each error names
    ``positions.<i>.<field>`` like the schema errors), then replace the trader's open positions."""
    trader = get_trader_by_external_id(session, external_id)
    if trader is None:
        raise NotFound(
            "No trader {external_id}: push the trader's profile first.", external_id=external_id
        )
    seen: dict[tuple[str, str], int] = {}
    wallets: dict[str, tuple[Decimal, int]] = {}
    for index, position in enumerate(data.positions):
        _check_position(f"positions.{index}", position, tables)
        _check_unique(f"positions.{index}", position, data.position_mode, seen, index)
        _check_cross_wallet(f"positions.{index}", position, tables, wallets, index)
    return trader, do_replace_positions(session, trader, data.positions, tables)


def _check_unique(where: str, position: OpenPosition, mode: PositionMode,
                  seen: dict[tuple[str, str], int], index: int) -> None:  # fmt: skip
    key = (position.symbol, position.side.value)
    if key in seen:
        raise InvalidInput("{symbol} {side} is listed twice (also positions.{other}).",
                           field=where, symbol=position.symbol, side=position.side.value,
                           other=seen[key])  # fmt: skip
    other_side = (position.symbol, "short" if position.side.value == "long" else "long")
    if mode is PositionMode.ONE_WAY and other_side in seen:
        raise InvalidInput(
            "{symbol} has a long and a short: that needs position_mode hedge.",
            field=f"{where}.side", symbol=position.symbol,
        )  # fmt: skip
    seen[key] = index


def _check_cross_wallet(where: str, position: OpenPosition, tables: Mapping[str, TierTable],
                        wallets: dict[str, tuple[Decimal, int]], index: int) -> None:  # fmt: skip
    """Cross positions settled in one asset share one wallet: each must carry the same
    ``wallet_balance`` (the monitor figures the account's ratio over it)."""
    if position.mode is not MarginMode.CROSS:
        return
    table = tables.get(position.tier_table or position.symbol)
    if position.maintenance_margin_rate is not None or table is None:
        return  # flat terms name no settlement asset: that position's wallet is its own
    asset = f"{table.contract.value}:{table.settlement_asset}"
    given, first = wallets.setdefault(asset, (position.wallet_balance, index))
    if given != position.wallet_balance:
        raise InvalidInput(
            "Cross positions settled in {asset} share one wallet: wallet_balance is {value} "
            "here but {given} in positions.{first}.",
            field=f"{where}.wallet_balance", asset=table.settlement_asset,
            value=position.wallet_balance, given=given, first=first,
        )  # fmt: skip


def _check_position(where: str, position: OpenPosition, tables: Mapping[str, TierTable]) -> None:
    flat = position.maintenance_margin_rate is not None
    if flat and position.tier_table is not None:
        raise InvalidInput("Give either tier_table or maintenance_margin_rate, not both.",
                           field=f"{where}.tier_table")  # fmt: skip
    if not flat and position.maintenance_amount is not None:
        raise InvalidInput("maintenance_amount needs maintenance_margin_rate.",
                           field=f"{where}.maintenance_amount")  # fmt: skip
    if flat:
        _check_flat(where, position)
        return
    name = position.tier_table or position.symbol
    table = tables.get(name)
    if table is None:
        raise InvalidInput(
            "No tier table {name} (there are {known}); or give maintenance_margin_rate.",
            field=f"{where}.tier_table", name=name, known=", ".join(sorted(tables)),
        )  # fmt: skip
    _check_against_table(where, position, table)


def _check_flat(where: str, position: OpenPosition) -> None:
    if position.contract is Contract.INVERSE and position.contract_size is None:
        raise InvalidInput("An inverse position needs contract_size.",
                           field=f"{where}.contract_size")  # fmt: skip
    if position.contract is Contract.LINEAR and position.contract_size not in (None, ONE):
        raise InvalidInput("A linear position has no contract_size (or 1).",
                           field=f"{where}.contract_size")  # fmt: skip


def _check_against_table(where: str, position: OpenPosition, table: TierTable) -> None:
    if table.contract is not position.contract:
        raise InvalidInput(
            "The tier table {name} is for {kind} contracts.",
            field=f"{where}.contract", name=table.symbol, kind=table.contract.value,
        )  # fmt: skip
    size = table.contract_size if position.contract is Contract.INVERSE else ONE
    if position.contract_size not in (None, size):
        raise InvalidInput(
            "contract_size is {given} but {name} contracts are worth {size}.",
            field=f"{where}.contract_size", given=position.contract_size, name=table.symbol,
            size=size,
        )  # fmt: skip
    if position.leverage is not None:
        notional = Position(position.contract, position.side, position.entry_price,
                            position.quantity, size).entry_notional  # fmt: skip
        try:
            table.check_leverage(notional, position.leverage)
        except TierTableError as error:
            # The table's own (translatable) message, pointed at this position's field.
            error.field = f"{where}.{error.field}"
            raise


def do_replace_positions(
    session: Session, trader: Trader, positions: Sequence[OpenPosition],
    tables: Mapping[str, TierTable],
) -> list[FuturesPosition]:  # fmt: skip
    """Upsert by (symbol, side), keeping the latched alert level of a position that stays
    open (adding margin to it must not re-send its margin call); delete the closed ones."""
    query = select(FuturesPosition).where(FuturesPosition.trader_id == trader.id)
    existing = {(row.symbol, row.side): row for row in session.scalars(query)}
    kept: list[FuturesPosition] = []
    for position in positions:
        row = existing.pop((position.symbol, position.side.value), None)
        if row is None:
            row = FuturesPosition(trader_id=trader.id, symbol=position.symbol,
                                  side=position.side.value, alert_level=0)  # fmt: skip
            session.add(row)
        _fill(row, position, tables)
        kept.append(row)
    if existing:
        closed = [row.id for row in existing.values()]
        session.execute(delete(FuturesPosition).where(FuturesPosition.id.in_(closed)))
    session.flush()
    change = {"type": POSITIONS_EVENT, "trader_id": trader.id}
    publish_on_commit(session, POSITIONS_CHANNEL, change)
    publish_on_commit(session, CONSOLE_CHANNEL, change)
    return kept


def _fill(row: FuturesPosition, position: OpenPosition, tables: Mapping[str, TierTable]) -> None:
    """Copy a checked position; the terms are the tier table's or the flat ones, never both."""
    flat = position.maintenance_margin_rate is not None
    table = None if flat else tables[position.tier_table or position.symbol]
    row.contract, row.mode = position.contract.value, position.mode.value
    row.entry_price, row.quantity = position.entry_price, position.quantity
    row.wallet_balance, row.leverage = position.wallet_balance, position.leverage
    row.tier_table = None if table is None else table.symbol
    row.contract_size = _contract_size(position, table)
    row.maintenance_margin_rate = position.maintenance_margin_rate
    row.maintenance_amount = (position.maintenance_amount or Decimal(0)) if flat else None


def _contract_size(position: OpenPosition, table: TierTable | None) -> Decimal:
    if position.contract is Contract.LINEAR:
        return ONE
    if table is not None:
        return table.contract_size
    assert position.contract_size is not None  # _check_flat refused an inverse without one
    return position.contract_size


# --- the monitor's writes -----------------------------------------------------------------------


@dataclass(frozen=True)
class LevelChange:
    position_id: int
    level: int
    risen: bool  # a crossing: the trader gets a margin call
    threshold: float  # the threshold reached (risen only)


def do_save_risk_snapshot(session: Session, entries: Sequence[tuple[int, float]]) -> None:
    """Replace the console's list of the positions most at risk: ``(position id, margin
    ratio)``, highest first; then tell the consoles."""
    session.execute(delete(RiskEntry))
    if entries:
        ceiling = float(EXHAUSTED)
        rows = [{"rank": rank, "position_id": position_id, "margin_ratio": min(ratio, ceiling)}
                for rank, (position_id, ratio) in enumerate(entries)]  # fmt: skip
        session.execute(insert(RiskEntry), rows)
    publish_on_commit(session, CONSOLE_CHANNEL, {"type": RISK_EVENT})


def do_save_marks(session: Session, marks: Sequence[MarkUpdate]) -> None:
    for mark in marks:
        session.merge(FuturesMark(symbol=mark.symbol, price=mark.price, time_ms=mark.time_ms))


def do_record_level_changes(
    session: Session, changes: Sequence[LevelChange], marks: Mapping[str, Decimal],
    tables: Mapping[str, TierTable], settings: Settings,
) -> list[MarginAlert]:  # fmt: skip
    """Save the new latched levels; each rise becomes one margin call. Positions closed since
    the monitor loaded them are skipped (their rows are gone)."""
    if not changes:
        return []
    session.execute(update(FuturesPosition),
                    [{"id": c.position_id, "alert_level": c.level} for c in changes])  # fmt: skip
    risen = {change.position_id: change for change in changes if change.risen}
    if not risen:
        return []
    query = select(FuturesPosition, Trader).join(Trader, Trader.id == FuturesPosition.trader_id)
    rows = session.execute(query.where(FuturesPosition.id.in_(risen))).all()
    alerts = [
        do_margin_call(session, row, trader, risen[row.id], marks, tables, settings)
        for row, trader in rows
    ]
    # One console event per batch: a market move can cross thousands of positions at once.
    publish_on_commit(session, CONSOLE_CHANNEL, {"type": ALERT_EVENT, "count": len(alerts)})
    return alerts


def do_margin_call(
    session: Session, row: FuturesPosition, trader: Trader, change: LevelChange,
    marks: Mapping[str, Decimal], tables: Mapping[str, TierTable], settings: Settings,
) -> MarginAlert:  # fmt: skip
    """One crossing: the portal alert, the email (with the anti-phishing code), the trader's
    live event (the console's is sent per batch by the caller).
    The trader-facing figures are the exact ``Decimal`` ones, not the book's screening floats;
    a cross position's call is its account's (one per account: the book picks the position
    with the largest maintenance margin), with the account's ratio."""
    figures = figures_of(row, cross_peers(session, row, tables), marks, tables)
    alert = MarginAlert(
        trader_id=trader.id, symbol=row.symbol, side=row.side, level=change.level,
        threshold=Decimal(repr(change.threshold)), margin_ratio=_ratio(figures.margin_ratio),
        mark_price=marks[row.symbol], liquidation_price=figures.liquidation_price,
    )  # fmt: skip
    session.add(alert)
    session.flush()
    if settings.email_enabled:
        do_enqueue_email(session, to=trader.email, template="futures_margin_call",
                         locale=trader.language, context=_email_context(alert, row, settings),
                         anti_phishing_code=trader.anti_phishing_code)  # fmt: skip
    event = {"type": ALERT_EVENT, "alert_id": alert.id, "position_id": row.id,
             "level": alert.level}  # fmt: skip
    publish_on_commit(session, f"trader:{trader.id}", event)
    return alert


def _ratio(value: Decimal) -> Decimal:
    """A ratio worth storing: an exhausted margin (infinite ratio) is stored as ``EXHAUSTED``."""
    return value if value.is_finite() else EXHAUSTED


def _email_context(alert: MarginAlert, row: FuturesPosition, settings: Settings) -> dict[str, Any]:
    liquidation = alert.liquidation_price
    return {
        "symbol": alert.symbol, "side_label": SIDE_LABELS.get(alert.side, alert.side),
        "level": alert.level, "level_label": LEVEL_LABELS.get(alert.level, LEVEL_LABELS[2]),
        "exhausted": alert.margin_ratio >= EXHAUSTED,
        "percent": shown(alert.margin_ratio * 100, 4),
        "threshold": shown(alert.threshold * 100, 4), "mark_price": shown(alert.mark_price, 10),
        "liquidation_price": "" if liquidation is None else shown(liquidation, 10),
        "mode": row.mode, "url": f"{settings.public_url}/portal/futures",
    }  # fmt: skip
