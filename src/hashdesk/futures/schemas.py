"""What a liquidation calculation is asked with, and what it answers (shape only; the rules
that tie fields together live in ``calculator.py``)."""

from __future__ import annotations

import enum
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from hashdesk.futures.margin import Contract, MarginMode, Side, Venue


def _to_decimal(value: Any) -> Decimal:
    """JSON numbers (already ``Decimal`` when parsed with ``parse_float=Decimal``), ints, or
    decimal strings; a float (a JSON body parsed the usual way) goes through its shortest
    repr, which is what was typed. Never a bool, never NaN or infinity."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError("must be a number or a decimal string")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"must be a number or a decimal string, not {value!r}") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


Number = Annotated[Decimal, BeforeValidator(_to_decimal)]


class PositionTerms(BaseModel):
    """A position's terms, as the calculator and the exchange's connector both give them."""

    contract: Contract
    side: Side
    mode: MarginMode
    entry_price: Annotated[Number, Field(gt=0)]
    quantity: Annotated[Number, Field(gt=0)]
    contract_size: Annotated[Number, Field(gt=0)] | None = None
    wallet_balance: Annotated[Number, Field(gt=0)]
    leverage: Annotated[Number, Field(ge=1)] | None = None


class LiquidationRequest(PositionTerms):
    """The ``hashdesk futures liquidation`` input (and the calculator page's form).

    Unknown fields are ignored (a caller may send more than the contract names, such as a
    symbol); the command warns about them on stderr so a misspelt field is still noticed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    maintenance_margin_rate: Annotated[Number, Field(ge=0, lt=1)]
    maintenance_amount: Annotated[Number, Field(ge=0)]
    venue: Venue | None = None


class LiquidationQuote(BaseModel):
    """The answer; prices are ``None`` where no positive price reaches them."""

    model_config = ConfigDict(frozen=True)

    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    initial_margin: Decimal
    maintenance_margin: Decimal


def field_errors(error: ValidationError) -> list[tuple[str, str]]:
    """(field, message) per problem, the field as a dotted path ('input' for the whole)."""
    problems = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "input"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append((field, message))
    return problems


# --- the margin-call monitor: what the exchange's connector pushes ---------------------------


class PositionMode(enum.StrEnum):
    """One-way: at most one position per contract; hedge: a long and a short may coexist."""

    ONE_WAY = "one_way"
    HEDGE = "hedge"


class OpenPosition(PositionTerms):
    """One open position as the exchange describes it. The maintenance terms come from the
    tier table ``tier_table`` (default: the table named like ``symbol``), or flat from
    ``maintenance_margin_rate`` (+ ``maintenance_amount``) when the exchange gives them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:/-]+$")]
    tier_table: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    maintenance_margin_rate: Annotated[Number, Field(ge=0, lt=1)] | None = None
    maintenance_amount: Annotated[Number, Field(ge=0)] | None = None


class PositionsReplace(BaseModel):
    """``PUT /api/v1/connector/traders/{external_id}/positions``: the trader's open positions, all
    of them (a position not listed was closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position_mode: PositionMode = PositionMode.ONE_WAY
    positions: Annotated[list[OpenPosition], Field(max_length=500)]


class PositionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    symbol: str
    contract: str
    side: str
    mode: str
    entry_price: Decimal
    quantity: Decimal
    wallet_balance: Decimal
    tier_table: str | None
    alert_level: int


class PositionsPublic(BaseModel):
    trader_external_id: str
    positions: list[PositionPublic]


class MarkUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:/-]+$")]
    price: Annotated[Number, Field(gt=0)]
    time_ms: Annotated[int, Field(ge=10**11)]  # milliseconds since 1970, not seconds


class MarksPush(BaseModel):
    """``POST /api/v1/connector/marks``: mark prices for the margin-call monitor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    marks: Annotated[list[MarkUpdate], Field(min_length=1, max_length=1000)]
