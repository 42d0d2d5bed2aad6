"""``hashdesk demo load`` and ``hashdesk demo banner``."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from hashdesk.config import Settings, get_settings
from hashdesk.core.auth import Role
from hashdesk.core.db import Database
from hashdesk.demo.loader import DemoOptions, has_traders, load_demo
from hashdesk.demo.people import DEMO_PASSWORD, demo_logins
from hashdesk.helpcenter.transfer import ImportFailed


@click.group()
def demo() -> None:
    """Demo data: staff for every role, traders and eight weeks of tickets."""


def demo_database(settings: Settings) -> Database:
    """The database, with a session that sends no email and publishes no events: a demo load
    writes thousands of changes that nobody is waiting to hear about."""
    quiet = settings.model_copy(update={"email_enabled": False})
    return Database(settings.database_url, session_info={"settings": quiet})


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="do nothing when the database already has traders")
@click.option("--traders", default=2000, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--tickets", default=1500, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--seed", default=7, show_default=True, type=int, help="same seed, same data")
@click.option("--help-center/--no-help-center", default=True, show_default=True,
              help="import the demo help center (src/hashdesk/demo/helpcenter)")  # fmt: skip
def load(if_empty: bool, traders: int, tickets: int, seed: int, help_center: bool) -> None:
    """Load demo staff, traders, macros, tickets and the help center (run `hashdesk migrate`
    first)."""
    database = demo_database(get_settings())
    try:
        if if_empty and has_traders(database):
            click.echo("Demo data not loaded: the database already has traders.")
            _ensure_triage_model(get_settings())
            _ensure_demo_reserves(get_settings(), database)
            return
        with click.progressbar(length=traders + tickets, label="Loading demo data") as bar:
            options = DemoOptions(traders, tickets, seed, help_center)
            summary = load_demo(database, options, bar.update)
        _ensure_demo_reserves(get_settings(), database)
    except (OperationalError, ProgrammingError) as error:
        raise click.ClickException(
            f"The database is not ready ({error.orig}). Run `hashdesk migrate` first."
        ) from error
    except ImportFailed as failure:
        for problem in failure.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"The demo help center has {len(failure.problems)} problem(s); nothing of it loaded."
        ) from failure
    finally:
        database.dispose()
    click.echo(
        f"Loaded {summary.staff} staff, {summary.traders} traders, {summary.tickets} tickets, "
        f"{summary.macros} macros and {summary.help_pages} help-center pages "
        f"in {summary.seconds:.1f} s."
    )
    click.echo(f"Every demo staff login uses the password: {DEMO_PASSWORD}")
    _ensure_triage_model(get_settings())


def _ensure_triage_model(settings: Settings) -> None:
    """Train the demo triage model where ``HASHDESK_TRIAGE_MODEL_DIR`` points, unless one is
    there: hand-offs and new tickets then arrive with a predicted category."""
    from hashdesk.assistant.triage.demo_examples import train_demo_model
    from hashdesk.assistant.triage.model import MANIFEST

    model_dir = settings.triage_model_dir
    if model_dir is None or (model_dir / MANIFEST).exists():
        return
    click.echo(f"Training the demo triage model into {model_dir} ...")
    report = train_demo_model(model_dir)
    click.echo(f"Triage model ready: validation accuracy {report.accuracy:.1%}.")


def _ensure_demo_reserves(settings: Settings, database: Database) -> None:
    """Publish a proof of reserves of the demo traders where ``HASHDESK_RESERVES_DIR`` points,
    unless a build is there: the agents' proof lookup then has accounts to find."""
    from hashdesk.demo.reserves import build_demo_reserves, has_build

    folder = settings.reserves_dir
    if folder is None or has_build(folder):
        return
    built = build_demo_reserves(database, folder)
    click.echo(
        f"Proof of reserves of {built.leaf_count} demo accounts published in {built.folder}."
    )


ROLE_TITLES = {
    Role.FRONTLINE: "frontline agent",
    Role.TECHNICIAN: "technician",
    Role.ACCOUNT_MANAGER: "account manager",
    Role.COMMUNITY: "community",
    Role.SECURITY: "security",
    Role.LEAD: "support lead",
    Role.ADMIN: "admin",
}


def banner_text(url: str) -> str:
    base = url.rstrip("/")
    logins = demo_logins()
    width = max(len(title) for title in ROLE_TITLES.values())
    lines = [
        "",
        "HashDesk demo is starting",
        f"  Trader portal   {base}/portal   (demo trader picker on {base}/portal/sign-in)",
        f"  Agent console   {base}/console",
        f"  API docs        {base}/docs",
        f"  OpenAPI         {base}/openapi.json",
        "",
        f"Staff logins (password for all: {DEMO_PASSWORD})",
        *(f"  {ROLE_TITLES[role]:<{width}}  {logins[role]}" for role in Role),
        "",
    ]
    return "\n".join(lines)


@demo.command("banner")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True)
def banner(url: str) -> None:
    """Print where the portal, console and API docs are, and a demo login for each role."""
    click.echo(banner_text(url))


COMMANDS = [demo]
