"""The margin-call monitor: every open position re-evaluated on every mark-price update.

``MarginMonitor`` loads the open positions into one vectorised ``MarginBook`` per contract
kind (a run per contract symbol and maintenance schedule), seeded with the alert levels saved
in the database. A mark update re-evaluates the runs of that symbol and detects threshold
crossings with hysteresis (``book.py``); only the positions whose level changed touch the
database: their new level is saved and each rise becomes one margin call (``actions.py``),
in one transaction, so a crash never loses a call nor sends one twice after a restart.

The console's "positions at risk" come from here too: at most once per
``RISK_SAVE_SECONDS``, when ratios moved, the monitor saves the ``RISK_ROWS`` highest ratios of
its books (``publish_risk``: an ``argpartition`` over the ratios it holds anyway), so a console
refresh reads those few rows instead of figuring every open position.

Thresholds come from the settings (``HASHDESK_MARGIN_WARNING_RATIO``,
``HASHDESK_MARGIN_CRITICAL_RATIO``, ``HASHDESK_MARGIN_REARM_GAP``). ``hashdesk futures
monitor`` runs one in a loop; run exactly one monitor per deployment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from hashdesk.config import Settings
from hashdesk.core.db import Database
from hashdesk.core.errors import InvalidInput
from hashdesk.futures.actions import (
    LevelChange,
    do_record_level_changes,
    do_save_marks,
    do_save_risk_snapshot,
)
from hashdesk.futures.book import Crossings, MarginBook
from hashdesk.futures.models import MarginAlert
from hashdesk.futures.queries import list_position_records
from hashdesk.futures.schedules import PositionRecord, book_of, tier_tables
from hashdesk.futures.schemas import MarkUpdate
from hashdesk.futures.tiers import TierTable

MARK_SAVE_SECONDS = 1.0  # the console's last marks: at most one write per symbol per second
log = logging.getLogger(__name__)
RISK_SAVE_SECONDS = 1.0  # the console's positions at risk: at most one snapshot a second
RISK_ROWS = 100  # the snapshot's length (the console shows 50; closed ones drop out)


@dataclass(frozen=True)
class Thresholds:
    """Margin ratios that alert (ascending: warning, critical) and the re-arm gap."""

    lines: tuple[float, ...]
    rearm_gap: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        warning, critical = settings.margin_warning_ratio, settings.margin_critical_ratio
        if not warning < critical:
            raise InvalidInput(
                "HASHDESK_MARGIN_CRITICAL_RATIO ({critical}) must be above "
                "HASHDESK_MARGIN_WARNING_RATIO ({warning}).",
                field="margin_critical_ratio", critical=critical, warning=warning,
            )  # fmt: skip
        if settings.margin_rearm_gap >= warning:
            raise InvalidInput(
                "HASHDESK_MARGIN_REARM_GAP ({gap}) must be below the warning ratio.",
                field="margin_rearm_gap", gap=settings.margin_rearm_gap,
            )  # fmt: skip
        return cls((warning, critical), settings.margin_rearm_gap)


@dataclass
class _Book:
    """One contract kind's book and which of its runs belong to each contract symbol."""

    book: MarginBook
    runs_of_symbol: dict[str, list[int]]


@dataclass
class TickResult:
    """What a batch of marks did: level changes saved and margin calls made."""

    changes: list[LevelChange] = field(default_factory=list)
    alerts: list[MarginAlert] = field(default_factory=list)


class MarginMonitor:
    def __init__(self, database: Database, settings: Settings,
                 tables: Mapping[str, TierTable] | None = None) -> None:  # fmt: skip
        self.database, self.settings = database, settings
        self.thresholds = Thresholds.from_settings(settings)
        self.tables = tables if tables is not None else tier_tables(settings.futures_tier_file)
        self.books: list[_Book] = []
        self.positions = 0
        self._saved_at: dict[str, float] = {}
        self._held: dict[int, list[PositionRecord]] = {}  # by trader
        # Levels changed since the records were read (saved too): a rebuild keeps them.
        self._levels: dict[int, int] = {}
        self._stale = False  # a failed save left the books ahead of the database
        self._prices: dict[str, Decimal] = {}  # the last mark of every symbol seen
        self._risk_moved = False  # ratios changed since the last snapshot was saved
        self._risk_saved_at: float | None = None

    def reload(self, trader_ids: Collection[int] | None = None) -> int:
        """(Re)build the books from the stored positions: all of them, or, after pushes, only
        those of ``trader_ids`` re-read (the rest are kept in memory, with the levels this
        monitor saved since it read them)."""
        if self._stale:
            trader_ids = None  # a full reload: the held levels may be ahead of the database
        with self.database.session() as session:
            records = list_position_records(session, trader_ids)
        if trader_ids is None:
            self._held, self._levels = {}, {}
        else:
            for trader_id in trader_ids:
                self._held.pop(trader_id, None)
        for record in records:
            self._held.setdefault(record.trader_id, []).append(record)
        by_kind: dict[str, list[PositionRecord]] = {}
        for records_of in self._held.values():
            for record in records_of:
                by_kind.setdefault(record.contract, []).append(record)
        self.books = [built for records_of in by_kind.values()
                      if (built := self._build(records_of))]  # fmt: skip
        self.positions = sum(len(records_of) for records_of in by_kind.values())
        self._stale = False
        self._risk_moved = True
        if self._prices:  # a rebuilt book knows no ratio yet: figure it at the last marks
            self._evaluate_all()
        return self.positions

    def on_marks(self, marks: Sequence[MarkUpdate]) -> TickResult:
        """Re-evaluate every position of each mark's symbol; save what changed, in one
        transaction with the margin calls."""
        if self._stale:
            self.reload()
        changes = [change for mark in marks for change in self._evaluate(mark)]
        latest = {mark.symbol: mark for mark in marks}
        self._prices.update((symbol, mark.price) for symbol, mark in latest.items())
        self._risk_moved = self._risk_moved or bool(marks)
        due = [mark for mark in latest.values() if self._mark_due(mark.symbol) or changes]
        if not changes and not due:
            self._publish_risk_or_log()
            return TickResult()
        try:
            with self.database.transaction() as session:
                do_save_marks(session, due)
                alerts = do_record_level_changes(session, changes, self._prices, self.tables,
                                                 self.settings)  # fmt: skip
        except Exception:
            # The books already moved to the new levels: back to the saved ones before the
            # next mark (the database may be down now), which then detects (and calls) these
            # crossings again instead of losing them.
            self._stale = True
            raise
        self._levels.update((change.position_id, change.level) for change in changes)
        now = time.monotonic()
        self._saved_at.update((mark.symbol, now) for mark in due)
        self._publish_risk_or_log()
        return TickResult(changes, alerts)

    def _publish_risk_or_log(self) -> None:
        # The margin calls are saved already: a snapshot that fails now is retried later.
        try:
            self.publish_risk()
        except SQLAlchemyError:
            log.exception("margin monitor: the positions-at-risk snapshot was not saved")

    def publish_risk(self, force: bool = False) -> bool:
        """Save the snapshot of the positions most at risk if ratios moved since the last one
        and it is due (``force``: due now). Returns whether it saved one."""
        now = time.monotonic()
        recent = self._risk_saved_at is not None and now - self._risk_saved_at < RISK_SAVE_SECONDS
        if not self._risk_moved or (recent and not force):
            return False
        with self.database.transaction() as session:
            do_save_risk_snapshot(session, self.riskiest(RISK_ROWS))
        self._risk_moved, self._risk_saved_at = False, now
        return True

    def riskiest(self, count: int) -> list[tuple[int, float]]:
        """``(position id, margin ratio)`` of the ``count`` highest ratios, highest first
        (positions not figured yet, NaN, are left out)."""
        if not self.books:
            return []
        ratios = np.concatenate([entry.book.ratios for entry in self.books])
        ids = np.concatenate([entry.book.ids for entry in self.books])
        keys = np.where(np.isnan(ratios), -np.inf, ratios)
        top = min(count, len(keys))
        chosen = np.argpartition(-keys, top - 1)[:top]
        chosen = chosen[np.argsort(-keys[chosen], kind="stable")]
        chosen = chosen[~np.isnan(ratios[chosen])]
        return list(zip(ids[chosen].tolist(), ratios[chosen].tolist(), strict=True))

    def _evaluate_all(self) -> None:
        for entry in self.books:
            for symbol, runs in entry.runs_of_symbol.items():
                if symbol in self._prices:
                    entry.book.evaluate_symbols(runs, float(self._prices[symbol]))

    def _mark_due(self, symbol: str) -> bool:
        saved_at = self._saved_at.get(symbol)
        return saved_at is None or time.monotonic() - saved_at >= MARK_SAVE_SECONDS

    def _evaluate(self, mark: MarkUpdate) -> list[LevelChange]:
        found: list[LevelChange] = []
        price = float(mark.price)
        for entry in self.books:
            runs = entry.runs_of_symbol.get(mark.symbol)
            if runs:
                rows = entry.book.evaluate_symbols(runs, price)
                found += self._changes(entry.book.crossings(rows))
        return found

    def _changes(self, crossings: Crossings) -> list[LevelChange]:
        if not len(crossings.changed):
            return []
        risen = dict(zip(crossings.risen.tolist(), crossings.risen_levels.tolist(), strict=True))
        lines = self.thresholds.lines
        return [
            LevelChange(position_id, level, position_id in risen, lines[max(level, 1) - 1])
            for position_id, level in zip(crossings.changed.tolist(),
                                          crossings.changed_levels.tolist(), strict=True)
        ]  # fmt: skip

    def _build(self, rows: list[PositionRecord]) -> _Book | None:
        built = book_of(rows, self.tables, self.thresholds.lines, self.thresholds.rearm_gap,
                        self._levels)  # fmt: skip
        if built is None:
            return None
        book, keys = built
        runs: dict[str, list[int]] = {}
        for number, (symbol, _) in enumerate(keys):
            runs.setdefault(symbol, []).append(number)
        return _Book(book, runs)
