"""Registry writes: networks, assets, and an asset on a network. The only writers.

Every change is audited (before and after) and announced on the ``assets`` channel after
commit, so every node's lookup index follows. Writes need ``Permission.MANAGE_ASSETS``; the
command line acts as the system. An import (``transfer``) and the API share the rules below:
a record is checked against the rest of the registry (``check_document``) before anything
is written, and a record that changes nothing writes nothing (re-importing is harmless).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hashdesk.assets import queries
from hashdesk.assets.formats import TOKEN_FORMATS, to_checksum_address
from hashdesk.assets.live import CHANNEL, changed_here, origin_of
from hashdesk.assets.models import Asset, AssetNetwork, Network
from hashdesk.assets.schemas import (
    AssetData,
    AssetFields,
    AssetNetworkData,
    AssetNetworkFields,
    NetworkData,
    NetworkFields,
    NetworkStatusChange,
    RegistryDocument,
)
from hashdesk.core.audit import record
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.db import on_commit
from hashdesk.core.errors import InvalidInput, NotFound
from hashdesk.core.events import publish_on_commit


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record of a write or an import, and where."""

    where: str
    field: str | None
    message: str

    def __str__(self) -> str:
        at = f"{self.where}, field {self.field}" if self.field else self.where
        return f"{at}: {self.message}"


@dataclass
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[tuple[str, str, Any, dict[str, Any] | None, dict[str, Any]]] = field(
        default_factory=list
    )


def require_manager(actor: Principal) -> None:
    if actor.kind is not PrincipalKind.SYSTEM:
        actor.require(Permission.MANAGE_ASSETS)


def announce(session: Session, kind: str, **data: Any) -> None:
    """Tell every node (and this one, at once) after commit that the registry changed."""
    bus = session.info.get("bus")
    origin = origin_of(bus) if bus is not None else ""
    publish_on_commit(session, CHANNEL, {"type": kind, "origin": origin, **data})
    on_commit(session, lambda: changed_here(bus))


# --- the rules, shared by the API and imports -----------------------------------------------


def normalize_contract(kind: str | None, contract: str | None) -> str | None:
    """EVM contracts are kept in their EIP-55 form, whatever case they arrive in."""
    if contract and kind == "evm":
        return to_checksum_address(contract)
    return contract


def contract_problem(
    network: NetworkFields, slug: str, symbol: str, contract: str | None
) -> str | None:
    if contract is None:
        if symbol.lower() != network.native_asset.lower():
            return f"a token on {slug} needs its contract (the native coin there is {network.native_asset})"
        return None
    if network.token_format is None:
        return f"{slug} has no tokens: leave the contract empty for its native coin"
    problem = TOKEN_FORMATS[network.token_format](contract)
    if problem is not None:
        return f"not a valid {network.token_format} token on {slug}: " + problem.message.format(
            **problem.params
        )
    return None


def check_document(session: Session, document: RegistryDocument,
                   where: Callable[[str, str | None], str]) -> list[Problem]:  # fmt: skip
    """Everything in ``document`` that does not fit the rest of the registry (the database
    as ``document`` would leave it). ``where(symbol_or_slug, network)`` names a record."""
    problems: list[Problem] = []
    networks: dict[str, NetworkFields] = {
        slug: _stored_fields(row) for slug, row in queries.networks_by_slug(session).items()
    }
    networks.update({n.id: n for n in document.networks})
    problems += _chain_id_clashes(networks, where)
    rewritten = {asset.symbol.lower() for asset in document.assets}
    for data in document.networks:
        for symbol, message in _tokens_still_fit(session, data.id, data, rewritten):
            problems.append(Problem(where(data.id, None), "token_format", f"{symbol}: {message}"))
    problems += _symbol_clashes(session, document, where)
    problems += _contract_problems(session, document, networks, where)
    return problems


def _stored_fields(network: Network) -> NetworkFields:
    return queries.network_public(network)


def _chain_id_clashes(networks: dict[str, NetworkFields],
                      where: Callable[[str, str | None], str]) -> list[Problem]:  # fmt: skip
    owners: dict[int, str] = {}
    problems = []
    for slug, network in sorted(networks.items()):
        if network.chain_id is None:
            continue
        if network.chain_id in owners:
            problems.append(Problem(where(slug, None), "chain_id",
                                    f"chain id {network.chain_id} is already {owners[network.chain_id]}'s"))  # fmt: skip
        owners.setdefault(network.chain_id, slug)
    return problems


def _symbol_clashes(session: Session, document: RegistryDocument,
                    where: Callable[[str, str | None], str]) -> list[Problem]:  # fmt: skip
    seen: dict[str, str] = {}
    problems = []
    for asset in document.assets:
        key = asset.symbol.lower()
        if key in seen:
            problems.append(Problem(where(asset.symbol, None), "symbol",
                                    f"{asset.symbol} is listed twice (also as {seen[key]})"))  # fmt: skip
        seen.setdefault(key, asset.symbol)
    return problems


def _contract_problems(session: Session, document: RegistryDocument,
                       networks: dict[str, NetworkFields],
                       where: Callable[[str, str | None], str]) -> list[Problem]:  # fmt: skip
    problems = []
    owners = _stored_contract_owners(session, {a.symbol.lower() for a in document.assets})
    for asset in document.assets:
        for row in asset.networks:
            network = networks.get(row.network)
            here = where(asset.symbol, row.network)
            if network is None:
                problems.append(Problem(here, "network", f"no network {row.network!r}"))
                continue
            if message := contract_problem(network, row.network, asset.symbol, row.contract):
                problems.append(Problem(here, "contract", message))
                continue
            contract = normalize_contract(network.token_format, row.contract)
            if contract is None:
                continue
            owner = owners.setdefault((row.network, contract), asset.symbol)
            if owner.lower() != asset.symbol.lower():
                problems.append(Problem(here, "contract",
                                        f"{contract} on {row.network} is already {owner}'s"))  # fmt: skip
    return problems


def _stored_contract_owners(session: Session, replaced: set[str]) -> dict[tuple[str, str], str]:
    """Contracts in the database, except those of assets the document rewrites."""
    query = (
        select(Network.slug, AssetNetwork.contract, Asset.symbol)
        .join(AssetNetwork.network)
        .join(AssetNetwork.asset)
        .where(AssetNetwork.contract.is_not(None))
    )
    return {(slug, str(contract)): symbol for slug, contract, symbol in session.execute(query)
            if symbol.lower() not in replaced}  # fmt: skip


def raise_first(problems: list[Problem]) -> None:
    if problems:
        first = problems[0]
        raise InvalidInput("{problem}", field=first.field, problem=first.message)


# --- applying a checked document -------------------------------------------------------------


def do_apply_document(session: Session, actor: Principal, document: RegistryDocument,
                      replace_networks_of_assets: bool = True) -> Summary:  # fmt: skip
    """Write ``document`` (already checked): networks and assets are created or updated by
    slug and symbol; an asset's networks become exactly those listed for it."""
    summary = Summary()
    networks = queries.networks_by_slug(session)
    for data in document.networks:
        networks[data.id] = _save_network(session, networks.get(data.id), data, summary)
    assets = _assets_by_symbol(session, [a.symbol for a in document.assets])
    for asset_data in document.assets:
        asset = _save_asset(session, assets.get(asset_data.symbol.lower()), asset_data, summary)
        _save_asset_networks(session, asset, asset_data.networks, networks, summary,
                             replace_networks_of_assets)  # fmt: skip
    session.flush()
    for action, object_type, row, before, after in summary.changes:
        record(session, actor, action, object_type, row.id, before=before, after=after)
    if summary.changes:
        announce(session, "registry.changed", created=summary.created, updated=summary.updated)
    return summary


def _assets_by_symbol(session: Session, symbols: list[str]) -> dict[str, Asset]:
    query = select(Asset).options(selectinload(Asset.networks))
    if len(symbols) < 500:  # a full import reads everything at once instead
        query = query.where(func.lower(Asset.symbol).in_([s.lower() for s in symbols]))
    return {asset.symbol.lower(): asset for asset in session.scalars(query)}


def _track(summary: Summary, object_type: str, row: Any, before: dict[str, Any] | None,
           after: dict[str, Any]) -> None:  # fmt: skip
    if before == after:
        summary.unchanged += 1
        return
    if before is None:
        summary.created += 1
    else:
        summary.updated += 1
    action = f"assets.{object_type}_{'created' if before is None else 'changed'}"
    summary.changes.append((action, object_type, row, before, after))


def network_snapshot(network: Network) -> dict[str, Any]:
    return queries.network_public(network).model_dump(mode="json")


def _save_network(session: Session, network: Network | None, data: NetworkData,
                  summary: Summary) -> Network:  # fmt: skip
    before = network_snapshot(network) if network is not None else None
    if network is None:
        network = Network(slug=data.id)
        session.add(network)
    memo = data.memo
    values = {
        **data.model_dump(exclude={"id", "memo", "family", "status"}),
        "family": data.family.value, "status": data.status.value,
        "memo_name": memo.name if memo else None, "memo_format": memo.format if memo else None,
        "memo_required": memo.required if memo else False,
    }  # fmt: skip
    for name, value in values.items():
        if getattr(network, name, None) != value:
            setattr(network, name, value)
    _track(summary, "network", network, before, network_snapshot(network))
    return network


def _save_asset(session: Session, asset: Asset | None, data: AssetFields | AssetData,
                summary: Summary) -> Asset:  # fmt: skip
    before = _asset_snapshot(asset) if asset is not None else None
    if asset is None:
        asset = Asset(symbol=getattr(data, "symbol", ""), networks=[])
        session.add(asset)
    symbol = getattr(data, "symbol", asset.symbol)
    for name, value in (("symbol", symbol), ("name", data.name), ("demo", data.demo)):
        if getattr(asset, name) != value:
            setattr(asset, name, value)
    _track(summary, "asset", asset, before, _asset_snapshot(asset))
    return asset


def _asset_snapshot(asset: Asset) -> dict[str, Any]:
    return {"symbol": asset.symbol, "name": asset.name, "demo": asset.demo}


def _save_asset_networks(session: Session, asset: Asset, rows: list[AssetNetworkData],
                         networks: dict[str, Network], summary: Summary, replace: bool) -> None:  # fmt: skip
    existing = {row.network.slug if row.network else "": row for row in asset.networks}
    listed = set()
    for data in rows:
        listed.add(data.network)
        save_asset_network(session, asset, networks[data.network], existing.get(data.network),
                           data, summary)  # fmt: skip
    if replace:
        for slug, row in existing.items():
            if slug not in listed:
                _remove_asset_network(session, asset, row, summary)


def asset_network_snapshot(row: AssetNetwork) -> dict[str, Any]:
    return {
        "asset": row.asset.symbol if row.asset else None,
        "network": row.network.slug if row.network else None,
        "contract": row.contract, "decimals": row.decimals,
        "min_deposit": _text(row.min_deposit), "min_withdrawal": _text(row.min_withdrawal),
        "withdrawal_fee": _text(row.withdrawal_fee), "memo_required": row.memo_required,
        "deposit_enabled": row.deposit_enabled,
        "deposit_disabled_reason": row.deposit_disabled_reason,
        "withdraw_enabled": row.withdraw_enabled,
        "withdraw_disabled_reason": row.withdraw_disabled_reason,
    }  # fmt: skip


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount.normalize(), "f")


def save_asset_network(session: Session, asset: Asset, network: Network,
                       row: AssetNetwork | None, data: AssetNetworkFields,
                       summary: Summary) -> AssetNetwork:  # fmt: skip
    before = asset_network_snapshot(row) if row is not None else None
    if row is None:
        row = AssetNetwork(network=network)
        asset.networks.append(row)
    values = data.model_dump(exclude={"network"})
    values["contract"] = normalize_contract(network.token_format, data.contract)
    for name, value in values.items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)
    _track(summary, "asset_network", row, before, asset_network_snapshot(row))
    return row


def _remove_asset_network(session: Session, asset: Asset, row: AssetNetwork,
                          summary: Summary) -> None:  # fmt: skip
    before = asset_network_snapshot(row)
    asset.networks.remove(row)
    session.delete(row)
    summary.updated += 1
    summary.changes.append(("assets.asset_network_removed", "asset_network", row, before, {}))


# --- single writes (the API) ------------------------------------------------------------------


def _one(where_label: str) -> Callable[[str, str | None], str]:
    return lambda _name, _network: where_label


def _finish(session: Session, actor: Principal, summary: Summary) -> None:
    session.flush()
    for action, object_type, row, before, after in summary.changes:
        record(session, actor, action, object_type, row.id, before=before, after=after)
    if summary.changes:
        announce(session, "registry.changed", created=summary.created, updated=summary.updated)


def check_put_network(
    session: Session, actor: Principal, slug: str, data: NetworkFields
) -> Network:
    """Create network ``slug`` or replace its fields."""
    require_manager(actor)
    full = NetworkData(id=slug, **data.model_dump())
    raise_first(check_document(session, RegistryDocument(networks=[full]), _one(slug)))
    summary = Summary()
    network = _save_network(session, queries.get_network(session, slug), full, summary)
    _finish(session, actor, summary)
    return network


def _tokens_still_fit(session: Session, slug: str, network: NetworkFields,
                      skip: set[str]) -> list[tuple[str, str]]:  # fmt: skip
    """A network's new token format or native coin must still fit the assets already on it
    (those in ``skip`` are being rewritten too, and are checked as they will be)."""
    query = (
        select(Asset.symbol, AssetNetwork.contract)
        .join(AssetNetwork.asset)
        .join(AssetNetwork.network)
        .where(Network.slug == slug)
    )
    return [(symbol, message) for symbol, contract in session.execute(query)
            if symbol.lower() not in skip
            and (message := contract_problem(network, slug, symbol, contract))]  # fmt: skip


def check_set_network_status(session: Session, actor: Principal, slug: str,
                             change: NetworkStatusChange) -> Network:  # fmt: skip
    """Put a network into maintenance (or suspend it, or make it active again). The monitor
    calls this too, as the system."""
    require_manager(actor)
    network = queries.get_network(session, slug)
    if network is None:
        raise NotFound("No network {network}.", network=slug)
    fields = queries.network_public(network).model_dump()
    fields.update(status=change.status, status_reason=change.reason)
    try:
        data = NetworkData.model_validate(fields)
    except ValueError as error:
        raise InvalidInput("Say why the network is not active.", field="reason") from error
    summary = Summary()
    _save_network(session, network, data, summary)
    _finish(session, actor, summary)
    return network


def check_put_asset(session: Session, actor: Principal, symbol: str, data: AssetFields) -> Asset:
    require_manager(actor)
    try:
        full = AssetData(symbol=symbol, name=data.name, demo=data.demo)
    except ValueError as error:
        raise InvalidInput("A symbol is 1 to 20 letters, digits, '.', '_' or '-'.",
                           field="symbol") from error  # fmt: skip
    summary = Summary()
    asset = _save_asset(session, queries.get_asset(session, symbol), full, summary)
    _finish(session, actor, summary)
    return asset


def check_put_asset_network(session: Session, actor: Principal, symbol: str, slug: str,
                            data: AssetNetworkFields) -> AssetNetwork:  # fmt: skip
    require_manager(actor)
    asset = queries.access_asset(session, actor, symbol)
    network = queries.access_network(session, actor, slug)
    row_data = AssetNetworkData(network=slug, **data.model_dump())
    others = [AssetNetworkData(network=r.network.slug, **_fields_of(r)) for r in asset.networks
              if r.network.slug != slug]  # fmt: skip
    document = RegistryDocument(assets=[AssetData(symbol=asset.symbol, name=asset.name,
                                                  demo=asset.demo, networks=[*others, row_data])])  # fmt: skip
    raise_first(check_document(session, document, _one(f"{asset.symbol} on {slug}")))
    existing = next((r for r in asset.networks if r.network_id == network.id), None)
    summary = Summary()
    row = save_asset_network(session, asset, network, existing, data, summary)
    _finish(session, actor, summary)
    return row


def _fields_of(row: AssetNetwork) -> dict[str, Any]:
    return {name: getattr(row, name) for name in AssetNetworkFields.model_fields}


def check_remove_asset_network(session: Session, actor: Principal, symbol: str, slug: str) -> None:
    require_manager(actor)
    asset = queries.access_asset(session, actor, symbol)
    row = next((r for r in asset.networks if r.network.slug == slug), None)
    if row is None:
        raise NotFound("{symbol} is not on {network}.", symbol=asset.symbol, network=slug)
    summary = Summary()
    _remove_asset_network(session, asset, row, summary)
    _finish(session, actor, summary)


def check_remove_asset(session: Session, actor: Principal, symbol: str) -> None:
    require_manager(actor)
    asset = queries.access_asset(session, actor, symbol)
    before = _asset_snapshot(asset)
    before["networks"] = sorted(r.network.slug for r in asset.networks)
    record(session, actor, "assets.asset_removed", "asset", asset.id, before=before, after={})
    session.delete(asset)
    announce(session, "registry.changed", removed=asset.symbol)
