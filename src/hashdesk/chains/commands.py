"""``hashdesk chains ...``: the deposit tracer (``trace``) and the network monitor (``monitor``).

    hashdesk chains trace --tx HASH [--network NAME] [--rpc NAME=URL ...] --json

``--rpc`` points a network at an endpoint for this call only (a local node, a provider the
registry does not list). A verdict, whatever it is, exits 0; input that cannot be traced
(malformed hash, unknown network or trader) exits 1 with the reason.
"""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.chains.monitor_cli import monitor
from hashdesk.chains.rpc import redact, split_url
from hashdesk.chains.tracer import Tracer, TraceRequest, TraceResult
from hashdesk.core.command_session import command_transaction
from hashdesk.core.errors import DomainError


def _rpc_overrides(values: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for value in values:
        name, separator, url = value.partition("=")
        if not separator or not name.strip() or not url.strip():
            raise click.BadParameter(f"{value!r} is not NAME=URL.", param_hint="--rpc")
        parts = split_url(url.strip())
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise click.BadParameter(f"{redact(url.strip())!r} is not an http(s) URL.",
                                     param_hint="--rpc")  # fmt: skip
        overrides[name.strip().lower()] = url.strip()
    return overrides


@click.group()
def chains() -> None:
    """Blockchain networks: trace a deposit, run the network monitor."""


@chains.command("trace")
@click.option("--tx", "tx_hash", required=True, help="the transaction hash (TxID)")
@click.option("--network", help="the network it was sent on (all configured networks if not given)")
@click.option("--asset", help="the asset the trader meant to deposit (e.g. USDT)")
@click.option("--trader", help="the trader's id at the exchange (their deposit addresses count)")
@click.option("--rpc", multiple=True, metavar="NAME=URL", help="use this endpoint for network NAME")
@click.option("--lang", default="en", show_default=True, help="language of the explanation")
@click.option("--json", "as_json", is_flag=True, help="print the verdict and evidence as JSON")
def trace(
    tx_hash: str, network: str | None, asset: str | None, trader: str | None,
    rpc: tuple[str, ...], lang: str, as_json: bool,
) -> None:  # fmt: skip
    """Trace a deposit from its transaction hash: where it is, and why it is not credited."""
    overrides = _rpc_overrides(rpc)
    try:
        with command_transaction() as session:
            trader_id = _trader_id(session, trader) if trader else None
            request = TraceRequest(tx_hash=tx_hash, network=network, asset=asset,
                                   trader_id=trader_id, locale=lang, rpc=overrides)  # fmt: skip
            result = Tracer(session).trace(request)
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    click.echo(result.model_dump_json(indent=2) if as_json else _plain(result))


def _trader_id(session: Session, external_id: str) -> int:
    found = get_trader_by_external_id(session, external_id)
    if found is None:
        raise click.ClickException(f"No trader {external_id!r}.")
    return found.id


def _plain(result: TraceResult) -> str:
    lines = [f"{result.verdict.value}: {result.explanation}"]
    lines += [f"  [{item.outcome.value}] {item.check}: {item.message}" for item in result.evidence]
    lines.append(f"Next: {result.next_step.message}")
    if result.next_step.ticket is not None:
        fields = ", ".join(f"{k}={v}" for k, v in result.next_step.ticket.fields.items())
        lines.append(f"  ticket: {result.next_step.ticket.subject} ({fields})")
    lines += [f"  node problem on {p.network}: {p.message}" for p in result.node_problems]
    return "\n".join(lines)


chains.add_command(monitor)

COMMANDS = [chains]
