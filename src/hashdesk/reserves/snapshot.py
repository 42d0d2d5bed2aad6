"""Reading a liabilities snapshot in blocks, checking it, and turning each block into leaves.

A snapshot is a CSV file whose header names the account column first and one column per asset:

    account,BTC,ETH,USDT
    u-1001,0.5,0,1200.25

(or a Parquet file with the same columns, read with ``pyarrow``; balances
there must be decimal or string columns: floats are refused because they are not exact).
An empty balance counts as zero. Refused, with the offending lines named: a negative, malformed
or too precise balance, an empty or duplicate account id, a row with the wrong number of cells.

The file is cut into chunks of a fixed number of lines (``iter_sources``); a worker reads and
parses its chunk (``parse_block``). A plain chunk (no quotes, every row complete, every balance
plain digits) is parsed by numpy over the raw bytes, a column of cells at a time; any other
chunk takes the careful path, which handles quoting and names each refused row. Both give the
same values for the rows the plain path accepts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashdesk.reserves.errors import RowProblem, SnapshotError
from hashdesk.reserves.tree import U64, Asset

PLAN_BYTES = 16 << 20  # read at a time while counting lines into chunks
MAX_PROBLEMS = 50
# Balances are kept below 10**19 smallest units so that a leaf amount fits a uint64 (the
# hash itself has room for 2**128); choose an asset's decimals so its largest balance fits.
MAX_DIGITS = 19
_POWERS = np.array([10**k for k in range(MAX_DIGITS + 1)], dtype=np.uint64)
# A value times 10**k stays below 10**19 (so within a uint64) when it is below _LIMITS[k].
_LIMITS = np.array([10 ** (MAX_DIGITS - k) for k in range(MAX_DIGITS + 1)], dtype=np.uint64)
_ACCUMULATE_LIMIT = np.uint64((2**64 - 1 - 9) // 10)
_DOT, _ZERO, _MINUS, _COMMA, _NEWLINE = ord("."), ord("0"), ord("-"), ord(","), ord("\n")


@dataclass(frozen=True)
class Header:
    account_column: str
    assets: list[str]


@dataclass(frozen=True)
class Block:
    """Whole lines of the snapshot (no header); ``first_line`` is the file line of the first."""

    data: bytes
    first_line: int


@dataclass(frozen=True)
class FileSpan:
    """``rows`` whole lines of a CSV file, at ``offset``; read by the worker that parses them."""

    path: Path
    offset: int
    size: int
    first_line: int
    rows: int
    end: int  # progress: bytes of the file read once this span is done

    def load(self) -> Block:
        with self.path.open("rb") as file:
            file.seek(self.offset)
            raw = file.read(self.size)
        cut = raw.rfind(b"\n") + 1
        body, tail = raw[:cut], raw[cut:]
        body = (body.replace(b"\r\n", b"\n") if b"\r" in body else body)[:-1]
        if tail.strip():  # a last line without a line end
            tail = tail.replace(b"\r", b"")
            body = body + b"\n" + tail if cut else tail
        return Block(body, self.first_line)


@dataclass(frozen=True)
class ParquetRows:
    """``rows`` rows of a Parquet file (an Arrow table), written as CSV lines by the worker
    that parses them, so that one parser serves both inputs."""

    table: Any
    first_line: int
    rows: int
    end: int  # progress: rows of the file read once these are done

    def load(self) -> Block:
        columns = [
            [_parquet_cell(value) for value in column.to_pylist()] for column in self.table.columns
        ]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(zip(*columns, strict=True))
        return Block(out.getvalue().encode("utf-8")[:-1], self.first_line)


Source = FileSpan | ParquetRows


@dataclass
class ParsedRows:
    ids: list[bytes]
    amounts: U64  # (rows, assets) in smallest units; 0 where a cell is refused
    problems: list[RowProblem] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------


def read_header(path: Path) -> Header:
    if path.suffix.lower() == ".parquet":
        return _parquet_header(path)
    with path.open("rb") as file:
        first = file.readline(1 << 16)
    try:
        names = next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")]))
    except (UnicodeDecodeError, StopIteration) as error:
        raise SnapshotError("{name}: line 1 is not a UTF-8 CSV header", name=path.name) from error
    names = [name.strip() for name in names]
    if len(names) < 2 or not all(names):
        raise SnapshotError(
            "{name}: the header must name the account column and at least one asset, got {header!r}",
            name=path.name,
            header=first[:200],
        )
    if len(set(names)) != len(names):
        raise SnapshotError(
            "{name}: the header names a column twice: {names}", name=path.name, names=names
        )
    return Header(names[0], names[1:])


def iter_sources(path: Path, rows_per_chunk: int) -> Iterator[Source]:
    """The data lines in chunks of exactly ``rows_per_chunk`` lines (the last one fewer)."""
    if path.suffix.lower() == ".parquet":
        yield from _parquet_blocks(path, rows_per_chunk)
        return
    with path.open("rb") as file:
        start = len(file.readline(1 << 16))
        line, rows, base, last_end = 2, 0, start, start
        while chunk := file.read(PLAN_BYTES):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _NEWLINE) + base + 1
            taken = 0
            while rows + len(ends) - taken >= rows_per_chunk:
                taken += rows_per_chunk - rows
                stop = int(ends[taken - 1])
                yield FileSpan(path, start, stop - start, line, rows_per_chunk, stop)
                line, rows, start = line + rows_per_chunk, 0, stop
            rows += len(ends) - taken
            base += len(chunk)
            last_end = int(ends[-1]) if len(ends) else last_end
        file.seek(last_end)
        if file.read(1 << 16).strip():  # a last line without a line end counts when not blank
            rows += 1
        if rows:
            yield FileSpan(path, start, base - start, line, rows, base)


def progress_total(path: Path) -> int:
    """What ``Source.end`` counts up to: the bytes of a CSV file, the rows of a Parquet file."""
    if path.suffix.lower() == ".parquet":
        return int(_pyarrow().ParquetFile(path).metadata.num_rows)
    return path.stat().st_size


# --- parsing one chunk (in a worker) ---------------------------------------------------------


def parse_block(block: Block, columns: list[int], decimals: list[int]) -> ParsedRows:
    """Account ids and amounts (in the manifest's order of ``columns``) of the block's rows,
    with the refused rows named."""
    plain = _parse_plain(block, columns, decimals)
    return plain if plain is not None else _parse_careful(block, columns, decimals)


def _parse_careful(block: Block, columns: list[int], decimals: list[int]) -> ParsedRows:
    rows, problems = _split_rows(block, len(columns) + 1)
    problems += _not_utf8(block)
    ids = rows[0]
    flagged = {problem.line - block.first_line for problem in problems}
    for offset, account in enumerate(ids):
        if not account and offset not in flagged:
            problems.append(_problem(block, offset, b"", "empty account id"))
    amounts = np.zeros((len(ids), len(columns)), dtype=np.uint64)
    for slot, (column, places) in enumerate(zip(columns, decimals, strict=True)):
        values, bad = parse_amounts(rows[column], places)
        amounts[:, slot] = values
        for offset, reason in bad:
            cell = _cell(rows[column][offset])
            problems.append(_problem(block, offset, ids[offset], f"{reason} ({cell})"))
    problems.sort(key=lambda problem: problem.line)
    return ParsedRows(ids, amounts, problems)


def _parse_plain(block: Block, columns: list[int], decimals: list[int]) -> ParsedRows | None:
    """The fast path, or None when the block needs the careful one: a quote, a NUL, text that
    is not UTF-8, a row of the wrong width (blank lines included), an empty account id, or a
    balance that is not plain digits with at most one dot, or might not fit (see
    ``_plain_amounts``)."""
    data = block.data
    if not data or b'"' in data or b"\x00" in data or not (data.isascii() or _is_utf8(data)):
        return None
    width = len(columns) + 1
    raw = np.frombuffer(data, dtype=np.uint8)
    rows = data.count(b"\n") + 1
    separators = np.flatnonzero((raw == _COMMA) | (raw == _NEWLINE))
    if len(separators) != rows * width - 1:
        return None
    ends = np.append(separators, len(data)).reshape(rows, width)
    # With the count right, rows - 1 line ends at the end of each row leave only commas inside.
    if not bool(np.all(raw[ends[:-1, -1]] == _NEWLINE)):
        return None
    starts = np.empty_like(ends)
    starts.ravel()[0] = 0
    starts.ravel()[1:] = ends.ravel()[:-1] + 1
    if bool(np.any(ends[:, 0] == starts[:, 0])):
        return None
    dots = np.append(np.flatnonzero(raw == _DOT), len(data))
    padded = np.append(raw, np.uint8(_ZERO))
    amounts = np.empty((rows, len(columns)), dtype=np.uint64)
    for slot, (column, places) in enumerate(zip(columns, decimals, strict=True)):
        values = _plain_amounts(padded, starts[:, column], ends[:, column], places, dots)
        if values is None:
            return None
        amounts[:, slot] = values
    return ParsedRows(_plain_ids(raw, starts), amounts)


def _plain_ids(raw: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp]) -> list[bytes]:
    """The account ids (each cell ends at a comma): their bytes gathered by numpy into one
    "id\\n" blob, split in C; several times cheaper than slicing each out in Python."""
    sizes = starts[:, 1] - starts[:, 0]  # the id and its comma
    stops = np.cumsum(sizes)
    positions = np.arange(int(stops[-1])) + np.repeat(starts[:, 0] - (stops - sizes), sizes)
    blob = raw[positions]
    blob[stops - 1] = _NEWLINE
    ids: list[bytes] = blob.tobytes()[:-1].split(b"\n")
    return ids


def _plain_amounts(
    padded: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
    decimals: int,
    dots: npt.NDArray[np.intp],
) -> U64 | None:
    """Cells ``starts:ends`` → smallest units, or None unless every cell is plain: digits with
    at most one dot, at most ``decimals`` after it, and at most 19 digits in all once padded
    (so the value stays below 10**19 and the uint64 arithmetic cannot wrap).

    ``padded``: the block's bytes and a last "0", read for the digits a cell does not have.
    ``dots``: the positions of every "." in the block and, last, the block's length."""
    dot = dots[np.searchsorted(dots, starts)]  # the first dot at or after each cell's start
    has_dot = dot < ends
    integer_ends = np.where(has_dot, dot, ends)
    integer_digits = integer_ends - starts
    fraction_digits = np.where(has_dot, ends - dot - 1, 0)
    longest = int(integer_digits.max())
    if int(fraction_digits.max()) > decimals or longest + decimals > MAX_DIGITS:
        return None
    if bool(np.any(has_dot & (integer_digits + fraction_digits == 0))):
        return None  # a lone "."
    zero = len(padded) - 1
    value = np.zeros(len(starts), dtype=np.uint64)
    worst = np.zeros(len(starts), dtype=np.uint8)
    ten = np.uint64(10)
    # Most significant first: integer digits right-aligned (missing ones read the "0"), then
    # the fraction's digits left-aligned (missing ones are trailing zeros).
    places = [np.where(integer_digits >= back, integer_ends - back, zero) for back in range(longest, 0, -1)]  # fmt: skip
    places += [np.where(fraction_digits > place, dot + (1 + place), zero) for place in range(decimals)]  # fmt: skip
    for place in places:
        digit = padded[place] - np.uint8(_ZERO)  # anything below "0" wraps around above 9
        np.maximum(worst, digit, out=worst)
        value *= ten
        value += digit
    return value if int(worst.max()) <= 9 else None


def _not_utf8(block: Block) -> list[RowProblem]:
    try:
        block.data.decode("utf-8")
    except UnicodeDecodeError:
        lines = block.data.split(b"\n")
        return [
            _problem(block, offset, b"", "not UTF-8 text")
            for offset, line in enumerate(lines)
            if not _is_utf8(line)
        ]
    return []


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split_rows(block: Block, width: int) -> tuple[list[list[bytes]], list[RowProblem]]:
    """Columns of the block's lines. Plain lines are split by bytes.split (fast); a block with a
    quote goes through the csv module. Blank lines and rows of the wrong width are refused."""
    data = block.data
    lines = data.split(b"\n")
    problems = [
        _problem(block, offset, b"", "blank line")
        for offset, line in enumerate(lines)
        if not line.strip()
    ]
    problems += (
        [
            _problem(block, offset, b"", "a NUL byte")
            for offset, line in enumerate(lines)
            if b"\x00" in line
        ]
        if b"\x00" in data
        else []
    )
    if b'"' in data:
        cells = _quoted_cells(lines)
    else:
        flat = data.replace(b"\n", b",").split(b",")
        if len(flat) == len(lines) * width:
            return [flat[column::width] for column in range(width)], problems
        cells = [line.split(b",") for line in lines]
    for offset, row in enumerate(cells):
        if len(row) != width and lines[offset].strip():
            account = row[0] if row else b""
            problems.append(
                _problem(block, offset, account, f"{len(row)} cells, the header has {width}")
            )
            cells[offset] = [account, *([b""] * (width - 1))]
        elif len(row) != width:
            cells[offset] = [b"", *([b"0"] * (width - 1))]
    return [list(column) for column in zip(*cells, strict=True)], problems


def _quoted_cells(lines: Sequence[bytes]) -> list[list[bytes]]:
    text = [line.decode("utf-8", "replace") for line in lines]
    # One record per line: a quoted cell may hold a comma but not a line break.
    return [[cell.encode("utf-8") for cell in next(csv.reader([line]), [])] for line in text]


def _problem(block: Block, offset: int, account: bytes, problem: str) -> RowProblem:
    return RowProblem(block.first_line + offset, account.decode("utf-8", "replace")[:80], problem)


def _cell(value: bytes) -> str:
    return repr(value.decode("utf-8", "replace")[:40])


def parse_amounts(cells: Sequence[bytes], decimals: int) -> tuple[U64, list[tuple[int, str]]]:
    """Decimal strings → integers in smallest units, a column at a time.

    One pass per character position: the digits, the dot ignored, accumulate into an integer,
    which is then scaled by the missing fractional places. Returns the values (0 where refused)
    and the (offset, reason) of each refused cell."""
    count = len(cells)
    if count == 0:
        return np.zeros(0, dtype=np.uint64), []
    text = np.array(cells, dtype=bytes)
    width = max(text.dtype.itemsize, 1)
    columns = np.ascontiguousarray(text.view(np.uint8).reshape(count, width).T)
    value = np.zeros(count, dtype=np.uint64)
    digits = np.zeros(count, dtype=np.int32)
    fraction = np.zeros(count, dtype=np.int32)
    dots = np.zeros(count, dtype=np.int32)
    malformed = np.zeros(count, dtype=bool)
    overflow = np.zeros(count, dtype=bool)
    ten = np.uint64(10)
    for chars in columns:
        digit = chars - np.uint8(_ZERO)  # wraps around for anything below "0"
        is_digit = digit < 10
        is_dot = chars == _DOT
        malformed |= ~is_digit & ~is_dot & (chars != 0)  # NUL is numpy's padding
        overflow |= is_digit & (value > _ACCUMULATE_LIMIT)
        value = np.where(is_digit, value * ten + digit, value)
        digits += is_digit
        fraction += is_digit & (dots > 0)
        dots += is_dot
    malformed |= (dots > 1) | ((dots == 1) & (digits == 0))
    too_precise = fraction > decimals
    scale = np.clip(decimals - fraction, 0, MAX_DIGITS)
    overflow |= value >= _LIMITS[scale]
    bad = malformed | too_precise | overflow
    total = np.where(bad, np.uint64(0), value * _POWERS[scale])
    negative = columns[0] == _MINUS
    return total, _reasons(negative, malformed, too_precise, overflow, decimals)


def _reasons(
    negative: npt.NDArray[np.bool_],
    malformed: npt.NDArray[np.bool_],
    too_precise: npt.NDArray[np.bool_],
    too_large: npt.NDArray[np.bool_],
    decimals: int,
) -> list[tuple[int, str]]:
    reasons: list[tuple[int, str]] = []
    for offset in np.flatnonzero(malformed | too_precise | too_large):
        if negative[offset]:
            reason = "negative balance"
        elif malformed[offset]:
            reason = "not a decimal number"
        elif too_precise[offset]:
            reason = f"more than {decimals} decimal places"
        else:
            reason = f"balance of 10**{MAX_DIGITS} smallest units or more"
        reasons.append((int(offset), reason))
    return reasons


def check_assets(header: Header, assets: list[Asset], source: str) -> list[int]:
    """The snapshot column of each asset (the manifest's order), or a SnapshotError."""
    missing = [asset.symbol for asset in assets if asset.symbol not in header.assets]
    extra = [name for name in header.assets if name not in {asset.symbol for asset in assets}]
    if missing or extra:
        raise SnapshotError(
            "{name}: the snapshot's asset columns {columns} do not match the manifest's assets "
            "{assets} (missing: {missing}, not in the manifest: {extra})",
            name=source,
            columns=header.assets,
            assets=[asset.symbol for asset in assets],
            missing=missing,
            extra=extra,
        )
    return [header.assets.index(asset.symbol) + 1 for asset in assets]


# --- Parquet (optional) -------------------------------------------------------------------


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as parquet  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as error:
        raise SnapshotError(
            "Reading Parquet needs the optional package pyarrow (pip install pyarrow); "
            "or export the snapshot as CSV."
        ) from error
    return parquet


def _parquet_header(path: Path) -> Header:
    schema = _pyarrow().read_schema(path)
    names = list(schema.names)
    for name in names[1:]:
        kind = str(schema.field(name).type)
        if kind.startswith(("float", "double", "halffloat")):
            raise SnapshotError(
                "{file}: column {column!r} holds floating-point numbers ({kind}), which are not "
                "exact: store balances as decimal or string columns",
                file=path.name,
                column=name,
                kind=kind,
            )
    if len(names) < 2:
        raise SnapshotError(
            "{name}: needs an account column and at least one asset column", name=path.name
        )
    return Header(names[0], names[1:])


def _parquet_blocks(path: Path, rows_per_chunk: int) -> Iterator[ParquetRows]:
    """Parquet rows, ``rows_per_chunk`` at a time (converted in the workers)."""
    parquet = _pyarrow().ParquetFile(path)
    line = 2
    batches = parquet.iter_batches(batch_size=rows_per_chunk)
    for table in _exact_batches(batches, rows_per_chunk):
        yield ParquetRows(table, line, table.num_rows, line - 2 + table.num_rows)
        line += table.num_rows


def _exact_batches(batches: Iterator[Any], size: int) -> Iterator[Any]:
    """Tables of exactly ``size`` rows (the last one fewer) from record batches of any size."""
    import pyarrow  # type: ignore[import-not-found,import-untyped,unused-ignore]

    pending: list[Any] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= size:
            table = pyarrow.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pyarrow.Table.from_batches(pending)


def _parquet_cell(value: Any) -> str:
    if value is None:
        return ""
    # str(Decimal("1E-8")) keeps the exponent; the parser wants plain positional digits.
    return format(value, "f") if isinstance(value, Decimal) else str(value)
