"""Small snapshots, written as an exchange would export them, and a reference tree.

The reference tree is built in plain Python from the canonical leaf and node functions, so
it checks the builder's numpy encoding and its chunked, level-by-level construction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hashdesk.reserves import build_reserves
from hashdesk.reserves.build import BuildResult
from hashdesk.reserves.tree import leaf_hash, node_hash

Rows = Sequence[tuple[str, Sequence[str]]]


def write_csv(path: Path, assets: Sequence[str], rows: Rows) -> Path:
    lines = [",".join(["account", *assets])]
    lines += [",".join([account, *balances]) for account, balances in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build(tmp: Path, assets: Sequence[str], rows: Rows, **options: Any) -> BuildResult:
    snapshot = write_csv(tmp / "snapshot.csv", assets, rows)
    options.setdefault("workers", 1)
    return build_reserves(snapshot, tmp / "out", **options)


def proofs(out: Path) -> list[dict[str, Any]]:
    found = [
        json.loads(path.read_text(encoding="utf-8")) for path in (out / "proofs").glob("*/*.json")
    ]
    return sorted(found, key=lambda proof: proof["leaf"]["index"])


def units(text: str, decimals: int = 8) -> int:
    whole, _, fraction = text.partition(".")
    return int(whole or "0") * 10**decimals + int((fraction or "0").ljust(decimals, "0"))


def reference_root(proof_documents: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    """The root rebuilt from every account's proof (nonce, account hash, balances)."""
    assets = proof_documents[0]["assets"]
    nodes = []
    for proof in proof_documents:
        amounts = [units(proof["balances"][a["symbol"]], a["decimals"]) for a in assets]
        account = bytes.fromhex(proof["account"]["hash"])
        nodes.append((leaf_hash(account, bytes.fromhex(proof["nonce"]), amounts), amounts))
    while len(nodes) > 1:
        parents = []
        for left, right in zip(nodes[0::2], nodes[1::2], strict=False):
            sums = [a + b for a, b in zip(left[1], right[1], strict=True)]
            parents.append((node_hash(left[0], right[0], sums), sums))
        if len(nodes) % 2:
            parents.append(nodes[-1])
        nodes = parents
    return nodes[0]
