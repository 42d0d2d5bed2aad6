"""One chunk of the snapshot, in a worker: its rows parsed, its leaves hashed and its subtree
built, all written in place into the private tree files.

A chunk holds ``2**k`` consecutive leaves starting at a multiple of ``2**k`` (the last chunk
may hold fewer). Such an aligned subtree is the same in the whole tree as on its own: at each
level its nodes pair among themselves, and only the last chunk can have an odd node out, which
is also the last node of that level in the whole tree. So each chunk's levels 0..k are final
as soon as the chunk is built, and the build only has to combine the chunks' roots above
level ``k`` (``build.py``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashdesk.reserves.errors import RowProblem
from hashdesk.reserves.snapshot import MAX_PROBLEMS, Source, parse_block
from hashdesk.reserves.tree import (
    AMOUNT_SIZE,
    HASH_SIZE,
    LEAF_PREFIX,
    NONCE_SIZE,
    U64,
    Nodes,
    exact_total,
    hash_records,
    write_at,
    write_nodes,
)


@dataclass(frozen=True)
class ChunkTask:
    number: int
    source: Source
    columns: list[int]  # snapshot column of each asset, in the manifest's order
    decimals: list[int]
    salt: bytes
    folder: Path  # the private tree folder
    levels: int  # k: the chunk holds 2**k leaves


@dataclass
class ChunkResult:
    number: int
    count: int
    ids: bytes  # account ids, one per line (``ids.txt``)
    prefixes: bytes  # the first 8 bytes of each account hash (the duplicate check sorts them)
    totals: list[int]
    top_level: int  # the level of the chunk's root: k, or lower for a short last chunk
    top: Nodes  # the chunk's root
    end: int  # progress mark of the source
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0


def build_chunk(task: ChunkTask) -> ChunkResult:
    rows = parse_block(task.source.load(), task.columns, task.decimals)
    count = len(rows.ids)
    first = task.number << task.levels
    salt, sha256 = task.salt, hashlib.sha256
    account_hashes = b"".join([sha256(salt + account).digest() for account in rows.ids])
    nonces = secrets.token_bytes(NONCE_SIZE * count)
    leaf_hashes = hash_records(
        leaf_preimages(account_hashes, nonces, rows.amounts), leaf_size(len(task.columns))
    )
    write_at(task.folder / "accounts.bin", first * HASH_SIZE, account_hashes)
    write_at(task.folder / "nonces.bin", first * NONCE_SIZE, nonces)
    nodes, level = Nodes.leaves(leaf_hashes, rows.amounts), 0
    write_nodes(task.folder, 0, first, nodes)
    while len(nodes) > 1 and level < task.levels:
        nodes, level = nodes.parents(), level + 1
        write_nodes(task.folder, level, first >> level, nodes)
    return ChunkResult(
        number=task.number,
        count=count,
        ids=b"\n".join(rows.ids) + b"\n",
        prefixes=np.frombuffer(account_hashes, np.uint8).reshape(-1, HASH_SIZE)[:, :8].tobytes(),
        totals=[exact_total(rows.amounts[:, slot]) for slot in range(len(task.columns))],
        top_level=level,
        top=nodes,
        end=task.source.end,
        problems=rows.problems[:MAX_PROBLEMS],
        problem_count=len(rows.problems),
    )


def leaf_size(asset_count: int) -> int:
    return 1 + HASH_SIZE + NONCE_SIZE + AMOUNT_SIZE * asset_count


def leaf_preimages(account_hashes: bytes, nonces: bytes, amounts: U64) -> bytes:
    """The leaf preimages of a chunk, one fixed-width record a row (see ``tree.py``)."""
    count, asset_count = amounts.shape
    records = np.zeros((count, leaf_size(asset_count)), dtype=np.uint8)
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
