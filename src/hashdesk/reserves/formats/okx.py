"""OKX's proof files (github.com/okx/proof-of-reserves).

Both versions hash text and carry exactly three assets, written in the order BTC, ETH, USDT.

v1, the merkle proof file ``{"self": {...}, "path": [...]}``:
- self.hash = SHA-256(nonce ‖ '{"BTC":"b","ETH":"e","USDT":"u"}'), the amounts exactly as
  written in the file; ``type`` is the node's own side (1 left, 2 right) and the first path
  entry is the leaf's sibling, on the other side;
- each parent: balances = left + right, each rounded down to 8 places and printed as shopspring's
  ``Decimal.String()``; hash = SHA-256(left ‖ right ‖ BTC ‖ ETH ‖ USDT ‖ height) with no
  separators, its height one above the sibling's (2 for the first parent);
- path entries of type 1 sit on the left, any other type (2 right, 4 padding) on the right;
- the last entry (type 3) is the root: same hash, same balance strings, same height.

v2, the user info file ``{"hash", "nodes", "nonce", "totalBalances"}`` plus the full liabilities
tree file (one node a line: ``hash,height,{"BTC":..,"ETH":..,"USDT":..}``, root first):
- hash = SHA-256(nonce ‖ totalBalances as compact JSON, keys BTC, ETH, USDT); each of the
  user's leaves = SHA-256(hash ‖ BTC ‖ ETH ‖ USDT); the leaves add up to totalBalances;
- every leaf must appear at height 1 of the tree file with the same balances.
We also check the whole tree, which OKX's validator does not: within a height the file lists
nodes right to left, so lines 2k and 2k+1 are the right and left children of the k-th parent
(right to left) one height up, parent = SHA-256(left ‖ right ‖ BTC ‖ ETH ‖ USDT ‖ height) and
its balances the children's sum; a height with an odd number of nodes starts (rightmost) with a
padding node, a zero-balance copy of its neighbour's hash that has no children of its own.
This is what the published sample shows. (OKX's ``TreeNode.Check`` compares a "0x"-prefixed digest
with the file's bare hashes, so it could never pass on the sample; the validator never calls it.)
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hashdesk.reserves.checks import (
    MAX_TREE_BYTES,
    StepFailed,
    Verification,
    field_of,
    hex_bytes,
)
from hashdesk.reserves.formats.common import add, plain, round_down, sha256_hex, text_field
from hashdesk.reserves.formats.common import number as common_number
from hashdesk.reserves.verify import compare_root

ASSETS = ("BTC", "ETH", "USDT")
MAX_PATH = 128
MAX_USER_NODES = 10_000


def looks_like_v1(document: Any) -> bool:
    own = document.get("self") if isinstance(document, dict) else None
    return isinstance(own, dict) and "type" in own and "height" in own and "path" in document


def looks_like_v2(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and {"nodes", "totalBalances", "nonce", "hash"} <= document.keys()
    )


# --- shared -------------------------------------------------------------------------------


def _balances(item: Any, where: str) -> tuple[str, str, str]:
    return _strings(field_of(item, "balances", dict, where), where)


def _strings(balances: dict[str, Any], where: str) -> tuple[str, str, str]:
    """The three balance strings as written (Go unmarshals them into string fields)."""
    values = []
    for asset in ASSETS:
        value = balances.get(asset)
        if not isinstance(value, str):
            raise StepFailed(
                "schema", f"{where}: balances.{asset} must be a string, got {type(value).__name__}"
            )
        common_number(value, f"{where} {asset}")
        values.append(value)
    return values[0], values[1], values[2]


def _sum(left: tuple[str, str, str], right: tuple[str, str, str]) -> tuple[str, str, str]:
    """OKX's Balances.Add: exact sum, rounded down to 8 places, printed without trailing zeros."""
    totals = [
        plain(round_down(add(Decimal(a), Decimal(b)), 8)) for a, b in zip(left, right, strict=True)
    ]
    return totals[0], totals[1], totals[2]


def _same(left: tuple[str, str, str], right: tuple[str, str, str]) -> bool:
    return all(Decimal(a) == Decimal(b) for a, b in zip(left, right, strict=True))


def _int_field(document: Any, key: str, where: str) -> int:
    return int(field_of(document, key, int, where))


def balances_json(values: tuple[str, str, str]) -> str:
    return (
        "{"
        + ",".join(f'"{asset}":"{value}"' for asset, value in zip(ASSETS, values, strict=True))
        + "}"
    )


# --- v1 -----------------------------------------------------------------------------------


def verify_v1(
    document: Any, result: Verification, published: bytes | None, tree: Path | None
) -> None:
    own = field_of(document, "self", dict)
    nonce, own_hash = text_field(own, "nonce", "self"), text_field(own, "hash", "self")
    own_type, own_balances = _int_field(own, "type", "self"), _balances(own, "self")
    raw_path = field_of(document, "path", list)
    result.check(
        "schema",
        2 <= len(raw_path) <= MAX_PATH,
        f"the path must have 2 to {MAX_PATH} entries (siblings, then the root)",
    )
    path = [_v1_entry(item, number) for number, item in enumerate(raw_path, 1)]
    computed = sha256_hex(nonce + balances_json(own_balances))
    result.check(
        "leaf hash",
        computed == own_hash,
        f"nonce and balances hash to {computed}, the file says {own_hash}",
        computed,
    )
    first_type = path[0][0]
    result.check("path positions", first_type != own_type,
                 f"the leaf and its sibling are both of type {own_type} (1 left, 2 right)", "the sibling is on the other side")  # fmt: skip
    left, right = (own_hash, path[0][1]) if own_type == 1 else (path[0][1], own_hash)
    current, balances, height = _v1_parent(left, right, own_balances, path[0][2], 2)
    result.passed("path step 1", current)
    for number, (kind, sibling, sibling_balances, sibling_height) in enumerate(path[1:-1], 2):
        left, right = (sibling, current) if kind == 1 else (current, sibling)
        current, balances, height = _v1_parent(
            left, right, balances, sibling_balances, sibling_height + 1
        )
        result.passed(f"path step {number}", current)
    _, root_hash, root_balances, root_height = path[-1]
    result.check(
        "root hash",
        current == root_hash,
        f"the path leads to {current}, the file's root is {root_hash}",
        current,
    )
    result.check("root balances", balances == root_balances,
                 f"the path adds up to {balances_json(balances)}, the root says {balances_json(root_balances)}",
                 "the path adds up to the root's balances")  # fmt: skip
    result.check(
        "root height",
        height == root_height,
        f"the path ends at height {height}, the root is at {root_height}",
    )
    compare_root(result, hex_bytes(current, "the root hash", step="root hash"), published)


def _v1_entry(item: Any, number: int) -> tuple[int, str, tuple[str, str, str], int]:
    where = f"path entry {number}"
    kind, height = _int_field(item, "type", where), _int_field(item, "height", where)
    hash_text = text_field(item, "hash", where)
    if not 1 <= kind <= 4 or height < 1 or not hash_text:
        raise StepFailed(
            "schema", f"{where}: type must be 1-4, height at least 1 and the hash present"
        )
    return kind, hash_text, _balances(item, where), height


def _v1_parent(
    left: str, right: str, mine: tuple[str, str, str], theirs: tuple[str, str, str], height: int
) -> tuple[str, tuple[str, str, str], int]:
    balances = _sum(mine, theirs)
    return sha256_hex(left + right + "".join(balances) + str(height)), balances, height


# --- v2 -----------------------------------------------------------------------------------


def verify_v2(
    document: Any, result: Verification, published: bytes | None, tree: Path | None
) -> None:
    user_hash, nonce = (
        text_field(document, "hash", "the file"),
        text_field(document, "nonce", "the file"),
    )
    total = _strings(field_of(document, "totalBalances", dict), "totalBalances")
    raw_nodes = field_of(document, "nodes", list)
    result.check(
        "schema",
        1 <= len(raw_nodes) <= MAX_USER_NODES,
        f"'nodes' must list 1 to {MAX_USER_NODES} leaves",
    )
    nodes = [
        (text_field(item, "hash", f"node {n}"), _balances(item, f"node {n}"))
        for n, item in enumerate(raw_nodes, 1)
    ]
    computed = sha256_hex(nonce + balances_json(total))
    result.check("user hash", computed.lower() == user_hash.lower(),
                 f"nonce and totalBalances hash to {computed}, the file says {user_hash}", computed)  # fmt: skip
    for number, (node_hash, balances) in enumerate(nodes, 1):
        leaf = sha256_hex(user_hash + "".join(balances))
        result.check(f"leaf hash {number}", leaf.lower() == node_hash.lower(),
                     f"the user hash and balances hash to {leaf}, the file says {node_hash}", leaf)  # fmt: skip
    summed = nodes[0][1]
    for _, balances in nodes[1:]:
        summed = _sum(summed, balances)
    result.check("user total", _same(summed, total),
                 f"the leaves add up to {balances_json(summed)}, totalBalances is {balances_json(total)}")  # fmt: skip
    if tree is None:
        raise StepFailed(
            "tree",
            "an OKX v2 user info file is checked against the full liabilities tree file: give it with --tree FILE",
        )
    root = _check_tree(tree, nodes, result)
    compare_root(result, root, published)


def _check_tree(
    path: Path, nodes: list[tuple[str, tuple[str, str, str]]], result: Verification
) -> bytes:
    from hashdesk.reserves.checks import read_text

    levels = _tree_levels(read_text(path, MAX_TREE_BYTES, "tree"), path.name)
    result.passed("tree", f"{sum(len(level) for level in levels)} nodes in {len(levels)} levels")
    for parents, children in itertools.pairwise(levels):
        _check_level(parents, children)
    result.passed("tree hashes", "every node hashes its two children and holds their sum")
    leaves = {hash_text.lower(): balances for hash_text, _, balances in levels[-1]}
    for number, (node_hash, balances) in enumerate(nodes, 1):
        found = leaves.get(node_hash.lower())
        result.check(f"leaf in tree {number}", found is not None and found == balances,
                     f"leaf {node_hash} is not at height 1 of the tree file" if found is None
                     else f"leaf {node_hash} has other balances in the tree file: {balances_json(found)}",
                     node_hash)  # fmt: skip
    root_hash, _, root_balances = levels[0][0]
    leaf_total = ("0", "0", "0")
    for _, _, balances in levels[-1]:
        leaf_total = _sum(leaf_total, balances)
    result.check("root balances", _same(leaf_total, root_balances),
                 f"the leaves add up to {balances_json(leaf_total)}, the root holds {balances_json(root_balances)}",
                 f"total liabilities {balances_json(root_balances)}")  # fmt: skip
    return hex_bytes(root_hash, "the root hash", step="tree")


Node = tuple[str, int, tuple[str, str, str]]


def _tree_levels(text: str, name: str) -> list[list[Node]]:
    """The tree file's nodes grouped by height, root first (heights must run down to 1)."""
    levels: list[list[Node]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        node = _tree_line(line, number)
        expected = levels[-1][0][1] if levels else node[1]
        if node[1] == expected and levels:
            levels[-1].append(node)
        elif node[1] == expected - 1 or not levels:
            levels.append([node])
        else:
            raise StepFailed(
                "tree", f"{name} line {number}: height {node[1]} after height {expected}"
            )
    if not levels or len(levels[0]) != 1 or levels[-1][0][1] != 1:
        raise StepFailed("tree", f"{name} must start with the single root and end at height 1")
    return levels


def _tree_line(line: str, number: int) -> Node:
    hash_text, _, rest = line.partition(",")
    height_text, _, balances_text = rest.partition(",")
    try:
        height = int(height_text)
        balances = json.loads(balances_text)
    except (ValueError, RecursionError) as error:
        raise StepFailed("tree", f"line {number} is not 'hash,height,{{balances}}'") from error
    if height < 1:
        raise StepFailed("tree", f"line {number}: height must be at least 1")
    hex_bytes(hash_text, f"line {number} hash", step="tree")
    try:
        if not isinstance(balances, dict):
            raise StepFailed("tree", f"line {number}: the balances must be an object")
        values = _strings(balances, f"tree line {number}")
    except StepFailed as failure:
        raise StepFailed("tree", failure.detail) from failure
    return hash_text, height, values


def _check_level(parents: list[Node], children: list[Node]) -> None:
    expanded = _without_padding(parents)
    if len(children) != 2 * len(expanded):
        raise StepFailed(
            "tree hashes",
            f"height {children[0][1]} has {len(children)} nodes for {len(expanded)} parents",
        )
    for index, (parent_hash, height, balances) in enumerate(expanded):
        right, left = children[2 * index], children[2 * index + 1]
        computed = sha256_hex(left[0] + right[0] + "".join(balances) + str(height))
        if computed.lower() != parent_hash.lower():
            raise StepFailed(
                "tree hashes",
                f"the node {parent_hash} at height {height} does not hash its children ({computed})",
            )
        if not _same(_sum(left[2], right[2]), balances):
            raise StepFailed(
                "tree hashes",
                f"the node {parent_hash} at height {height} does not hold its children's sum",
            )


def _without_padding(level: list[Node]) -> list[Node]:
    """A level whose node count was odd starts (being listed right to left) with a padding
    node: a zero-balance copy of its neighbour's hash, which has no children of its own."""
    if (
        len(level) > 1
        and level[0][0] == level[1][0]
        and all(Decimal(value) == 0 for value in level[0][2])
    ):
        return level[1:]
    return level
