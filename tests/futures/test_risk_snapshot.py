"""The console's positions at risk come from the margin monitor's snapshot: the monitor
holds every position's ratio in its book and saves the riskiest (at most once a second); a
console refresh reads those few rows and figures them exactly, instead of every open
position."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.auth import Role
from hashdesk.futures import monitor as monitor_module
from hashdesk.futures.models import RiskEntry
from hashdesk.futures.monitor import MarginMonitor
from hashdesk.futures.queries import list_positions_at_risk
from hashdesk.futures.schedules import tier_tables
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, make_agent, make_trader
from tests.futures.test_monitor import LONG, mark, push

# At a BTCUSDT mark of 19,697 a 1 BTC long from 20,000 has maintenance 78.788 and PnL -303:
# wallet 400 -> 0.812, 500 -> 0.400, 1,000 -> 0.113.
WALLETS = {"u-1": "400", "u-2": "500", "u-3": "1000"}


@pytest.fixture
def watched(client: TestClient, session: Session, settings: Settings, runtime: Runtime
            ) -> MarginMonitor:  # fmt: skip
    for external_id, wallet in WALLETS.items():
        make_trader(session, external_id)
        assert push(client, settings, external_id, {**LONG, "wallet_balance": wallet}
                    ).status_code == 200  # fmt: skip
    monitor = MarginMonitor(runtime.database, runtime.settings)
    monitor.reload()
    return monitor


def listed(session: Session, settings: Settings, limit: int = 50) -> list[str]:
    session.expire_all()
    rows = list_positions_at_risk(session, tier_tables(settings.futures_tier_file), limit)
    return [row.trader.external_id for row in rows]


def snapshot(session: Session) -> list[tuple[int, float]]:
    query = select(RiskEntry).order_by(RiskEntry.rank).execution_options(populate_existing=True)
    return [(entry.rank, round(entry.margin_ratio, 3)) for entry in session.scalars(query)]


def test_the_monitor_saves_the_riskiest_first_and_the_console_reads_them(
    watched: MarginMonitor, session: Session, settings: Settings
) -> None:
    assert listed(session, settings) == []  # no snapshot before the first mark
    mark(watched, "19697")
    assert snapshot(session) == [(0, 0.812), (1, 0.4), (2, 0.113)]
    assert listed(session, settings) == ["u-1", "u-2", "u-3"]
    assert listed(session, settings, limit=2) == ["u-1", "u-2"]


def test_at_most_one_snapshot_a_second_and_the_last_moves_are_saved_later(
    watched: MarginMonitor, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark(watched, "19697")
    mark(watched, "20000")  # within the second: not saved yet
    assert snapshot(session)[0] == (0, 0.812)
    assert watched.publish_risk() is False  # still within the second
    assert watched.publish_risk(force=True) is True  # e.g. when the marks pause
    assert snapshot(session)[0] == (0, 0.2)  # 80 / 400
    assert watched.publish_risk(force=True) is False  # nothing moved since
    monkeypatch.setattr(monitor_module, "RISK_SAVE_SECONDS", 0.0)
    mark(watched, "19697")
    assert snapshot(session)[0] == (0, 0.812)


def test_closed_positions_drop_out_and_pushed_figures_are_fresh(
    watched: MarginMonitor, client: TestClient, session: Session, settings: Settings
) -> None:
    mark(watched, "19697")
    assert push(client, settings, "u-1").status_code == 200  # u-1 closed everything
    assert listed(session, settings) == ["u-2", "u-3"]  # before the monitor's next snapshot
    # u-2's margin was cut to 304 since the snapshot: the shown figure is today's, exact
    # (maintenance 78.788 / equity 304 - 303 = 1), not the snapshot's 0.4.
    assert push(client, settings, "u-2", {**LONG, "wallet_balance": "304"}).status_code == 200
    session.expire_all()
    rows = list_positions_at_risk(session, tier_tables(settings.futures_tier_file))
    assert [(row.trader.external_id, row.margin_ratio) for row in rows] == [
        ("u-2", Decimal("78.788")), ("u-3", Decimal("78.788") / 697)]  # fmt: skip


def test_the_console_page_shows_the_snapshot(
    watched: MarginMonitor, client: TestClient, session: Session
) -> None:
    login_agent(client, make_agent(session, Role.FRONTLINE))
    assert 'data-testid="no-risk"' in client.get("/console/futures/risk").text
    mark(watched, "19697")
    fragment = client.get("/console/futures/risk").text
    assert fragment.index('data-trader="u-1"') < fragment.index('data-trader="u-2"')
    assert 'data-trader="u-3"' in fragment


def test_positions_without_a_mark_are_left_out_of_the_snapshot(
    watched: MarginMonitor, client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-4")
    eth = {**LONG, "symbol": "ETHUSDT", "entry_price": "1000", "quantity": "10"}
    assert push(client, settings, "u-4", eth).status_code == 200
    watched.reload()
    mark(watched, "19697")
    assert [position_id for position_id, _ in watched.riskiest(10)] and len(snapshot(session)) == 3
