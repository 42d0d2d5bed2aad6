"""``hashdesk chains monitor``: the network monitor on its own, without the web server.

Registered in the ``chains`` group by ``chains/commands.py``. Several of these (and ``serve``
processes with ``HASHDESK_RUN_CHAIN_MONITOR=1``) may run at once: one leads and polls, the
others wait to take over (see ``core/leader.py``).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from hashdesk.chains.monitor import Monitor
    from hashdesk.config import Settings


@click.command("monitor")
@click.option("--once", is_flag=True, help="poll every network once, print the levels, exit")
def monitor(once: bool) -> None:
    """Poll the registry's networks and open and resolve incidents (until interrupted)."""
    from hashdesk.chains.monitor import Monitor
    from hashdesk.config import get_settings
    from hashdesk.core.db import Database

    settings = get_settings()
    database = Database(settings.database_url, session_info=_session_info(settings))
    runner = Monitor(database, settings)
    try:
        if once:
            _once(runner)
            return
        _until_signal(runner)
    finally:
        runner.stop()
        database.dispose()


def _session_info(settings: Settings) -> dict[str, Any]:
    from hashdesk.core.cache import ConfigCache
    from hashdesk.core.events import make_bus

    return {"bus": make_bus(settings.redis_url, settings.redis_prefix), "settings": settings,
            "config_cache": ConfigCache()}  # fmt: skip


def _once(runner: Monitor) -> None:
    polled = runner.tick(wait_all=True)
    if not runner.leading:
        raise click.ClickException("Another process leads the monitor; nothing was polled.")
    click.echo(f"Polled {polled} networks.")
    for slug, state in sorted(runner.states.items()):
        head = state.window.head
        where = f"height {head.height}" if head else "no head"
        click.echo(f"  {slug}: {where}, {state.consecutive_errors} errors in a row")


def _until_signal(runner: Monitor) -> None:
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.start()
    click.echo(f"Monitoring every {runner.interval:g} s; Ctrl-C stops.")
    stopped.wait()
