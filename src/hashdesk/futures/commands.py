"""``hashdesk futures liquidation`` and ``hashdesk futures tiers``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError

from hashdesk.core.errors import DomainError
from hashdesk.core.i18n import LOCALES, match_locale
from hashdesk.futures.calculator import check_liquidation
from hashdesk.futures.margin import plain
from hashdesk.futures.monitor_command import monitor_command
from hashdesk.futures.records import jsonable, render_sentences, shown
from hashdesk.futures.schemas import LiquidationQuote, LiquidationRequest, field_errors
from hashdesk.futures.tiers import TierTable, load_tier_tables


@click.group()
def futures() -> None:
    """Futures margin tools: liquidation calculator, tier tables, position explainer and
    price checks."""


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


# --- position explainer and price checks (the library: explainer.py, prices.py) -------------

_locale_option = click.option("--locale", default="en", show_default=True,
                              help="language of the sentences (one of the 18 locales)")  # fmt: skip
_json_option = click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
_file = click.Path(path_type=Path, dir_okay=False)


@futures.command()
@click.option("--position", "position_path", type=_file, required=True,
              help="the position as a JSON object")  # fmt: skip
@click.option("--marks", "marks_path", type=_file, required=True,
              help="CSV time,mark_price (ms or ISO 8601)")  # fmt: skip
@click.option("--changes", "changes_path", type=_file,
              help="CSV time,kind,amount[,note]: add_margin, remove_margin, funding, fee")  # fmt: skip
@click.option("--tiers", "tiers_path", type=_file,
              help="a JSON or YAML tier file the position's tiers name refers to")  # fmt: skip
@_locale_option
@_json_option
def explain(position_path: Path, marks_path: Path, changes_path: Path | None,
            tiers_path: Path | None, locale: str, as_json: bool) -> None:  # fmt: skip
    """Say when and why a position was (or would be) liquidated over a mark-price series.

    \b
    Position JSON: {"symbol", "contract", "side", "mode", "entry_price", "quantity",
    "contract_size" (inverse), "wallet_balance" (isolated margin or cross wallet at
    the start), "tiers" (a table name or a list of tiers) or
    "maintenance_margin_rate" + "maintenance_amount", "venue", "opened_at",
    "settlement_asset", "margin_step"}. Funding and fee amounts are signed as the
    exchange's income history shows them (negative: paid).
    """
    from hashdesk.futures.explainer import explain_files

    language = _locale(locale)
    result = _run(lambda: explain_files(position_path, marks_path, changes_path, tiers_path))
    _print_result(result, language, as_json)


@futures.command("check-fill")
@click.option("--fill", "fill_path", type=_file, required=True,
              help="the trader's fill: JSON {symbol, side, price, quantity, time}")  # fmt: skip
@click.option("--log", "log_path", type=_file, required=True,
              help="the server trade log: CSV trade_id,symbol,side,price,qty,time,order_id")  # fmt: skip
@click.option("--market", "market_paths", type=_file, required=True, multiple=True,
              help="venue data: CSV venue,symbol,time and price[,qty] or open,high,low,close")  # fmt: skip
@click.option("--skew-ms", type=click.IntRange(0, 600_000), default=250, show_default=True)
@click.option("--match-window-ms", type=click.IntRange(0, 3_600_000), default=1000,
              show_default=True)  # fmt: skip
@click.option("--tolerance-bps", type=click.FloatRange(0, 10_000), default=1.0, show_default=True)
@click.option("--fast-market-bps", type=click.FloatRange(0, 10_000), default=20.0,
              show_default=True)  # fmt: skip
@_locale_option
@_json_option
def check_fill(fill_path: Path, log_path: Path, market_paths: tuple[Path, ...], skew_ms: int,
               match_window_ms: int, tolerance_bps: float, fast_market_bps: float,
               locale: str, as_json: bool) -> None:  # fmt: skip
    """Find a trader's fill in the server log and compare it with the market at that moment.

    Verdict: consistent, slippage, fast_market, anomaly (escalate), not_found,
    ambiguous or no_market_data, with the evidence per venue.
    """
    from hashdesk.futures.prices import CheckSettings, check_fill_files

    language = _locale(locale)
    settings = CheckSettings(skew_ms=skew_ms, match_window_ms=match_window_ms,
                             tolerance_bps=Decimal(str(tolerance_bps)),
                             fast_market_bps=Decimal(str(fast_market_bps)))  # fmt: skip
    result = _run(lambda: check_fill_files(fill_path, log_path, market_paths, settings))
    _print_result(result, language, as_json)
    if not as_json:
        click.echo(_evidence_table(result.comparison.venues))


@futures.command("check-liquidation")
@click.option("--liquidation", "liquidation_path", type=_file, required=True,
              help="JSON {symbol, side (of the position), price (trigger), time}")  # fmt: skip
@click.option("--marks", "marks_path", type=_file, help="CSV time,mark_price")
@click.option("--index", "index_paths", type=_file, multiple=True,
              help="instead of marks: the venues' prices (index components), as --market")  # fmt: skip
@click.option("--skew-ms", type=click.IntRange(0, 600_000), default=250, show_default=True)
@click.option("--tolerance-bps", type=click.FloatRange(0, 10_000), default=1.0, show_default=True)
@_locale_option
@_json_option
def check_liquidation_command(liquidation_path: Path, marks_path: Path | None,
                              index_paths: tuple[Path, ...], skew_ms: int, tolerance_bps: float,
                              locale: str, as_json: bool) -> None:  # fmt: skip
    """Was the mark price really at the liquidation price at that moment (± the skew)?"""
    from hashdesk.futures.prices import CheckSettings, check_liquidation_files

    language = _locale(locale)
    if (marks_path is None) == (not index_paths):
        _fail([("marks", "give --marks or --index (one or more files), not both")])
    settings = CheckSettings(skew_ms=skew_ms, tolerance_bps=Decimal(str(tolerance_bps)))
    result = _run(lambda: check_liquidation_files(liquidation_path, marks_path, index_paths,
                                                  settings))  # fmt: skip
    _print_result(result, language, as_json)


_Result = TypeVar("_Result")


def _run(work: Callable[[], _Result]) -> _Result:
    try:
        return work()
    except DomainError as error:
        _fail([(error.field or "input", error.render())])


def _locale(tag: str) -> str:
    language = match_locale(tag)
    if language is None:
        _fail([("locale", f"{tag!r} is not one of {', '.join(LOCALES)}")])
    return language


def _print_result(result: Any, locale: str, as_json: bool) -> None:
    sentences = render_sentences(result.sentences, locale)
    if as_json:
        data = jsonable(result)
        data["text"] = sentences
        data["locale"] = locale
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    verdict = getattr(result, "verdict", None)
    if verdict is not None:
        click.echo(f"verdict: {verdict.value}")
    click.echo("\n".join(sentences))


def _evidence_table(venues: Any) -> str:
    header = ("venue", "kind", "prints", "low", "high", "nearest", "distance_bps",
              "inside", "reached_ms")  # fmt: skip
    rows = [header] + [
        (v.venue, v.kind, str(v.prints), _cell(v.low), _cell(v.high), _cell(v.nearest_price),
         _cell(v.distance_bps, 3), "yes" if v.inside else "no",
         "" if v.reached_offset_ms is None else f"{v.reached_offset_ms:+d}")
        for v in venues
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Decimal | None, digits: int = 8) -> str:
    return "" if value is None else shown(value, digits)


futures.add_command(monitor_command)

COMMANDS = [futures]
