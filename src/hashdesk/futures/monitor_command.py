"""``hashdesk futures monitor``: the margin-call monitor's loop.

Mark prices arrive on the event bus channel ``futures:marks`` (the signed
``POST /api/v1/connector/marks`` publishes there; an exchange may also publish to the Redis
channel ``<prefix>futures:marks`` itself), or as JSON lines on stdin (``--stdin``). Position
pushes announce themselves on ``futures:positions``; the monitor then reloads its books (at
most once per ``--reload-seconds``, so a burst of pushes costs one reload).

One monitor acts per deployment (two would both send every margin call): the holder of the
``futures-monitor`` lock (``core.leader``). Others wait and take over when it goes away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from hashdesk.config import get_settings
from hashdesk.core.errors import DomainError
from hashdesk.core.leader import Leadership, make_leadership
from hashdesk.futures.actions import MARKS_CHANNEL, POSITIONS_CHANNEL
from hashdesk.futures.monitor import MarginMonitor, TickResult
from hashdesk.futures.schemas import MarksPush, field_errors
from hashdesk.runtime import Runtime

log = logging.getLogger(__name__)

LEADER_LOCK = "futures-monitor"
LEADER_CHECK_SECONDS = 1.0


def parse_marks(data: Any) -> MarksPush:
    """``{"marks": [...]}`` or one mark ``{"symbol", "price", "time_ms"}``; a bus message's
    ``type`` is the envelope's, not the mark's."""
    if isinstance(data, dict):
        fields = {key: value for key, value in data.items() if key != "type"}
        data = fields if "marks" in fields else {"marks": [fields]}
    return MarksPush.model_validate(data)


def _report(result: TickResult) -> None:
    for alert in result.alerts:
        log.info("margin call: trader %s %s %s level %s, ratio %s", alert.trader_id,
                 alert.symbol, alert.side, alert.level, alert.margin_ratio)  # fmt: skip


def run_lines(monitor: MarginMonitor, lines: Iterable[str]) -> int:
    """Feed JSON lines of marks; a bad line is named on stderr and skipped. Returns the
    number of margin calls made."""
    calls = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            push = parse_marks(json.loads(line))
        except ValueError as error:
            problems = field_errors(error) if isinstance(error, ValidationError) else [
                ("input", f"not JSON: {error}")]  # fmt: skip
            for field, message in problems:
                click.echo(f"line {number}: {field}: {message}", err=True)
            continue
        result = monitor.on_marks(push.marks)
        _report(result)
        calls += len(result.alerts)
    monitor.publish_risk(force=True)
    return calls


async def run_bus(
    runtime: Runtime, monitor: MarginMonitor, reload_seconds: float, leadership: Leadership
) -> None:
    """Until cancelled: marks as they come; the traders whose positions were pushed are
    re-read together, at most once per ``reload_seconds``. A message that cannot be read, or a
    database that is briefly away, is logged and the loop goes on (the monitor re-reads its
    saved levels first, so no crossing is lost). Only while it holds ``leadership``; a monitor
    that takes over starts from the levels its predecessor saved."""
    reloaded_at, pushed = time.monotonic(), set[int]()
    leading, checked_at = leadership.hold(), time.monotonic()
    wait = min(reload_seconds, LEADER_CHECK_SECONDS)
    async with runtime.bus.subscribe(MARKS_CHANNEL, POSITIONS_CHANNEL) as subscription:
        log.info("margin monitor: %s positions, %s", monitor.positions,
                 "leading" if leading else "waiting for the lead")  # fmt: skip
        while True:
            try:
                message = await subscription.get(timeout=wait)
                if time.monotonic() - checked_at >= LEADER_CHECK_SECONDS:
                    was_leading, leading = leading, leadership.hold()
                    checked_at = time.monotonic()
                    if leading and not was_leading:
                        log.info("margin monitor: took the lead")
                        monitor.reload()
                        reloaded_at, pushed = time.monotonic(), set()
                if not leading:
                    continue
                if message is not None and message.get("type") == "futures.positions":
                    pushed.add(int(message["trader_id"]))
                elif message is not None:
                    _on_bus_marks(monitor, message)
                if pushed and time.monotonic() - reloaded_at >= reload_seconds:
                    monitor.reload(pushed)
                    reloaded_at, pushed = time.monotonic(), set()
                monitor.publish_risk()  # when marks pause, the last moves still get saved
            except (ValueError, KeyError, TypeError, SQLAlchemyError):
                log.exception("margin monitor: skipped a message")
                await asyncio.sleep(min(reload_seconds, 1.0))


def _on_bus_marks(monitor: MarginMonitor, message: dict[str, Any]) -> None:
    try:
        push = parse_marks(message)
    except ValidationError as error:
        log.warning("ignored a mark message: %s", field_errors(error))
        return
    _report(monitor.on_marks(push.marks))


@click.command("monitor")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="read marks as JSON lines on stdin instead of the event bus")  # fmt: skip
@click.option("--reload-seconds", type=click.FloatRange(0.05, 3600), default=1.0,
              show_default=True, help="reload positions at most this often after pushes")  # fmt: skip
def monitor_command(from_stdin: bool, reload_seconds: float) -> None:
    """Re-evaluate every open position on each mark price; send margin calls.

    \b
    A mark: {"symbol": "BTCUSDT", "price": "60250.5", "time_ms": 1764237600000}
    (or {"marks": [...]}). Thresholds: HASHDESK_MARGIN_WARNING_RATIO,
    HASHDESK_MARGIN_CRITICAL_RATIO, HASHDESK_MARGIN_REARM_GAP. Emails go through
    the outbox, which `hashdesk serve` delivers. Run one monitor per deployment.
    """
    settings = get_settings()
    if not from_stdin and not settings.redis_url:
        raise click.ClickException(
            "The monitor hears marks and position pushes from other processes only over "
            "Redis: set HASHDESK_REDIS_URL, or feed marks with --stdin."
        )
    # Mail goes out from `hashdesk serve`'s outbox worker; this process only queues it.
    runtime = Runtime(settings.model_copy(update={"run_outbox_worker": False}))
    leadership = make_leadership(settings, runtime.database, LEADER_CHECK_SECONDS, LEADER_LOCK)
    try:
        monitor = MarginMonitor(runtime.database, settings)
        monitor.reload()
        if from_stdin:
            if not leadership.hold():
                raise click.ClickException(
                    "Another margin monitor is running (it holds the futures-monitor lock); "
                    "two would send every margin call twice."
                )
            calls = run_lines(monitor, sys.stdin)
            click.echo(json.dumps({"positions": monitor.positions, "margin_calls": calls}))
        else:
            asyncio.run(run_bus(runtime, monitor, reload_seconds, leadership))
    except DomainError as error:
        raise click.ClickException(f"{error.field or 'settings'}: {error.render()}") from error
    except (OperationalError, ProgrammingError) as error:
        raise click.ClickException(
            f"The database is not ready ({error.orig}). Run `hashdesk migrate` first."
        ) from error
    except KeyboardInterrupt:
        pass
    finally:
        leadership.release()
        runtime.stop()
