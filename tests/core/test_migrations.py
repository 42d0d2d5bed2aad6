"""The migration guard: ``alembic upgrade head`` on an empty database gives exactly the
schema the models describe. A model change without its migration fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from hashdesk.core.migrate import upgrade
from hashdesk.models import metadata


def _differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_sqlite_database_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    upgrade(url)
    assert _differences(url) == []


def test_the_test_database_was_built_by_the_migrations_and_matches_the_models(
    database_url: str,
) -> None:
    # On PostgreSQL this is the guard: the session database starts empty and only the
    # migrations build it (see conftest's ``database_url``).
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}
    assert _differences(database_url) == []


def test_upgrading_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.sqlite3'}"
    upgrade(url)
    upgrade(url)
    assert _differences(url) == []
