"""``hashdesk futures liquidation`` and ``hashdesk futures tiers``."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from hashdesk.core.errors import DomainError
from hashdesk.futures.calculator import check_liquidation
from hashdesk.futures.margin import plain
from hashdesk.futures.schemas import LiquidationQuote, LiquidationRequest, field_errors
from hashdesk.futures.tiers import TierTable, load_tier_tables


@click.group()
def futures() -> None:
    """Futures margin tools: liquidation calculator and tier tables."""


@futures.command()
def liquidation() -> None:
    """Read one position as a JSON object on stdin, print its prices and margins as JSON.

    \b
    Input: {"contract": "linear"|"inverse", "side": "long"|"short",
            "mode": "isolated"|"cross", "entry_price", "quantity", "contract_size",
            "wallet_balance", "maintenance_margin_rate", "maintenance_amount",
            "leverage" (optional), "venue" (optional: "binance", "bybit", "coinex")}
    Output: {"liquidation_price", "bankruptcy_price", "initial_margin",
             "maintenance_margin"}

    \b
    Numbers may be JSON numbers or decimal strings; they are read as exact decimals.
    quantity: base units (linear) or contracts (inverse); contract_size: the quote
    value of one inverse contract (required for inverse, absent or 1 for linear).
    wallet_balance: the isolated margin, or the cross wallet balance, in the
    settlement asset (USDT for linear, the coin for inverse). Cross margin with
    nothing else in the account gives the same prices as isolated margin.

    \b
    maintenance_margin: at the entry price, notional x rate - maintenance_amount.
    initial_margin: notional at entry / leverage; without a leverage, the
    wallet_balance backing the position (the leverage changes only this figure).
    Fields not named here are ignored, with a warning on stderr.
    venue: whose published formula to follow where they differ; none = binance
    (maintenance margin at the liquidation price), bybit (at the entry price),
    coinex (linear only, no maintenance amount).

    \b
    Nothing is rounded: outputs are plain decimal strings without exponent
    (about 34 significant digits); a price no positive mark price reaches
    (e.g. a long whose margin covers a fall to zero) is null. Bad input exits
    with status 1 and one "field: problem" line per problem.
    """
    request = _read_request(sys.stdin.read())
    try:
        quote = check_liquidation(request)
    except DomainError as error:
        _fail([(error.field or "input", error.render())])
    click.echo(json.dumps(_quote_json(quote)))


@futures.group()
def tiers() -> None:
    """Maintenance-margin tier tables (demo defaults, or a file of your own)."""


@tiers.command("show")
@click.argument("symbol", required=False)
@click.option("--file", "path", type=click.Path(path_type=Path, dir_okay=False),
              help="a JSON or YAML tier file instead of the demo tables")  # fmt: skip
def show(symbol: str | None, path: Path | None) -> None:
    """Print the tier tables (or SYMBOL's) as JSON, after checking them."""
    try:
        tables = load_tier_tables(path)
    except DomainError as error:
        _fail([(error.field or "input", error.render())])
    if symbol is not None and symbol not in tables:
        _fail([("symbol", f"no table for {symbol!r}; there are {', '.join(sorted(tables))}")])
    chosen = {name: table for name, table in tables.items() if symbol in (None, name)}
    click.echo(json.dumps({name: _table_json(table) for name, table in chosen.items()}, indent=2))


def _read_request(text: str) -> LiquidationRequest:
    try:
        data = json.loads(
            text, parse_float=Decimal, parse_int=Decimal, parse_constant=_refuse_constant
        )
    except ValueError as error:
        _fail([("input", f"not JSON: {error}")])
    if not isinstance(data, dict):
        _fail([("input", "must be one JSON object")])
    unknown = sorted(set(data) - set(LiquidationRequest.model_fields))
    if unknown:
        click.echo(f"warning: ignored unknown field(s): {', '.join(unknown)}", err=True)
    try:
        return LiquidationRequest.model_validate(data)
    except ValidationError as error:
        _fail(field_errors(error))


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number")


def _fail(problems: list[tuple[str, str]]) -> NoReturn:
    for field, message in problems:
        click.echo(f"{field}: {message}", err=True)
    raise SystemExit(1)


def _quote_json(quote: LiquidationQuote) -> dict[str, str | None]:
    return {
        "liquidation_price": _maybe_plain(quote.liquidation_price),
        "bankruptcy_price": _maybe_plain(quote.bankruptcy_price),
        "initial_margin": plain(quote.initial_margin),
        "maintenance_margin": plain(quote.maintenance_margin),
    }


def _maybe_plain(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def _table_json(table: TierTable) -> dict[str, Any]:
    return {
        "contract": table.contract.value,
        "settlement_asset": table.settlement_asset,
        "contract_size": plain(table.contract_size),
        "tiers": [
            {
                "floor": plain(tier.floor),
                "cap": plain(tier.cap),
                "max_leverage": plain(tier.max_leverage),
                "maintenance_margin_rate": plain(tier.maintenance_margin_rate),
                "maintenance_amount": plain(tier.maintenance_amount),
            }
            for tier in table.tiers
        ],
    }


COMMANDS = [futures]
