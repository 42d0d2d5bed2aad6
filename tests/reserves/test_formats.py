"""The exchanges' formats: one hand-computed hash per format from its published sample, and
generated trees (tests/reserves/foreign.py) verified, tampered with and recognised."""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashdesk.reserves import detect_format, verify_document, verify_file
from hashdesk.reserves.formats import bitget, coinex, okx
from hashdesk.reserves.formats.common import plain

from .foreign import bitget_proofs, coinex_proofs, okx_v1_proofs, okx_v2_files

amount = st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False, allow_infinity=False)
coinex_users = st.lists(
    st.dictionaries(st.sampled_from(["BTC", "ETH", "USDT", "CET"]), amount, min_size=1),
    min_size=2,
    max_size=12,
)
okx_users = st.lists(
    st.lists(amount.map(lambda d: plain(d)), min_size=3, max_size=3), min_size=2, max_size=12
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- hashes checked by hand against the published samples ----------------------------------


def test_coinex_sample_leaf_and_root() -> None:
    # Values copied from coinexcom/proof-of-reserves example/merkle_proof_file.json ("self", root).
    leaf = _sha(
        "79b0319c0003e6b5f149525a6677f1bcb7851e9bd7bf05c7089576d38dd95efa" + '{"USDT":"374.250573"}'
    )
    assert coinex.balances_text({"USDT": Decimal("374.250573")}) == '{"USDT":"374.250573"}'
    # The sample's first path entry is {}: the next hash is H(leaf ‖ balances), with no second leaf
    # hash (CoinEx's main.go would write H(leaf ‖ leaf ‖ balances), which the sample's root refutes).
    document = {
        "root": {"balances": {"USDT": "374.250573"}, "hash": _sha(leaf + '{"USDT":"374.250573"}')},
        "self": {
            "balances": {"USDT": "374.250573"},
            "nonce": "79b0319c0003e6b5f149525a6677f1bcb7851e9bd7bf05c7089576d38dd95efa",
        },
        "path": [{}],
    }
    assert verify_document(document, "coinex").ok
    document["root"]["hash"] = _sha(leaf + leaf + '{"USDT":"374.250573"}')
    assert not verify_document(document, "coinex").ok


def test_okx_v1_sample_self_hash() -> None:
    # Copied from okx/proof-of-reserves example/merkle_proof_file.json ("self").
    text = '{"BTC":"1.000069","ETH":"0.99908176","USDT":"19398.33550812"}'
    assert okx.balances_json(("1.000069", "0.99908176", "19398.33550812")) == text
    computed = _sha("580c5e814d180153ba6d28eb61a5b60b145450884f9931822b15fd9e0f50ae22" + text)
    assert computed == "461a101e9aa20e694e52cb95dae0d84d81787f532859f1385bae3f009926366c"


def test_okx_v2_sample_user_hash_leaf_and_root() -> None:
    # Copied from okx/proof-of-reserves example/user_info_file.json and
    # example/full-liabilities-merkle-tree.txt (its first three lines).
    user_hash = _sha(
        "b6f6ea7584742839791ab923f4f1980d7ca3ff7c5d3f3fd9cc2a18c598503553"
        + '{"BTC":"0.00005","ETH":"0","USDT":"0"}'
    )
    assert user_hash == "cd7b0c79c62f3c680cdd8e536604b7db1d6e7752dd1111ae4d778103adfec4b9"
    assert (
        _sha(user_hash + "0.0000487" + "0" + "0")
        == "9efbc1a68c383bd8627b73d9a4be6fd552e5a61dc0afb6d217d26e558e96307c"
    )
    # Lines of one height run right to left: the root hashes the second line, then the first.
    left, right = (
        "82f532ededf6b45f4682b7f520b7ba1359766f30bddd62706d303b4bdb449e87",
        "b812559c37e94eb2782aa2729058cb677b24470524dde873b137630a985c3256",
    )
    root = _sha(left + right + "0.00005" + "0.1" + "1.42045977" + "6")
    assert root == "9e98ebde32ef22ded88a5fb2d5e53d76ed57cb9c6b2c966f250721defe6ab041"


def test_bitget_sample_leaf() -> None:
    # Copied from BitgetLimited/proof-of-reserves merkel_tree_bg.json ("self"), keys in file order.
    symbols = [
        "BTC",
        "USDT",
        "ETH",
        "LTC",
        "LINK",
        "XRP",
        "USDC",
        "DOGE",
        "BNB",
        "SOL",
        "ADA",
        "BGB",
        "NEAR",
        "XAUT",
        "TAO",
        "SUI",
        "ONDO",
        "HYPE",
        "PI",
        "USDGO",
    ]
    balances = {symbol: Decimal(0) for symbol in symbols} | {
        "USDT": Decimal("294.37387598"),
        "XAUT": Decimal("0.0017967"),
    }
    uid = "0c54910746363be19d62717463d4bdb6c220747111bc733f036081bc64fa6dcf"
    nonce = "8dea4b739ae53d3022b1ca446798f203bc3795d5d8e4aa58832f2c232d537495"
    assert bitget.leaf_hash(uid, nonce, balances) == "d2b2b4a40a675e24"


def test_decimal_text_forms() -> None:
    assert [plain(Decimal(t)) for t in ("920", "1E+2", "0.50", "-0.000", "0.0000487", "-1.10")] == [
        "920", "100", "0.5", "0", "0.0000487", "-1.1",
    ]  # fmt: skip


# --- generated trees ----------------------------------------------------------------------


def _round_trip(documents: list[dict[str, Any]], name: str) -> None:
    for document in documents:
        assert detect_format(document) == name
        result = verify_document(document, name)
        assert result.ok, result.steps


@settings(max_examples=30, deadline=None)
@given(coinex_users)
def test_coinex_generated_proofs_verify(users: list[dict[str, Decimal]]) -> None:
    _round_trip(coinex_proofs(users), "coinex")


@settings(max_examples=30, deadline=None)
@given(okx_users)
def test_okx_v1_generated_proofs_verify(users: list[list[str]]) -> None:
    _round_trip(okx_v1_proofs(users), "okx-v1")


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["BTC", "USDT", "PI"]), amount, min_size=1),
        min_size=2,
        max_size=12,
    )
)
def test_bitget_generated_proofs_verify(users: list[dict[str, Decimal]]) -> None:
    keys = sorted({asset for user in users for asset in user})
    aligned = [{asset: user.get(asset, Decimal(0)) for asset in keys} for user in users]
    _round_trip(bitget_proofs(aligned), "bitget")


def test_okx_v2_generated_files_verify(tmp_path: Path) -> None:
    users = [
        [["0.1", "0", "5"]],
        [["0", "2.5", "0"], ["0.00000001", "0", "0"]],
        [["1", "1", "1"]],
        [["0", "0", "0.3"]],
    ]
    infos, tree = okx_v2_files(users)
    (tmp_path / "tree.txt").write_text(tree)
    root = tree.split(",", 1)[0]
    for number, info in enumerate(infos):
        path = tmp_path / f"user{number}.json"
        path.write_text(json.dumps(info))
        result = verify_file(path, root=root, tree=tmp_path / "tree.txt")
        assert result.ok and result.format == "okx-v2", result.steps
    lines = tree.splitlines()
    lines[3] = lines[3].replace('"0.3"', '"0.4"') if '"0.3"' in lines[3] else lines[3][:-3] + '9"}'
    (tmp_path / "tampered.txt").write_text("\n".join(lines))
    tampered = verify_file(tmp_path / "user0.json", tree=tmp_path / "tampered.txt")
    assert tampered.failed is not None and tampered.failed.name in {
        "tree hashes",
        "root balances",
        "leaf in tree 1",
    }


def _tamper_foreign(document: dict[str, Any], name: str, where: int) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    entries = [entry for entry in changed["path"] if entry.get("balances")]
    entry = entries[where % len(entries)]
    asset = next(iter(entry["balances"]))
    entry["balances"][asset] = str(Decimal(entry["balances"][asset]) + Decimal("0.00000001"))
    return changed


@pytest.mark.parametrize(
    ("name", "make"),
    [
        (
            "coinex",
            lambda: coinex_proofs(
                [
                    {"BTC": Decimal("1.5")},
                    {"BTC": Decimal("2"), "ETH": Decimal("3")},
                    {"USDT": Decimal("4")},
                ]
            ),
        ),
        (
            "okx-v1",
            lambda: okx_v1_proofs([["1", "0", "2"], ["0.5", "0.5", "0"], ["0", "0", "7.25"]]),
        ),
        (
            "bitget",
            lambda: bitget_proofs(
                [
                    {"BTC": Decimal("1"), "USDT": Decimal("0")},
                    {"BTC": Decimal("0"), "USDT": Decimal("3")},
                    {"BTC": Decimal("2"), "USDT": Decimal("1")},
                ]
            ),
        ),
    ],
)
def test_foreign_tampering_fails_at_a_named_step(name: str, make: Any) -> None:
    documents = make()
    for where in range(4):
        result = verify_document(_tamper_foreign(documents[0], name, where), name)
        assert not result.ok and result.failed is not None
        assert result.failed.name in {"root hash", "root balances", "leaf hash"}, result.failed
    broken = copy.deepcopy(documents[1])
    broken["self"]["nonce"] = "00" + broken["self"]["nonce"][2:]
    result = verify_document(broken, name)
    assert (
        not result.ok
        and result.failed is not None
        and result.failed.name in {"leaf hash", "root hash"}
    )
    wrong_type = copy.deepcopy(documents[1])
    wrong_type["path"] = "nope"
    result = verify_document(wrong_type, name)
    assert result.failed is not None and result.failed.name == "schema"


def test_okx_v2_needs_its_tree_and_refuses_a_bad_one(tmp_path: Path) -> None:
    infos, _ = okx_v2_files([[["1", "0", "0"]], [["0", "1", "0"]]])
    user = tmp_path / "user.json"
    user.write_text(json.dumps(infos[0]))
    alone = verify_file(user)
    assert (
        alone.failed is not None and alone.failed.name == "tree" and "--tree" in alone.failed.detail
    )
    (tmp_path / "junk.txt").write_text("not,a,tree\n")
    junk = verify_file(user, tree=tmp_path / "junk.txt")
    assert junk.failed is not None and junk.failed.name == "tree"
