"""Reading the files support is handed: JSON objects and CSV exports, with errors that name the
file, the row and the column, so an agent can fix the export instead of reading a traceback.

CSV conventions shared by the explainer and the price checks:

* the first line is a header; column names are matched case-insensitively, and a few common
  spellings are accepted (``aliases``);
* rows are numbered as a spreadsheet shows them: the header is row 1;
* times are milliseconds since 1970 (UTC), or ISO 8601 (``2026-03-01T08:00:00.250Z``); an
  ISO time without an offset is read as UTC, as exchanges write their logs. An integer below
  10^11 would be a date in 1973 as milliseconds: it is refused as probably seconds;
* numbers are decimal strings and stay exact (``Decimal``); never NaN or infinity.
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hashdesk.core.errors import InvalidInput
from hashdesk.core.i18n import gettext_for
from hashdesk.futures.margin import plain

_SMALLEST_MS = 10**11  # 1973-03-03 in milliseconds; smaller integers are seconds


class FuturesFileError(InvalidInput):
    """A file that cannot be used; ``field`` is ``file:row:column`` where known."""


def file_error(message: str, *, file: Path, row: int | None = None,
               column: str | None = None, **params: Any) -> FuturesFileError:  # fmt: skip
    location = ":".join(str(part) for part in (file.name, row, column) if part is not None)
    return FuturesFileError(message, field=location, file=file.name, row=row, column=column,
                            **params)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One CSV row: its cells by canonical column name, and where it came from."""

    file: Path
    number: int
    cells: Mapping[str, str]

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def required(self, column: str) -> str:
        value = self.text(column)
        if not value:
            raise file_error(
                "{file}, row {row}, column {column}: the value is missing.",
                file=self.file, row=self.number, column=column,
            )  # fmt: skip
        return value

    def decimal(self, column: str, *, positive: bool = False) -> Decimal:
        value = self.required(column)
        number = to_decimal(value)
        if number is None:
            raise file_error(
                "{file}, row {row}, column {column}: {value} is not a number.",
                file=self.file, row=self.number, column=column, value=value,
            )  # fmt: skip
        if positive and number <= 0:
            raise file_error(
                "{file}, row {row}, column {column}: {value} must be above zero.",
                file=self.file, row=self.number, column=column, value=value,
            )  # fmt: skip
        return number

    def time_ms(self, column: str) -> int:
        value = self.required(column)
        try:
            return parse_time(value)
        except SecondsNotMilliseconds as error:
            raise file_error(
                "{file}, row {row}, column {column}: {value} looks like seconds; give "
                "milliseconds since 1970.",
                file=self.file, row=self.number, column=column, value=value,
            ) from error  # fmt: skip
        except ValueError as error:
            raise file_error(
                "{file}, row {row}, column {column}: {value} is not a time (milliseconds "
                "since 1970, or ISO 8601 such as 2026-03-01T08:00:00.250Z).",
                file=self.file, row=self.number, column=column, value=value,
            ) from error  # fmt: skip


def read_csv(
    path: Path, required: Sequence[str], aliases: Mapping[str, str] | None = None
) -> list[Row]:
    """The rows of ``path`` with every ``required`` column present in the header. ``aliases``
    maps other spellings (lower case) to canonical column names."""
    names = dict(aliases or {})
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return list(_rows(path, csv.reader(handle), required, names))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise file_error("{file}: cannot read it ({error}).", file=path, error=error) from error


def _rows(
    path: Path, reader: Iterator[list[str]], required: Sequence[str], aliases: dict[str, str]
) -> Iterator[Row]:
    header = next(reader, None)
    if not header:
        raise file_error("{file}: the file is empty; it needs a header row.", file=path)
    columns = [_canonical(name, aliases) for name in header]
    for column in required:
        if column not in columns:
            raise file_error(
                "{file}, row 1: the header has no {column} column (it has {columns}).",
                file=path, row=1, column=column, columns=", ".join(header),
            )  # fmt: skip
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, often at the end of an export
        if len(cells) != len(columns):
            raise file_error(
                "{file}, row {row}: {count} cells but the header has {expected}.",
                file=path, row=number, count=len(cells), expected=len(columns),
            )  # fmt: skip
        yield Row(path, number, dict(zip(columns, cells, strict=True)))


def _canonical(name: str, aliases: Mapping[str, str]) -> str:
    lowered = name.strip().lower()
    return aliases.get(lowered, lowered)


def read_json_object(path: Path) -> dict[str, Any]:
    """One JSON object; numbers are read as exact decimals."""
    try:
        data = json.loads(path.read_text("utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as error:
        raise file_error("{file}: cannot read it ({error}).", file=path, error=error) from error
    except ValueError as error:
        raise file_error("{file}: not JSON ({error}).", file=path, error=error) from error
    if not isinstance(data, dict):
        raise file_error("{file}: must hold one JSON object.", file=path)
    return data


# --- values --------------------------------------------------------------------------------


def to_decimal(value: str) -> Decimal | None:
    """A finite decimal from its text, or None."""
    try:
        number = Decimal(value.strip().replace("_", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_time(value: str | int) -> int:
    """Milliseconds since 1970 (UTC) from an integer of milliseconds or an ISO 8601 time."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _checked_ms(value)
    text = str(value).strip()
    if text.isdigit():
        return _checked_ms(int(text))
    try:
        moment = datetime.fromisoformat(text.replace(" UTC", "").replace("z", "Z"))
    except ValueError:
        raise ValueError("milliseconds since 1970 or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # exchange logs are in UTC
    return round(moment.timestamp() * 1000)


class SecondsNotMilliseconds(ValueError):
    """An integer time too small to be milliseconds of a recent date."""


def _checked_ms(value: int) -> int:
    if value < _SMALLEST_MS:
        raise SecondsNotMilliseconds(value)
    return value


def format_time(time_ms: int) -> str:
    """``2026-03-01 08:00:00.250 UTC``: what support reads and the trader's app shows."""
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{time_ms % 1000:03d} UTC"


def shown(value: Decimal, digits: int = 8) -> str:
    """A figure for a sentence: ``digits`` significant digits, plain (the JSON keeps all)."""
    if value == 0:
        return "0"
    exponent = value.adjusted() - digits + 1
    return plain(value.quantize(Decimal(1).scaleb(exponent)))


def normalise_symbol(symbol: str) -> str:
    """One spelling for a perpetual across venues: ``BTC-USDT-SWAP``, ``btc_usdt``,
    ``BTC/USDT:USDT`` and ``BTCUSDT`` are all ``BTCUSDT``."""
    text = symbol.upper().split(":", 1)[0]
    letters = "".join(character for character in text if character.isalnum())
    for suffix in ("PERPETUAL", "PERP", "SWAP"):
        if letters.endswith(suffix) and len(letters) > len(suffix):
            return letters.removesuffix(suffix)
    return letters


# --- sentences ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """One sentence of an explanation: an English template marked with ``N_`` (so the catalogs
    carry it) and its parameters, already formatted. Rendered in the reader's locale."""

    template: str
    params: Mapping[str, str]

    def render(self, translate: Callable[[str], str]) -> str:
        try:
            return translate(self.template).format(**self.params)
        except (KeyError, IndexError, ValueError):
            # A translation that names a parameter the template lacks: the English is right.
            return self.template.format(**self.params)


def render_sentences(sentences: Sequence[Sentence], locale: str) -> list[str]:
    translate = gettext_for(locale).gettext
    return [sentence.render(translate) for sentence in sentences]


# --- results as JSON -------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Results as JSON: decimals as plain strings (exact), enums as their values, dataclasses
    as objects."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseModel):
        return {name: jsonable(getattr(value, name)) for name in type(value).model_fields}
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: jsonable(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value
