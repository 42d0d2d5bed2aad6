"""``hashdesk agents create`` and ``hashdesk agents list``: staff accounts from the shell.

Whoever runs these holds the server's configuration, so they act as the system (audited as
such) rather than as a signed-in admin. Passwords never travel on the command line, where
they would land in shell history and ``ps``: they come from a prompt or from stdin.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import do_create_agent
from hashdesk.accounts.queries import get_agent_by_email, list_agents
from hashdesk.accounts.schemas import AgentCreate
from hashdesk.core.auth import SYSTEM, Role
from hashdesk.core.command_session import command_transaction
from hashdesk.core.errors import DomainError
from hashdesk.core.i18n import LOCALES, match_locale
from hashdesk.tickets.departments import Department


@click.group()
def agents() -> None:
    """Staff accounts: create and list agents."""


@contextmanager
def _transaction() -> Iterator[Session]:
    """The command transaction; a domain error (a taken email, a weak password) becomes one
    clear line and a non-zero exit instead of a traceback."""
    try:
        with command_transaction() as session:
            yield session
    except DomainError as error:
        raise click.ClickException(str(error)) from error


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _languages(values: tuple[str, ...]) -> list[str]:
    languages: list[str] = []
    for value in values or ("en",):
        code = match_locale(value)
        if code is None:
            raise click.BadParameter(
                f"{value!r} is not one of: {', '.join(LOCALES)}.", param_hint="--language"
            )
        if code not in languages:
            languages.append(code)
    return languages


def _agent_data(email: str, name: str, role: str, department: str, languages: list[str],
                password: str) -> AgentCreate:  # fmt: skip
    try:
        return AgentCreate(email=email, name=name, role=Role(role), department=department,
                           languages=languages, password=password)  # fmt: skip
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors()
        )
        raise click.ClickException(f"The agent is not valid: {problems}") from error


@agents.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--department", required=True, type=click.Choice([d.value for d in Department]))
@click.option("--language", "languages", multiple=True,
              help="a language the agent works in (repeat for several); default en")  # fmt: skip
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create(email: str, name: str, role: str, department: str, languages: tuple[str, ...],
           password_stdin: bool) -> None:  # fmt: skip
    """Create a staff account. The password is prompted for (or read with --password-stdin)."""
    codes = _languages(languages)
    data = _agent_data(email, name, role, department, codes, _read_password(password_stdin))
    with _transaction() as session:
        if get_agent_by_email(session, data.email):
            raise click.ClickException(f"An agent with the email {data.email} already exists.")
        agent = do_create_agent(session, SYSTEM, data)
    click.echo(f"Created agent {agent.id}: {agent.email} ({agent.role}, {agent.department}).")


@agents.command("list")
@click.option("--all", "show_all", is_flag=True, help="include deactivated agents")
def list_command(show_all: bool) -> None:
    """List staff accounts."""
    with _transaction() as session:
        rows = [
            (str(a.id), a.email, a.name, a.role, a.department, ",".join(a.languages),
             "active" if a.active else "inactive")
            for a in list_agents(session, active_only=not show_all)
        ]  # fmt: skip
    if not rows:
        click.echo("No agents yet. Create one with `hashdesk agents create`.")
        return
    header = ("ID", "EMAIL", "NAME", "ROLE", "DEPARTMENT", "LANGUAGES", "STATE")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


COMMANDS = [agents]
