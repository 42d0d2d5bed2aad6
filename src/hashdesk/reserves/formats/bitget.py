"""Bitget's merkle proof file (github.com/BitgetLimited/proof-of-reserves, ``merkel_tree_bg.json``).

    {"path": [{"balances": {...}, "level": 25, "merkelLeaf": hex16, "role": 1|2|0}, ..., root],
     "self": {"balances": {...}, "encryptUid": hex, "level": 25, "merkelLeaf": hex16,
              "nonce": hex, "role": 1|2}}

Hashes are the first 16 hex digits of SHA-256 of UTF-8 text:
- a balances object is compact JSON in the file's own key order, each amount a string with
  trailing zeros stripped and no exponent (Java ``stripTrailingZeros().toPlainString()``);
- leaf = H(encryptUid ‖ "," ‖ nonce ‖ "," ‖ balances)[:16];
- a parent's balances are its left child's then its right child's (exact sums, keys in the
  order first met), its level the left child's minus one, and
  parent = H(left ‖ right ‖ "," ‖ balances ‖ "," ‖ level)[:16];
- ``role`` is a node's own side: 1 left, 2 right, 0 an empty node (taken as a right one);
  the first path entry is the leaf's sibling and must be on the other side;
- the last path entry is the root: same hash, same amounts (compared as numbers), same level.
Bitget's balances may be negative (its sample has some): they are summed as they are.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from hashdesk.reserves.checks import StepFailed, Verification, field_of
from hashdesk.reserves.formats.common import (
    add,
    balances_of,
    json_string,
    plain,
    sha256_hex,
    text_field,
)

LEFT = 1
MAX_PATH = 128
HASH_DIGITS = 16


def looks_like(document: Any) -> bool:
    own = document.get("self") if isinstance(document, dict) else None
    return isinstance(own, dict) and ("merkelLeaf" in own or "encryptUid" in own)


def balances_text(balances: dict[str, Decimal]) -> str:
    return (
        "{"
        + ",".join(f'{json_string(asset)}:"{plain(amount)}"' for asset, amount in balances.items())
        + "}"
    )


def leaf_hash(encrypt_uid: str, nonce: str, balances: dict[str, Decimal]) -> str:
    return sha256_hex(f"{encrypt_uid},{nonce},{balances_text(balances)}")[:HASH_DIGITS]


def parent_hash(left: str, right: str, balances: dict[str, Decimal], level: int) -> str:
    return sha256_hex(f"{left}{right},{balances_text(balances)},{level}")[:HASH_DIGITS]


def merge(left: dict[str, Decimal], right: dict[str, Decimal]) -> dict[str, Decimal]:
    merged = dict(left)
    for asset, amount in right.items():
        merged[asset] = add(merged[asset], amount) if asset in merged else amount
    return merged


class _Node:
    def __init__(self, item: Any, where: str, root: bool = False) -> None:
        self.hash = text_field(item, "merkelLeaf", where)
        self.balances = balances_of(field_of(item, "balances", dict, where), where)
        self.level = int(field_of(item, "level", int, where))
        # The root entry has no role in Bitget's sample.
        self.role = int(field_of(item, "role", int, where)) if not root or "role" in item else -1
        if not self.hash or self.level < 1 or (not root and not 0 <= self.role <= 3):
            raise StepFailed(
                "schema", f"{where}: needs a hash, a level of at least 1 and a role 0-3"
            )


def verify(document: Any, result: Verification, published: bytes | None, tree: Path | None) -> None:
    own_item = field_of(document, "self", dict)
    own = _Node(own_item, "self")
    encrypt_uid, nonce = (
        text_field(own_item, "encryptUid", "self"),
        text_field(own_item, "nonce", "self"),
    )
    raw_path = field_of(document, "path", list)
    result.check(
        "schema",
        2 <= len(raw_path) <= MAX_PATH,
        f"the path must have 2 to {MAX_PATH} entries (siblings, then the root)",
    )
    path = [
        _Node(item, f"path entry {n}", root=n == len(raw_path))
        for n, item in enumerate(raw_path, 1)
    ]
    computed = leaf_hash(encrypt_uid, nonce, own.balances)
    result.check(
        "leaf hash",
        computed == own.hash,
        f"the leaf hashes to {computed}, the file says {own.hash}",
        computed,
    )
    result.check("path positions", path[0].role != own.role,
                 f"the leaf and its sibling are both of role {own.role} (1 left, 2 right)", "the sibling is on the other side")  # fmt: skip
    current, balances, level = own.hash, own.balances, own.level
    for number, sibling in enumerate(path[:-1], 1):
        if sibling.role == LEFT:
            left, right, left_level = sibling.hash, current, sibling.level
            balances = merge(sibling.balances, balances)
        else:
            left, right, left_level = current, sibling.hash, level
            balances = merge(balances, sibling.balances)
        level = left_level - 1
        current = parent_hash(left, right, balances, level)
        result.passed(f"path step {number}", current)
    root = path[-1]
    result.check(
        "root hash",
        current == root.hash,
        f"the path leads to {current}, the file's root is {root.hash}",
        current,
    )
    result.check("root balances", all(asset in root.balances and root.balances[asset] == amount for asset, amount in balances.items()),
                 f"the path adds up to {balances_text(balances)}, the root says {balances_text(root.balances)}",
                 "the path adds up to the root's balances")  # fmt: skip
    result.check(
        "root level",
        level == root.level,
        f"the path ends at level {level}, the root is at {root.level}",
    )
    if published is not None:
        # Bitget publishes 16-hex-digit roots: compare them as text, not as 32-byte hashes.
        result.root = current
        result.check("published root", published.hex() == current.lower(),
                     f"the path leads to {current}, not to the published root {published.hex()}", "matches the published root")  # fmt: skip
    else:
        result.root = current
