"""Maintenance-margin tier tables: data per contract, editable and importable, demo defaults.

A table lists brackets of position notional (in the margin asset: USDT for linear, the coin
for inverse). A notional N is in the tier with ``floor < N <= cap`` (the first tier also holds
0), so a tier's cap is the largest position its maximum leverage allows, as the venues'
"max position" columns read. Each tier has a maximum leverage, a maintenance margin rate
(rising with the tier) and a maintenance amount that keeps the requirement continuous where
two tiers meet:

    cum_1 = 0,   cum_n = floor_n x (MMR_n - MMR_(n-1)) + cum_(n-1)

so ``notional x MMR_n - cum_n`` is the same at ``floor_n`` on either side. A table whose
stored amounts disagree with that formula is refused on loading (``TierTableError`` names the
symbol, tier and field), as is one with gaps, overlaps or falling rates.

The file format (JSON, or YAML with the same shape) maps a symbol to
``{"contract": "linear"|"inverse", "settlement_asset", "contract_size" (inverse),
"tiers": [{"floor", "cap", "max_leverage", "maintenance_margin_rate", "maintenance_amount"}]}``;
numbers as decimal strings. ``data/tiers.json`` holds the demo tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hashdesk.core.errors import InvalidInput
from hashdesk.futures.margin import ONE, ZERO, Contract, MaintenanceRate


class TierTableError(InvalidInput):
    """A tier table that cannot be used; ``field`` is ``SYMBOL.tiers[i].name``."""


@dataclass(frozen=True)
class Tier:
    floor: Decimal
    cap: Decimal
    max_leverage: Decimal
    maintenance_margin_rate: Decimal
    maintenance_amount: Decimal

    @property
    def terms(self) -> MaintenanceRate:
        return MaintenanceRate(self.maintenance_margin_rate, self.maintenance_amount)

    def holds(self, notional: Decimal) -> bool:
        return self.floor < notional <= self.cap or notional == self.floor == 0


@dataclass(frozen=True)
class TierTable:
    symbol: str
    contract: Contract
    settlement_asset: str
    tiers: tuple[Tier, ...]
    contract_size: Decimal = ONE

    def tier_for(self, notional: Decimal) -> Tier:
        """The tier holding ``notional``; beyond the last cap, the last tier (its terms still
        give the continuous requirement; ``check_leverage`` refuses such positions)."""
        size = max(notional, ZERO)
        for tier in self.tiers:
            if tier.holds(size):
                return tier
        return self.tiers[-1]

    def maintenance_at(self, notional: Decimal) -> MaintenanceRate:
        return self.tier_for(notional).terms

    def max_leverage_for(self, notional: Decimal) -> Decimal:
        return self.tier_for(notional).max_leverage

    def check_leverage(self, notional: Decimal, leverage: Decimal) -> None:
        """Refuse a leverage above the tier's maximum, or a position above the last cap."""
        if notional > self.tiers[-1].cap:
            raise TierTableError(
                "A position of {notional} is above the largest tier of {symbol} ({cap}).",
                field="quantity", notional=notional, symbol=self.symbol, cap=self.tiers[-1].cap,
            )  # fmt: skip
        allowed = self.max_leverage_for(notional)
        if leverage > allowed:
            raise TierTableError(
                "Leverage {leverage}x is above the {allowed}x that {symbol} allows for a "
                "position of {notional}.",
                field="leverage", leverage=leverage, allowed=allowed, symbol=self.symbol,
                notional=notional,
            )  # fmt: skip


def cumulative_amounts(
    floors: Sequence[Decimal], rates: Sequence[Decimal]
) -> list[Decimal]:  # fmt: skip
    """The maintenance amounts the cum formula gives for tiers with these floors and rates."""
    amounts: list[Decimal] = []
    for index, (floor, rate) in enumerate(zip(floors, rates, strict=True)):
        if index == 0:
            amounts.append(ZERO)
        else:
            amounts.append(floor * (rate - rates[index - 1]) + amounts[-1])
    return amounts


# --- loading --------------------------------------------------------------------------------

_TIER_FIELDS = ("floor", "cap", "max_leverage", "maintenance_margin_rate", "maintenance_amount")


def parse_tier_tables(data: Mapping[str, Any]) -> dict[str, TierTable]:
    """Tables from the decoded file; keys starting with ``_`` are comments."""
    if not isinstance(data, Mapping):
        raise TierTableError("A tier file maps symbols to tables.", field="tiers")
    return {
        symbol: _parse_table(symbol, table)
        for symbol, table in data.items()
        if not symbol.startswith("_")
    }


def load_tier_tables(path: Path | None = None) -> dict[str, TierTable]:
    """Tables from ``path`` (``.json``, ``.yaml``/``.yml``), or the demo tables."""
    if path is None:
        text = resources.files("hashdesk.futures").joinpath("data/tiers.json").read_text("utf-8")
        return parse_tier_tables(json.loads(text))
    try:
        text = path.read_text("utf-8")
        if path.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise TierTableError(
            "Cannot read {path}: {error}", field="path", path=path, error=error
        ) from error
    return parse_tier_tables(data)


def demo_tier_table(symbol: str) -> TierTable:
    tables = load_tier_tables()
    if symbol not in tables:
        raise TierTableError(
            "No demo tier table for {symbol} (there are {known}).",
            field="symbol", symbol=symbol, known=", ".join(sorted(tables)),
        )  # fmt: skip
    return tables[symbol]


def _parse_table(symbol: str, table: Any) -> TierTable:
    if not isinstance(table, Mapping):
        raise TierTableError("{symbol} must be an object.", field=symbol, symbol=symbol)
    try:
        contract = Contract(str(table.get("contract")))
    except ValueError as error:
        raise TierTableError(
            "contract must be linear or inverse.", field=f"{symbol}.contract"
        ) from error
    raw_tiers = table.get("tiers")
    if not isinstance(raw_tiers, list) or not raw_tiers:
        raise TierTableError("tiers must be a non-empty list.", field=f"{symbol}.tiers")
    tiers = tuple(_parse_tier(f"{symbol}.tiers[{i}]", tier) for i, tier in enumerate(raw_tiers))
    _check_tiers(symbol, tiers)
    size = _decimal(f"{symbol}.contract_size", table.get("contract_size", "1"))
    if size <= 0:
        raise TierTableError("contract_size must be positive.", field=f"{symbol}.contract_size")
    return TierTable(symbol, contract, str(table.get("settlement_asset", "")), tiers, size)


def _parse_tier(where: str, tier: Any) -> Tier:
    if not isinstance(tier, Mapping):
        raise TierTableError("A tier must be an object.", field=where)
    values = [_decimal(f"{where}.{name}", tier.get(name)) for name in _TIER_FIELDS]
    parsed = Tier(*values)
    if not ZERO <= parsed.maintenance_margin_rate < ONE:
        raise TierTableError(
            "maintenance_margin_rate must be at least 0 and below 1.",
            field=f"{where}.maintenance_margin_rate",
        )
    if parsed.max_leverage < 1:
        raise TierTableError("max_leverage must be at least 1.", field=f"{where}.max_leverage")
    if parsed.cap <= parsed.floor or parsed.floor < 0:
        raise TierTableError("cap must be above floor, floor at least 0.", field=f"{where}.cap")
    return parsed


def _check_tiers(symbol: str, tiers: Sequence[Tier]) -> None:
    if tiers[0].floor != 0:
        raise TierTableError("The first tier must start at 0.", field=f"{symbol}.tiers[0].floor")
    for index in range(1, len(tiers)):
        where = f"{symbol}.tiers[{index}]"
        previous, tier = tiers[index - 1], tiers[index]
        if tier.floor != previous.cap:
            raise TierTableError(
                "floor must equal the previous tier's cap.", field=f"{where}.floor"
            )
        if tier.maintenance_margin_rate < previous.maintenance_margin_rate:
            raise TierTableError(
                "maintenance_margin_rate must not fall from one tier to the next.",
                field=f"{where}.maintenance_margin_rate",
            )
    expected = cumulative_amounts(
        [tier.floor for tier in tiers], [tier.maintenance_margin_rate for tier in tiers]
    )
    for index, (tier, amount) in enumerate(zip(tiers, expected, strict=True)):
        if tier.maintenance_amount != amount:
            raise TierTableError(
                "maintenance_amount is {stored} but floor x (rate - previous rate) + previous "
                "amount gives {amount}.",
                field=f"{symbol}.tiers[{index}].maintenance_amount",
                stored=tier.maintenance_amount, amount=amount,
            )  # fmt: skip


def _decimal(where: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise TierTableError("must be a number or a decimal string.", field=where)
    try:
        # A float in a hand-edited YAML goes through str(): 0.004 stays 0.004, not its binary.
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as error:
        raise TierTableError("must be a number or a decimal string.", field=where) from error
    if not number.is_finite():
        raise TierTableError("must be a finite number.", field=where)
    return number
