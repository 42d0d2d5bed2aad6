"""The maintenance terms of a stored position: its contract's tier table, or the flat rate and
amount the exchange gave (a one-tier table, so the vectorised book treats both alike)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from hashdesk.futures.book import BookPositions, MarginBook
from hashdesk.futures.margin import (
    ONE,
    ZERO,
    Contract,
    Leg,
    MarginMode,
    Position,
    Side,
    cross_liquidation_price,
    maintenance_margin,
    unrealised_pnl,
)
from hashdesk.futures.tiers import Tier, TierTable, load_tier_tables

log = logging.getLogger(__name__)
# A flat schedule's single tier holds every notional: its cap is beyond any position.
_UNBOUNDED = Decimal("1e30")


class StoredTerms(Protocol):
    """What a schedule needs of a position (a ``FuturesPosition`` row or a plain record)."""

    contract: str
    side: str
    entry_price: Decimal
    quantity: Decimal
    contract_size: Decimal
    tier_table: str | None
    maintenance_margin_rate: Decimal | None
    maintenance_amount: Decimal | None


@dataclass(slots=True)
class PositionRecord:
    """A stored position as plain values, with what a book needs already in floats: the
    monitor holds 100,000s of these and rebuilds its books from them after each push (read
    with one Core query; ORM objects would cost seconds to load)."""

    STORED: ClassVar[tuple[str, ...]] = (
        "id", "trader_id", "symbol", "contract", "side", "mode", "entry_price", "quantity",
        "contract_size", "wallet_balance", "tier_table", "maintenance_margin_rate",
        "maintenance_amount", "alert_level",
    )  # fmt: skip

    id: int
    trader_id: int
    symbol: str
    contract: str
    side: str
    mode: str
    entry_price: Decimal
    quantity: Decimal
    contract_size: Decimal
    wallet_balance: Decimal
    tier_table: str | None
    maintenance_margin_rate: Decimal | None
    maintenance_amount: Decimal | None
    alert_level: int
    run: tuple[str, str] = field(init=False)  # (symbol, schedule key): the book run
    screen: tuple[float, float, float, float] = field(init=False)  # sign, qty, entry, wallet

    def __post_init__(self) -> None:
        self.run = (self.symbol, schedule_key(self))
        sign = 1.0 if self.side == "long" else -1.0
        self.screen = (sign, float(self.quantity), float(self.entry_price),
                       float(self.wallet_balance))  # fmt: skip


@lru_cache(maxsize=4)
def tier_tables(path: Path | None) -> Mapping[str, TierTable]:
    """The operator's tables (``HASHDESK_FUTURES_TIER_FILE``), or the demo ones; read once."""
    return load_tier_tables(path)


def schedule_key(terms: StoredTerms) -> str:
    """Positions with the same key share one schedule (and one run of the book)."""
    if terms.tier_table is not None:
        return terms.tier_table
    rate, amount = terms.maintenance_margin_rate or ZERO, terms.maintenance_amount or ZERO
    return f"flat:{rate}:{amount}:{terms.contract_size}"


def flat_table(key: str, contract: Contract, rate: Decimal, amount: Decimal,
               contract_size: Decimal) -> TierTable:  # fmt: skip
    tier = Tier(ZERO, _UNBOUNDED, ONE, rate, amount)
    return TierTable(key, contract, "", (tier,), contract_size)


def schedule_of(terms: StoredTerms, tables: Mapping[str, TierTable]) -> TierTable:
    """The position's schedule; ``KeyError`` for a tier table no longer loaded."""
    if terms.tier_table is not None:
        return tables[terms.tier_table]
    return flat_table(schedule_key(terms), Contract(terms.contract),
                      terms.maintenance_margin_rate or ZERO, terms.maintenance_amount or ZERO,
                      terms.contract_size)  # fmt: skip


class HeldPosition(StoredTerms, Protocol):
    """A stored position with its owner and margin mode (a row or a record)."""

    id: int
    trader_id: int
    symbol: str
    mode: str
    wallet_balance: Decimal


def account_key(held: HeldPosition, tables: Mapping[str, TierTable]) -> tuple[int, str] | None:
    """The cross account a position shares its wallet with (None: isolated): the trader's
    cross wallet in the settlement asset of the contract. Flat terms name no settlement
    asset, so such a position shares only with its own symbol's other side."""
    if held.mode != MarginMode.CROSS.value:
        return None
    table = tables.get(held.tier_table) if held.tier_table is not None else None
    asset = f"{held.contract}:{table.settlement_asset}" if table else f"symbol:{held.symbol}"
    return held.trader_id, asset


@dataclass(frozen=True)
class AccountFigures:
    """A position's exact figures at the marks; in cross margin, with its account's."""

    margin_ratio: Decimal  # infinite once equity is gone
    liquidation_price: Decimal | None


def figures_of(held: HeldPosition, peers: Sequence[HeldPosition], marks: Mapping[str, Decimal],
               tables: Mapping[str, TierTable]) -> AccountFigures:  # fmt: skip
    """Exact (Decimal) figures of ``held`` at ``marks``. ``peers``: the other positions of its
    cross account (none for isolated): the ratio is then the account's, sum of maintenance
    margins / (cross wallet + all unrealised PnL), and the liquidation price Binance's, with
    the peers' maintenance and PnL held at their marks. A peer without a mark is left out."""
    schedule, position = schedule_of(held, tables), position_of(held)
    mark = marks[held.symbol]
    required, pnl = maintenance_margin(position, schedule, mark), unrealised_pnl(position, mark)
    legs = [Leg(position, schedule)]  # a hedge-mode pair moves with the same mark
    other_required, other_pnl = ZERO, ZERO
    for peer in peers:
        if peer.symbol not in marks:
            continue
        peer_position, peer_schedule = position_of(peer), schedule_of(peer, tables)
        peer_required = maintenance_margin(peer_position, peer_schedule, marks[peer.symbol])
        peer_pnl = unrealised_pnl(peer_position, marks[peer.symbol])
        required, pnl = required + peer_required, pnl + peer_pnl
        if peer.symbol == held.symbol:
            legs.append(Leg(peer_position, peer_schedule))
        else:
            other_required, other_pnl = other_required + peer_required, other_pnl + peer_pnl
    equity = held.wallet_balance + pnl
    ratio = required / equity if equity > 0 else Decimal("Infinity")
    liquidation = cross_liquidation_price(legs, held.wallet_balance, other_required, other_pnl)
    return AccountFigures(ratio, liquidation)


def position_of(terms: StoredTerms) -> Position:
    return Position(Contract(terms.contract), Side(terms.side), terms.entry_price,
                    terms.quantity, terms.contract_size)  # fmt: skip


def book_of(
    records: Sequence[PositionRecord], tables: Mapping[str, TierTable],
    thresholds: Sequence[float] = (0.8, 1.0), rearm_gap: float = 0.0,
    levels: Mapping[int, int] | None = None,
) -> tuple[MarginBook, list[tuple[str, str]]] | None:  # fmt: skip
    """A vectorised book of ``records`` (all of one contract kind), one run per (symbol,
    schedule key), and those keys in run order. A position's latched level is ``levels[id]``
    when given (a running monitor's own, newer than a record read earlier), else the saved
    one. Positions whose tier table is no longer loaded are left out, with a warning: the
    others are still watched."""
    schedules = _schedules(records, tables)
    kept = [record for record in records if record.run in schedules]
    if not kept:
        return None
    keys = sorted(schedules)
    index = {key: number for number, key in enumerate(keys)}
    saved = levels or {}
    accounts: dict[tuple[int, str], int] = {}
    keys_of = [account_key(record, tables) for record in kept]
    screen = np.array([record.screen for record in kept], dtype=np.float64).reshape(-1, 4)
    columns = BookPositions(
        symbols=np.fromiter((index[r.run] for r in kept), dtype=np.intp, count=len(kept)),
        sides=screen[:, 0].copy(),
        quantities=screen[:, 1].copy(),
        entry_prices=screen[:, 2].copy(),
        wallet_balances=screen[:, 3].copy(),
        ids=np.fromiter((r.id for r in kept), dtype=np.intp, count=len(kept)),
        levels=np.fromiter((saved.get(r.id, r.alert_level) for r in kept), dtype=np.intp,
                           count=len(kept)),
        accounts=np.fromiter((-1 if key is None else accounts.setdefault(key, len(accounts))
                              for key in keys_of), dtype=np.intp, count=len(kept)),
    )  # fmt: skip
    book = MarginBook(Contract(kept[0].contract), [schedules[key] for key in keys], columns,
                      thresholds, rearm_gap)  # fmt: skip
    return book, keys


def _schedules(
    records: Sequence[PositionRecord], tables: Mapping[str, TierTable]
) -> dict[tuple[str, str], TierTable]:
    schedules: dict[tuple[str, str], TierTable] = {}
    missing: set[tuple[str, str]] = set()
    for record in records:
        if record.run in schedules or record.run in missing:
            continue
        try:
            schedules[record.run] = schedule_of(record, tables)
        except KeyError:
            log.warning("no tier table %s: positions of %s are not monitored", *record.run[::-1])
            missing.add(record.run)
    return schedules
