"""Helpers shared by the exchange formats: exact decimals and their text forms."""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_DOWN, Context, Decimal
from typing import Any

from hashdesk.reserves.checks import StepFailed, decimal_text, field_of

# Sums must be exact whatever their size; the default context keeps only 28 digits.
EXACT = Context(prec=1000)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def number(value: Any, what: str) -> Decimal:
    return Decimal(decimal_text(value, what))


def plain(value: Decimal) -> str:
    """Positional digits without trailing fractional zeros and without an exponent: what Go's
    shopspring ``Decimal.String()`` and Java's ``stripTrailingZeros().toPlainString()`` print
    ("920", "0.0000487", "0"; never "1E+2" or "-0")."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def round_down(value: Decimal, places: int) -> Decimal:
    """shopspring ``RoundDown(places)``: truncate toward zero, never add digits."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -places:
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN, context=EXACT)


def add(left: Decimal, right: Decimal) -> Decimal:
    return EXACT.add(left, right)


def json_string(text: str, escape_html: bool = False) -> str:
    """A JSON string as Go's encoding/json (``escape_html``) or fastjson writes it."""
    encoded = json.dumps(text, ensure_ascii=False)
    if escape_html:
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            encoded = encoded.replace(char, escaped)
        encoded = encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return encoded


def balances_of(raw: Any, where: str) -> dict[str, Decimal]:
    """A non-empty {asset: decimal} object, keeping the file's key order."""
    if not isinstance(raw, dict) or not raw:
        raise StepFailed("schema", f"{where}: balances must be a non-empty object")
    return {str(asset): number(value, f"{where} {asset}") for asset, value in raw.items()}


def text_field(document: Any, key: str, where: str) -> str:
    return str(field_of(document, key, str, where))
