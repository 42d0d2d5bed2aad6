"""The vocabulary every verifier speaks: named steps that pass or fail, and strict readers.

A verifier records each step it passes; the first one that fails raises ``StepFailed``, which
stops the verification and names the step (the CLI prints it, the page would draw it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

MAX_PROOF_BYTES = 4 << 20  # a proof is a few kB; anything this big is not a proof file
MAX_TREE_BYTES = 512 << 20  # an OKX v2 full liabilities tree file

_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str = ""


class StepFailed(Exception):
    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        self.detail = detail
        super().__init__(f"{step}: {detail}")


@dataclass
class Verification:
    format: str
    steps: list[Step] = field(default_factory=list)
    root: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failed(self) -> Step | None:
        return next((step for step in self.steps if not step.ok), None)

    def passed(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, True, detail))

    def check(self, name: str, condition: bool, failure: str, success: str = "") -> None:
        """Record ``name`` as passed, or record it failed and stop."""
        if not condition:
            raise StepFailed(name, failure)
        self.passed(name, success)


def read_json(path: Path, limit: int = MAX_PROOF_BYTES, step: str = "read") -> Any:
    """A JSON document from ``path``, refusing files over ``limit`` bytes (steps read, parse)."""
    text = read_text(path, limit, step)
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise StepFailed(
            "parse",
            f"{path.name} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from error
    except RecursionError as error:
        raise StepFailed("parse", f"{path.name} nests too deeply") from error


def read_text(path: Path, limit: int, step: str = "read") -> str:
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise StepFailed(step, f"cannot read {path}: {error.strerror}") from error
    if len(data) > limit:
        raise StepFailed(step, f"{path.name} is larger than the {limit // (1 << 20)} MiB limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StepFailed(step, f"{path.name} is not UTF-8 text") from error


def hex_bytes(value: Any, what: str, size: int | None = 32, step: str = "schema") -> bytes:
    """Hex (optionally 0x-prefixed) of exactly ``size`` bytes, or a failed ``step``."""
    if not isinstance(value, str):
        raise StepFailed(step, f"{what} must be a hex string, got {type(value).__name__}")
    digits = value[2:] if value[:2].lower() == "0x" else value
    if (
        not _HEX.fullmatch(digits)
        or len(digits) % 2
        or (size is not None and len(digits) != 2 * size)
    ):
        expected = f"{2 * size} hex digits" if size else "hex digits"
        raise StepFailed(step, f"{what} must be {expected}, got {value[:80]!r}")
    return bytes.fromhex(digits)


def field_of(
    document: Any, key: str, kind: type | tuple[type, ...], where: str = "the file"
) -> Any:
    if not isinstance(document, dict):
        raise StepFailed("schema", f"{where} must be a JSON object")
    if key not in document:
        raise StepFailed("schema", f"{where} has no {key!r}")
    value = document[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise StepFailed("schema", f"{where}: {key!r} must be {names}, got {type(value).__name__}")
    return value


def decimal_text(value: Any, what: str, step: str = "schema") -> str:
    """A number written as a JSON string or JSON number, kept as its exact decimal text."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise StepFailed(step, f"{what} must be a decimal number, got {type(value).__name__}")
    text = value if isinstance(value, str) else str(value)
    try:
        number = Decimal(text)
    except InvalidOperation as error:
        raise StepFailed(step, f"{what} is not a decimal number: {text[:60]!r}") from error
    if not number.is_finite():
        raise StepFailed(step, f"{what} is not a finite number: {text[:60]!r}")
    return text


def units(value: Any, decimals: int, what: str, step: str = "amounts") -> int:
    """An exact non-negative decimal → integer smallest units (never rounded)."""
    text = decimal_text(value, what, step)
    if len(text) > 80:
        raise StepFailed(step, f"{what} is too long to be a balance: {text[:40]}...")
    number = Decimal(text)
    with localcontext() as context:
        context.prec = 200  # exact: the default 28 digits would round a long balance
        scaled = number.scaleb(decimals)
    if number < 0:
        raise StepFailed(step, f"{what} is negative: {text}")
    if scaled != scaled.to_integral_value():
        raise StepFailed(step, f"{what} has more than {decimals} decimal places: {text}")
    return int(scaled)
