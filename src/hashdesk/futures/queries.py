"""Reads of the margin-call monitor: positions for the monitor and the console, last marks,
a trader's alerts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.core.auth import Permission, Principal
from hashdesk.futures.book import Floats
from hashdesk.futures.margin import Contract, liquidation_price, margin_ratio
from hashdesk.futures.models import FuturesMark, FuturesPosition, MarginAlert
from hashdesk.futures.schedules import PositionRecord, book_of, position_of, schedule_of
from hashdesk.futures.tiers import TierTable

RISK_PERMISSION = Permission.REPLY  # staff who answer traders; community moderators do not


def access_positions_at_risk(principal: Principal) -> None:
    """Positions, balances and names of traders are for staff who answer traders."""
    principal.require(RISK_PERMISSION)


def list_positions(session: Session) -> list[FuturesPosition]:
    return list(session.scalars(select(FuturesPosition).order_by(FuturesPosition.id)))


_RECORD_COLUMNS = [getattr(FuturesPosition, name) for name in PositionRecord.STORED]


def list_position_records(
    session: Session, trader_ids: Collection[int] | None = None
) -> list[PositionRecord]:
    """Every open position (or those of ``trader_ids``), for the monitor's books."""
    query = select(*_RECORD_COLUMNS).order_by(FuturesPosition.id)
    if trader_ids is not None:
        query = query.where(FuturesPosition.trader_id.in_(trader_ids))
    return [PositionRecord(*row) for row in session.execute(query)]


def list_trader_positions(session: Session, trader_id: int) -> list[FuturesPosition]:
    query = select(FuturesPosition).where(FuturesPosition.trader_id == trader_id)
    return list(session.scalars(query.order_by(FuturesPosition.symbol, FuturesPosition.side)))


def get_marks(session: Session) -> dict[str, FuturesMark]:
    return {mark.symbol: mark for mark in session.scalars(select(FuturesMark))}


def list_trader_alerts(session: Session, trader_id: int, limit: int = 50) -> list[MarginAlert]:
    query = select(MarginAlert).where(MarginAlert.trader_id == trader_id)
    return list(session.scalars(query.order_by(MarginAlert.id.desc()).limit(limit)))


@dataclass(frozen=True)
class AtRisk:
    """A position on the console's list, with the exact figures at the last mark."""

    position: PositionRecord
    trader: Trader
    mark: FuturesMark
    margin_ratio: Decimal | None  # None: equity gone
    liquidation_price: Decimal | None


def list_positions_at_risk(
    session: Session, tables: Mapping[str, TierTable], limit: int = 50
) -> list[AtRisk]:
    """The ``limit`` positions with the highest margin ratio at the last marks: screened by
    the vectorised book (every position), then figured exactly (only those shown)."""
    marks = get_marks(session)
    rows = [row for row in list_position_records(session) if row.symbol in marks]
    groups = _by_contract(rows)
    ratios = np.concatenate([_screen(group, marks, tables) for group in groups])
    ordered = [row for group in groups for row in group]
    # Highest first; NaN (a tier table no longer loaded: not figured) sorts last, left out.
    ranked = [i for i in np.argsort(-ratios, kind="stable")[:limit] if not np.isnan(ratios[i])]
    chosen = [ordered[i] for i in ranked]
    traders = _traders(session, {row.trader_id for row in chosen})
    return [_at_risk(row, traders[row.trader_id], marks[row.symbol], tables) for row in chosen]


def _by_contract(rows: Sequence[PositionRecord]) -> list[list[PositionRecord]]:
    return [[row for row in rows if row.contract == kind.value] for kind in Contract]


def _screen(rows: list[PositionRecord], marks: Mapping[str, FuturesMark],
            tables: Mapping[str, TierTable]) -> Floats:  # fmt: skip
    """Margin ratios of ``rows`` in their order (NaN: a tier table no longer loaded)."""
    ratios = np.full(len(rows), np.nan)
    built = book_of(rows, tables) if rows else None
    if built is None:
        return ratios
    book, keys = built
    evaluated = book.evaluate([float(marks[symbol].price) for symbol, _ in keys])
    where = {position_id: number for number, position_id in enumerate(r.id for r in rows)}
    ratios[[where[position_id] for position_id in book.ids.tolist()]] = evaluated
    return ratios


def _traders(session: Session, ids: set[int]) -> dict[int, Trader]:
    return {t.id: t for t in session.scalars(select(Trader).where(Trader.id.in_(ids)))}


def _at_risk(row: PositionRecord, trader: Trader, mark: FuturesMark,
             tables: Mapping[str, TierTable]) -> AtRisk:  # fmt: skip
    schedule, position = schedule_of(row, tables), position_of(row)
    ratio = margin_ratio(position, row.wallet_balance, mark.price, schedule)
    liquidation = liquidation_price(position, row.wallet_balance, schedule)
    return AtRisk(row, trader, mark, ratio if ratio.is_finite() else None, liquidation)
