"""The console's "Positions at risk" refresh at 100,000 open positions: before and after the
margin monitor's snapshot.

    .venv/bin/python bench/risk_console.py [--positions 100000] [--runs 7]
        [--database-url URL] [--markdown /tmp/risk_console.md]

Fills a fresh database (a SQLite file in a temporary folder unless ``--database-url`` names
a migrated-or-empty one) with ``--positions`` open linear positions over BTCUSDT and ETHUSDT
(half the traders hold both, a third of those in cross margin), saves a mark per contract,
and lets a ``MarginMonitor`` load them and save its snapshot. Then measures, per refresh
(median and range of ``--runs``):

- ``before``: what a refresh did until now: read every open position, screen them all in a
  vectorised book at the last marks, figure the 50 riskiest exactly (the former
  ``list_positions_at_risk``, kept here to compare);
- ``after``: ``list_positions_at_risk`` now: the snapshot's 50 rows, those positions (and the
  cross peers of their traders), figured exactly;
- the monitor's side: ``riskiest`` (top 100 of the ratios it holds) and ``publish_risk``
  (that + the snapshot's write), at most once a second.

Both lists must name the same positions in the same order (checked).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.config import Settings
from hashdesk.core.db import Database
from hashdesk.core.migrate import upgrade
from hashdesk.futures.models import FuturesPosition
from hashdesk.futures.monitor import MarginMonitor
from hashdesk.futures.queries import get_marks, list_position_records, list_positions_at_risk
from hashdesk.futures.schedules import book_of, figures_of, tier_tables
from hashdesk.futures.schemas import MarkUpdate
from hashdesk.futures.tiers import TierTable

MARKS = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0}
SHOWN = 50  # the console's rows


def fill(database: Database, count: int, seed: int) -> None:
    generator = np.random.default_rng(seed)
    traders = (count * 2 + 2) // 3  # half of them hold both contracts
    with database.transaction() as session:
        session.execute(insert(Trader), [
            {"external_id": f"u-{i}", "email": f"u-{i}@example.com"} for i in range(traders)])  # fmt: skip
    with database.session() as session:
        ids = session.scalars(select(Trader.id).order_by(Trader.id)).all()
    rows: list[dict[str, Any]] = []
    for number, trader_id in enumerate(ids):
        symbols = (
            ["BTCUSDT", "ETHUSDT"] if number % 2 == 0 else [["BTCUSDT", "ETHUSDT"][number % 4 // 2]]
        )
        cross = len(symbols) == 2 and number % 3 == 0
        wallet = None
        for symbol in symbols:
            if len(rows) == count:
                break
            entry = MARKS[symbol] * generator.uniform(0.99, 1.01)
            notional = generator.lognormal(np.log(20000), 1.5)
            leverage = float(generator.choice([2.0, 5.0, 10.0, 20.0, 50.0]))
            own_wallet = notional / leverage
            wallet = wallet if (cross and wallet is not None) else own_wallet
            rows.append({
                "trader_id": trader_id, "symbol": symbol, "contract": "linear",
                "side": str(generator.choice(["long", "short"])),
                "mode": "cross" if cross else "isolated",
                "entry_price": Decimal(f"{entry:.2f}"),
                "quantity": Decimal(f"{notional / entry:.6f}"), "contract_size": Decimal(1),
                "wallet_balance": Decimal(f"{wallet:.2f}"), "tier_table": symbol,
                "alert_level": 0,
            })  # fmt: skip
    with database.transaction() as session:
        for start in range(0, len(rows), 20_000):
            session.execute(insert(FuturesPosition), rows[start : start + 20_000])


def every_position(session: Session, tables: Mapping[str, TierTable], limit: int) -> list[int]:
    """The former refresh: every open position read and screened, the riskiest figured."""
    marks = get_marks(session)
    records = [r for r in list_position_records(session) if r.symbol in marks]
    built = book_of(records, tables)
    assert built is not None
    book, keys = built
    ratios = book.evaluate([float(marks[symbol].price) for symbol, _ in keys])
    chosen = np.argsort(-ratios, kind="stable")[:limit]
    by_id = {record.id: record for record in records}
    prices = {symbol: mark.price for symbol, mark in marks.items()}
    # The former list figured each shown position alone (no cross accounts then).
    shown = [by_id[position_id] for position_id in book.ids[chosen].tolist()]
    return [record.id for record in shown if figures_of(record, [], prices, tables)]


def check_same_riskiest(
    session: Session, tables: Mapping[str, TierTable], shown: list[int]
) -> None:
    """Every position the snapshot's list shows is among the riskiest by a full scan (ties
    at the cut, e.g. many exhausted margins, may be listed in another order)."""
    marks = get_marks(session)
    built = book_of(list_position_records(session), tables)
    assert built is not None
    book, keys = built
    ratios = book.evaluate([float(marks[symbol].price) for symbol, _ in keys])
    cut = np.sort(ratios[~np.isnan(ratios)])[-SHOWN]
    ratio_of = dict(zip(book.ids.tolist(), ratios.tolist(), strict=True))
    assert len(shown) == SHOWN and all(ratio_of[i] >= cut * (1 - 1e-9) for i in shown), (
        "the snapshot's list is not the riskiest"
    )


def timed(run: Callable[[], object], runs: int) -> tuple[list[float], object]:
    result = run()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def figure(times: list[float]) -> str:
    return f"{statistics.median(times):.1f} ({min(times):.1f} – {max(times):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        upgrade(url)
        settings = Settings(database_url=url, run_outbox_worker=False, email_enabled=False)
        database = Database(url)
        fill(database, args.positions, args.seed)
        tables = tier_tables(None)
        monitor = MarginMonitor(database, settings, tables)
        started = time.perf_counter()
        monitor.reload()
        reload_ms = (time.perf_counter() - started) * 1000
        marks = [
            MarkUpdate(symbol=s, price=Decimal(repr(p)), time_ms=1_764_237_600_000)
            for s, p in MARKS.items()
        ]
        monitor.on_marks(marks)
        monitor.publish_risk(force=True)
        riskiest, _ = timed(lambda: monitor.riskiest(100), args.runs * 5)

        def publish() -> bool:
            monitor._risk_moved = True  # as after a tick
            return monitor.publish_risk(force=True)

        publishing, _ = timed(publish, args.runs * 5)
        with database.session() as session:
            before, _ = timed(lambda: every_position(session, tables, SHOWN), args.runs)
            after, new = timed(lambda: [row.position.id for row in list_positions_at_risk(
                session, tables, SHOWN)], args.runs * 5)  # fmt: skip
            check_same_riskiest(session, tables, new)
        database.dispose()
    dialect = url.split(":", 1)[0]
    text = "\n".join([
        f"- command: `.venv/bin/python bench/risk_console.py --positions {args.positions} "
        f"--runs {args.runs}`" + (" --database-url (PostgreSQL)" if args.database_url else ""),
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; database: {dialect}",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores (shared), Python "
        f"{platform.python_version()}; load average before the run: {load}",
        f"- {monitor.positions:,} open positions; the monitor's reload took {reload_ms:.0f} ms",
        "",
        "| step | median ms (range) |",
        "| --- | ---: |",
        f"| console refresh, before: every position read + screened, 50 figured | {figure(before)} |",
        f"| console refresh, after: the snapshot's 50 rows read and figured | {figure(after)} |",
        f"| monitor: `riskiest(100)` over its books | {figure(riskiest)} |",
        f"| monitor: `publish_risk` (riskiest + snapshot write), at most 1/s | {figure(publishing)} |",
        "",
        f"- before / after (medians): {statistics.median(before) / statistics.median(after):.0f}x",
    ]) + "\n"  # fmt: skip
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
