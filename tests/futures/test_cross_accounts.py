"""Cross margin: a trader's cross positions share one wallet, so the monitor figures the
account's margin ratio (the sum of their maintenance margins over the cross wallet plus all
their unrealised PnL), not each position's alone. Two positions that are each fine alone can
cross a threshold together: the trader gets ONE margin call for the account, on the position
with the largest maintenance margin (the one an agent would talk about first), carrying the
account's exact ratio; every position of the account is latched at that level, so none of
them calls again for the same crossing."""

from __future__ import annotations

import random
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.auth import Role
from hashdesk.futures import Contract, Position, Side, demo_tier_table
from hashdesk.futures.book import BookPositions, MarginBook
from hashdesk.futures.margin import maintenance_margin, unrealised_pnl
from hashdesk.futures.models import FuturesPosition
from hashdesk.futures.monitor import MarginMonitor
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, make_agent, make_trader
from tests.futures.test_monitor import LONG, alerts, emails, mark, push
from tests.tickets.test_api import assert_problem

TABLES = [demo_tier_table("BTCUSDT"), demo_tier_table("ETHUSDT")]
# Cross wallet 850 USDT. 1 BTC long at 20,000 and 10 ETH long at 1,000. At marks 19,700 and
# 960: BTC maintenance 0.004 x 19,700 = 78.8, PnL -300; ETH maintenance 0.005 x 9,600 = 48,
# PnL -400. Alone (wallet 850 each): 78.8 / 550 = 0.143 and 48 / 450 = 0.107. Together:
# (78.8 + 48) / (850 - 300 - 400) = 126.8 / 150 = 0.845: past the 0.8 warning.
BTC = {**LONG, "mode": "cross", "wallet_balance": "850"}
ETH = {**BTC, "symbol": "ETHUSDT", "entry_price": "1000", "quantity": "10", "leverage": "20"}


def levels(session: Session) -> list[tuple[str, int]]:
    query = select(FuturesPosition).order_by(FuturesPosition.symbol)
    rows = session.scalars(query.execution_options(populate_existing=True))
    return [(row.symbol, row.alert_level) for row in rows]


@pytest.fixture
def cross_account(client: TestClient, session: Session, settings: Settings, runtime: Runtime
                  ) -> MarginMonitor:  # fmt: skip
    make_trader(session, "u-50")
    pushed = push(client, settings, "u-50", BTC, ETH)
    assert pushed.status_code == 200, pushed.text
    monitor = MarginMonitor(runtime.database, runtime.settings)
    assert monitor.reload() == 2
    return monitor


def test_two_cross_positions_fine_alone_get_one_call_together(
    cross_account: MarginMonitor, session: Session
) -> None:
    # Until each of the account's contracts has a mark the account is not figured.
    assert mark(cross_account, "19700").alerts == []
    [call] = mark(cross_account, "960", symbol="ETHUSDT").alerts
    assert (call.symbol, call.level) == ("BTCUSDT", 1)  # the larger maintenance margin
    assert call.margin_ratio == D("126.8") / 150  # the account's exact ratio
    # Binance's cross liquidation price of the BTC long, ETH held at its mark:
    # wallet - ETH maintenance + ETH PnL = 850 - 48 - 400 = 402; (20,000 - 402) / 0.996.
    assert call.liquidation_price == D(19598) / D("0.996")
    assert levels(session) == [("BTCUSDT", 1), ("ETHUSDT", 1)]  # the account is latched
    [email] = emails(session)
    assert "84.53" in email.payload["body"] and "cross margin account" in email.payload["body"]
    # 961: 126.85 / 160 = 0.793, below 0.8 but within the re-arm gap: still the same crossing.
    assert mark(cross_account, "961", symbol="ETHUSDT").alerts == []
    assert mark(cross_account, "960", symbol="ETHUSDT").alerts == []
    assert mark(cross_account, "19701").alerts == []
    assert len(alerts(session)) == 1


def test_the_same_positions_isolated_are_fine(
    client: TestClient, session: Session, settings: Settings, runtime: Runtime
) -> None:
    make_trader(session, "u-51")
    isolated = [{**BTC, "mode": "isolated"}, {**ETH, "mode": "isolated"}]
    assert push(client, settings, "u-51", *isolated).status_code == 200
    monitor = MarginMonitor(runtime.database, runtime.settings)
    monitor.reload()
    assert mark(monitor, "19700").alerts == []
    assert mark(monitor, "960", symbol="ETHUSDT").alerts == []


def test_the_account_rearms_together_and_a_restart_or_new_position_does_not_call_again(
    cross_account: MarginMonitor, client: TestClient, session: Session, settings: Settings,
    runtime: Runtime,
) -> None:  # fmt: skip
    mark(cross_account, "19700")
    assert len(mark(cross_account, "960", symbol="ETHUSDT").alerts) == 1
    restarted = MarginMonitor(runtime.database, runtime.settings)
    restarted.reload()
    assert mark(restarted, "19700").alerts == [] and mark(restarted, "960", "ETHUSDT").alerts == []
    # A third cross position joins the latched account: the same crossing, no new call.
    third = {**ETH, "symbol": "BTCUSDT", "side": "short", "entry_price": "19700",
             "quantity": "0.001"}  # fmt: skip
    assert push(client, settings, "u-50", BTC, ETH, third, position_mode="hedge").status_code == 200
    restarted.reload()
    assert mark(restarted, "19700").alerts == []
    # ETH back at 1,000: (78.8 + 50 + 0.0788) / (850 - 300 + 0) = 0.234: re-armed, then again.
    assert mark(restarted, "1000", symbol="ETHUSDT").alerts == []
    assert {level for _, level in levels(session)} == {0}
    assert len(mark(restarted, "960", symbol="ETHUSDT").alerts) == 1
    assert len(alerts(session)) == 2


def test_cross_positions_of_one_settlement_asset_must_share_the_wallet(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-52")
    response = push(client, settings, "u-52", BTC, {**ETH, "wallet_balance": "900"})
    problem = assert_problem(response, 422)
    assert "positions.1.wallet_balance" in str(problem)


def random_accounts(seed: int, count: int) -> tuple[MarginBook, list[dict[str, Any]]]:
    """Random linear positions, a third isolated, the rest in cross accounts of 1-4."""
    generator = random.Random(seed)
    rows: list[dict[str, Any]] = []
    account = 0
    while len(rows) < count:
        size = generator.randint(1, 4)
        wallet = D(generator.randrange(100, 50_000))
        cross = generator.random() < 0.66
        for _ in range(size):
            symbol = generator.randrange(2)
            entry = D(generator.randrange(1000, 60000))
            position = Position(Contract.LINEAR, generator.choice(list(Side)), entry,
                                D(generator.randrange(1, 200_000)) / 1000)  # fmt: skip
            rows.append({"position": position, "symbol": symbol, "wallet": wallet,
                         "account": account if cross else -1})  # fmt: skip
        account += 1
    columns = BookPositions(
        symbols=np.array([r["symbol"] for r in rows], dtype=np.intp),
        sides=np.array([float(r["position"].side.sign) for r in rows]),
        quantities=np.array([float(r["position"].quantity) for r in rows]),
        entry_prices=np.array([float(r["position"].entry_price) for r in rows]),
        wallet_balances=np.array([float(r["wallet"]) for r in rows]),
        accounts=np.array([r["account"] for r in rows], dtype=np.intp),
    )
    return MarginBook(Contract.LINEAR, TABLES, columns), rows


def exact_ratio(rows: list[dict[str, Any]], index: int, marks: list[D]) -> D:
    """The Decimal library's ratio of row ``index``: its account's, or its own."""
    row = rows[index]
    members = [r for r in rows if r is row or (row["account"] >= 0 and
                                               r["account"] == row["account"])]  # fmt: skip
    required = sum(maintenance_margin(r["position"], TABLES[r["symbol"]], marks[r["symbol"]])
                   for r in members)  # fmt: skip
    pnl = sum(unrealised_pnl(r["position"], marks[r["symbol"]]) for r in members)
    equity = row["wallet"] + pnl
    return D(required) / equity if equity > 0 else D("Infinity")


@pytest.mark.parametrize("by_symbol", [False, True])
def test_account_ratios_match_the_decimal_library(by_symbol: bool) -> None:
    book, rows = random_accounts(seed=11, count=400)
    marks = [D("31234.5"), D("1890.25")]
    if by_symbol:  # what the monitor does: one symbol per mark update
        for symbol, price in enumerate(marks):
            book.evaluate_symbol(symbol, float(price))
        ratios = book.ratios
    else:
        ratios = book.evaluate([float(price) for price in marks])
    for row, position_id in enumerate(book.ids.tolist()):
        expected = exact_ratio(rows, position_id, marks)
        if expected.is_infinite() or expected > 10:  # far past liquidation: just liquidated
            assert ratios[row] >= 1
        else:
            assert ratios[row] == pytest.approx(float(expected), rel=1e-9)


def test_a_symbol_update_returns_its_isolated_rows_and_the_cross_block() -> None:
    book, rows = random_accounts(seed=5, count=200)
    book.evaluate([30000.0, 2000.0])
    touched = book.evaluate_symbol(1, 1990.0)
    assert isinstance(touched, tuple) and len(touched) == 2
    isolated, cross = (book.ids[span].tolist() for span in touched)
    assert {rows[i]["symbol"] for i in isolated} == {1}
    assert all(rows[i]["account"] == -1 for i in isolated)
    assert sorted(cross) == sorted(i for i, row in enumerate(rows) if row["account"] >= 0)
    # What crossings reports over those rows is what a whole-book pass reports.
    again, _ = random_accounts(seed=5, count=200)
    again.evaluate([30000.0, 2000.0])
    again.crossings()
    book.crossings()
    found = book.crossings(book.evaluate_symbol(1, 10000.0))
    again.evaluate([30000.0, 10000.0])
    whole = again.crossings()
    assert sorted(found.risen.tolist()) == sorted(whole.risen.tolist())
    assert sorted(found.changed.tolist()) == sorted(whole.changed.tolist())
    assert len(whole.risen) > 0


def test_support_sees_the_accounts_ratio_on_each_cross_position(
    cross_account: MarginMonitor, client: TestClient, session: Session
) -> None:
    mark(cross_account, "19700")
    mark(cross_account, "960", symbol="ETHUSDT")
    cross_account.publish_risk(force=True)
    login_agent(client, make_agent(session, Role.FRONTLINE))
    fragment = client.get("/console/futures/risk").text
    assert fragment.count('data-testid="risk-cross"') == 2
    assert fragment.count(f'data-exact="{D("126.8") / 150}"') == 2  # one ratio, both rows
