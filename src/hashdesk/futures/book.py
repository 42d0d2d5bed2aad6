"""Many positions re-evaluated on every mark-price tick: vectorised float64 screening.

The margin-call monitor needs every open position's margin ratio after each mark-price
update, for 100,000 positions in well under 10 ms. ``MarginBook`` holds one contract kind's
positions as numpy arrays, precomputes what does not depend on the mark price, and evaluates
into buffers allocated once, so a tick allocates (almost) nothing.

Float64 is for screening only: the figures shown to a trader or an agent come from the
``Decimal`` functions in ``margin.py``. The book agrees with them to ~1e-12 relative
(``tests/futures/test_book.py``).

Threshold crossings with hysteresis: ``levels[i]`` is how many thresholds position ``i`` is
latched at. It rises as soon as the ratio reaches a higher threshold (a crossing: one report)
and falls only once the ratio is below a latched threshold minus ``rearm_gap``, so a ratio
hovering around a threshold is reported once, not on every tick. The caller persists the
levels (``BookPositions.levels`` seeds them), so a restarted monitor does not report again.

Cross margin: positions with an ``accounts`` key share one cross wallet (their
``wallet_balances`` carry that wallet, the same on each). Their margin ratio is the account's:
the sum of their maintenance margins over the wallet plus all their unrealised PnL, summed per
account with ``np.bincount`` after each tick; all positions of an account carry that ratio and
one latched level, and a crossing is reported once per account (on its position with the
largest maintenance margin), not once per position. An account is figured once every one of
its symbols has had a mark (NaN until then; its saved level is kept meanwhile). The cross
positions are one contiguous block at the end of the book, so the sums read slices and a mark
update checks crossings on that symbol's isolated rows plus the cross block.

Tiers without a per-position search: the book keeps its positions (isolated, then cross)
sorted by symbol, then by size. A symbol has one mark price per tick, and the notional (q x mark, or Q / mark) grows
with the size, so each tier is one contiguous run of positions, found with a binary search
of the tier caps; the requirement is then two passes (x rate, - amount) over those runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hashdesk.futures.margin import Contract
from hashdesk.futures.tiers import TierTable

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]
Rows = slice | tuple[slice, ...]  # rows of the book, for ``crossings``


@dataclass(frozen=True)
class BookPositions:
    """Columns of positions of one contract kind (``symbols`` index the book's tables)."""

    symbols: Ints
    sides: Floats  # +1 long, -1 short
    quantities: Floats  # linear: base units; inverse: contracts
    entry_prices: Floats
    wallet_balances: Floats  # isolated margin, or the cross wallet of a lone position
    ids: Ints | None = field(default=None)  # the caller's ids; default 0..n-1
    levels: Ints | None = field(default=None)  # thresholds latched earlier; default none
    accounts: Ints | None = field(default=None)  # cross account key (>= 0), or -1: isolated


@dataclass(frozen=True)
class Crossings:
    """What one evaluation changed: ``risen`` ids reached a higher threshold (report each
    once, at ``risen_levels``); ``changed`` ids got a new level, up or re-armed down (persist
    each, at ``changed_levels``)."""

    risen: Ints
    risen_levels: Ints
    changed: Ints
    changed_levels: Ints


@dataclass(frozen=True)
class _SymbolRun:
    """One symbol's positions in the book (``start:stop``) and its tier lines."""

    start: int
    stop: int
    caps: Floats
    rates: Floats
    amounts: Floats


class MarginBook:
    """Positions in book order: ``ids[i]`` is the caller's id of row ``i`` of every result."""

    def __init__(
        self,
        contract: Contract,
        tables: Sequence[TierTable],
        positions: BookPositions,
        thresholds: Sequence[float] = (0.8, 1.0),
        rearm_gap: float = 0.0,
    ) -> None:
        if any(table.contract is not contract for table in tables):
            raise ValueError("every tier table must be of the book's contract kind")
        self.contract = contract
        symbols = np.asarray(positions.symbols, dtype=np.intp)
        size = _sizes(contract, tables, symbols, positions.quantities)
        given_accounts = (np.full(len(symbols), -1, dtype=np.intp) if positions.accounts is None
                          else np.asarray(positions.accounts, dtype=np.intp))  # fmt: skip
        # Isolated positions first, cross ones last (one contiguous block: account sums and
        # crossings run over slices, not gathered copies); each part by symbol, then size.
        order = np.lexsort((size, symbols, given_accounts >= 0))
        count = len(order)
        given_ids = np.arange(count) if positions.ids is None else positions.ids
        self.ids: Ints = np.asarray(given_ids, dtype=np.intp)[order]
        self.symbols: Ints = symbols[order]
        self._size = size[order]
        sides = np.asarray(positions.sides, dtype=np.float64)[order]
        entries = np.asarray(positions.entry_prices, dtype=np.float64)[order]
        wallets = np.asarray(positions.wallet_balances, dtype=np.float64)[order]
        # PnL = sign x notional + (part fixed at entry): linear side x q x (mark - entry),
        # inverse side x Q x (1/entry - 1/mark). Wallet and fixed part add up once, here.
        linear = contract is Contract.LINEAR
        self._pnl_signs = sides if linear else -sides
        fixed = -sides * self._size * entries if linear else sides * self._size / entries
        self._base_equity = wallets + fixed
        self._cross = _CrossAccounts(given_accounts[order], wallets)
        block = self._cross.block
        # A cross position's own "equity" is its PnL alone: the wallet counts once, per account.
        self._base_equity[block] -= wallets[block]
        self._runs = [[run for part in (slice(0, block.start), block)
                       if (run := _run(table, index, self.symbols, part)) is not None]
                      for index, table in enumerate(tables)]  # fmt: skip
        self.thresholds = np.asarray(sorted(thresholds), dtype=np.float64)
        self.rearm_at = self.thresholds - rearm_gap
        # Thresholds latched (see the module docstring); seeded from the caller's saved state.
        given_levels = np.zeros(count) if positions.levels is None else positions.levels
        self.levels: Ints = np.asarray(given_levels, dtype=np.intp)[order]
        self._cross.share_levels(self.levels)
        self.ratios = np.full(count, np.nan)  # NaN until the symbol's first mark
        self._notional = np.empty(count)
        # NaN until evaluated: an account with a position not yet marked is not figured.
        self._equity = np.full(count, np.nan)
        self._maintenance = np.full(count, np.nan)
        self._solvent = np.empty(count, dtype=bool)
        self._reached = np.empty(count, dtype=bool)
        self._new_levels = np.empty(count, dtype=np.intp)
        self._held = np.empty(count, dtype=np.intp)
        self._unknown = np.empty(count, dtype=bool)

    def __len__(self) -> int:
        return len(self.ids)

    def evaluate(self, marks: Sequence[float] | Floats) -> Floats:
        """Margin ratios (maintenance margin / equity; inf once equity is gone) at the mark
        prices ``marks[symbol]``, in book order (see ``ids``). Returns the book's own buffer:
        copy it to keep it."""
        for runs, mark in zip(self._runs, marks, strict=True):
            for run in runs:
                self._evaluate_run(run, float(mark))
        self._ratios_of(slice(0, len(self.ids)))
        self._cross.ratios(self._maintenance, self._equity, self.ratios)
        return self.ratios

    def evaluate_symbol(self, symbol: int, mark: float) -> Rows:
        """Re-evaluate only the positions of ``symbols == symbol`` at ``mark`` (what a mark
        update of one contract needs); returns the rows whose ratio may have moved, for
        ``crossings``: the symbol's isolated positions, and the cross block (every cross
        account shares in the update when it holds the symbol; the others are unchanged)."""
        return self.evaluate_symbols([symbol], mark)

    def evaluate_symbols(self, symbols: Sequence[int], mark: float) -> Rows:
        """``evaluate_symbol`` for several runs at one mark (a contract whose positions have
        several maintenance schedules): the account sums are figured once."""
        touched: list[slice] = []
        for symbol in symbols:
            for run in self._runs[symbol]:
                self._evaluate_run(run, float(mark))
                span = slice(run.start, run.stop)
                self._ratios_of(span)
                if run.start < self._cross.block.start:
                    touched.append(span)
        if any(run.start >= self._cross.block.start for s in symbols for run in self._runs[s]):
            self._cross.ratios(self._maintenance, self._equity, self.ratios)
            touched.append(self._cross.block)
        return tuple(touched)

    def crossings(self, rows: Rows | None = None) -> Crossings:
        """Update the latched levels of ``rows`` (default: all) from their last ratios.

        level = max(thresholds reached, min(previous level, thresholds within ``rearm_gap``)):
        a rise is reported once (once per cross account); a drop needs the ratio below
        threshold - gap."""
        spans = (slice(0, len(self.ids)),) if rows is None else rows
        if isinstance(spans, slice):
            spans = (spans,)
        found = [self._crossings_of(span) for span in spans]
        if len(found) == 1:
            return found[0]
        return Crossings(*(np.concatenate([getattr(one, name) for one in found])
                           for name in ("risen", "risen_levels", "changed", "changed_levels")))  # fmt: skip

    def _crossings_of(self, span: slice) -> Crossings:
        ratios, old = self.ratios[span], self.levels[span]
        reached, held = self._new_levels[span], self._held[span]
        self._count_reached(ratios, self.thresholds, reached)
        self._count_reached(ratios, self.rearm_at, held)
        risen = np.flatnonzero(reached > old)
        np.minimum(held, old, out=held)
        if span.stop > self._cross.block.start:  # an account not figured (NaN) keeps its level
            unknown = self._unknown[span]
            np.isnan(ratios, out=unknown)
            np.copyto(held, old, where=unknown)
        np.maximum(reached, held, out=reached)
        changed = np.flatnonzero(reached != old)
        start = span.start or 0
        if len(risen) and span.stop > self._cross.block.start:
            risen = risen[self._cross.one_per_account(risen + start, self._maintenance)]
        ids = self.ids[span]
        found = Crossings(ids[risen], reached[risen], ids[changed], reached[changed])
        np.copyto(old, reached)
        return found

    def _count_reached(self, ratios: Floats, lines: Floats, out: Ints) -> None:
        out.fill(0)
        reached = self._reached[: len(ratios)]
        for line in lines:
            np.greater_equal(ratios, line, out=reached)
            out += reached

    def _ratios_of(self, span: slice) -> None:
        equity, ratios = self._equity[span], self.ratios[span]
        np.multiply(self._notional[span], self._pnl_signs[span], out=equity)
        equity += self._base_equity[span]
        solvent = self._solvent[span]
        np.greater(equity, 0.0, out=solvent)
        ratios.fill(np.inf)
        np.divide(self._maintenance[span], equity, out=ratios, where=solvent)

    def liquidated(self) -> Ints:
        """Ids of the positions whose equity is at or below their maintenance margin."""
        return self.ids[np.flatnonzero(self.ratios >= 1.0)]

    def _evaluate_run(self, run: _SymbolRun, mark: float) -> None:
        if run.stop == run.start:
            return
        span = slice(run.start, run.stop)
        size, notional = self._size[span], self._notional[span]
        if self.contract is Contract.LINEAR:
            np.multiply(size, mark, out=notional)
            largest_size = run.caps / mark  # q x mark <= cap
        else:
            np.divide(size, mark, out=notional)
            largest_size = run.caps * mark  # Q / mark <= cap
        ends = np.searchsorted(size, largest_size, side="right")
        ends[-1] = len(size)  # beyond the last cap: the last tier's line
        begin = 0
        for end, rate, amount in zip(ends.tolist(), run.rates, run.amounts, strict=True):
            if end > begin:
                part = self._maintenance[run.start + begin : run.start + end]
                np.multiply(notional[begin:end], rate, out=part)
                part -= amount
                begin = end


class _CrossAccounts:
    """The cross positions of a book (``block``: the last rows) and their account numbers."""

    def __init__(self, accounts: Ints, wallets: Floats) -> None:
        self.block = slice(int(np.searchsorted(accounts >= 0, True)), len(accounts))
        self.rows: Ints = np.arange(self.block.start, self.block.stop)
        self.row_account = np.full(len(accounts), -1, dtype=np.intp)
        keys, first, numbers = np.unique(accounts[self.block], return_index=True,
                                         return_inverse=True)  # fmt: skip
        self.account: Ints = numbers.astype(np.intp).reshape(-1)
        self.row_account[self.block] = self.account
        self.count = len(keys)
        self.wallets: Floats = wallets[self.block][first]  # the same on each of its positions
        self._ratio = np.empty(self.count)
        self._solvent = np.empty(self.count, dtype=bool)

    def share_levels(self, levels: Ints) -> None:
        """One level per account: the highest any of its positions was saved at (a position
        added to a latched account must not call again)."""
        if not self.count:
            return
        highest = np.zeros(self.count, dtype=np.intp)
        np.maximum.at(highest, self.account, levels[self.rows])
        levels[self.rows] = highest[self.account]

    def ratios(self, maintenance: Floats, pnl: Floats, out: Floats) -> None:
        """Each cross position's ratio := its account's sum(maintenance) / (wallet + sum(PnL))."""
        if not self.count:
            return
        block, ratio, solvent = self.block, self._ratio, self._solvent
        required = np.bincount(self.account, weights=maintenance[block], minlength=self.count)
        equity = np.bincount(self.account, weights=pnl[block], minlength=self.count)
        np.add(equity, self.wallets, out=equity)
        np.greater(equity, 0.0, out=solvent)
        ratio.fill(np.inf)
        np.divide(required, equity, out=ratio, where=solvent)
        np.copyto(ratio, equity, where=np.isnan(equity))  # a position not marked yet: NaN
        np.take(ratio, self.account, out=out[block])

    def one_per_account(self, rows: Ints, maintenance: Floats) -> Ints:
        """Indexes into ``rows`` keeping isolated rows and, per cross account, the row with
        the largest maintenance margin (the account's one margin call)."""
        accounts = self.row_account[rows]
        if not (accounts >= 0).any():
            return np.arange(len(rows))
        order = np.lexsort((-maintenance[rows], accounts))
        ordered = accounts[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        kept: Ints = np.sort(order[first | (ordered < 0)])
        return kept


def _sizes(
    contract: Contract, tables: Sequence[TierTable], symbols: Ints, quantities: Floats
) -> Floats:
    """What the mark multiplies (linear: q) or divides (inverse: Q = contracts x size)."""
    amounts = np.asarray(quantities, dtype=np.float64)
    if contract is Contract.LINEAR:
        return amounts
    sizes = np.array([float(table.contract_size) for table in tables], dtype=np.float64)
    scaled: Floats = amounts * sizes[symbols]
    return scaled


def _run(table: TierTable, index: int, symbols: Ints, part: slice) -> _SymbolRun | None:
    """The rows of ``symbols == index`` within ``part`` (whose symbols are sorted)."""
    start, stop = np.searchsorted(symbols[part], [index, index + 1]) + part.start
    if start == stop:
        return None
    return _SymbolRun(
        start=int(start),
        stop=int(stop),
        caps=np.array([float(tier.cap) for tier in table.tiers]),
        rates=np.array([float(tier.maintenance_margin_rate) for tier in table.tiers]),
        amounts=np.array([float(tier.maintenance_amount) for tier in table.tiers]),
    )
