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
from typing import Any, BinaryIO, Literal

import numpy as np

from hashdesk.reserves.errors import BuildError, RowProblem, SnapshotError
from hashdesk.reserves.snapshot import (
    MAX_PROBLEMS,
    Block,
    LeafBatch,
    LeafTask,
    check_assets,
    hash_leaf_block,
    iter_blocks,
    read_header,
    snapshot_size,
)
from hashdesk.reserves.tree import (
    HASH_SIZE,
    SALT_SIZE,
    Asset,
    LevelStore,
    Progress,
    account_hash,
    build_levels,
    default_workers,
    make_pool,
    ordered_map,
)

MAX_DECIMALS = 18
ProofChoice = Literal["all", "none"] | int
_KEY_CHUNK = 1 << 20


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


class _LeafFiles:
    """The private per-leaf files, appended to in snapshot order."""

    NAMES = (
        "level-0.hashes",
        "level-0.sums",
        "accounts.bin",
        "nonces.bin",
        "ids.txt",
        "ids.offsets",
    )

    def __init__(self, folder: Path) -> None:
        self.files: dict[str, BinaryIO] = {name: (folder / name).open("wb") for name in self.NAMES}
        self.id_bytes = 0
        self.files["ids.offsets"].write(np.zeros(1, dtype=np.uint64).tobytes())

    def append(self, batch: LeafBatch) -> None:
        self.files["level-0.hashes"].write(batch.leaf_hashes)
        self.files["level-0.sums"].write(batch.amounts.tobytes())
        self.files["accounts.bin"].write(batch.account_hashes)
        self.files["nonces.bin"].write(batch.nonces)
        self.files["ids.txt"].write(batch.ids)
        ends = np.frombuffer(batch.ids, dtype=np.uint8) == ord("\n")
        offsets = np.flatnonzero(ends).astype(np.uint64) + np.uint64(self.id_bytes + 1)
        self.files["ids.offsets"].write(offsets.tobytes())
        self.id_bytes += len(batch.ids)

    def close(self) -> None:
        for file in self.files.values():
            file.close()


@dataclass
class _Leaves:
    count: int = 0
    totals: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0


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
        leaves = _hash_leaves(
            snapshot, private / "tree", manifest, columns, salt, pool, workers, progress
        )
        seconds["leaves"] = time.perf_counter() - started
        _refuse(leaves, _duplicates(private / "tree", leaves.count, salt), snapshot.name)
        seconds["duplicates"] = time.perf_counter() - started - seconds["leaves"]
        started = time.perf_counter()
        store = LevelStore(private / "tree", len(manifest.assets))
        try:
            top = build_levels(store, leaves.count, pool, workers, progress)
        finally:
            store.close()
        seconds["levels"] = time.perf_counter() - started
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
    written = write_proofs(out, _chosen(proofs, leaves.count), progress)
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


def _hash_leaves(
    snapshot: Path,
    folder: Path,
    manifest: Manifest,
    columns: list[int],
    salt: bytes,
    pool: Any,
    workers: int,
    progress: Progress | None,
) -> _Leaves:
    decimals = [asset.decimals for asset in manifest.assets]
    tasks = (
        LeafTask(block, columns, decimals, salt)
        for block in _counted(iter_blocks(snapshot), snapshot, progress)
    )
    leaves = _Leaves(totals=[0] * len(columns))
    files = _LeafFiles(folder)
    try:
        for batch in ordered_map(pool, hash_leaf_block, tasks, 2 * workers):
            leaves.count += batch.count
            leaves.totals = [a + b for a, b in zip(leaves.totals, batch.totals, strict=True)]
            leaves.problem_count += batch.problem_count
            leaves.problems.extend(batch.problems[: MAX_PROBLEMS - len(leaves.problems)])
            files.append(batch)
    finally:
        files.close()
    return leaves


def _counted(blocks: Iterator[Block], snapshot: Path, progress: Progress | None) -> Iterator[Block]:
    total, done = snapshot_size(snapshot), 0
    for block in blocks:
        done += len(block.data) + 1
        if progress is not None:
            progress("leaves (bytes read)", min(done, total), total)
        yield block
    if progress is not None:
        progress("leaves (bytes read)", total, total)  # the header and CRLFs were not counted


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


def _duplicates(folder: Path, count: int, salt: bytes) -> tuple[list[RowProblem], int]:
    """Equal salted account hashes are equal account ids. Sort the 8-byte prefixes (read in
    chunks: 80 MB for 10 million accounts), then confirm each equal prefix on the full hash."""
    keys = np.empty(count, dtype=np.uint64)
    with (folder / "accounts.bin").open("rb") as file:
        for start in range(0, count, _KEY_CHUNK):
            rows = np.fromfile(
                file, dtype=np.uint8, count=min(_KEY_CHUNK, count - start) * HASH_SIZE
            )
            keys[start : start + len(rows) // HASH_SIZE] = (
                rows.reshape(-1, HASH_SIZE)[:, :8].copy().view(np.uint64).ravel()
            )
    order = np.argsort(keys)  # any order among equal keys will do
    same = np.flatnonzero(keys[order[1:]] == keys[order[:-1]])
    del keys
    groups: dict[bytes, set[int]] = {}
    with (folder / "accounts.bin").open("rb") as file:
        for position in same:
            for index in (int(order[position]), int(order[position + 1])):
                file.seek(index * HASH_SIZE)
                groups.setdefault(file.read(HASH_SIZE), set()).add(index)
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
