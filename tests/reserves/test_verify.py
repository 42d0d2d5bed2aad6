"""The verifier: any change to a proof fails at a named step; bad files never raise; the CLI
exits 0 (valid), 1 (invalid) or 2 (usage)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from hashdesk.cli import main
from hashdesk.reserves import verify_document, verify_file
from hashdesk.reserves.checks import MAX_PROOF_BYTES

from .helpers import build, proofs, write_csv

ASSETS = ["BTC", "ETH", "USDT"]
ROWS = [(f"trader-{n}", (f"{n}.{n:08d}", str(n % 3), "0.5" if n % 2 else "0")) for n in range(13)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("reserves")
    result = build(tmp, ASSETS, ROWS)
    return tmp / "out", result.root_hash, proofs(tmp / "out")


def _flip_hex(text: str, position: int) -> str:
    position %= len(text)
    digit = "1" if text[position] != "1" else "2"
    return text[:position] + digit + text[position + 1 :]


def _bump_amount(text: str, position: int) -> str:
    """Change one digit of a decimal string (never the dot)."""
    digits = [i for i, char in enumerate(text) if char.isdigit()]
    at = digits[position % len(digits)]
    return text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :]


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_change_to_a_proof_fails(
    built: tuple[Path, str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    _, root, documents = built
    proof = copy.deepcopy(data.draw(st.sampled_from(documents)))
    position = data.draw(st.integers(0, 200))
    kind = data.draw(
        st.sampled_from(
            ["balance", "nonce", "sibling hash", "sibling sums", "position", "swap", "drop"]
        )
    )
    path = proof["path"]
    step = path[position % len(path)]
    if kind == "balance":
        symbol = ASSETS[position % 3]
        proof["balances"][symbol] = _bump_amount(proof["balances"][symbol], position)
    elif kind == "nonce":
        proof["nonce"] = _flip_hex(proof["nonce"], position)
    elif kind == "sibling hash":
        step["hash"] = _flip_hex(step["hash"], position)
    elif kind == "sibling sums":
        symbol = ASSETS[position % 3]
        step["sums"][symbol] = _bump_amount(step["sums"][symbol], position)
    elif kind == "position":
        step["position"] = "left" if step["position"] == "right" else "right"
    elif kind == "swap" and len(path) > 1:
        path[0], path[-1] = path[-1], path[0]
    else:
        path.pop(position % len(path))
    if proof == next(d for d in documents if d["leaf"]["index"] == proof["leaf"]["index"]):
        return  # a swap of two identical steps changes nothing
    result = verify_document(proof, root=bytes.fromhex(root))
    assert not result.ok
    assert result.failed is not None and result.failed.name in {
        "amounts", "leaf hash", "path positions", "root sums", "root hash",
    }  # fmt: skip


def test_each_tampering_names_its_step(built: tuple[Path, str, list[dict[str, Any]]]) -> None:
    _, root, documents = built
    proof = documents[4]

    def failed_step(change: Any) -> str:
        changed = copy.deepcopy(proof)
        change(changed)
        result = verify_document(changed, root=bytes.fromhex(root))
        assert result.failed is not None
        return result.failed.name

    assert verify_document(proof, root=bytes.fromhex(root)).ok
    assert failed_step(lambda p: p["account"].update(id="trader-5")) == "account hash"
    assert failed_step(lambda p: p["balances"].update(BTC="4.00000005")) == "leaf hash"
    assert failed_step(lambda p: p["path"].reverse()) == "path positions"
    assert failed_step(lambda p: p["path"][0].update(hash="00" * 32)) == "root hash"
    assert failed_step(lambda p: p["path"][1]["sums"].update(USDT="9")) == "root sums"
    assert failed_step(lambda p: p["balances"].update(BTC="-1")) == "amounts"
    assert failed_step(lambda p: p["balances"].update(BTC="1.000000001")) == "amounts"
    assert failed_step(lambda p: p.update(nonce=7)) == "schema"
    assert failed_step(lambda p: p["leaf"].update(index="4")) == "schema"
    assert failed_step(lambda p: p["path"][0].update(position="up")) == "schema"
    assert failed_step(lambda p: p["balances"].pop("ETH")) == "schema"
    other_root = verify_document(proof, root=b"\x00" * 32)
    assert other_root.failed is not None and other_root.failed.name == "published root"


def test_bad_files_fail_at_a_named_step(
    tmp_path: Path, built: tuple[Path, str, list[dict[str, Any]]]
) -> None:
    _, root, documents = built
    text = json.dumps(documents[0])
    cases = {
        "truncated.json": (text[: len(text) // 2], "parse"),
        "list.json": ("[1, 2]", "format"),
        "binary.json": (b"\xff\xfe\x00garbage", "read"),
        "unknown.json": ('{"hello": "world"}', "format"),
    }
    for name, (content, step) in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        result = verify_file(path, root=root)
        assert result.failed is not None and result.failed.name == step, (name, result.steps)
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (MAX_PROOF_BYTES + 1) + text)
    result = verify_file(huge)
    assert (
        result.failed is not None
        and result.failed.name == "read"
        and "limit" in result.failed.detail
    )
    missing = verify_file(tmp_path / "nope.json")
    assert missing.failed is not None and missing.failed.name == "read"
    bad_root = verify_file(huge, root="xyz")
    assert bad_root.failed is not None and bad_root.failed.name == "published root"


def test_cli_verify_exit_codes(
    tmp_path: Path, built: tuple[Path, str, list[dict[str, Any]]]
) -> None:
    _, root, documents = built
    good = tmp_path / "good.json"
    good.write_text(json.dumps(documents[7]))
    runner = CliRunner()
    valid = runner.invoke(main, ["reserves", "verify", str(good), "--root", root])
    assert valid.exit_code == 0, valid.output
    assert "VALID (hashdesk)" in valid.output and "ok   root hash" in valid.output
    wrong = runner.invoke(main, ["reserves", "verify", str(good), "--root", "ab" * 32])
    assert wrong.exit_code == 1 and "FAIL published root" in wrong.output
    tampered = tmp_path / "tampered.json"
    tampered.write_text(
        json.dumps(documents[7]).replace(documents[7]["nonce"], _flip_hex(documents[7]["nonce"], 3))
    )
    result = runner.invoke(main, ["reserves", "verify", str(tampered)])
    assert result.exit_code == 1 and "FAIL leaf hash" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(good.read_text()[:100])
    result = runner.invoke(main, ["reserves", "verify", str(truncated), "--format", "hashdesk"])
    assert result.exit_code == 1 and "FAIL parse" in result.output
    usage = runner.invoke(main, ["reserves", "verify", str(good), "--format", "binance"])
    assert usage.exit_code == 2


def test_cli_build_shows_progress_and_names_refused_rows(tmp_path: Path) -> None:
    runner = CliRunner()
    snapshot = write_csv(tmp_path / "s.csv", ["BTC"], [("a", ("1",)), ("b", ("2",))])
    result = runner.invoke(
        main,
        [
            "reserves",
            "build",
            "--input",
            str(snapshot),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "leaves and their chunk's levels" in result.stderr
    assert "duplicate check: 2/2" in result.stderr and "levels above the chunks" in result.stderr
    assert "total BTC 3.00000000" in result.stdout
    assert len(list((tmp_path / "out" / "proofs").glob("*/*.json"))) == 2
    bad = write_csv(tmp_path / "bad.csv", ["BTC"], [("a", ("1",)), ("a", ("-2",))])
    refused = runner.invoke(
        main,
        [
            "reserves",
            "build",
            "--input",
            str(bad),
            "--out",
            str(tmp_path / "out2"),
            "--workers",
            "1",
        ],
    )
    assert refused.exit_code == 1
    assert "line 2 (account 'a'): duplicate account" in refused.output
    assert "line 3 (account 'a'): negative balance ('-2')" in refused.output
    assert "line 3 (account 'a'): duplicate account" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    sample = runner.invoke(
        main,
        [
            "reserves",
            "build",
            "--input",
            str(snapshot),
            "--out",
            str(tmp_path / "o3"),
            "--proofs",
            "some",
        ],
    )
    assert sample.exit_code == 2
