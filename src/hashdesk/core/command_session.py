"""The database work of one ``hashdesk`` command, shared by the domains' ``commands.py``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from hashdesk.config import get_settings
from hashdesk.core.db import Database
from hashdesk.core.events import make_bus


@contextmanager
def command_transaction() -> Iterator[Session]:
    """One transaction on the configured database; its events go out on the configured bus
    after the commit, so running nodes hear about an import. A database without the schema
    says to migrate instead of showing a traceback."""
    settings = get_settings()
    bus = make_bus(settings.redis_url, settings.redis_prefix)
    database = Database(settings.database_url, session_info={"bus": bus})
    try:
        with database.transaction() as session:
            yield session
    except (OperationalError, ProgrammingError) as error:
        raise click.ClickException(
            f"The database is not ready ({error.orig}). Run `hashdesk migrate` first."
        ) from error
    finally:
        database.dispose()
        bus.close()
