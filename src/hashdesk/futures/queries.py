"""Reads of the margin-call monitor: positions for the monitor and the console, last marks,
a trader's alerts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.core.auth import Permission, Principal
from hashdesk.futures.margin import MarginMode
from hashdesk.futures.models import FuturesMark, FuturesPosition, MarginAlert, RiskEntry
from hashdesk.futures.schedules import AccountFigures, PositionRecord, account_key, figures_of
from hashdesk.futures.tiers import TierTable

RISK_PERMISSION = Permission.REPLY  # staff who answer traders; community moderators do not


def access_positions_at_risk(principal: Principal) -> None:
    """Positions, balances and names of traders are for staff who answer traders."""
    principal.require(RISK_PERMISSION)


def list_positions(session: Session) -> list[FuturesPosition]:
    return list(session.scalars(select(FuturesPosition).order_by(FuturesPosition.id)))


_RECORD_COLUMNS = [getattr(FuturesPosition, name) for name in PositionRecord.STORED]


def list_position_records(
    session: Session, trader_ids: Collection[int] | None = None,
    position_ids: Collection[int] | None = None,
) -> list[PositionRecord]:  # fmt: skip
    """Every open position (or those of ``trader_ids``, or ``position_ids``), for the
    monitor's books and the console."""
    query = select(*_RECORD_COLUMNS).order_by(FuturesPosition.id)
    if trader_ids is not None:
        query = query.where(FuturesPosition.trader_id.in_(trader_ids))
    if position_ids is not None:
        query = query.where(FuturesPosition.id.in_(position_ids))
    return [PositionRecord(*row) for row in session.execute(query)]


def cross_peers(session: Session, row: FuturesPosition,
                tables: Mapping[str, TierTable]) -> list[FuturesPosition]:  # fmt: skip
    """The other positions of ``row``'s cross account (none for an isolated position)."""
    key = account_key(row, tables)
    if key is None:
        return []
    query = select(FuturesPosition).where(FuturesPosition.trader_id == row.trader_id,
                                          FuturesPosition.mode == MarginMode.CROSS.value,
                                          FuturesPosition.id != row.id)  # fmt: skip
    return [peer for peer in session.scalars(query) if account_key(peer, tables) == key]


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


def get_risk_snapshot(session: Session, limit: int) -> list[RiskEntry]:
    return list(session.scalars(select(RiskEntry).order_by(RiskEntry.rank).limit(limit)))


def list_positions_at_risk(
    session: Session, tables: Mapping[str, TierTable], limit: int = 50
) -> list[AtRisk]:
    """The ``limit`` positions with the highest margin ratio, from the margin monitor's last
    snapshot (its book holds every ratio: the console reads ``limit`` rows, never every open
    position), figured exactly at the last saved marks, highest first. Positions closed since
    the snapshot are left out; none before a monitor has saved one."""
    ids = [entry.position_id for entry in get_risk_snapshot(session, limit)]
    marks = get_marks(session) if ids else {}
    found = {record.id: record for record in list_position_records(session, position_ids=ids)}
    chosen = [found[i] for i in ids if i in found and found[i].symbol in marks]
    peers = _cross_peers_of(session, chosen, tables)
    traders = _traders(session, {record.trader_id for record in chosen})
    prices = {symbol: mark.price for symbol, mark in marks.items()}
    listed = [
        AtRisk(record, traders[record.trader_id], marks[record.symbol],
               figures.margin_ratio if figures.margin_ratio.is_finite() else None,
               figures.liquidation_price)
        for record in chosen
        if (figures := _figures(record, peers.get(record.id, []), prices, tables)) is not None
    ]  # fmt: skip
    return sorted(listed, key=lambda row: -(row.margin_ratio or Decimal("Infinity")))


def _figures(record: PositionRecord, peers: list[PositionRecord], prices: Mapping[str, Decimal],
             tables: Mapping[str, TierTable]) -> AccountFigures | None:  # fmt: skip
    try:
        return figures_of(record, peers, prices, tables)
    except KeyError:  # its tier table is no longer loaded: not figured (the monitor warned)
        return None


def _cross_peers_of(session: Session, chosen: Sequence[PositionRecord],
                    tables: Mapping[str, TierTable]) -> dict[int, list[PositionRecord]]:  # fmt: skip
    """For each chosen cross position, the other positions of its account (read for those
    traders only)."""
    keys = {record.id: key for record in chosen if (key := account_key(record, tables))}
    if not keys:
        return {}
    accounts: dict[tuple[int, str], list[PositionRecord]] = {}
    for record in list_position_records(session, {key[0] for key in keys.values()}):
        if (key := account_key(record, tables)) is not None:
            accounts.setdefault(key, []).append(record)
    return {position_id: [peer for peer in accounts[key] if peer.id != position_id]
            for position_id, key in keys.items()}  # fmt: skip


def _traders(session: Session, ids: set[int]) -> dict[int, Trader]:
    return {t.id: t for t in session.scalars(select(Trader).where(Trader.id.in_(ids)))}
