"""What a liquidation calculation is asked with, and what it answers (shape only; the rules
that tie fields together live in ``calculator.py``)."""

from __future__ import annotations

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


class LiquidationRequest(BaseModel):
    """The ``hashdesk futures liquidation`` input (and the calculator page's form).

    Unknown fields are ignored (a caller may send more than the contract names, such as a
    symbol); the command warns about them on stderr so a misspelt field is still noticed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contract: Contract
    side: Side
    mode: MarginMode
    entry_price: Annotated[Number, Field(gt=0)]
    quantity: Annotated[Number, Field(gt=0)]
    contract_size: Annotated[Number, Field(gt=0)] | None = None
    wallet_balance: Annotated[Number, Field(gt=0)]
    maintenance_margin_rate: Annotated[Number, Field(ge=0, lt=1)]
    maintenance_amount: Annotated[Number, Field(ge=0)]
    leverage: Annotated[Number, Field(ge=1)] | None = None
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
