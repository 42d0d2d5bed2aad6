"""Schema migrations (Alembic, shipped inside the package) and the default rows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hashdesk.core.db import ensure_sqlite_folder

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite"):
        ensure_sqlite_folder(database_url)  # a fresh checkout has no var/ yet
    command.upgrade(alembic_config(database_url), revision)
