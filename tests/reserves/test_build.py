"""The builder: refused snapshots name their rows; the root commits to the snapshot's totals;
every account gets a proof that verifies; the numpy/multiprocess build matches a plain one."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashdesk.reserves import (
    BuildError,
    Manifest,
    SnapshotError,
    build_reserves,
    load_manifest,
    verify_document,
)
from hashdesk.reserves.proof import proof_for_account, write_proofs
from hashdesk.reserves.snapshot import Block, _parse_careful, _parse_plain, parse_block
from hashdesk.reserves.tree import Asset, leaf_hash, node_hash, sibling_positions

from .helpers import build, proofs, reference_root, units, write_csv

ASSETS = ["BTC", "ETH", "USDT"]

amounts = st.builds(
    lambda whole, fraction: f"{whole}.{fraction:08d}" if fraction else str(whole),
    st.integers(0, 21_000_000),
    st.integers(0, 10**8 - 1),
)
snapshots = st.lists(st.tuples(amounts, amounts, amounts), min_size=1, max_size=40)


def test_the_encoding_is_pinned_to_bytes() -> None:
    """Leaf and node preimages, spelled out byte by byte (the browser page follows them)."""
    account, nonce = bytes(range(32)), bytes(range(16))
    expected_leaf = hashlib.sha256(
        b"\x00" + account + nonce + (5).to_bytes(16, "big") + (7).to_bytes(16, "big")
    )
    assert leaf_hash(account, nonce, [5, 7]) == expected_leaf.digest()
    left, right = b"\x11" * 32, b"\x22" * 32
    expected_node = hashlib.sha256(b"\x01" + left + right + (2**100).to_bytes(16, "big"))
    assert node_hash(left, right, [2**100]) == expected_node.digest()


def test_an_odd_node_is_promoted_not_duplicated() -> None:
    # Five leaves: leaf 4 has no sibling on levels 0 and 1, so its path is one step long.
    assert sibling_positions(4, 5) == [(2, "left")]
    assert sibling_positions(0, 5) == [(0, "right"), (1, "right"), (2, "right")]
    assert sibling_positions(3, 5) == [(0, "left"), (1, "left"), (2, "right")]
    assert sibling_positions(0, 1) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots)
def test_root_sums_are_the_snapshot_totals_and_every_proof_verifies(
    rows: list[tuple[str, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        named = [(f"acct-{number}", balances) for number, balances in enumerate(rows)]
        result = build(tmp, ASSETS, named)
        for column, symbol in enumerate(ASSETS):
            expected = sum(units(balances[column]) for _, balances in named)
            assert units(result.totals[symbol]) == expected
        root = json.loads((tmp / "out" / "root.json").read_text())
        assert root["hash"] == result.root_hash and root["leaf_count"] == len(rows)
        documents = proofs(tmp / "out")
        assert [proof["account"]["id"] for proof in documents] == [account for account, _ in named]
        for proof in documents:
            verification = verify_document(proof, root=bytes.fromhex(result.root_hash))
            assert verification.ok, verification.failed
        # An independent, plain-Python tree over the same leaves reaches the same root.
        root_hash, root_sums = reference_root(documents)
        assert root_hash.hex() == result.root_hash
        assert root_sums == [units(result.totals[symbol]) for symbol in ASSETS]


@pytest.mark.parametrize(("accounts", "workers"), [(3001, 2), (323, 2), (64, 1), (65, 1)])
def test_chunked_builds_make_the_same_tree_as_a_plain_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accounts: int, workers: int
) -> None:
    # Chunks of 64 leaves: 3,001 accounts cross many chunks and planning reads; 323 ends with a
    # chunk of 3 leaves whose root is promoted from level 2 to the chunks' level 6; 64 is one
    # full chunk and 65 a full one and a single leaf.
    monkeypatch.setattr("hashdesk.reserves.build.CHUNK_LEVELS", 6)
    monkeypatch.setattr("hashdesk.reserves.snapshot.PLAN_BYTES", 2048)
    monkeypatch.setattr("hashdesk.reserves.proof.GROUP_SPAN", 100)
    rows = [(f"user{n}", (f"{n}.5", "0", f"0.0000000{n % 10}")) for n in range(accounts)]
    snapshot = write_csv(tmp_path / "s.csv", ASSETS, rows)
    result = build_reserves(snapshot, tmp_path / "out", workers=workers)
    documents = proofs(tmp_path / "out")
    assert len(documents) == accounts and result.depth == (accounts - 1).bit_length()
    assert reference_root(documents)[0].hex() == result.root_hash
    assert all(verify_document(proof).ok for proof in documents[::7])


cells = st.text(alphabet="0123456789.-e x", max_size=12)
plain_rows = st.lists(
    st.tuples(st.text(alphabet="ab1._-", min_size=0, max_size=5), cells, cells),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(plain_rows, st.sampled_from([0, 2, 8, 18]))
def test_the_fast_parser_agrees_with_the_careful_one(
    rows: list[tuple[str, str, str]], decimals: int
) -> None:
    """Whatever the fast path accepts, the careful path accepts with the same ids and values;
    anything else goes to the careful path, which names the refused rows."""
    block = Block("\n".join(",".join(row) for row in rows).encode(), 2)
    careful = _parse_careful(block, [2, 1], [decimals, 8])
    fast = _parse_plain(block, [2, 1], [decimals, 8])
    if fast is not None:
        assert careful.problems == []
        assert fast.ids == careful.ids
        assert fast.amounts.tolist() == careful.amounts.tolist()
    assert parse_block(block, [2, 1], [decimals, 8]).amounts.tolist() == careful.amounts.tolist()


def test_plain_snapshots_take_the_fast_path() -> None:
    block = Block(b"u1,0.5,12\nu2,,007.25000000\nu.3,5.,0.00000001", 2)
    parsed = _parse_plain(block, [1, 2], [8, 8])
    assert parsed is not None and parsed.ids == [b"u1", b"u2", b"u.3"]
    assert parsed.amounts.tolist() == [[50_000_000, 1_200_000_000], [0, 725_000_000],
                                       [500_000_000, 1]]  # fmt: skip
    for refused in (b'"u1",1,1', b"u1,1", b"u1,1,1\n", b",1,1", b"u1,-1,1", b"u1,1.2.3,1"):
        assert _parse_plain(Block(refused, 2), [1, 2], [8, 8]) is None, refused


def test_negative_balances_are_refused_with_their_lines(tmp_path: Path) -> None:
    rows = [
        ("a", ("1", "2", "3")),
        ("b", ("-0.5", "0", "0")),
        ("c", ("0", "0", "1")),
        ("d", ("0", "-7", "0")),
    ]
    with pytest.raises(SnapshotError) as refused:
        build(tmp_path, ASSETS, rows)
    problems = [(row.line, row.account, row.problem) for row in refused.value.rows]
    assert problems == [(3, "b", "negative balance ('-0.5')"), (5, "d", "negative balance ('-7')")]
    assert "line 3 (account 'b')" in refused.value.render()
    assert not (tmp_path / "out" / "private").exists(), "a refused build leaves nothing behind"


def test_duplicate_accounts_are_refused_with_every_line(tmp_path: Path) -> None:
    rows = [
        ("a", ("1", "0", "0")),
        ("b", ("1", "0", "0")),
        ("a", ("2", "0", "0")),
        ("c", ("0", "0", "0")),
        ("b", ("0", "0", "1")),
    ]
    with pytest.raises(SnapshotError) as refused:
        build(tmp_path, ASSETS, rows)
    assert [(row.line, row.account) for row in refused.value.rows] == [
        (2, "a"),
        (3, "b"),
        (4, "a"),
        (6, "b"),
    ]
    assert all(row.problem == "duplicate account" for row in refused.value.rows)


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("1.123456789", "more than 8 decimal places ('1.123456789')"),
        ("1e5", "not a decimal number ('1e5')"),
        ("1.2.3", "not a decimal number ('1.2.3')"),
        ("100000000000", "balance of 10**19 smallest units or more ('100000000000')"),
    ],
)
def test_malformed_balances_are_refused(tmp_path: Path, cell: str, problem: str) -> None:
    with pytest.raises(SnapshotError) as refused:
        build(tmp_path, ASSETS, [("a", ("1", "0", "0")), ("b", ("0", cell, "0"))])
    assert [(row.line, row.problem) for row in refused.value.rows] == [(3, problem)]


def test_rows_of_the_wrong_width_and_blank_lines_are_refused(tmp_path: Path) -> None:
    snapshot = tmp_path / "s.csv"
    snapshot.write_text("account,BTC,ETH\na,1,2\nb,1\n\nc,1,2,3\n,1,1\n", encoding="utf-8")
    with pytest.raises(SnapshotError) as refused:
        build_reserves(snapshot, tmp_path / "out", workers=1)
    assert [(row.line, row.problem) for row in refused.value.rows] == [
        (3, "2 cells, the header has 3"),
        (4, "blank line"),
        (5, "4 cells, the header has 3"),
        (6, "empty account id"),
    ]


def test_quoted_ids_windows_line_ends_and_empty_cells(tmp_path: Path) -> None:
    snapshot = tmp_path / "s.csv"
    snapshot.write_bytes(b'account,BTC\r\n"x,1",0.5\r\nplain,\r\n')
    result = build_reserves(snapshot, tmp_path / "out", workers=1)
    assert result.totals == {"BTC": "0.50000000"}
    assert [proof["account"]["id"] for proof in proofs(tmp_path / "out")] == ["x,1", "plain"]


def test_a_manifest_sets_decimals_order_and_metadata(tmp_path: Path) -> None:
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps({
        "snapshot_time": "2026-11-27T00:00:00+00:00",
        "block_heights": {"bitcoin": 870000, "ethereum": 21000000},
        "assets": [{"symbol": "ETH", "decimals": 18}, "BTC"],
    }))  # fmt: skip
    manifest = load_manifest(manifest_file)
    result = build(
        tmp_path,
        ["BTC", "ETH"],
        [("a", ("1", "0.000000000000000001")), ("b", ("2", "3"))],
        manifest=manifest,
    )
    assert result.totals == {"ETH": "3.000000000000000001", "BTC": "3.00000000"}
    published = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert published["snapshot_time"] == "2026-11-27T00:00:00Z"
    assert published["block_heights"] == {"bitcoin": 870000, "ethereum": 21000000}
    assert published["assets"] == [
        {"symbol": "ETH", "decimals": 18},
        {"symbol": "BTC", "decimals": 8},
    ]
    proof = proof_for_account(tmp_path / "out", "b")
    assert proof is not None and proof["balances"] == {
        "ETH": "3.000000000000000000",
        "BTC": "2.00000000",
    }
    assert verify_document(proof).ok
    assert proof_for_account(tmp_path / "out", "nobody") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"assets": []}', "'assets' must be a non-empty list"),
        ('{"assets": ["BTC", "BTC"]}', "an asset is listed twice"),
        ('{"assets": [{"symbol": "BTC", "decimals": 40}]}', "'decimals' must be an integer 0-18"),
        ('{"assets": ["BTC"], "snapshot_time": "yesterday"}', "not an ISO 8601 time"),
        ('{"assets": ["BTC"], "snapshot_time": "2026-11-27T00:00:00"}', "needs a time zone"),
        (
            '{"assets": ["BTC"], "block_heights": {"bitcoin": -1}}',
            "maps chain names to block numbers",
        ),
        ("{", "not a readable JSON file"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(SnapshotError, match=message):
        load_manifest(path)


def test_the_manifest_and_the_snapshot_must_name_the_same_assets(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"missing: \['SOL'\], not in the manifest: \['ETH'\]"):
        build(
            tmp_path,
            ["BTC", "ETH"],
            [("a", ("1", "1"))],
            manifest=Manifest([Asset("BTC"), Asset("SOL")]),
        )


def test_an_output_folder_in_use_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "root.json").write_text("{}")
    with pytest.raises(BuildError, match="must be new or empty"):
        build(tmp_path, ASSETS, [("a", ("1", "1", "1"))])
    assert (tmp_path / "out" / "root.json").read_text() == "{}"


def test_a_sample_of_proofs_or_none(tmp_path: Path) -> None:
    rows = [(f"u{n}", ("1", "0", "0")) for n in range(50)]
    result = build(tmp_path, ASSETS, rows, proofs=7)
    assert result.proofs_written == 7 and len(proofs(tmp_path / "out")) == 7
    assert all(verify_document(proof).ok for proof in proofs(tmp_path / "out"))
    other = tmp_path / "second"
    other.mkdir()
    assert build(other, ASSETS, rows, proofs="none").proofs_written == 0


def test_proofs_written_by_several_processes_are_the_files_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hashdesk.reserves.proof.GROUP_SPAN", 64)  # 8 groups for 2 workers
    build(tmp_path, ASSETS, [(f"u{n}", (f"{n}.5", "1", "0")) for n in range(500)], proofs="none")
    out = tmp_path / "out"

    def written(workers: int) -> dict[str, bytes]:
        shutil.rmtree(out / "proofs", ignore_errors=True)
        assert write_proofs(out, range(500), workers=workers) == 500
        return {path.name: path.read_bytes() for path in (out / "proofs").glob("*/*.json")}

    together = written(2)
    assert len(together) == 500 and together == written(1)


def test_parquet_snapshots_when_pyarrow_is_installed(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    from decimal import Decimal

    table = pa.table({
        "account": ["a", "b"],
        "BTC": pa.array([Decimal("0.00000001"), Decimal("2.5")], type=pa.decimal128(20, 8)),
        "ETH": ["1", ""],
    })  # fmt: skip
    parquet.write_table(table, tmp_path / "s.parquet")
    result = build_reserves(tmp_path / "s.parquet", tmp_path / "out", workers=1)
    assert result.totals == {"BTC": "2.50000001", "ETH": "1.00000000"}
    floats = pa.table({"account": ["a"], "BTC": pa.array([0.1], type=pa.float64())})
    parquet.write_table(floats, tmp_path / "f.parquet")
    with pytest.raises(SnapshotError, match="floating-point"):
        build_reserves(tmp_path / "f.parquet", tmp_path / "out2", workers=1)


def test_parquet_row_groups_and_chunks_need_not_line_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    from decimal import Decimal

    monkeypatch.setattr("hashdesk.reserves.build.CHUNK_LEVELS", 3)
    balances = [Decimal(n) / 100 for n in range(37)]
    table = pa.table({"account": [f"p{n}" for n in range(37)],
                      "BTC": pa.array(balances, type=pa.decimal128(20, 8))})  # fmt: skip
    parquet.write_table(table, tmp_path / "s.parquet", row_group_size=5)
    result = build_reserves(tmp_path / "s.parquet", tmp_path / "out", workers=2)
    documents = proofs(tmp_path / "out")
    assert [proof["account"]["id"] for proof in documents] == [f"p{n}" for n in range(37)]
    assert result.totals == {"BTC": "6.66000000"}
    assert reference_root(documents)[0].hex() == result.root_hash


def test_rows_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    snapshot = tmp_path / "s.csv"
    snapshot.write_bytes(b"account,BTC\nok,1\nbad\xff\xfe,2\n")
    with pytest.raises(SnapshotError) as refused:
        build_reserves(snapshot, tmp_path / "out", workers=1)
    assert [(row.line, row.problem) for row in refused.value.rows] == [(3, "not UTF-8 text")]
