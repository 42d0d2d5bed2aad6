"""Reading a liabilities snapshot in blocks, checking it, and turning each block into leaves.

A snapshot is a CSV file whose header names the account column first and one column per asset:

    account,BTC,ETH,USDT
    u-1001,0.5,0,1200.25

(or a Parquet file with the same columns, read with ``pyarrow``; balances
there must be decimal or string columns: floats are refused because they are not exact).
An empty balance counts as zero. Refused, with the offending lines named: a negative, malformed
or too precise balance, an empty or duplicate account id, a row with the wrong number of cells.

The file is read in blocks of whole lines; each block is parsed and hashed by a worker
process (numpy turns the decimal strings into integers a column at a time).
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashdesk.reserves.errors import RowProblem, SnapshotError
from hashdesk.reserves.tree import (
    AMOUNT_SIZE,
    HASH_SIZE,
    LEAF_PREFIX,
    NONCE_SIZE,
    U64,
    Asset,
    exact_total,
    hash_records,
)

BLOCK_BYTES = 4 << 20
MAX_PROBLEMS = 50
# Balances are kept below 10**19 smallest units so that a leaf amount fits a uint64 (the
# hash itself has room for 2**128); choose an asset's decimals so its largest balance fits.
MAX_DIGITS = 19
_POWERS = np.array([10**k for k in range(MAX_DIGITS + 1)], dtype=np.uint64)
# A value times 10**k stays below 10**19 (so within a uint64) when it is below _LIMITS[k].
_LIMITS = np.array([10 ** (MAX_DIGITS - k) for k in range(MAX_DIGITS + 1)], dtype=np.uint64)
_ACCUMULATE_LIMIT = np.uint64((2**64 - 1 - 9) // 10)
_DOT, _ZERO, _MINUS = ord("."), ord("0"), ord("-")


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
class LeafTask:
    block: Block
    columns: list[int]  # snapshot column of each asset, in the manifest's order
    decimals: list[int]
    salt: bytes


@dataclass
class LeafBatch:
    count: int
    ids: bytes  # account ids, one per line
    account_hashes: bytes
    nonces: bytes
    amounts: U64  # (count, assets)
    leaf_hashes: bytes
    totals: list[int]
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0


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


def iter_blocks(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """The data lines in blocks of whole lines (CRLF turned into LF)."""
    if path.suffix.lower() == ".parquet":
        yield from _parquet_blocks(path)
        return
    with path.open("rb") as file:
        file.readline(1 << 16)
        line, carry = 2, b""
        while chunk := file.read(block_bytes):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                block = data[:cut].replace(b"\r\n", b"\n")
                yield Block(block[:-1], line)
                line += block.count(b"\n")
        if carry.strip():
            yield Block(carry.replace(b"\r", b""), line)


def snapshot_size(path: Path) -> int:
    return path.stat().st_size


# --- parsing and hashing one block (in a worker) ------------------------------------------


def hash_leaf_block(task: LeafTask) -> LeafBatch:
    rows, problems = _split_rows(task.block, len(task.columns) + 1)
    problems += _not_utf8(task.block)
    count = len(rows[0]) if rows else 0
    ids = rows[0] if rows else []
    flagged = {problem.line - task.block.first_line for problem in problems}
    for offset, account in enumerate(ids):
        if not account and offset not in flagged:
            problems.append(_problem(task.block, offset, b"", "empty account id"))
    amounts = np.zeros((count, len(task.columns)), dtype=np.uint64)
    for slot, (column, decimals) in enumerate(zip(task.columns, task.decimals, strict=True)):
        values, bad = parse_amounts(rows[column] if rows else [], decimals)
        amounts[:, slot] = values
        for offset, reason in bad:
            problems.append(
                _problem(
                    task.block, offset, ids[offset], f"{reason} ({_cell(rows[column][offset])})"
                )
            )
    base = hashlib.sha256(task.salt)
    account_hashes = bytearray()
    for account in ids:
        digest = base.copy()
        digest.update(account)
        account_hashes += digest.digest()
    nonces = secrets.token_bytes(NONCE_SIZE * count)
    leaf_hashes = hash_records(
        _leaf_preimages(bytes(account_hashes), nonces, amounts), _leaf_size(len(task.columns))
    )
    problems.sort(key=lambda problem: problem.line)
    return LeafBatch(
        count=count,
        ids=b"".join(account + b"\n" for account in ids),
        account_hashes=bytes(account_hashes),
        nonces=nonces,
        amounts=amounts,
        leaf_hashes=leaf_hashes,
        totals=[exact_total(amounts[:, slot]) for slot in range(amounts.shape[1])],
        problems=problems[:MAX_PROBLEMS],
        problem_count=len(problems),
    )


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


def _leaf_size(asset_count: int) -> int:
    return 1 + HASH_SIZE + NONCE_SIZE + AMOUNT_SIZE * asset_count


def _leaf_preimages(account_hashes: bytes, nonces: bytes, amounts: U64) -> bytes:
    count, asset_count = amounts.shape
    records = np.zeros((count, _leaf_size(asset_count)), dtype=np.uint8)
    records[:, 0] = LEAF_PREFIX[0]
    records[:, 1 : 1 + HASH_SIZE] = np.frombuffer(account_hashes, np.uint8).reshape(
        count, HASH_SIZE
    )
    start = 1 + HASH_SIZE
    records[:, start : start + NONCE_SIZE] = np.frombuffer(nonces, np.uint8).reshape(
        count, NONCE_SIZE
    )
    start += NONCE_SIZE
    big_endian = amounts.astype(">u8").view(np.uint8).reshape(count, asset_count, 8)
    for slot in range(asset_count):
        # The high 8 bytes of each 16-byte amount stay zero: a leaf amount is below 2**64.
        offset = start + slot * AMOUNT_SIZE + 8
        records[:, offset : offset + 8] = big_endian[:, slot]
    return records.tobytes()


def _split_rows(block: Block, width: int) -> tuple[list[list[bytes]], list[RowProblem]]:
    """Columns of the block's lines. Plain lines are split by bytes.split (fast); a block with a
    quote goes through the csv module. Blank lines and rows of the wrong width are refused."""
    data = block.data
    if not data:
        return [], []
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


def _parquet_blocks(path: Path) -> Iterator[Block]:
    """Parquet record batches re-encoded as CSV lines, so one parser serves both inputs."""
    line = 2
    for batch in _pyarrow().ParquetFile(path).iter_batches(batch_size=65536):
        columns = [
            [_parquet_cell(value) for value in column.to_pylist()] for column in batch.columns
        ]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(zip(*columns, strict=True))
        data = out.getvalue().encode("utf-8")
        yield Block(data[:-1], line)
        line += batch.num_rows


def _parquet_cell(value: Any) -> str:
    if value is None:
        return ""
    # str(Decimal("1E-8")) keeps the exponent; the parser wants plain positional digits.
    return format(value, "f") if isinstance(value, Decimal) else str(value)
