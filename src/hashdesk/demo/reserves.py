"""The demo's published proof of reserves: every demo trader's balances in a liabilities
snapshot, built the way an exchange would (``hashdesk reserves build``), so the agents' proof
lookup and the public verification page have a real build to show."""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path

from sqlalchemy import select

from hashdesk.accounts.models import Trader
from hashdesk.core.db import Database
from hashdesk.reserves.build import BuildResult, build_reserves
from hashdesk.reserves.errors import NoPublishedBuild
from hashdesk.reserves.queries import get_latest_build

# Balances in whole units up to about these amounts; most traders hold only some assets.
TYPICAL_HOLDING = {"BTC": 0.5, "ETH": 8.0, "USDT": 25_000.0, "USDC": 8_000.0, "BNB": 20.0}
DECIMALS = 8


def has_build(folder: Path) -> bool:
    try:
        get_latest_build(folder)
    except NoPublishedBuild:
        return False
    return True


def write_demo_snapshot(database: Database, path: Path, seed: int) -> int:
    """One row per demo trader (their id at the exchange), balances drawn from ``seed``."""
    rng = random.Random(seed)
    with database.session() as session:
        accounts = list(session.scalars(select(Trader.external_id).order_by(Trader.id)))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["account", *TYPICAL_HOLDING])
        for account in accounts:
            balances = [_balance(rng, typical) for typical in TYPICAL_HOLDING.values()]
            writer.writerow([account, *balances])
    return len(accounts)


def _balance(rng: random.Random, typical: float) -> str:
    if rng.random() < 0.4:
        return "0"
    units = int(rng.paretovariate(1.5) * typical / 3 * 10**DECIMALS)
    whole, fraction = divmod(units, 10**DECIMALS)
    return f"{whole}.{fraction:0{DECIMALS}d}"


def build_demo_reserves(database: Database, folder: Path, seed: int = 7) -> BuildResult:
    """Snapshot the demo traders and build their proof of reserves into ``folder``/demo."""
    with tempfile.TemporaryDirectory() as scratch:
        snapshot = Path(scratch) / "liabilities.csv"
        write_demo_snapshot(database, snapshot, seed)
        return build_reserves(snapshot, folder / "demo", proofs="none", workers=1)
