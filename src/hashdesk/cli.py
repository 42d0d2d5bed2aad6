"""``hashdesk``: the operator's command line. Domains add their commands in ``commands.py``."""

from __future__ import annotations

import importlib
import logging

import click
from sqlalchemy.exc import SQLAlchemyError

from hashdesk.config import get_settings

DOMAINS_WITH_COMMANDS = (
    "core",
    "tickets",
    "accounts",
    "demo",
    "notify",
    "helpcenter",
    "assistant",
    "futures",
    "reserves",
    "assets",
    "chains",
    "chat",
)


@click.group()
@click.option("--verbose", is_flag=True, help="log at DEBUG level")
def main(verbose: bool) -> None:
    """HashDesk: the support desk for cryptocurrency exchanges."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    # Alembic announces each of its plugins at INFO; an operator only needs the migrations.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema and add the default categories and SLA policies."""
    from hashdesk.core.db import Database
    from hashdesk.core.migrate import upgrade
    from hashdesk.tickets.actions import do_seed_defaults

    settings = get_settings()
    try:
        upgrade(settings.database_url)
        database = Database(settings.database_url)
        with database.transaction() as session:
            do_seed_defaults(session)
        database.dispose()
    except (SQLAlchemyError, OSError) as error:
        raise click.ClickException(
            f"Cannot migrate {_redacted(settings.database_url)}: {getattr(error, 'orig', error)}"
        ) from error
    click.echo(f"Database ready: {_redacted(settings.database_url)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def serve(host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the web app and API (and run the outbox worker)."""
    import uvicorn

    if workers > 1 and not get_settings().redis_url:
        click.echo(
            "Warning: with several workers and no HASHDESK_REDIS_URL, each worker has its own "
            "event bus: live updates reach only pages served by the same worker.",
            err=True,
        )
    # No per-message deflate: chat frames are small, and it costs about 90 KB per idle socket
    # and CPU per frame (bench/RESULTS.md, "Live chat load").
    uvicorn.run("hashdesk.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=access_log, log_level="info", ws_per_message_deflate=False)  # fmt: skip


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def _register_domain_commands() -> None:
    for domain in DOMAINS_WITH_COMMANDS:
        try:
            module = importlib.import_module(f"hashdesk.{domain}.commands")
        except ModuleNotFoundError as error:
            if error.name != f"hashdesk.{domain}.commands":
                raise
            continue
        for command in module.COMMANDS:
            main.add_command(command)


_register_domain_commands()
