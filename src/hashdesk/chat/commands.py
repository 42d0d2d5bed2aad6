"""``hashdesk chat account-manager``: give a VIP trader their dedicated account manager."""

from __future__ import annotations

import click

from hashdesk.accounts.queries import get_agent_by_email, get_trader_by_external_id
from hashdesk.chat.actions import do_set_account_manager
from hashdesk.core.command_session import command_transaction


@click.group()
def chat() -> None:
    """Live chat: VIP account managers."""


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


COMMANDS = [chat]
