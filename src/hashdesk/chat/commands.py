"""``hashdesk chat ...``: VIP account managers, agents' skills, the queues' schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import get_agent_by_email, get_trader_by_external_id
from hashdesk.chat.actions import do_set_account_manager
from hashdesk.chat.schedules import ScheduleError, Schedules, load_schedules
from hashdesk.chat.staffing import (
    MAX_CAPACITY,
    agent_setup,
    do_import_schedules,
    set_agent_setup,
    stored_schedules,
)
from hashdesk.config import get_settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.clock import utcnow
from hashdesk.core.command_session import command_transaction
from hashdesk.core.errors import DomainError


@click.group()
def chat() -> None:
    """Live chat: VIP account managers, agents' skills, queue schedules."""


@chat.command("account-manager")
@click.argument("trader_external_id")
@click.argument("agent_email", required=False)
@click.option("--remove", is_flag=True, help="take the trader's account manager away")
def account_manager(trader_external_id: str, agent_email: str | None, remove: bool) -> None:
    """Route TRADER_EXTERNAL_ID's chats to AGENT_EMAIL first (VIP traders skip the queue to
    their account manager, and go to the VIP desk while the manager is away)."""
    if not remove and not agent_email:
        raise click.UsageError("Name the agent's email, or pass --remove.")
    with command_transaction() as session:
        trader = get_trader_by_external_id(session, trader_external_id)
        if trader is None:
            raise click.ClickException(f"No trader {trader_external_id}.")
        agent = None if remove else get_agent_by_email(session, agent_email or "")
        if not remove and (agent is None or not agent.active):
            raise click.ClickException(f"No active agent {agent_email}.")
        do_set_account_manager(session, trader, agent)
        who = "nobody" if agent is None else agent.email
        click.echo(f"{trader_external_id}: account manager {who}")


@chat.command("skills")
@click.argument("agent_email")
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="a triage category the agent handles best (repeat for more)",
)
@click.option("--region", "regions", multiple=True,
              help="a country code the agent serves (repeat for more)")  # fmt: skip
@click.option("--language", "languages", multiple=True,
              help="a language the agent chats in (repeat for more; none given: unchanged)")  # fmt: skip
@click.option("--capacity", type=int, default=None,
              help=f"chats at once, 1-{MAX_CAPACITY} (0: the agent's own choice; not given: "
                   "unchanged)")  # fmt: skip
def skills(
    agent_email: str,
    categories: tuple[str, ...],
    regions: tuple[str, ...],
    languages: tuple[str, ...],
    capacity: int | None,
) -> None:
    """Set AGENT_EMAIL's category skills and regions (replacing the ones before; none given:
    cleared), and optionally their languages and capacity, as /console/chats/agents does
    (audited). Chats of a skill's predicted category go to them first; chats from their
    regions go only to such agents while any is online."""
    with command_transaction() as session:
        agent = get_agent_by_email(session, agent_email)
        if agent is None or not agent.active:
            raise click.ClickException(f"No active agent {agent_email}.")
        current = agent_setup(session, agent)
        try:
            setup = set_agent_setup(
                session, SYSTEM, agent, categories=categories, regions=regions,
                languages=languages or current.languages,
                capacity=current.capacity if capacity is None else (capacity or None),
            )  # fmt: skip
        except DomainError as error:
            raise click.ClickException(error.render()) from None
        own = "own choice" if setup.capacity is None else str(setup.capacity)
        click.echo(f"{agent.email}: categories {', '.join(setup.categories) or 'none'}; "
                   f"regions {', '.join(setup.regions) or 'none'}; "
                   f"languages {', '.join(setup.languages)}; capacity {own}")  # fmt: skip


@chat.command("schedules")
@click.option("--at", "moment", type=click.DateTime(["%Y-%m-%dT%H:%M"]), default=None,
              help="a UTC time (YYYY-MM-DDTHH:MM) to check instead of now")  # fmt: skip
@click.option("--import", "import_file", is_flag=True,
              help="store HASHDESK_CHAT_SCHEDULES_FILE in the database (replacing the queues "
                   "there), where the console edits them")  # fmt: skip
def schedules(moment: datetime | None, import_file: bool) -> None:
    """Show which queues are open and where each queue's chats go while it is closed: the
    queues kept in the database (edited on /console/chats/schedules), else those of
    HASHDESK_CHAT_SCHEDULES_FILE."""
    settings = get_settings()
    with command_transaction() as session:
        if import_file:
            _import(session, settings.chat_schedules_file)
        try:
            loaded = stored_schedules(session)
            source = "the database"
            if loaded is None:
                source = str(settings.chat_schedules_file)
                if settings.chat_schedules_file is None:
                    raise click.ClickException("No queues in the database and "
                                               "HASHDESK_CHAT_SCHEDULES_FILE is not set: queues "
                                               "never close.")  # fmt: skip
                loaded = load_schedules(settings.chat_schedules_file)
        except ScheduleError as error:
            raise click.ClickException(str(error)) from None
    _show(loaded, source, moment.replace(tzinfo=UTC) if moment else utcnow())


def _import(session: Session, path: Path | None) -> None:
    if path is None:
        raise click.ClickException("HASHDESK_CHAT_SCHEDULES_FILE is not set: nothing to import.")
    try:
        count = do_import_schedules(session, SYSTEM, load_schedules(path))
    except ScheduleError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Imported {count} queues from {path}.")


def _show(loaded: Schedules, source: str, at: datetime) -> None:
    click.echo(f"{len(loaded.queues)} queues (from {source}) at {at:%Y-%m-%d %H:%M} UTC")
    for queue in loaded.queues:
        placement = loaded.place(queue.language, next(iter(sorted(queue.regions)), ""), at)
        state = "open" if queue.is_open(at) else "closed"
        goes = placement.queue.name if placement else "its own queue (chain all closed)"
        click.echo(f"{queue.name} ({queue.language}, {queue.time_zone.key}): {state}"
                   + ("" if state == "open" else f", chats go to {goes}"))  # fmt: skip


COMMANDS = [chat]
