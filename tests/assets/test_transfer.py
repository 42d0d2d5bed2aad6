"""Import and export, JSON and CSV: round trips, all-or-nothing, problems named by row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.assets.transfer import (
    ImportFailed,
    do_import_file,
    export_document,
    export_file,
    read_registry_file,
)
from hashdesk.cli import main
from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import SYSTEM
from hashdesk.runtime import Runtime
from tests.assets.conftest import count_rows
from tests.conftest import _empty_all_tables


def _import(runtime: Runtime, path: Path) -> None:
    read = read_registry_file(path)
    with runtime.database.transaction() as session:
        do_import_file(session, SYSTEM, read)


def _snapshot(runtime: Runtime) -> dict[str, object]:
    with runtime.database.session() as session:
        return export_document(session).model_dump(mode="json")


def test_json_round_trip(registry: Runtime, tmp_path: Path) -> None:
    before = _snapshot(registry)
    path = tmp_path / "registry.json"
    with registry.database.session() as session:
        assert export_file(session, path) == len(before["networks"]) + len(before["assets"])  # type: ignore[arg-type]
    _empty_all_tables(registry)
    _import(registry, path)
    assert _snapshot(registry) == before


def test_csv_round_trip_of_both_tables(registry: Runtime, tmp_path: Path) -> None:
    before = _snapshot(registry)
    networks, assets = tmp_path / "networks.csv", tmp_path / "assets.csv"
    with registry.database.session() as session:
        export_file(session, networks, "networks")
        rows = export_file(session, assets, "assets")
    assert rows == sum(len(a["networks"]) for a in before["assets"])  # type: ignore[index, union-attr]
    assert assets.read_text().splitlines()[0].startswith("symbol,name,demo,network,contract")
    _empty_all_tables(registry)
    _import(registry, networks)
    _import(registry, assets)
    assert _snapshot(registry) == before


def test_importing_the_same_file_again_changes_and_audits_nothing(
    registry: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "registry.json"
    with registry.database.session() as session:
        export_file(session, path)
        audits = len(session.scalars(select(AuditEntry)).all())
    read = read_registry_file(path)
    with registry.database.transaction() as session:
        summary = do_import_file(session, SYSTEM, read)
    assert (summary.created, summary.updated) == (0, 0)
    with registry.database.session() as session:
        assert len(session.scalars(select(AuditEntry)).all()) == audits


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


HEADER = "symbol,name,demo,network,contract,decimals,min_deposit,min_withdrawal,withdrawal_fee,memo_required,deposit_enabled,deposit_disabled_reason,withdraw_enabled,withdraw_disabled_reason"


def test_bad_csv_rows_are_named_and_nothing_is_written(
    registry: Runtime, session: Session, tmp_path: Path
) -> None:
    before = count_rows(session)
    path = _write(tmp_path / "assets.csv", [
        HEADER,
        "ACME,Acme Token,false,ethereum,0x00000000000000000000000000000000000000a1,18,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,bsc,0x00000000000000000000000000000000000000a1,many,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,nowhere,0x00000000000000000000000000000000000000a1,18,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,tron,0x00000000000000000000000000000000000000a1,6,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,polygon,0x00000000000000000000000000000000000000a1,6,1,2,0.0000001,,true,,true,",
        "ACME,Acme Token,false,arbitrum,0x00000000000000000000000000000000000000a1,6,1,2,0.5,,false,,true,",
    ])  # fmt: skip
    with pytest.raises(ImportFailed) as failure:
        _import(registry, path)
    messages = [str(problem) for problem in failure.value.problems]
    assert any("row 3" in m and "decimals" in m for m in messages), messages
    assert any("row 6" in m and "withdrawal_fee" in m for m in messages), messages
    assert any("row 7" in m and "deposit_disabled_reason" in m for m in messages), messages
    assert count_rows(session) == before


def test_rows_that_clash_with_the_registry_are_named(
    registry: Runtime, session: Session, tmp_path: Path
) -> None:
    before = count_rows(session)
    usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    path = _write(tmp_path / "assets.csv", [
        HEADER,
        "ACME,Acme Token,false,nowhere,,18,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,tron,0x00000000000000000000000000000000000000a1,6,1,2,0.5,,true,,true,",
        f"ACME,Acme Token,false,ethereum,{usdt.lower()},6,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,bitcoin,,8,1,2,0.5,,true,,true,",
        "ACME,Acme Token,false,solana,,8,1,2,0.5,,true,,true,",
    ])  # fmt: skip
    with pytest.raises(ImportFailed) as failure:
        _import(registry, path)
    messages = [str(problem) for problem in failure.value.problems]
    assert any("row 2" in m and "no network 'nowhere'" in m for m in messages), messages
    assert any("row 3" in m and "contract" in m and "tron" in m for m in messages), messages
    assert any("row 4" in m and "already USDT's" in m for m in messages), messages
    assert any("row 5" in m and "needs its contract" in m for m in messages), messages
    assert count_rows(session) == before


def test_a_wrong_eip55_checksum_is_refused(registry: Runtime, tmp_path: Path) -> None:
    bad = "0xdAC17F958D2ee523a2206206994597C13D831eC7"  # one letter's case changed
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"assets": [{"symbol": "FAKE", "name": "Fake", "networks": [
        {"network": "ethereum", "contract": bad, "decimals": 6}]}]}))  # fmt: skip
    with pytest.raises(ImportFailed) as failure:
        _import(registry, path)
    assert "assets[0] (FAKE) networks[0], field contract" in str(failure.value.problems[0])
    assert "EIP-55" in str(failure.value.problems[0])


def test_bad_json_networks_are_named_by_position(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"networks": [
        {"id": "ok-chain", "name": "OK", "family": "evm", "chain_id": 999_999_001, "native_asset": "OK",
         "block_time_seconds": 2, "confirmations_credit": 1, "confirmations_unlock": 1,
         "address_format": "evm", "tx_hash_format": "evm", "token_format": "evm"},
        {"id": "Bad Slug", "name": "Bad", "family": "evm", "native_asset": "B",
         "block_time_seconds": 2, "confirmations_credit": 5, "confirmations_unlock": 1,
         "address_format": "evm", "tx_hash_format": "evm"},
    ]}))  # fmt: skip
    with pytest.raises(ImportFailed) as failure:
        _import(runtime, path)
    messages = [str(problem) for problem in failure.value.problems]
    assert all("networks[1] (Bad Slug)" in m for m in messages), messages
    assert any("field id" in m for m in messages), messages


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("registry.txt", "", "must end in .json or .csv"),
    ("registry.json", "{not json", "not JSON"),
    ("registry.json", "[]", "expected {"),
    ("assets.csv", "symbol,colour\nX,red\n", "unknown columns: colour"),
    ("assets.csv", "hello,world\n", "expected the asset columns"),
])  # fmt: skip
def test_files_that_are_no_registry_are_refused_clearly(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ImportFailed) as failure:
        read_registry_file(path)
    assert expected in str(failure.value.problems[0])


def test_the_commands_import_and_export(registry: Runtime, cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    result = cli.invoke(main, ["assets", "export", str(path)])
    assert result.exit_code == 0, result.output
    assert "Exported" in result.output and path.exists()
    result = cli.invoke(main, ["assets", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "0 created, 0 changed" in result.output
    bad = _write(
        tmp_path / "bad.csv", [HEADER, "ACME,Acme,false,ethereum,0x12,18,1,2,0.5,,true,,true,"]
    )
    result = cli.invoke(main, ["assets", "import", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv row 2 (ACME on ethereum), field contract" in result.output
    assert "Nothing imported: 1 problem(s)" in result.output
