"""Verifying a proof file: HashDesk's own format and the exchanges' formats in ``formats/``.

``verify_file(path, format="auto", root=None, tree=None)`` never raises for bad input: it
returns a ``Verification`` whose steps say what passed and which step failed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hashdesk.reserves.checks import (
    Step,
    StepFailed,
    Verification,
    field_of,
    hex_bytes,
    read_json,
    units,
)
from hashdesk.reserves.tree import (
    MAX_SUM,
    NONCE_SIZE,
    Asset,
    account_hash,
    leaf_hash,
    node_hash,
    sibling_positions,
)

FORMATS = ("auto", "hashdesk", "coinex", "okx-v1", "okx-v2", "bitget")
MAX_LEAVES = 1 << 40
MAX_ASSETS = 10_000

Verifier = Callable[[Any, Verification, bytes | None, Path | None], None]


def verify_file(
    path: Path, format: str = "auto", root: str | None = None, tree: Path | None = None
) -> Verification:
    result = Verification(format=format)
    try:
        expected = (
            hex_bytes(root, "--root", None, step="published root") if root is not None else None
        )
        document = read_json(path)
        result.passed("read", f"{path.name} read and parsed")
        name = detect_format(document) if format == "auto" else format
        result.format = name
        _verifiers()[name](document, result, expected, tree)
    except StepFailed as failure:
        result.steps.append(_failed(failure))
    return result


def verify_document(
    document: Any, format: str = "hashdesk", root: bytes | None = None
) -> Verification:
    """Verify an already parsed document (tests and the agent view use it)."""
    result = Verification(format=format)
    try:
        _verifiers()[format](document, result, root, None)
    except StepFailed as failure:
        result.steps.append(_failed(failure))
    return result


def _failed(failure: StepFailed) -> Step:
    return Step(failure.step, False, failure.detail)


def _verifiers() -> dict[str, Verifier]:
    from hashdesk.reserves.formats import bitget, coinex, okx

    return {
        "hashdesk": verify_hashdesk,
        "coinex": coinex.verify,
        "okx-v1": okx.verify_v1,
        "okx-v2": okx.verify_v2,
        "bitget": bitget.verify,
    }


def detect_format(document: Any) -> str:
    """The format of a parsed proof file, from the keys each format always has."""
    from hashdesk.reserves.formats import bitget, coinex, okx

    if isinstance(document, dict) and document.get("format") == "hashdesk-por/1":
        return "hashdesk"
    for name, looks_like in (
        ("okx-v2", okx.looks_like_v2),
        ("okx-v1", okx.looks_like_v1),
        ("bitget", bitget.looks_like),
        ("coinex", coinex.looks_like),
    ):
        if looks_like(document):
            return name
    raise StepFailed(
        "format",
        "the file is not a proof file of a known format (hashdesk, CoinEx, OKX v1/v2, Bitget)",
    )


def compare_root(
    result: Verification, computed: bytes, published: bytes | None, in_file: bytes | None = None
) -> None:
    """The last steps of every format: the file's own root, then the published one."""
    result.root = computed.hex()
    if in_file is not None:
        result.check(
            "root hash",
            computed == in_file,
            f"the path leads to {computed.hex()}, the file's root is {in_file.hex()}",
            f"the path leads to the file's root {computed.hex()}",
        )
    if published is not None:
        result.check(
            "published root",
            computed == published,
            f"the path leads to {computed.hex()}, not to the published root {published.hex()}",
            "matches the published root",
        )


# --- hashdesk-por/1 -----------------------------------------------------------------------


def verify_hashdesk(
    document: Any, result: Verification, published: bytes | None, tree: Path | None
) -> None:
    assets = _assets(document)
    account = field_of(document, "account", dict)
    salt = hex_bytes(field_of(account, "salt", str, "account"), "account.salt", None)
    claimed_account = hex_bytes(field_of(account, "hash", str, "account"), "account.hash")
    account_id = field_of(account, "id", str, "account")
    nonce = hex_bytes(field_of(document, "nonce", str), "nonce", NONCE_SIZE)
    leaf = field_of(document, "leaf", dict)
    index = _count(field_of(leaf, "index", int, "leaf"), "leaf.index")
    count = _count(field_of(leaf, "count", int, "leaf"), "leaf.count")
    claimed_leaf = hex_bytes(field_of(leaf, "hash", str, "leaf"), "leaf.hash")
    path = field_of(document, "path", list)
    root = field_of(document, "root", dict)
    root_hash = hex_bytes(field_of(root, "hash", str, "root"), "root.hash")
    result.check(
        "schema",
        index < count,
        f"leaf.index {index} is not below leaf.count {count}",
        "all fields present",
    )

    balances = _amounts(field_of(document, "balances", dict), assets, "balances")
    steps = [_path_step(item, assets, number) for number, item in enumerate(path, 1)]
    root_sums = _amounts(field_of(root, "sums", dict, "root"), assets, "root.sums")
    result.passed("amounts", "every balance and sum is an exact non-negative amount")

    computed_account = account_hash(salt, account_id)
    result.check("account hash", computed_account == claimed_account,
                 f"SHA-256(salt ‖ {account_id!r}) is {computed_account.hex()}, the file says {claimed_account.hex()}",
                 f"the leaf belongs to account {account_id!r}")  # fmt: skip
    current = leaf_hash(computed_account, nonce, balances)
    result.check("leaf hash", current == claimed_leaf,
                 f"nonce and balances hash to {current.hex()}, the file says {claimed_leaf.hex()}",
                 current.hex())  # fmt: skip
    expected_sides = [side for _, side in sibling_positions(index, count)]
    sides = [side for side, _, _ in steps]
    result.check("path positions", sides == expected_sides,
                 f"leaf {index} of {count} needs {len(expected_sides)} steps with siblings on {expected_sides}, "
                 f"the path has {sides}", f"{len(steps)} steps, as leaf {index} of {count} needs")  # fmt: skip
    sums = balances
    for number, (side, sibling, sibling_sums) in enumerate(steps, 1):
        sums = [mine + theirs for mine, theirs in zip(sums, sibling_sums, strict=True)]
        result.check(
            f"path step {number}", all(total <= MAX_SUM for total in sums), "a sum passes 2**128"
        )
        current = (
            node_hash(sibling, current, sums)
            if side == "left"
            else node_hash(current, sibling, sums)
        )
    result.check("root sums", sums == root_sums,
                 "the path's sums differ from the root's totals: " + _differences(assets, sums, root_sums),
                 "the path adds up to the root's totals")  # fmt: skip
    compare_root(result, current, published, root_hash)


def _assets(document: Any) -> list[Asset]:
    raw = field_of(document, "assets", list)
    if not raw or len(raw) > MAX_ASSETS:
        raise StepFailed("schema", f"'assets' must list 1 to {MAX_ASSETS} assets")
    assets = []
    for number, item in enumerate(raw, 1):
        symbol = field_of(item, "symbol", str, f"asset {number}")
        decimals = field_of(item, "decimals", int, f"asset {number}")
        if not 0 <= decimals <= 36:
            raise StepFailed("schema", f"asset {symbol!r}: decimals must be 0 to 36")
        assets.append(Asset(symbol, decimals))
    if len({asset.symbol for asset in assets}) != len(assets):
        raise StepFailed("schema", "an asset is listed twice")
    return assets


def _count(value: int, what: str) -> int:
    if not 0 <= value <= MAX_LEAVES:
        raise StepFailed("schema", f"{what} must be 0 to 2**40, got {value}")
    return value


def _amounts(raw: dict[str, Any], assets: list[Asset], what: str) -> list[int]:
    symbols = [asset.symbol for asset in assets]
    if sorted(raw) != sorted(symbols):
        raise StepFailed(
            "schema", f"{what} must name exactly the assets {symbols}, got {list(raw)[:20]}"
        )
    amounts = [
        units(raw[asset.symbol], asset.decimals, f"{what}.{asset.symbol}") for asset in assets
    ]
    for asset, amount in zip(assets, amounts, strict=True):
        if amount > MAX_SUM:
            raise StepFailed("amounts", f"{what}.{asset.symbol} is above 2**128 smallest units")
    return amounts


def _path_step(item: Any, assets: list[Asset], number: int) -> tuple[str, bytes, list[int]]:
    where = f"path step {number}"
    side = field_of(item, "position", str, where)
    if side not in ("left", "right"):
        raise StepFailed(
            "schema", f"{where}: position must be 'left' or 'right', got {side[:20]!r}"
        )
    sibling = hex_bytes(field_of(item, "hash", str, where), f"{where} hash")
    return side, sibling, _amounts(field_of(item, "sums", dict, where), assets, f"{where} sums")


def _differences(assets: list[Asset], computed: list[int], claimed: list[int]) -> str:
    return (
        ", ".join(
            f"{asset.symbol} {mine} ≠ {theirs}"
            for asset, mine, theirs in zip(assets, computed, claimed, strict=True)
            if mine != theirs
        )
        + " (smallest units)"
    )
