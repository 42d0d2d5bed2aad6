"""The demo exchange's connector data: deposit addresses and deposit/withdrawal records.

In production these arrive through the signed connector API; the demo writes them through
the same actions. Addresses and hashes are random but well formed (``demo.onchain``), so the
deposit tracer and the agent console have something to look up: most deposits are credited,
some are still pending, a few failed. Deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import do_replace_deposit_addresses, do_upsert_transfer
from hashdesk.accounts.models import Trader, TransferKind
from hashdesk.accounts.queries import get_transfer
from hashdesk.accounts.schemas import DepositAddressesReplace, DepositAddressIn, TransferUpsert
from hashdesk.core.db import Database
from hashdesk.demo.onchain import NETWORK_ASSETS, NETWORK_WEIGHTS, address, transfer

# The first traders (by id) get connector data; enough to look real without slowing the load.
TRADERS_WITH_TRANSFERS = 400
BATCH = 100
STATUSES = ("completed", "pending", "failed")
STATUS_WEIGHTS = (88, 9, 3)


def load_demo_transfers(database: Database, rng: random.Random, now: datetime) -> int:
    """Writes addresses and records for the first traders; returns the records written."""
    with database.session() as session:
        trader_ids = list(
            session.scalars(select(Trader.id).order_by(Trader.id).limit(TRADERS_WITH_TRANSFERS))
        )
    written = 0
    for start in range(0, len(trader_ids), BATCH):
        with database.transaction() as session:
            for trader_id in trader_ids[start : start + BATCH]:
                trader = session.get(Trader, trader_id)
                if trader is not None:
                    written += _one_trader(session, rng, trader, now)
    return written


def _one_trader(session: Session, rng: random.Random, trader: Trader, now: datetime) -> int:
    networks = rng.sample(list(NETWORK_WEIGHTS), k=rng.randint(1, 3))
    rows = [DepositAddressIn(network=n, address=address(rng, n),
                             memo=str(rng.randrange(100_000, 999_999_999)) if n == "xrp" else "")
            for n in networks]  # fmt: skip
    do_replace_deposit_addresses(session, trader, DepositAddressesReplace(addresses=rows))
    count = rng.randint(0, 4)
    for number in range(count):
        row = rng.choice(rows)
        kind = TransferKind.DEPOSIT if rng.random() < 0.75 else TransferKind.WITHDRAWAL
        moved = transfer(rng, row.network)
        target = row.address if kind is TransferKind.DEPOSIT else moved.address
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        data = TransferUpsert(
            trader=trader.external_id, network=row.network,
            asset=rng.choice(NETWORK_ASSETS[row.network])[0],
            amount=Decimal(moved.amount.replace(",", "")), address=target,
            memo=row.memo if kind is TransferKind.DEPOSIT else "", tx_hash=moved.tx_hash,
            status=status,
            # Pending means recent: nothing waits for confirmations for weeks.
            occurred_at=now - timedelta(hours=rng.uniform(0.05, 2 if status == "pending" else 24 * 60)),
        )  # fmt: skip
        external_id = f"demo-{kind.value[:3]}-{trader.id}-{number}"
        existing = get_transfer(session, kind.value, external_id)  # a second load updates
        do_upsert_transfer(session, trader, kind, external_id, data, existing)
    return count
