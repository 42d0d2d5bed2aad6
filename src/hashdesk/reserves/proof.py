"""The published files (root, manifest) and the per-account proof files.

A proof file (``"format": "hashdesk-por/1"``):

    {
      "format": "hashdesk-por/1",
      "assets": [{"symbol": "BTC", "decimals": 8}, ...],        order = order inside every hash
      "account": {"id": "u-1001", "salt": hex, "hash": hex},   hash = SHA-256(salt ‖ id)
      "nonce": hex (16 bytes),
      "balances": {"BTC": "0.50000000", ...},                  decimals, exact
      "leaf": {"index": 5, "count": 1000, "hash": hex},
      "path": [{"position": "left"|"right", "hash": hex, "sums": {"BTC": "..."}}, ...],
      "root": {"hash": hex, "sums": {"BTC": "...", ...}}
    }

``position`` is the side the sibling sits on; the path runs from the leaf up to the root.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hashdesk.reserves.tree import (
    HASH_SIZE,
    NONCE_SIZE,
    Asset,
    LevelStore,
    Progress,
    level_sizes,
    make_pool,
    ordered_map,
    sibling_positions,
)

if TYPE_CHECKING:
    from hashdesk.reserves.build import Manifest

FORMAT = "hashdesk-por/1"
GROUP_SPAN = 4096  # leaves whose proofs are written from one read of each level


def format_amount(units: int, decimals: int) -> str:
    """Smallest units → the canonical decimal string (always ``decimals`` fractional digits)."""
    if decimals == 0:
        return str(units)
    whole, fraction = divmod(units, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}"


def proof_path(out: Path, account_hash: bytes) -> Path:
    name = account_hash.hex()
    return out / "proofs" / name[:2] / f"{name}.json"


def write_publication(
    out: Path,
    manifest: Manifest,
    root_hash: bytes,
    totals: dict[str, str],
    leaf_count: int,
    depth: int,
    source: str,
) -> None:
    from hashdesk.reserves.build import build_time

    assets = [{"symbol": asset.symbol, "decimals": asset.decimals} for asset in manifest.assets]
    root = {
        "format": FORMAT,
        "hash": root_hash.hex(),
        "totals": totals,
        "leaf_count": leaf_count,
        "depth": depth,
    }
    published = {
        "format": FORMAT,
        "snapshot_time": manifest.snapshot_time,
        "block_heights": manifest.block_heights,
        "assets": assets,
        "root": root_hash.hex(),
        "leaf_count": leaf_count,
        "snapshot_file": source,
        "built_at": build_time(),
    }
    _write_json(out / "root.json", root)
    _write_json(out / "manifest.json", published)


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


class TreeReader:
    """Random and ranged access to a built folder's private files."""

    def __init__(self, out: Path) -> None:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        root = json.loads((out / "root.json").read_text(encoding="utf-8"))
        self.out = out
        self.assets = [Asset(item["symbol"], item["decimals"]) for item in manifest["assets"]]
        self.leaf_count = int(root["leaf_count"])
        self.root = root
        self.folder = out / "private" / "tree"
        self.salt = bytes.fromhex(
            (out / "private" / "salt.hex").read_text(encoding="ascii").strip()
        )
        self.store = LevelStore(self.folder, len(self.assets))
        self.sizes = level_sizes(self.leaf_count)
        # Mapped, not read: 80 MB at 10 million accounts, in each process that writes proofs.
        self.offsets = np.memmap(self.folder / "ids.offsets", dtype=np.uint64, mode="r")

    def _slice(self, name: str, width: int, start: int, stop: int) -> bytes:
        return self.store.read_bytes(name, start * width, (stop - start) * width)

    def ids(self, start: int, stop: int) -> list[str]:
        first, last = int(self.offsets[start]), int(self.offsets[stop])
        return (
            self.store.read_bytes("ids.txt", first, last - first).decode("utf-8").split("\n")[:-1]
        )

    def close(self) -> None:
        self.store.close()

    def proofs(self, start: int, stop: int, wanted: Iterable[int]) -> Iterator[dict[str, Any]]:
        """Proof documents of the ``wanted`` leaves, all inside ``start:stop``."""
        ids = self.ids(start, stop)
        accounts = self._slice("accounts.bin", HASH_SIZE, start, stop)
        nonces = self._slice("nonces.bin", NONCE_SIZE, start, stop)
        levels = _LevelWindow(self, start, stop)
        assets = [{"symbol": asset.symbol, "decimals": asset.decimals} for asset in self.assets]
        root = {"hash": self.root["hash"], "sums": self.root["totals"]}
        for index in wanted:
            offset = index - start
            leaf = levels.node(0, index)
            yield {
                "format": FORMAT,
                "assets": assets,
                "account": {
                    "id": ids[offset],
                    "salt": self.salt.hex(),
                    "hash": accounts[offset * HASH_SIZE : (offset + 1) * HASH_SIZE].hex(),
                },
                "nonce": nonces[offset * NONCE_SIZE : (offset + 1) * NONCE_SIZE].hex(),
                "balances": leaf["sums"],
                "leaf": {"index": index, "count": self.leaf_count, "hash": leaf["hash"]},
                "path": [
                    {"position": side, **levels.node(level, (index >> level) ^ 1)}
                    for level, side in sibling_positions(index, self.leaf_count)
                ],
                "root": root,
            }

    def amounts(self, words: Any) -> dict[str, str]:
        """Each asset's 128-bit sum, given as (high, low) 64-bit words, as a decimal string."""
        return {
            asset.symbol: format_amount((int(high) << 64) | int(low), asset.decimals)
            for asset, (high, low) in zip(self.assets, words, strict=True)
        }


class _LevelWindow:
    """The tree nodes the proofs of leaves ``start:stop`` need, read level by level once,
    each formatted once however many proofs show it: a node at level L is on the path of
    2^L leaves, and formatting its sums was most of the time per proof file."""

    def __init__(self, reader: TreeReader, start: int, stop: int) -> None:
        self._reader = reader
        self._levels = []
        for level, size in enumerate(reader.sizes[:-1] or reader.sizes):
            low = (start >> level) & ~1
            high = min(((stop - 1) >> level) | 1, size - 1) + 1
            hashes = reader.store.read_hashes(level, low, high)
            self._levels.append((low, hashes, reader.store.read_sums(level, low, high)))
        self._formatted: dict[tuple[int, int], dict[str, Any]] = {}

    def node(self, level: int, position: int) -> dict[str, Any]:
        """``{"hash", "sums"}`` of the node at ``position`` of ``level`` (shared: read only)."""
        key = (level, position)
        found = self._formatted.get(key)
        if found is None:
            low, hashes, sums = self._levels[level]
            found = self._formatted[key] = {
                "hash": hashes[position - low].tobytes().hex(),
                "sums": self._reader.amounts(sums[position - low]),
            }
        return found


def write_proofs(
    out: Path, indices: Iterable[int], progress: Progress | None = None, workers: int = 1
) -> int:
    """Write the proof file of each leaf in ``indices`` (ascending); returns how many. With
    ``workers`` > 1, groups of proofs are written by that many processes: creating millions
    of small files is most of the time, and it is the kernel's CPU, which scales."""
    chosen = indices if isinstance(indices, range) else list(indices)
    pool = make_pool(workers) if len(chosen) > GROUP_SPAN else None
    written = 0
    try:
        write = partial(_write_group, out)
        for count in ordered_map(pool, write, _groups(chosen), 2 * workers):
            written += count
            if progress is not None:
                progress("proofs", written, len(chosen))
    finally:
        if pool is not None:
            pool.shutdown()
        _close_readers()  # this process's; a worker's close when it exits
    return written


# The reader of each built folder, per process: a worker opens it for its first group and
# keeps it for the others (reading the ids' offsets again per group would cost more than
# the group's files).
_readers: dict[Path, TreeReader] = {}


def _reader(out: Path) -> TreeReader:
    reader = _readers.get(out)
    if reader is None:
        reader = _readers[out] = TreeReader(out)
    return reader


def _close_readers() -> None:
    while _readers:
        _readers.popitem()[1].close()


def _write_group(out: Path, group: tuple[int, int, list[int]]) -> int:
    start, stop, wanted = group
    written, made = 0, set()
    for document in _reader(out).proofs(start, stop, wanted):
        path = proof_path(out, bytes.fromhex(document["account"]["hash"]))
        if path.parent.name not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent.name)
        # Compact: the C encoder is several times faster than an indented dump, which
        # matters for millions of files (a browser or ``jq`` indents them for reading).
        path.write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
        written += 1
    return written


def proof_for_account(out: Path, account_id: str) -> dict[str, Any] | None:
    """The proof document of ``account_id`` read back from a built folder (None if absent)."""
    from hashdesk.reserves.tree import account_hash

    reader = TreeReader(out)
    try:
        index = _find_account(reader, account_hash(reader.salt, account_id))
        return None if index is None else next(reader.proofs(index, index + 1, [index]))
    finally:
        reader.close()


def _find_account(reader: TreeReader, wanted: bytes) -> int | None:
    """Scan the account hashes a million at a time (they are in snapshot order, not sorted)."""
    target = np.frombuffer(wanted, np.uint8)
    step = 1 << 20
    for start in range(0, reader.leaf_count, step):
        stop = min(start + step, reader.leaf_count)
        rows = np.frombuffer(
            reader._slice("accounts.bin", HASH_SIZE, start, stop), np.uint8
        ).reshape(-1, HASH_SIZE)
        matches = np.flatnonzero((rows == target).all(axis=1))
        if len(matches):
            return start + int(matches[0])
    return None


def _groups(indices: Iterable[int]) -> Iterator[tuple[int, int, list[int]]]:
    """Consecutive runs of ascending leaf indices spanning at most GROUP_SPAN leaves."""
    group: list[int] = []
    for index in indices:
        if group and index - group[0] >= GROUP_SPAN:
            yield group[0], group[-1] + 1, group
            group = []
        group.append(index)
    if group:
        yield group[0], group[-1] + 1, group
