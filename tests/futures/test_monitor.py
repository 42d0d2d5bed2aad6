"""The margin-call monitor end to end: the exchange pushes positions through the signed
connector, mark prices move, and a trader crossing a threshold gets exactly one margin call
(a portal alert and an email through the real SMTP server), not one per tick; falling back
well below re-arms it; a restarted monitor remembers. Support sees the positions at risk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.cli import main
from hashdesk.config import Settings, get_settings
from hashdesk.core.auth import Role
from hashdesk.core.errors import InvalidInput
from hashdesk.core.i18n import LOCALES, gettext_for
from hashdesk.core.leader import FileLock, make_leadership
from hashdesk.core.signing import SIGNATURE_HEADER, request_message, sign
from hashdesk.futures.actions import MARKS_CHANNEL
from hashdesk.futures.models import FuturesPosition, MarginAlert
from hashdesk.futures.monitor import MarginMonitor, TickResult
from hashdesk.futures.monitor_command import LEADER_LOCK, parse_marks, run_bus
from hashdesk.futures.records import shown
from hashdesk.futures.schemas import MarkUpdate
from hashdesk.notify.emails import render_email
from hashdesk.notify.jobs import drain
from hashdesk.notify.models import OutboxMessage
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader
from tests.tickets.test_api import assert_problem

NOW_MS = 1_764_237_600_000
# 1 BTC long at 20,000 with 400 USDT of isolated margin (50x): maintenance margin at mark m is
# 0.004 m (BTCUSDT tier 1), equity 400 + (m - 20,000). Margin ratio = 0.004 m / equity:
# 20,000 -> 0.2; 19,740 -> 0.564; 19,702 -> 0.7726; 19,700 -> 0.788; 19,697 -> 0.8122;
# 19,690 -> 0.8751; 19,687 -> 0.9051. Thresholds: 0.8 and 0.9, re-armed 0.05 below.
LONG = {"symbol": "BTCUSDT", "contract": "linear", "side": "long", "mode": "isolated",
        "entry_price": "20000", "quantity": "1", "wallet_balance": "400", "leverage": "50"}  # fmt: skip


def signed_put(client: TestClient, secret: str, external_id: str, payload: Any,
               *, signature: str | None = None) -> httpx.Response:  # fmt: skip
    path = f"/api/v1/connector/traders/{external_id}/positions"
    body = json.dumps(payload).encode()
    header = (
        signature if signature is not None else sign(secret, request_message("PUT", path, body))
    )
    return client.put(path, content=body,
                      headers={SIGNATURE_HEADER: header, "content-type": "application/json"})  # fmt: skip


def push(client: TestClient, settings: Settings, external_id: str, *positions: dict[str, Any],
         **extra: Any) -> httpx.Response:  # fmt: skip
    return signed_put(client, settings.connector_secret, external_id,
                      {"positions": list(positions), **extra})  # fmt: skip


def mark(monitor: MarginMonitor, price: str, symbol: str = "BTCUSDT") -> TickResult:
    return monitor.on_marks([MarkUpdate(symbol=symbol, price=Decimal(price), time_ms=NOW_MS)])


def alerts(session: Session) -> list[MarginAlert]:
    query = select(MarginAlert).order_by(MarginAlert.id)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def emails(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email")))


@pytest.fixture
def monitored(client: TestClient, session: Session, settings: Settings, runtime: Runtime
              ) -> MarginMonitor:  # fmt: skip
    """Trader u-42 (German, with an anti-phishing code) holds LONG; a monitor watches."""
    make_trader(session, "u-42", language="de", anti_phishing_code="GREEN-OWL-3")
    assert push(client, settings, "u-42", LONG).status_code == 200
    monitor = MarginMonitor(runtime.database, runtime.settings)
    assert monitor.reload() == 1
    return monitor


# --- the connector ------------------------------------------------------------------------------


def test_a_signed_push_replaces_the_traders_positions(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-7")
    short = {**LONG, "symbol": "ETHUSDT", "side": "short", "entry_price": "3000",
             "quantity": "2", "wallet_balance": "600", "leverage": "10"}  # fmt: skip
    first = push(client, settings, "u-7", LONG, short)
    assert first.status_code == 200, first.text
    assert [(p["symbol"], p["side"]) for p in first.json()["positions"]] == [
        ("BTCUSDT", "long"), ("ETHUSDT", "short")]  # fmt: skip
    assert first.json()["positions"][0]["tier_table"] == "BTCUSDT"  # named like the symbol

    # The ETH short was closed; the BTC long got more margin (same row, same id).
    second = push(client, settings, "u-7", {**LONG, "wallet_balance": "900"})
    assert second.status_code == 200, second.text
    rows = list(session.scalars(select(FuturesPosition).execution_options(populate_existing=True)))
    assert [(r.symbol, r.wallet_balance, r.id) for r in rows] == [
        ("BTCUSDT", Decimal(900), first.json()["positions"][0]["id"])]  # fmt: skip

    flat = {**LONG, "maintenance_margin_rate": "0.01", "maintenance_amount": "5"}
    assert push(client, settings, "u-7", flat).status_code == 200  # flat terms, no tier table
    assert push(client, settings, "u-7").json()["positions"] == []  # everything closed


@pytest.mark.parametrize(
    "signature",
    ["", "t=1,v1=00", None],  # missing, malformed, and (None) signed with another secret
)
def test_the_positions_push_needs_the_connector_signature(
    client: TestClient, session: Session, settings: Settings, signature: str | None
) -> None:
    make_trader(session, "u-7")
    body = {"positions": [LONG]}
    if signature is None:
        response = signed_put(client, "not-the-connector-secret", "u-7", body)
    else:
        response = signed_put(client, settings.connector_secret, "u-7", body, signature=signature)
    assert_problem(response, 401)
    assert session.scalars(select(FuturesPosition)).first() is None


@pytest.mark.parametrize(
    ("position", "extra", "field"),
    [
        ({**LONG, "quantity": "-1"}, {}, "positions.0.quantity"),
        ({**LONG, "contract": "quarterly"}, {}, "positions.0.contract"),
        ({**LONG, "entry_price": "lots"}, {}, "positions.0.entry_price"),
        ({**LONG, "colour": "red"}, {}, "positions.0.colour"),
        ({**LONG, "symbol": "DOGEUSDT"}, {}, "positions.0.tier_table"),
        ({**LONG, "tier_table": "BTCUSD"}, {}, "positions.0.contract"),  # an inverse table
        ({**LONG, "leverage": "150"}, {}, "positions.0.leverage"),  # BTCUSDT tier 1 allows 125
        ({**LONG, "maintenance_margin_rate": "0.01", "tier_table": "BTCUSDT"}, {},
         "positions.0.tier_table"),
        ({**LONG, "contract": "inverse", "maintenance_margin_rate": "0.01"}, {},
         "positions.0.contract_size"),
        (LONG, {"position_mode": "netting"}, "position_mode"),
    ],
)  # fmt: skip
def test_bad_positions_are_refused_naming_the_field(
    client: TestClient, session: Session, settings: Settings, position: dict[str, Any],
    extra: dict[str, Any], field: str,
) -> None:  # fmt: skip
    make_trader(session, "u-7")
    assert_problem(push(client, settings, "u-7", position, **extra), 422, field)
    assert session.scalars(select(FuturesPosition)).first() is None


def test_one_way_mode_refuses_both_sides_and_hedge_mode_takes_them(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-7")
    short = {**LONG, "side": "short"}
    assert_problem(push(client, settings, "u-7", LONG, short), 422, "positions.1.side")
    assert_problem(push(client, settings, "u-7", LONG, LONG), 422, "positions.1")
    assert push(client, settings, "u-7", LONG, short, position_mode="hedge").status_code == 200


def test_positions_of_an_unknown_trader_are_404(client: TestClient, settings: Settings) -> None:
    assert_problem(push(client, settings, "nobody", LONG), 404)


# --- crossings ------------------------------------------------------------------------------------


def test_a_crossing_sends_exactly_one_margin_call_by_email_and_portal(
    monitored: MarginMonitor, session: Session, runtime: Runtime, smtp_server: Any
) -> None:
    assert mark(monitored, "20000").alerts == []  # ratio 0.2
    assert mark(monitored, "19700").alerts == []  # 0.788: still below 0.8
    called = mark(monitored, "19697")  # 78.788 / 97 = 0.812
    assert [(a.level, a.symbol, a.side) for a in called.alerts] == [(1, "BTCUSDT", "long")]
    for price in ("19696", "19697", "19695"):  # above 0.8 on every tick: no second call
        assert mark(monitored, price).alerts == []
    assert len(alerts(session)) == 1 and len(emails(session)) == 1

    assert drain(runtime.database, runtime.settings) == 1
    [email] = smtp_server.messages
    body = email.get_content()
    assert email["To"] == "u-42@example.com" and "BTCUSDT" in str(email["Subject"])
    assert "GREEN-OWL-3" in body  # the anti-phishing code
    assert gettext_for("de").gettext("Hello,") in body  # in the trader's language
    alert = alerts(session)[0]
    assert alert.margin_ratio == Decimal("0.004") * 19697 / (400 - 303)  # exact, not float
    assert alert.liquidation_price == Decimal(19600) / Decimal("0.996")
    assert shown(alert.liquidation_price, 10) in body  # 19678.71486


def test_a_higher_threshold_is_a_new_crossing(monitored: MarginMonitor, session: Session) -> None:
    assert [a.level for a in mark(monitored, "19697").alerts] == [1]
    assert mark(monitored, "19690").alerts == []  # 0.875: between the two
    assert [a.level for a in mark(monitored, "19687").alerts] == [2]  # 0.905: critical
    assert mark(monitored, "19686").alerts == []
    assert [a.level for a in alerts(session)] == [1, 2]


def test_the_alert_rearms_only_below_the_threshold_minus_the_gap(
    monitored: MarginMonitor, session: Session
) -> None:
    assert len(mark(monitored, "19697").alerts) == 1  # 0.812
    assert mark(monitored, "19702").alerts == []  # 0.7707: below 0.8 but within the 0.05 gap
    assert mark(monitored, "19697").alerts == []  # so back above is not a new crossing
    assert mark(monitored, "19740").alerts == []  # 78.96 / 140 = 0.564: re-armed
    assert len(mark(monitored, "19697").alerts) == 1  # a new crossing, a new call
    assert len(alerts(session)) == 2


def test_a_restarted_monitor_does_not_call_again(
    monitored: MarginMonitor, session: Session, runtime: Runtime
) -> None:
    assert len(mark(monitored, "19697").alerts) == 1
    restarted = MarginMonitor(runtime.database, runtime.settings)
    restarted.reload()
    assert mark(restarted, "19696").alerts == []
    assert len(alerts(session)) == 1 and len(emails(session)) == 1
    assert mark(restarted, "19740").alerts == []  # re-armed, and that is saved too
    again = MarginMonitor(runtime.database, runtime.settings)
    again.reload()
    assert len(mark(again, "19697").alerts) == 1


def test_adding_margin_keeps_the_latched_level(
    monitored: MarginMonitor, client: TestClient, session: Session, settings: Settings,
    runtime: Runtime,
) -> None:  # fmt: skip
    assert len(mark(monitored, "19697").alerts) == 1
    assert push(client, settings, "u-42", {**LONG, "wallet_balance": "401"}).status_code == 200
    monitored.reload()
    assert mark(monitored, "19697").alerts == []  # 0.8037: the same crossing, still latched


def test_marks_of_other_symbols_do_not_touch_the_position(
    monitored: MarginMonitor, session: Session
) -> None:
    assert mark(monitored, "1", symbol="ETHUSDT").alerts == []
    assert mark(monitored, "19697").alerts != []


def test_thresholds_must_rise(settings: Settings, runtime: Runtime) -> None:
    settings.margin_critical_ratio = 0.7
    with pytest.raises(InvalidInput) as refused:
        MarginMonitor(runtime.database, settings)
    assert refused.value.field == "margin_critical_ratio"


# --- the pages ---------------------------------------------------------------------------------


def test_support_sees_positions_at_risk_with_trader_and_liquidation_price(
    monitored: MarginMonitor, client: TestClient, session: Session
) -> None:
    mark(monitored, "19697")
    login_agent(client, make_agent(session, Role.FRONTLINE))
    page = client.get("/console/futures")
    assert page.status_code == 200 and 'data-testid="risk-section"' in page.text
    fragment = client.get("/console/futures/risk")
    assert fragment.status_code == 200
    assert 'data-trader="u-42"' in fragment.text and "BTCUSDT" in fragment.text
    assert 'data-testid="risk-level"' in fragment.text
    # 400 + (p - 20,000) = 0.004 p  ->  p = 19,600 / 0.996
    assert f'data-exact="{Decimal(19600) / Decimal("0.996")}"' in fragment.text


def test_the_risk_list_is_for_staff_who_answer_traders(
    monitored: MarginMonitor, client: TestClient, session: Session, settings: Settings
) -> None:
    mark(monitored, "19697")
    assert client.get("/console/futures/risk").status_code == 401  # signed out
    login_agent(client, make_agent(session, Role.COMMUNITY))
    assert "risk-section" not in client.get("/console/futures").text
    assert client.get("/console/futures/risk").status_code == 403

    client.cookies.clear()
    trader = make_trader(session, "u-9")
    login_trader(client, settings, trader)
    console = client.get("/console/futures", follow_redirects=False)
    assert console.status_code in (302, 303) and "/console/login" in console.headers["location"]
    assert client.get("/console/futures/risk").status_code == 403


def test_the_trader_sees_their_alerts_in_the_portal(
    monitored: MarginMonitor, client: TestClient, session: Session, settings: Settings
) -> None:
    mark(monitored, "19697")
    trader = get_trader_by_external_id(session, "u-42")
    assert trader is not None
    login_trader(client, settings, trader)
    page = client.get("/portal/futures")
    assert page.status_code == 200 and page.text.count('data-testid="alert-row"') == 1
    assert 'data-level="1"' in page.text

    client.cookies.clear()
    login_trader(client, settings, make_trader(session, "u-9"))
    assert 'data-testid="no-alerts"' in client.get("/portal/fragments/futures").text


# --- marks from the exchange, and the monitor's loop ------------------------------------------


def post_marks(client: TestClient, secret: str, payload: Any) -> httpx.Response:
    path = "/api/v1/connector/marks"
    body = json.dumps(payload).encode()
    signature = sign(secret, request_message("POST", path, body))
    return client.post(path, content=body,
                       headers={SIGNATURE_HEADER: signature, "content-type": "application/json"})  # fmt: skip


def test_signed_marks_are_published_for_the_monitor(
    client: TestClient, runtime: Runtime, settings: Settings
) -> None:
    payload = {"marks": [{"symbol": "BTCUSDT", "price": "19697.5", "time_ms": NOW_MS}]}

    async def scenario() -> dict[str, Any] | None:
        async with runtime.bus.subscribe(MARKS_CHANNEL) as subscription:
            response = await asyncio.to_thread(post_marks, client, settings.connector_secret,
                                               payload)  # fmt: skip
            assert response.status_code == 202, response.text
            return await subscription.get(timeout=5)

    message = asyncio.run(scenario())
    assert message is not None and message["marks"] == payload["marks"]
    assert_problem(post_marks(client, "another-secret", payload), 401)
    seconds = {"marks": [{"symbol": "BTCUSDT", "price": "1", "time_ms": NOW_MS // 1000}]}
    assert_problem(post_marks(client, settings.connector_secret, seconds), 422, "marks.0.time_ms")
    negative = {"marks": [{"symbol": "BTCUSDT", "price": "-1", "time_ms": NOW_MS}]}
    assert_problem(post_marks(client, settings.connector_secret, negative), 422, "marks.0.price")


def test_the_monitor_loop_reloads_on_pushes_and_calls_once(
    client: TestClient, session: Session, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """``hashdesk futures monitor``'s loop on the event bus: a positions push reaches it, and
    marks published over and over (0.812 each time) make exactly one margin call."""
    make_trader(session, "u-42")
    monitor = MarginMonitor(runtime.database, runtime.settings)
    assert monitor.reload() == 0
    crossing = {"type": "futures.marks",
                "marks": [{"symbol": "BTCUSDT", "price": "19697", "time_ms": NOW_MS}]}  # fmt: skip

    async def until(done: Callable[[], bool], step: Callable[[], Any]) -> None:
        for _ in range(200):
            if done():
                return
            await asyncio.to_thread(step)
            await asyncio.sleep(0.05)
        raise AssertionError("the monitor did not get there in 10 s")

    async def scenario() -> None:
        lock = FileLock(tmp_path / "futures-monitor.lock")
        loop = asyncio.create_task(run_bus(runtime, monitor, reload_seconds=0.05, leadership=lock))
        try:
            await until(lambda: monitor.positions == 1,
                        lambda: push(client, settings, "u-42", LONG))  # fmt: skip
            await until(lambda: bool(alerts(session)),
                        lambda: runtime.bus.publish(MARKS_CHANNEL, crossing))  # fmt: skip
            for _ in range(5):
                runtime.bus.publish(MARKS_CHANNEL, crossing)
            await asyncio.sleep(0.3)
        finally:
            loop.cancel()

    asyncio.run(scenario())
    assert len(alerts(session)) == 1


def test_the_monitor_command_reads_marks_on_stdin(
    client: TestClient, cli: CliRunner, session: Session, settings: Settings
) -> None:
    make_trader(session, "u-42")
    assert push(client, settings, "u-42", LONG).status_code == 200
    lines = [
        json.dumps({"symbol": "BTCUSDT", "price": "19700", "time_ms": NOW_MS}),
        json.dumps({"symbol": "BTCUSDT", "price": "-5", "time_ms": NOW_MS}),
        "not json",
        json.dumps({"marks": [{"symbol": "BTCUSDT", "price": "19697", "time_ms": NOW_MS},
                              {"symbol": "BTCUSDT", "price": "19696", "time_ms": NOW_MS}]}),
    ]  # fmt: skip
    result = cli.invoke(main, ["futures", "monitor", "--stdin"], input="\n".join(lines))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"positions": 1, "margin_calls": 1}
    assert "line 2: marks.0.price" in result.stderr and "line 3: input: not JSON" in result.stderr
    assert len(alerts(session)) == 1


def test_a_second_monitor_waits_while_the_first_leads_and_then_takes_over(
    client: TestClient, session: Session, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """Two monitors on one deployment: marks make one margin call, not two; when the leader
    goes, the other takes the lead and starts from the levels already saved."""
    make_trader(session, "u-42")
    assert push(client, settings, "u-42", LONG).status_code == 200
    first, second = (MarginMonitor(runtime.database, runtime.settings) for _ in range(2))
    first.reload(), second.reload()
    leader, follower = FileLock(tmp_path / "lock"), FileLock(tmp_path / "lock")
    assert leader.hold()
    crossing = {"type": "futures.marks",
                "marks": [{"symbol": "BTCUSDT", "price": "19697", "time_ms": NOW_MS}]}  # fmt: skip

    async def scenario() -> None:
        waiting = asyncio.create_task(run_bus(runtime, second, 0.05, follower))
        try:
            await asyncio.sleep(0.2)
            runtime.bus.publish(MARKS_CHANNEL, crossing)
            await asyncio.sleep(0.3)
            assert alerts(session) == []  # the follower ignored the marks
            _report_leader_marks = first.on_marks(parse_marks(crossing).marks)
            assert len(_report_leader_marks.alerts) == 1
            leader.release()
            await asyncio.sleep(1.3)  # the follower re-checks the lock once a second
            for _ in range(3):
                runtime.bus.publish(MARKS_CHANNEL, crossing)
            await asyncio.sleep(0.3)
        finally:
            waiting.cancel()
            follower.release()

    asyncio.run(scenario())
    assert len(alerts(session)) == 1  # the new leader knew the call was already made


def test_the_stdin_monitor_refuses_to_run_beside_a_leading_one(
    cli: CliRunner, runtime: Runtime
) -> None:
    # the lock the command takes with the same settings (file, PostgreSQL or Redis)
    lock = make_leadership(get_settings(), runtime.database, 1.0, LEADER_LOCK)
    assert lock.hold()
    try:
        result = cli.invoke(main, ["futures", "monitor", "--stdin"], input="")
    finally:
        lock.release()
    assert result.exit_code == 1 and "Another margin monitor is running" in result.output


def test_the_monitor_command_needs_redis_without_stdin(cli: CliRunner) -> None:
    result = cli.invoke(main, ["futures", "monitor"])
    assert result.exit_code == 1 and "HASHDESK_REDIS_URL" in result.output


class RecordingBus:
    """Captures what actions publish after commit (the live events), like zulip's
    ``capture_send_event_calls``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.sent.append((channel, message))


def test_a_margin_call_is_announced_to_the_trader_and_the_console(
    monitored: MarginMonitor, runtime: Runtime
) -> None:
    bus = RecordingBus()
    runtime.database.set_session_info("bus", bus)
    [alert] = mark(monitored, "19697").alerts
    assert bus.sent == [
        (f"trader:{alert.trader_id}", {"type": "futures.margin_call", "alert_id": alert.id,
                                       "position_id": alert_position(runtime, alert), "level": 1}),
        ("console", {"type": "futures.margin_call", "count": 1}),
        ("console", {"type": "futures.risk"}),  # the new snapshot of the positions at risk
    ]  # fmt: skip
    bus.sent.clear()
    mark(monitored, "19696")
    assert bus.sent == []  # no new call; the next snapshot is not due within the second


def alert_position(runtime: Runtime, alert: MarginAlert) -> int:
    with runtime.database.session() as session:
        query = select(FuturesPosition.id).where(FuturesPosition.trader_id == alert.trader_id)
        return int(session.scalars(query).one())


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("exhausted", [False, True])
def test_the_margin_call_email_renders_in_every_locale(locale: str, exhausted: bool) -> None:
    context = {"symbol": "BTCUSDT", "side_label": "long", "level": 2, "level_label": "critical",
               "exhausted": exhausted,
               "percent": "91.2", "threshold": "90", "mark_price": "19687",
               "liquidation_price": "19678.71486", "mode": "isolated",
               "url": "http://desk/portal/futures", "anti_phishing_code": None}  # fmt: skip
    subject, body = render_email("futures_margin_call", locale, context)
    assert "BTCUSDT" in subject and "19678.71486" in body and "http://desk/portal/futures" in body


def test_a_position_whose_tier_table_is_gone_is_skipped_not_fatal(
    monitored: MarginMonitor, client: TestClient, session: Session, settings: Settings,
    runtime: Runtime,
) -> None:  # fmt: skip
    flat = {**LONG, "symbol": "ETHUSDT", "maintenance_margin_rate": "0.005", "entry_price": "3000",
            "quantity": "10", "wallet_balance": "300"}  # fmt: skip
    assert push(client, settings, "u-42", LONG, flat).status_code == 200
    # The operator's new tier file has no BTCUSDT: that position cannot be figured any more.
    without_btc = {name: table for name, table in monitored.tables.items() if name != "BTCUSDT"}
    monitor = MarginMonitor(runtime.database, runtime.settings, without_btc)
    assert monitor.reload() == 2
    assert mark(monitor, "19000").alerts == []  # BTCUSDT: not watched, no crash
    # ETHUSDT, flat 0.5 %: 10 x 2,975 x 0.005 / (300 - 250) = 2.975: past both thresholds.
    assert [(a.symbol, a.level) for a in mark(monitor, "2975", "ETHUSDT").alerts] == [
        ("ETHUSDT", 2)]  # fmt: skip


def test_a_reload_after_a_push_rereads_only_that_trader_and_keeps_the_others_levels(
    monitored: MarginMonitor, client: TestClient, session: Session, settings: Settings
) -> None:
    assert len(mark(monitored, "19697").alerts) == 1  # u-42 latched at the warning
    other = make_trader(session, "u-43")
    assert push(client, settings, "u-43", {**LONG, "wallet_balance": "395"}).status_code == 200
    assert monitored.reload({other.id}) == 2
    # 78.784 / 91 = 0.866 for u-43's new position: its first crossing; u-42 stays latched.
    assert [a.trader_id for a in mark(monitored, "19696").alerts] == [other.id]


def test_a_position_past_bankruptcy_gets_one_critical_call_saying_the_margin_is_gone(
    monitored: MarginMonitor, session: Session, runtime: Runtime, smtp_server: Any,
    client: TestClient, settings: Settings,
) -> None:  # fmt: skip
    [alert] = mark(monitored, "19000").alerts  # equity 400 - 1,000 < 0: straight to critical
    assert (alert.level, alert.margin_ratio) == (2, Decimal(999))
    assert mark(monitored, "18000").alerts == []
    assert drain(runtime.database, runtime.settings) == 1
    assert "99900" not in smtp_server.messages[0].get_content()  # not a ratio of 99900 %
    trader = get_trader_by_external_id(session, "u-42")
    assert trader is not None
    login_trader(client, settings, trader)
    assert "99900" not in client.get("/portal/fragments/futures").text


def test_a_failed_save_loses_no_margin_call(
    monitored: MarginMonitor, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away mid-tick (simulated: an outage cannot be staged here): the books
    had already latched the crossing, so the monitor must re-read the saved levels and call
    on the next mark, once."""
    from sqlalchemy.exc import OperationalError

    from hashdesk.futures import monitor as monitor_module

    recorded = monitor_module.do_record_level_changes

    def outage(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(monitor_module, "do_record_level_changes", recorded)
        raise OperationalError("UPDATE futures_positions", {}, Exception("server closed"))

    monkeypatch.setattr(monitor_module, "do_record_level_changes", outage)
    with pytest.raises(OperationalError):
        mark(monitored, "19697")
    assert alerts(session) == []
    assert len(mark(monitored, "19696").alerts) == 1  # called now, not lost
    assert mark(monitored, "19695").alerts == []
