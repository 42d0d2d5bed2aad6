"""``build_reserves``: snapshot → leaves → levels → root, manifest and proofs in one folder.

The output folder:

    root.json            publish: root hash, totals per asset, leaf count, depth
    manifest.json        publish: snapshot time, block heights, assets (symbol, decimals), root
    proofs/ab/<h>.json   one per account, for its owner only (``<h>`` = the salted account hash)
    private/             keep: the salt, account ids, nonces and every level of the tree, from
                         which any proof can be written again (``write_proofs``)
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hashdesk.reserves.chunk import ChunkResult, ChunkTask, build_chunk
from hashdesk.reserves.errors import BuildError, RowProblem, SnapshotError
from hashdesk.reserves.snapshot import (
    MAX_PROBLEMS,
    check_assets,
    iter_sources,
    progress_total,
    read_header,
)
from hashdesk.reserves.tree import (
    HASH_SIZE,
    SALT_SIZE,
    Asset,
    Nodes,
    Progress,
    TreeTop,
    account_hash,
    default_workers,
    make_pool,
    ordered_map,
    write_nodes,
)

MAX_DECIMALS = 18
# Leaves per chunk (2**k; see chunk.py): about 4 MB of CSV, large enough that numpy's work on
# whole columns dominates the per-chunk overhead, small enough that a worker stays ~100 MB.
CHUNK_LEVELS = 16
ProofChoice = Literal["all", "none"] | int


@dataclass(frozen=True)
class Manifest:
    assets: list[Asset]
    snapshot_time: str | None = None
    block_heights: dict[str, int] = field(default_factory=dict)


@dataclass
class BuildResult:
    folder: Path
    root_hash: str
    totals: dict[str, str]
    leaf_count: int
    depth: int
    proofs_written: int
    seconds: dict[str, float]


# --- manifest -----------------------------------------------------------------------------


def load_manifest(path: Path) -> Manifest:
    """A manifest file: ``{"snapshot_time": ISO 8601, "block_heights": {chain: height},
    "assets": ["BTC", {"symbol": "ETH", "decimals": 8}, ...]}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SnapshotError(
            "manifest {name}: not a readable JSON file ({error})", name=path.name, error=error
        ) from error
    if not isinstance(data, dict):
        raise SnapshotError("manifest {name}: must be a JSON object", name=path.name)
    return Manifest(
        assets=_manifest_assets(data.get("assets"), path.name),
        snapshot_time=_snapshot_time(data.get("snapshot_time"), path.name),
        block_heights=_block_heights(data.get("block_heights", {}), path.name),
    )


def _manifest_assets(raw: Any, source: str) -> list[Asset]:
    if not isinstance(raw, list) or not raw:
        raise SnapshotError("manifest {name}: 'assets' must be a non-empty list", name=source)
    assets = [_asset(item, source) for item in raw]
    symbols = [asset.symbol for asset in assets]
    if len(set(symbols)) != len(symbols):
        raise SnapshotError(
            "manifest {name}: an asset is listed twice in {symbols}", name=source, symbols=symbols
        )
    return assets


def _asset(item: Any, source: str) -> Asset:
    if isinstance(item, str) and item:
        return Asset(item)
    if isinstance(item, dict) and isinstance(item.get("symbol"), str) and item["symbol"]:
        decimals = item.get("decimals", 8)
        if type(decimals) is int and 0 <= decimals <= MAX_DECIMALS:
            return Asset(item["symbol"], decimals)
        raise SnapshotError(
            "manifest {name}: asset {symbol!r}: 'decimals' must be an integer 0-{most}",
            name=source,
            symbol=item["symbol"],
            most=MAX_DECIMALS,
        )
    raise SnapshotError(
        "manifest {name}: each asset is a symbol or {{'symbol', 'decimals'}}, got {item!r}",
        name=source,
        item=item,
    )


def _snapshot_time(raw: Any, source: str) -> str | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError as error:
        raise SnapshotError(
            "manifest {name}: 'snapshot_time' is not an ISO 8601 time: {raw!r}",
            name=source,
            raw=raw,
        ) from error
    if moment.tzinfo is None:
        raise SnapshotError(
            "manifest {name}: 'snapshot_time' needs a time zone (e.g. Z): {raw!r}",
            name=source,
            raw=raw,
        )
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _block_heights(raw: Any, source: str) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(chain, str) and type(height) is int and height >= 0
        for chain, height in raw.items()
    ):
        raise SnapshotError(
            "manifest {name}: 'block_heights' maps chain names to block numbers", name=source
        )
    return dict(raw)


# --- the build ----------------------------------------------------------------------------


class _IdFiles:
    """``ids.txt`` (the account ids, one a line, in snapshot order) and ``ids.offsets`` (where
    each line starts), appended to in order by the build."""

    def __init__(self, folder: Path) -> None:
        self.text = (folder / "ids.txt").open("wb")
        self.offsets = (folder / "ids.offsets").open("wb")
        self.size = 0
        self.offsets.write(np.zeros(1, dtype=np.uint64).tobytes())

    def append(self, ids: bytes) -> None:
        self.text.write(ids)
        ends = np.flatnonzero(np.frombuffer(ids, dtype=np.uint8) == ord("\n"))
        self.offsets.write((ends.astype(np.uint64) + np.uint64(self.size + 1)).tobytes())
        self.size += len(ids)

    def close(self) -> None:
        self.text.close()
        self.offsets.close()


@dataclass(frozen=True)
class ChunkRoot:
    number: int
    level: int  # CHUNK_LEVELS, or lower for a short last chunk
    node: Nodes


@dataclass
class _Leaves:
    count: int = 0
    totals: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    roots: list[ChunkRoot] = field(default_factory=list)
    prefixes: list[bytes] = field(default_factory=list)  # 8 bytes an account (see _duplicates)

    def add(self, chunk: ChunkResult) -> None:
        self.count += chunk.count
        self.totals = [a + b for a, b in zip(self.totals, chunk.totals, strict=True)]
        self.problem_count += chunk.problem_count
        self.problems.extend(chunk.problems[: MAX_PROBLEMS - len(self.problems)])
        # Only the root is kept: a chunk's ids (~0.5 MB) are written out and dropped.
        self.roots.append(ChunkRoot(chunk.number, chunk.top_level, chunk.top))
        self.prefixes.append(chunk.prefixes)


def build_reserves(
    snapshot: Path,
    out: Path,
    manifest: Manifest | None = None,
    proofs: ProofChoice = "all",
    workers: int | None = None,
    progress: Progress | None = None,
    salt: bytes | None = None,
) -> BuildResult:
    """Build the tree of ``snapshot`` into the empty (or new) folder ``out``.

    Raises SnapshotError (naming the refused lines) or BuildError; on error ``out`` is left as
    it was found (the partial private files are removed)."""
    if not snapshot.is_file():
        raise SnapshotError("{path}: no such file", path=str(snapshot))
    header = read_header(snapshot)
    manifest = manifest or Manifest(assets=[Asset(symbol) for symbol in header.assets])
    columns = check_assets(header, manifest.assets, snapshot.name)
    _prepare_out(out)
    try:
        return _build(
            snapshot, out, manifest, columns, proofs, workers or default_workers(), progress, salt
        )
    except (OSError, BrokenProcessPool) as error:
        _clean(out)
        # A full disk, a lost permission or a worker killed by the system: name it, no traceback.
        raise BuildError("the build stopped: {error}", error=str(error)) from error
    except BaseException:
        _clean(out)
        raise


def _clean(out: Path) -> None:
    for name in ("private", "proofs", "root.json", "manifest.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(
            "{path}: the output folder must be new or empty (a build never overwrites one)",
            path=str(out),
        )
    try:
        (out / "private" / "tree").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BuildError(
            "{path}: cannot create the output folder ({reason})",
            path=str(out),
            reason=error.strerror,
        ) from error


def _build(
    snapshot: Path,
    out: Path,
    manifest: Manifest,
    columns: list[int],
    proofs: ProofChoice,
    workers: int,
    progress: Progress | None,
    salt: bytes | None,
) -> BuildResult:
    salt = salt or secrets.token_bytes(SALT_SIZE)
    private = out / "private"
    (private / "salt.hex").write_text(salt.hex() + "\n", encoding="ascii")
    seconds: dict[str, float] = {}
    pool = make_pool(workers)
    try:
        started = time.perf_counter()
        leaves = _build_chunks(
            snapshot, private / "tree", manifest, columns, salt, pool, workers, progress
        )
        seconds["leaves"] = time.perf_counter() - started
        _refuse(leaves, _duplicates(private / "tree", leaves, salt), snapshot.name)
        seconds["duplicates"] = time.perf_counter() - started - seconds["leaves"]
        if progress is not None:
            progress("duplicate check", leaves.count, leaves.count)
        started = time.perf_counter()
        top = _build_top(private / "tree", leaves.roots, CHUNK_LEVELS)
        seconds["levels"] = time.perf_counter() - started
        if progress is not None:
            progress("levels above the chunks", len(leaves.roots), len(leaves.roots))
    finally:
        if pool is not None:
            pool.shutdown()
    from hashdesk.reserves.proof import format_amount, write_proofs, write_publication

    if top.root_sums != leaves.totals:  # two independent sums of the same balances
        raise BuildError(
            "the root's sums {sums} differ from the snapshot's totals {totals}",
            sums=top.root_sums,
            totals=leaves.totals,
        )

    totals = {
        asset.symbol: format_amount(total, asset.decimals)
        for asset, total in zip(manifest.assets, top.root_sums, strict=True)
    }
    write_publication(out, manifest, top.root_hash, totals, leaves.count, top.depth, snapshot.name)
    started = time.perf_counter()
    written = write_proofs(out, _chosen(proofs, leaves.count), progress, workers)
    seconds["proofs"] = time.perf_counter() - started
    return BuildResult(out, top.root_hash.hex(), totals, leaves.count, top.depth, written, seconds)


def _chosen(proofs: ProofChoice, count: int) -> Iterator[int] | range:
    if proofs == "all":
        return range(count)
    if proofs == "none" or proofs == 0:
        return range(0)
    assert isinstance(proofs, int)
    if proofs >= count:
        return range(count)
    picked = np.sort(
        np.random.default_rng(secrets.randbits(64)).choice(count, size=proofs, replace=False)
    )
    return iter(int(index) for index in picked)


def _build_chunks(
    snapshot: Path,
    folder: Path,
    manifest: Manifest,
    columns: list[int],
    salt: bytes,
    pool: Any,
    workers: int,
    progress: Progress | None,
) -> _Leaves:
    """Every chunk's leaves and subtree (in the workers), the ids and totals (here)."""
    decimals = [asset.decimals for asset in manifest.assets]
    levels = CHUNK_LEVELS
    tasks = (
        ChunkTask(number, source, columns, decimals, salt, folder, levels)
        for number, source in enumerate(iter_sources(snapshot, 1 << levels))
    )
    total = progress_total(snapshot)
    leaves = _Leaves(totals=[0] * len(columns))
    ids = _IdFiles(folder)
    try:
        for chunk in ordered_map(pool, build_chunk, tasks, 2 * workers):
            leaves.add(chunk)
            ids.append(chunk.ids)
            if progress is not None:
                progress("leaves and their chunk's levels", chunk.end, total)
    finally:
        ids.close()
    if progress is not None:  # the header and a blank last line were not counted
        progress("leaves and their chunk's levels", total, total)
    return leaves


def _build_top(folder: Path, chunks: list[ChunkRoot], levels: int) -> TreeTop:
    """The levels above the chunks' roots, up to the root of the whole tree."""
    if len(chunks) == 1:
        only = chunks[0]
        return TreeTop(only.node.hashes[0].tobytes(), only.node.root_sums(), only.level)
    last = chunks[-1]
    for level in range(last.level + 1, levels + 1):
        # A short last chunk's root is the last node of these levels, promoted unchanged.
        write_nodes(folder, level, (last.number << levels) >> level, last.node)
    nodes, level = Nodes.join([chunk.node for chunk in chunks]), levels
    while len(nodes) > 1:
        nodes, level = nodes.parents(), level + 1
        write_nodes(folder, level, 0, nodes)
    return TreeTop(nodes.hashes[0].tobytes(), nodes.root_sums(), level)


def _refuse(leaves: _Leaves, duplicates: tuple[list[RowProblem], int], source: str) -> None:
    repeated, repeated_count = duplicates
    total = leaves.problem_count + repeated_count
    if total:
        rows = sorted(leaves.problems + repeated, key=lambda row: row.line)[:MAX_PROBLEMS]
        raise SnapshotError(
            "{name}: {count} row(s) refused:", rows=rows, total=total, name=source, count=total
        )
    if leaves.count == 0:
        raise SnapshotError("{name}: the snapshot has no accounts", name=source)


def _duplicates(folder: Path, leaves: _Leaves, salt: bytes) -> tuple[list[RowProblem], int]:
    """Equal salted account hashes are equal account ids. Sort the 8-byte prefixes the chunks
    sent (80 MB for 10 million accounts), then confirm each equal prefix on the full hash."""
    keys = np.frombuffer(b"".join(leaves.prefixes), dtype=np.uint64)
    leaves.prefixes.clear()
    ordered = np.sort(keys)
    repeated_keys = ordered[1:][ordered[1:] == ordered[:-1]]
    del ordered
    # Rare: only rows whose prefix is repeated are read back and compared in full.
    candidates = np.flatnonzero(np.isin(keys, repeated_keys)) if len(repeated_keys) else ()
    del keys
    groups: dict[bytes, set[int]] = {}
    with (folder / "accounts.bin").open("rb") as file:
        for index in candidates:
            file.seek(int(index) * HASH_SIZE)
            groups.setdefault(file.read(HASH_SIZE), set()).add(int(index))
    # Rows without an account id (blank lines, empty ids) are already refused as such.
    groups.pop(account_hash(salt, ""), None)
    repeated = sorted(index for members in groups.values() if len(members) > 1 for index in members)
    ids = _read_ids(folder, repeated[:MAX_PROBLEMS])
    problems = [
        RowProblem(index + 2, ids[index], "duplicate account") for index in repeated[:MAX_PROBLEMS]
    ]
    return problems, len(repeated)


def _read_ids(folder: Path, indices: list[int]) -> dict[int, str]:
    offsets = np.fromfile(folder / "ids.offsets", dtype=np.uint64)
    found = {}
    with (folder / "ids.txt").open("rb") as file:
        for index in indices:
            file.seek(int(offsets[index]))
            found[index] = file.read(int(offsets[index + 1] - offsets[index]) - 1).decode(
                "utf-8", "replace"
            )
    return found


def build_time() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
