"""The merkle sum tree: its canonical encoding and a streaming, level-by-level builder.

Encoding (format ``hashdesk-por/1``; the verifier and the browser page follow it to the byte):

- An amount is a non-negative integer in the asset's smallest unit: the decimal balance times
  ``10**decimals`` (``decimals`` per asset, 8 unless the manifest says otherwise). A balance with
  more fractional digits than its asset allows is refused, never rounded. Inside a hash every
  amount is 16 bytes, big-endian, unsigned; assets in the manifest's order.
- account hash = SHA-256(salt ‖ account id as UTF-8), the salt being 32 random bytes per build.
- leaf = SHA-256(0x00 ‖ account hash (32) ‖ nonce (16) ‖ amounts (16 × assets)).
- node = SHA-256(0x01 ‖ left hash (32) ‖ right hash (32) ‖ sums (16 × assets)), where each sum is
  the left child's plus the right child's (below 2**128).
- The 0x00/0x01 prefixes keep a leaf from ever passing for a node (second-preimage attacks).
- A level with an odd number of nodes promotes its last node unchanged to the next level; it is
  never duplicated, which would count its balances twice.

The builder cuts the leaves into chunks of a power of two (``build.py``): the subtree of such
an aligned chunk is the same whatever the leaves after it, so each chunk's levels are built in
memory by a worker and written in place into the level files (two a level: hashes; sums), and
only the chunks' roots are combined at the top. Memory stays flat whatever the number of
accounts.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
import numpy.typing as npt

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
NONCE_SIZE = 16
SALT_SIZE = 32
AMOUNT_SIZE = 16
MAX_SUM = 2**128 - 1

U64 = npt.NDArray[np.uint64]
Progress = Callable[[str, int, int], None]
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Asset:
    symbol: str
    decimals: int = 8


def account_hash(salt: bytes, account_id: str) -> bytes:
    return hashlib.sha256(salt + account_id.encode("utf-8")).digest()


def encode_amounts(amounts: Iterable[int]) -> bytes:
    return b"".join(amount.to_bytes(AMOUNT_SIZE, "big") for amount in amounts)


def leaf_hash(account: bytes, nonce: bytes, amounts: Iterable[int]) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + account + nonce + encode_amounts(amounts)).digest()


def node_hash(left: bytes, right: bytes, sums: Iterable[int]) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right + encode_amounts(sums)).digest()


def level_sizes(leaf_count: int) -> list[int]:
    """Nodes per level, leaves first, root last (an odd last node is promoted)."""
    sizes = [leaf_count]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def sibling_positions(index: int, leaf_count: int) -> list[tuple[int, str]]:
    """For the leaf at ``index``: per level with a sibling, (level, side of the sibling).

    A promoted node has no sibling at that level and adds no step to the path."""
    steps = []
    for level, size in enumerate(level_sizes(leaf_count)[:-1]):
        node = index >> level
        if node % 2 == 1:
            steps.append((level, "left"))
        elif node + 1 < size:
            steps.append((level, "right"))
    return steps


# --- hashing many records -------------------------------------------------------------------


def hash_records(buffer: bytes, size: int) -> bytes:
    """SHA-256 of each ``size``-byte record of ``buffer``, digests concatenated.

    A list comprehension over bytes slices: measured the fastest pure-Python form here (about
    1.4x the cost of hashing prepared inputs; ``map`` chains and memoryview slices are slower)."""
    sha256 = hashlib.sha256
    return b"".join([sha256(buffer[i : i + size]).digest() for i in range(0, len(buffer), size)])


def ordered_map(
    pool: ProcessPoolExecutor | None, work: Callable[[T], R], tasks: Iterable[T], in_flight: int
) -> Iterator[R]:
    """``map`` over a pool with at most ``in_flight`` tasks queued, results in order: the
    producer cannot run ahead and fill the memory with chunks waiting for a worker."""
    if pool is None:
        yield from map(work, tasks)
        return
    pending: deque[Future[R]] = deque()
    for task in tasks:
        pending.append(pool.submit(work, task))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def make_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes, or None to work in this process (``workers`` <= 1)."""
    if workers <= 1:
        return None
    # fork is cheap and the workers need nothing but the functions of this module.
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


# --- levels in memory -------------------------------------------------------------------------


@dataclass(frozen=True)
class Nodes:
    """Consecutive nodes of one level: ``hashes`` (n, 32) bytes, ``sums`` (n, assets, 2) as
    (high, low) uint64 words of each 128-bit sum."""

    hashes: npt.NDArray[np.uint8]
    sums: U64

    def __len__(self) -> int:
        return int(self.hashes.shape[0])

    @classmethod
    def leaves(cls, leaf_hashes: bytes, amounts: U64) -> Nodes:
        """Leaves from their digests and their (n, assets) amounts (each below 2**64)."""
        wide = np.zeros((*amounts.shape, 2), dtype=np.uint64)
        wide[:, :, 1] = amounts
        return cls(np.frombuffer(leaf_hashes, dtype=np.uint8).reshape(-1, HASH_SIZE), wide)

    @classmethod
    def join(cls, parts: list[Nodes]) -> Nodes:
        return cls(
            np.concatenate([part.hashes for part in parts]),
            np.concatenate([part.sums for part in parts]),
        )

    def parents(self) -> Nodes:
        """The next level up: pairs hashed together, an odd last node promoted unchanged."""
        paired = len(self) - len(self) % 2
        records, parent_sums = _node_preimages(self.hashes[:paired], self.sums[:paired])
        record_size = 1 + 2 * HASH_SIZE + self.sums.shape[1] * AMOUNT_SIZE
        hashes = np.frombuffer(hash_records(records, record_size), dtype=np.uint8)
        parents = Nodes(hashes.reshape(-1, HASH_SIZE), parent_sums)
        if paired == len(self):
            return parents
        return Nodes.join([parents, Nodes(self.hashes[paired:], self.sums[paired:])])

    def root_sums(self) -> list[int]:
        return [(int(high) << 64) | int(low) for high, low in self.sums[0]]


def write_nodes(folder: Path, level: int, first: int, nodes: Nodes) -> None:
    """Write ``nodes`` in place into the level's files, from node ``first`` on. The files are
    created when missing and never truncated, so chunks may be written in any order and by
    several processes at once (each writes its own byte range)."""
    hashes_size = HASH_SIZE
    sums_size = nodes.sums.shape[1] * 2 * 8
    sums = nodes.sums.tobytes()
    if level == 0:
        # Leaf amounts are kept as one uint64 per asset (they are below 2**64).
        sums_size //= 2
        sums = np.ascontiguousarray(nodes.sums[:, :, 1]).tobytes()
    write_at(folder / f"level-{level}.hashes", first * hashes_size, nodes.hashes.tobytes())
    write_at(folder / f"level-{level}.sums", first * sums_size, sums)


def write_at(path: Path, offset: int, data: bytes) -> None:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+b") as file:
        file.seek(offset)
        file.write(data)


# --- level files --------------------------------------------------------------------------


class LevelStore:
    """The tree's levels on disk: ``level-K.hashes`` (32 bytes a node) and ``level-K.sums``.

    Level 0 sums are the leaves' amounts, one uint64 per asset (a balance is below 2**64 units);
    higher levels keep 128-bit sums as (high, low) uint64 pairs. Native byte order: these files
    are private working files of one machine, not an exchange format."""

    def __init__(self, folder: Path, asset_count: int) -> None:
        self.folder = folder
        self.asset_count = asset_count
        self._open: dict[str, BinaryIO] = {}

    def read_bytes(self, name: str, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset`` of a file of the folder (kept open for many reads)."""
        if name not in self._open:
            self._open[name] = (self.folder / name).open("rb")
        file = self._open[name]
        file.seek(offset)
        return file.read(size)

    def close(self) -> None:
        for file in self._open.values():
            file.close()
        self._open.clear()

    def hashes_path(self, level: int) -> Path:
        return self.folder / f"level-{level}.hashes"

    def sums_path(self, level: int) -> Path:
        return self.folder / f"level-{level}.sums"

    def _sum_width(self, level: int) -> int:
        return self.asset_count if level == 0 else self.asset_count * 2

    def read_hashes(self, level: int, start: int, stop: int) -> npt.NDArray[np.uint8]:
        data = self.read_bytes(
            self.hashes_path(level).name, start * HASH_SIZE, (stop - start) * HASH_SIZE
        )
        return np.frombuffer(data, dtype=np.uint8).reshape(stop - start, HASH_SIZE)

    def read_sums(self, level: int, start: int, stop: int) -> U64:
        """Sums of nodes ``start:stop`` as an (n, assets, 2) array of (high, low) words."""
        width = self._sum_width(level)
        raw = self.read_bytes(
            self.sums_path(level).name, start * width * 8, (stop - start) * width * 8
        )
        data = np.frombuffer(raw, dtype=np.uint64)
        if level > 0:
            return data.reshape(stop - start, self.asset_count, 2)
        wide = np.zeros((stop - start, self.asset_count, 2), dtype=np.uint64)
        wide[:, :, 1] = data.reshape(stop - start, self.asset_count)
        return wide


def add_sums(left: U64, right: U64) -> U64:
    """128-bit addition of (high, low) pairs; raises OverflowError past 2**128."""
    low = left[..., 1] + right[..., 1]
    carry = (low < left[..., 1]).astype(np.uint64)
    high_sum = left[..., 0] + right[..., 0]
    high = high_sum + carry
    if bool(np.any(high_sum < left[..., 0])) or bool(np.any(high < high_sum)):
        raise OverflowError("a per-asset sum passes 2**128 smallest units")
    return np.stack([high, low], axis=-1)


def big_endian_amounts(sums: U64) -> npt.NDArray[np.uint8]:
    """(n, assets, 2) (high, low) words → (n, 16 × assets) bytes, the encoding inside hashes."""
    count = sums.shape[0]
    return sums.astype(">u8").view(np.uint8).reshape(count, -1)


def _node_preimages(hashes: npt.NDArray[np.uint8], sums: U64) -> tuple[bytes, U64]:
    """Preimages of the parents of an even number of children, and the parents' sums."""
    parent_sums = add_sums(sums[0::2], sums[1::2])
    count = parent_sums.shape[0]
    amount_bytes = big_endian_amounts(parent_sums)
    records = np.empty((count, 1 + 2 * HASH_SIZE + amount_bytes.shape[1]), dtype=np.uint8)
    records[:, 0] = NODE_PREFIX[0]
    records[:, 1 : 1 + HASH_SIZE] = hashes[0::2]
    records[:, 1 + HASH_SIZE : 1 + 2 * HASH_SIZE] = hashes[1::2]
    records[:, 1 + 2 * HASH_SIZE :] = amount_bytes
    return records.tobytes(), parent_sums


@dataclass(frozen=True)
class TreeTop:
    root_hash: bytes
    root_sums: list[int]
    depth: int


def exact_total(values: U64) -> int:
    """The exact sum of uint64 values, which may pass 2**64: the 32-bit halves are summed apart
    (each half-sum stays below 2**64 for up to 2**32 values)."""
    high = int(np.sum(values >> np.uint64(32), dtype=np.uint64))
    low = int(np.sum(values & np.uint64(0xFFFFFFFF), dtype=np.uint64))
    return (high << 32) + low
