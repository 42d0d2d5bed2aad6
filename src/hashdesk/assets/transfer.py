"""Registry files: import and export as JSON or CSV (the format from the file's extension).

JSON holds the whole registry, ``{"networks": [...], "assets": [...]}``, each asset with its
``networks`` (the shapes of ``schemas.NetworkData`` and ``schemas.AssetData``). CSV holds one
table: assets (one row per asset and network: ``ASSET_COLUMNS``; an asset on no network is a
row with an empty ``network``) or networks (``NETWORK_COLUMNS``; lists separated by ``|``),
recognised from the header. Booleans are ``true``/``false``; an empty cell is "not given".

An import is all or nothing: every record is checked, alone and against the rest of the
registry, and the import is refused with every problem named (file, row or position, field)
unless all are good. An asset's networks become exactly those the file lists for it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from hashdesk.assets import queries
from hashdesk.assets.actions import Problem, Summary, check_document, do_apply_document
from hashdesk.assets.schemas import (
    AssetData,
    AssetNetworkData,
    NetworkData,
    RegistryDocument,
)
from hashdesk.core.auth import Principal

ASSET_COLUMNS = ("symbol", "name", "demo", "network", "contract", "decimals", "min_deposit",
                 "min_withdrawal", "withdrawal_fee", "memo_required", "deposit_enabled",
                 "deposit_disabled_reason", "withdraw_enabled", "withdraw_disabled_reason")  # fmt: skip
NETWORK_COLUMNS = ("id", "name", "family", "chain_id", "native_asset", "block_time_seconds",
                   "confirmations_credit", "confirmations_unlock", "explorer_tx_url",
                   "explorer_address_url", "address_format", "tx_hash_format", "token_format",
                   "memo_name", "memo_format", "memo_required", "rpc_endpoints", "aliases",
                   "status", "status_reason")  # fmt: skip
LIST_SEPARATOR = "|"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 50
Table = Literal["assets", "networks"]


class ImportFailed(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s)")


@dataclass
class ReadFile:
    """A parsed file and, for every record, where it came from (for messages)."""

    document: RegistryDocument
    places: dict[tuple[str, str | None], str] = field(default_factory=dict)
    records: int = 0

    def where(self, name: str, network: str | None) -> str:
        key = (name.lower(), network)
        return self.places.get(key) or self.places.get((name.lower(), None)) or name


# --- reading ---------------------------------------------------------------------------------


def read_registry_file(path: Path) -> ReadFile:
    """Parse ``path`` (``.json`` or ``.csv``); raises ``ImportFailed`` naming every problem."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ImportFailed([Problem(path.name, None, "the file must end in .json or .csv")])
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportFailed([Problem(path.name, None, "the file is larger than 64 MiB")])
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailed([Problem(path.name, None, f"cannot read it: {error}")]) from error
    return read_json(text, path.name) if suffix == ".json" else read_csv(text, path.name)


def _validation_problems(error: ValidationError, where: str, prefix: str = "") -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        name = f"{prefix}{location}" if location else (prefix.rstrip(".") or None)
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(Problem(where, name, message))
    return problems


def _parse(model: type[BaseModel], value: Any, where: str, problems: list[Problem],
           prefix: str = "") -> Any:  # fmt: skip
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems += _validation_problems(error, where, prefix)
        return None


def read_json(text: str, name: str) -> ReadFile:
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ImportFailed([Problem(name, None, f"not JSON: {error}")]) from error
    if not isinstance(raw, dict) or not set(raw) <= {"networks", "assets"}:
        raise ImportFailed([Problem(name, None, 'expected {"networks": [...], "assets": [...]}')])
    problems: list[Problem] = []
    result = ReadFile(RegistryDocument())
    for key in ("networks", "assets"):
        if not isinstance(raw.get(key, []), list):
            problems.append(Problem(name, key, "must be a list"))
    if problems:
        raise ImportFailed(problems)
    for number, item in enumerate(raw.get("networks", [])):
        label = _json_label(name, "networks", number, item, "id")
        network = _parse(NetworkData, item, label, problems)
        if network is not None:
            result.document.networks.append(network)
            result.places[(network.id, None)] = label
    for number, item in enumerate(raw.get("assets", [])):
        label = _json_label(name, "assets", number, item, "symbol")
        asset = _parse(AssetData, item, label, problems)
        if asset is not None:
            result.document.assets.append(asset)
            _place_asset_rows(result, asset, label)
    result.records = len(raw.get("networks", [])) + len(raw.get("assets", []))
    if problems:
        raise ImportFailed(problems)
    return result


def _json_label(name: str, key: str, number: int, item: Any, id_field: str) -> str:
    identifier = item.get(id_field) if isinstance(item, dict) else None
    return f"{name}: {key}[{number}]" + (f" ({identifier})" if isinstance(identifier, str) else "")


def _place_asset_rows(result: ReadFile, asset: AssetData, label: str) -> None:
    result.places[(asset.symbol.lower(), None)] = label
    for number, row in enumerate(asset.networks):
        result.places[(asset.symbol.lower(), row.network)] = f"{label} networks[{number}]"


def _rows(text: str, name: str, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = tuple(reader.fieldnames or ())
    missing = [c for c in columns if c not in header and c not in OPTIONAL_COLUMNS]
    unknown = [c for c in header if c not in columns]
    if missing or unknown:
        detail = "; ".join(part for part in (
            f"missing columns: {', '.join(missing)}" if missing else "",
            f"unknown columns: {', '.join(unknown)}" if unknown else "") if part)  # fmt: skip
        raise ImportFailed([Problem(f"{name} header", None, detail)])
    for number, row in enumerate(reader, start=2):  # row 1 is the header, as a spreadsheet counts
        if None in row:
            raise ImportFailed([Problem(f"{name} row {number}", None, "more cells than columns")])
        yield number, {key: (value or "").strip() for key, value in row.items()}


# Columns an older or hand-made file may leave out (their values are then "not given").
OPTIONAL_COLUMNS = frozenset({"demo", "memo_required", "deposit_disabled_reason",
                              "withdraw_disabled_reason", "rpc_endpoints", "aliases",
                              "status_reason", "token_format", "memo_name", "memo_format"})  # fmt: skip


def read_csv(text: str, name: str) -> ReadFile:
    header = next(csv.reader(io.StringIO(text)), [])
    if "symbol" in header:
        return _read_asset_rows(text, name)
    if "family" in header:
        return _read_network_rows(text, name)
    raise ImportFailed([Problem(f"{name} header", None,
                                "expected the asset columns (symbol, network, ...) or the network "
                                "columns (id, family, ...)")])  # fmt: skip


def _cell(row: dict[str, str], key: str) -> str | None:
    value = row.get(key, "")
    return value or None


def _asset_row_values(row: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {key: _cell(row, key) for key in ASSET_COLUMNS[4:]}
    values["network"] = row.get("network", "")
    return {key: value for key, value in values.items() if value is not None}


def _read_asset_rows(text: str, name: str) -> ReadFile:
    problems: list[Problem] = []
    result = ReadFile(RegistryDocument())
    assets: dict[str, AssetData] = {}
    for number, row in _rows(text, name, ASSET_COLUMNS):
        label = f"{name} row {number}"
        result.records += 1
        head = _parse(AssetData, {"symbol": row.get("symbol", ""), "name": row.get("name", ""),
                                  "demo": row.get("demo") or False}, label, problems)  # fmt: skip
        if head is None:
            continue
        asset = assets.setdefault(head.symbol.lower(), head)
        if (asset.name, asset.demo) != (head.name, head.demo):
            problems.append(Problem(label, "name", f"{head.symbol}'s name or demo flag differs "
                                                   f"from its first row ({asset.name!r})"))  # fmt: skip
            continue
        result.places.setdefault((asset.symbol.lower(), None), label)
        if not row.get("network"):
            continue
        deployment = _parse(AssetNetworkData, _asset_row_values(row), label, problems)
        if deployment is None:
            continue
        if any(d.network == deployment.network for d in asset.networks):
            problems.append(Problem(label, "network",
                                    f"{asset.symbol} on {deployment.network} is listed twice"))  # fmt: skip
            continue
        asset.networks.append(deployment)
        result.places[(asset.symbol.lower(), deployment.network)] = (
            f"{label} ({asset.symbol} on {deployment.network})"
        )
    if problems:
        raise ImportFailed(problems)
    result.document.assets.extend(assets.values())
    return result


def _network_row_values(row: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {key: _cell(row, key) for key in NETWORK_COLUMNS}
    for key in ("rpc_endpoints", "aliases"):
        values[key] = [part.strip() for part in (values[key] or "").split(LIST_SEPARATOR)
                       if part.strip()]  # fmt: skip
    memo = {key: values.pop(f"memo_{key}") for key in ("name", "format", "required")}
    if any(value is not None for value in memo.values()):
        values["memo"] = {key: value for key, value in memo.items() if value is not None}
    return {key: value for key, value in values.items() if value is not None}


def _read_network_rows(text: str, name: str) -> ReadFile:
    problems: list[Problem] = []
    result = ReadFile(RegistryDocument())
    for number, row in _rows(text, name, NETWORK_COLUMNS):
        label = f"{name} row {number}" + (f" ({row['id']})" if row.get("id") else "")
        result.records += 1
        network = _parse(NetworkData, _network_row_values(row), label, problems)
        if network is not None:
            result.document.networks.append(network)
            result.places[(network.id, None)] = label
    if problems:
        raise ImportFailed(problems)
    return result


# --- importing -------------------------------------------------------------------------------


def do_import_file(session: Session, actor: Principal, read: ReadFile) -> Summary:
    """Check ``read`` against the registry and write it, or raise ``ImportFailed``."""
    problems = check_document(session, read.document, read.where)
    if problems:
        raise ImportFailed(problems)
    return do_apply_document(session, actor, read.document)


def import_document(session: Session, actor: Principal, document: RegistryDocument,
                    where: Callable[[str, str | None], str] | None = None) -> Summary:  # fmt: skip
    """The same for a document built in code (the demo registry)."""
    read = ReadFile(document)
    problems = check_document(session, document, where or read.where)
    if problems:
        raise ImportFailed(problems)
    return do_apply_document(session, actor, document)


# --- exporting -------------------------------------------------------------------------------


def export_document(session: Session) -> RegistryDocument:
    networks = [NetworkData.model_validate(queries.network_public(n).model_dump())
                for n in queries.list_networks(session)]  # fmt: skip
    assets = []
    for asset in queries.list_all_assets(session):
        rows = [AssetNetworkData.model_validate(queries.asset_network_public(r).model_dump(
            include=set(AssetNetworkData.model_fields))) for r in asset.networks]  # fmt: skip
        assets.append(AssetData(symbol=asset.symbol, name=asset.name, demo=asset.demo,
                                networks=rows))  # fmt: skip
    return RegistryDocument(networks=networks, assets=assets)


def export_file(session: Session, path: Path, table: Table = "assets") -> int:
    """Write the registry to ``path`` (JSON: all of it; CSV: the ``table``); returns the
    number of records written. Written beside and renamed, so a failure leaves no half file."""
    document = export_document(session)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(document.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"
        count = len(document.networks) + len(document.assets)
    elif suffix == ".csv":
        text, count = _assets_csv(document) if table == "assets" else _networks_csv(document)
    else:
        raise ValueError("the file must end in .json or .csv")
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return count


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return LIST_SEPARATOR.join(str(part) for part in value)
    return str(value)


def _write_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_value(row.get(key)) for key in columns})
    return buffer.getvalue()


def _assets_csv(document: RegistryDocument) -> tuple[str, int]:
    rows: list[dict[str, Any]] = []
    for asset in document.assets:
        head = {"symbol": asset.symbol, "name": asset.name, "demo": asset.demo}
        if not asset.networks:
            rows.append(head)
        for deployment in asset.networks:
            rows.append({**head, **deployment.model_dump(mode="json")})
    return _write_csv(ASSET_COLUMNS, rows), len(rows)


def _networks_csv(document: RegistryDocument) -> tuple[str, int]:
    rows = []
    for network in document.networks:
        values = network.model_dump(mode="json", exclude={"memo"})
        if network.memo is not None:
            values.update(memo_name=network.memo.name, memo_format=network.memo.format,
                          memo_required=network.memo.required)  # fmt: skip
        rows.append(values)
    return _write_csv(NETWORK_COLUMNS, rows), len(rows)
