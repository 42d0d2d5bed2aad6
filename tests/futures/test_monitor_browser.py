"""The positions at risk in a real browser (Chromium, against a real ``hashdesk serve``): the
console's list (the margin monitor's snapshot, figured at the last marks) refreshes by itself
when the exchange pushes positions, without a reload."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import expect

from hashdesk.core.db import Database
from hashdesk.core.signing import SIGNATURE_HEADER, request_message, sign
from hashdesk.futures.actions import do_save_marks
from hashdesk.futures.monitor import MarginMonitor
from hashdesk.futures.schemas import MarkUpdate
from tests.e2e import test_browser as e2e
from tests.e2e.test_browser import (
    LIVE_MS,
    Desk,
    People,
    assert_not_reloaded,
    keep_open,
    push_trader,
    sign_in_agent,
)
from tests.futures.test_monitor import LONG, NOW_MS

pytestmark = pytest.mark.browser
# The browser suite's node, Chromium and people, as fixtures of this module too.
chromium, desk, people = e2e.chromium, e2e.desk, e2e.people


def save_mark(database_url: str, symbol: str, price: str) -> None:
    """What the running monitor saves for the console (its last mark of the contract)."""
    database = Database(database_url)
    try:
        with database.transaction() as session:
            do_save_marks(session, [MarkUpdate(symbol=symbol, price=Decimal(price),
                                               time_ms=NOW_MS)])  # fmt: skip
    finally:
        database.dispose()


def push_positions(desk: Desk, external_id: str, position: dict[str, str]) -> None:
    path = f"/api/v1/connector/traders/{external_id}/positions"
    body = json.dumps({"positions": [position]}).encode()
    signature = sign(desk.node.settings.connector_secret, request_message("PUT", path, body))
    pushed = httpx.put(desk.node.url + path, content=body, timeout=10,
                       headers={SIGNATURE_HEADER: signature, "content-type": "application/json"})  # fmt: skip
    assert pushed.status_code == 200, pushed.text


def run_monitor_once(desk: Desk, price: str) -> None:
    """A margin monitor sees the mark and saves its snapshot of the positions at risk (this
    node has no Redis, so its event does not reach the console: the next push's does)."""
    database = Database(desk.node.settings.database_url)
    try:
        monitor = MarginMonitor(database, desk.node.settings)
        monitor.reload()
        monitor.on_marks([MarkUpdate(symbol="BTCUSDT", price=Decimal(price), time_ms=NOW_MS)])
        monitor.publish_risk(force=True)
    finally:
        database.dispose()


def test_the_risk_list_refreshes_when_positions_are_pushed(people: People, desk: Desk) -> None:
    save_mark(desk.node.settings.database_url, "BTCUSDT", "19697")
    console = sign_in_agent(people.person(), desk.agent_email)
    console.goto("/console/futures")
    keep_open(console, "risk-section")

    external_id = push_trader(desk.node)
    push_positions(desk, external_id, LONG)
    run_monitor_once(desk, "19697")
    push_positions(desk, external_id, LONG)  # the connector's next push of the same position

    row = console.locator(f"[data-testid=risk-row][data-trader='{external_id}']")
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row.get_by_test_id("risk-ratio")).to_contain_text("81.22")  # 78.788 / 97
    assert_not_reloaded(console, "risk-section")
