"""CoinEx's merkle proof file (github.com/coinexcom/proof-of-reserves, ``merkle_proof_file.json``).

    {"root": {"balances": {...}, "hash": hex},
     "self": {"balances": {...}, "nonce": hex},
     "path": [{} | {"balances": {...}, "hash": hex, "pos": "left"|"right"}, ...]}

Hashes are SHA-256 of text, written as lowercase hex text:
- a balances object is written as Go's ``json.Marshal`` of a map writes it: keys sorted, no
  spaces, each amount a string in shopspring's ``Decimal.String()`` form (``"920"``,
  ``"562050.3686362"``: no trailing zeros);
- leaf = H(nonce ‖ balances); the running balances start as the account's own;
- a path entry with a sibling adds the sibling's balances, then
  node = H(left hash ‖ right hash ‖ running balances), the sibling on side ``pos``;
- an empty entry ``{}`` (no sibling at that level): node = H(hash ‖ running balances).
  CoinEx's verifier (main.go) hashes H(hash ‖ hash ‖ balances) here, but its own sample file
  only verifies with the sibling taken as the empty string, so we follow the sample.
- the last node must equal ``root.hash`` and the running balances ``root.balances``.
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
from hashdesk.reserves.verify import compare_root

MAX_PATH = 128


def looks_like(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and {"root", "self", "path"} <= document.keys()
        and isinstance(document["self"], dict)
        and "nonce" in document["self"]
        and "encryptUid" not in document["self"]
    )


def balances_text(balances: dict[str, Decimal]) -> str:
    items = (
        f'{json_string(asset, escape_html=True)}:"{plain(balances[asset])}"'
        for asset in sorted(balances)
    )
    return "{" + ",".join(items) + "}"


def verify(document: Any, result: Verification, published: bytes | None, tree: Path | None) -> None:
    root = field_of(document, "root", dict)
    root_hash = text_field(root, "hash", "root")
    root_balances = balances_of(field_of(root, "balances", dict, "root"), "root")
    own = field_of(document, "self", dict)
    nonce = text_field(own, "nonce", "self")
    balances = balances_of(field_of(own, "balances", dict, "self"), "self")
    path = [_entry(item, number) for number, item in enumerate(field_of(document, "path", list), 1)]
    result.check("schema", bool(path) and len(path) <= MAX_PATH and bool(root_hash),
                 f"the path must have 1 to {MAX_PATH} entries and the root a hash", "all fields present")  # fmt: skip
    current = sha256_hex(nonce + balances_text(balances))
    result.passed("leaf hash", current)
    for number, entry in enumerate(path, 1):
        if entry is None:
            current = sha256_hex(current + balances_text(balances))
            result.passed(f"path step {number}", "no sibling at this level")
            continue
        side, sibling, sibling_balances = entry
        for asset, amount in sibling_balances.items():
            balances[asset] = add(balances.get(asset, Decimal(0)), amount)
        joined = sibling + current if side == "left" else current + sibling
        current = sha256_hex(joined + balances_text(balances))
        result.passed(f"path step {number}", current)
    result.check("root hash", current == root_hash,
                 f"the path leads to {current}, the file's root is {root_hash}", current)  # fmt: skip
    result.check("root balances", _equal(balances, root_balances),
                 f"the path adds up to {balances_text(balances)}, the root says {balances_text(root_balances)}",
                 "the path adds up to the root's balances")  # fmt: skip
    compare_root(result, bytes.fromhex(current), published)


def _entry(item: Any, number: int) -> tuple[str, str, dict[str, Decimal]] | None:
    where = f"path entry {number}"
    if not isinstance(item, dict):
        raise StepFailed("schema", f"{where} must be an object")
    if not item.get("hash"):
        return None
    side = text_field(item, "pos", where)
    if side not in ("left", "right"):
        raise StepFailed("schema", f"{where}: pos must be 'left' or 'right', got {side[:20]!r}")
    return (
        side,
        text_field(item, "hash", where),
        balances_of(field_of(item, "balances", dict, where), where),
    )


def _equal(mine: dict[str, Decimal], theirs: dict[str, Decimal]) -> bool:
    return mine.keys() == theirs.keys() and all(mine[asset] == theirs[asset] for asset in mine)
