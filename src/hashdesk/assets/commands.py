"""``hashdesk assets import PATH`` and ``hashdesk assets export PATH``.

The command line acts as the system (audited as such). An import names every row and field
at fault and writes nothing unless the whole file is good; with Redis configured, every
running node's lookup index follows at once (without it, within half a minute).
"""

from __future__ import annotations

from pathlib import Path

import click

from hashdesk.assets.transfer import ImportFailed, do_import_file, export_file, read_registry_file
from hashdesk.core.auth import SYSTEM
from hashdesk.core.command_session import command_transaction

MAX_SHOWN = 50


@click.group()
def assets() -> None:
    """The asset and network registry: import and export (JSON or CSV)."""


@assets.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def import_(path: Path) -> None:
    """Import PATH, all or nothing: a .json registry (networks and assets) or a .csv table
    of assets (one row per asset and network) or of networks."""
    try:
        read = read_registry_file(path)
        with command_transaction() as session:
            summary = do_import_file(session, SYSTEM, read)
    except ImportFailed as failure:
        for problem in failure.problems[:MAX_SHOWN]:
            click.echo(str(problem), err=True)
        if len(failure.problems) > MAX_SHOWN:
            click.echo(f"... and {len(failure.problems) - MAX_SHOWN} more.", err=True)
        raise click.ClickException(
            f"Nothing imported: {len(failure.problems)} problem(s) in {path}."
        ) from failure
    click.echo(f"Imported {read.records} records from {path}: {summary.created} created, "
               f"{summary.updated} changed, {summary.unchanged} unchanged.")  # fmt: skip


@assets.command("export")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--table", type=click.Choice(["assets", "networks"]), default="assets",
              show_default=True, help="which table a .csv file holds (.json holds both)")  # fmt: skip
def export(path: Path, table: str) -> None:
    """Write the registry to PATH: .json (everything) or .csv (one table)."""
    if path.suffix.lower() not in (".json", ".csv"):
        raise click.ClickException(f"{path} must end in .json or .csv.")
    try:
        with command_transaction() as session:
            count = export_file(session, path, "networks" if table == "networks" else "assets")
    except OSError as error:
        raise click.ClickException(f"Cannot write to {path}: {error.strerror}") from error
    click.echo(f"Exported {count} records to {path}.")


COMMANDS = [assets]
