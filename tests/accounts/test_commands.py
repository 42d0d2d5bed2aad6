"""``hashdesk agents create`` and ``hashdesk agents list`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import check_agent_login
from hashdesk.accounts.models import Agent
from hashdesk.cli import main
from hashdesk.config import get_settings
from hashdesk.core.audit import AuditEntry

PASSWORD = "a long enough secret"
CREATE = ["agents", "create", "--email", "Mina.Cho@Desk.Example.com", "--name", "Mina Cho",
          "--role", "frontline", "--department", "frontline"]  # fmt: skip


def invoke(cli: CliRunner, args: list[str], stdin: str | None = None) -> Result:
    return cli.invoke(main, args, input=stdin)


def assert_clean_failure(result: Result, message: str) -> None:
    """Non-zero exit, the message on the terminal, and no traceback."""
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def agent_count(session: Session) -> int:
    return session.scalar(select(func.count(Agent.id))) or 0


def test_create_reads_the_password_from_stdin(cli: CliRunner, session: Session) -> None:
    args = [*CREATE, "--language", "ko", "--language", "en_US", "--password-stdin"]
    result = invoke(cli, args, stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "mina.cho@desk.example.com (frontline, frontline)" in result.output
    agent = check_agent_login(session, "mina.cho@desk.example.com", PASSWORD)
    assert agent.languages == ["ko", "en"]
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.created")).one()
    assert (audit.actor_kind, audit.object_id) == ("system", agent.id)


def test_create_prompts_twice_for_the_password(cli: CliRunner, session: Session) -> None:
    result = invoke(cli, CREATE, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # typed, not echoed
    assert check_agent_login(session, "mina.cho@desk.example.com", PASSWORD).languages == ["en"]


def test_the_password_is_never_an_option(cli: CliRunner, session: Session) -> None:
    result = invoke(cli, [*CREATE, "--password", PASSWORD])
    assert_clean_failure(result, "No such option '--password'")
    assert agent_count(session) == 0


def test_a_duplicate_email_is_refused(cli: CliRunner, session: Session) -> None:
    assert invoke(cli, [*CREATE, "--password-stdin"], stdin=PASSWORD).exit_code == 0
    again = [*CREATE[:3], "mina.cho@desk.example.com", *CREATE[4:], "--password-stdin"]
    result = invoke(cli, again, stdin=PASSWORD)
    assert_clean_failure(result, "already exists")
    assert agent_count(session) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--role": "superuser"}, "Invalid value for '--role'"),
        ({"--department": "marketing"}, "Invalid value for '--department'"),
        ({"--email": "not-an-email"}, "email: value is not a valid email address"),
        ({"--language": "klingon"}, "'klingon' is not one of"),
    ],
)
def test_bad_input_gets_a_clear_message(
    cli: CliRunner, session: Session, change: dict[str, str], message: str
) -> None:
    args = list(CREATE)
    for option, value in change.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    result = invoke(cli, [*args, "--password-stdin"], stdin=PASSWORD)
    assert_clean_failure(result, message)
    assert agent_count(session) == 0


def test_a_short_password_is_refused(cli: CliRunner, session: Session) -> None:
    result = invoke(cli, [*CREATE, "--password-stdin"], stdin="short\n")
    assert_clean_failure(result, "password: String should have at least 10 characters")
    assert agent_count(session) == 0


def test_list_shows_the_agents(cli: CliRunner) -> None:
    assert "No agents yet" in invoke(cli, ["agents", "list"]).output
    invoke(cli, [*CREATE, "--language", "ko", "--password-stdin"], stdin=PASSWORD)
    result = invoke(cli, ["agents", "list"])
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split() == ["ID", "EMAIL", "NAME", "ROLE", "DEPARTMENT", "LANGUAGES", "STATE"]
    assert row.split()[1:] == ["mina.cho@desk.example.com", "Mina", "Cho", "frontline",
                               "frontline", "ko", "active"]  # fmt: skip


def test_an_unmigrated_database_says_to_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["agents", "list"])
    finally:
        get_settings.cache_clear()
    assert_clean_failure(result, "Run `hashdesk migrate` first")
