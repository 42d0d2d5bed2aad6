"""The agents' quick lookup: an in-memory index of the whole registry.

An agent types a symbol (``usdt``), a name (``wrapped bit``), a contract address (any case
on EVM networks), a network (``trc20``), both (``usdc base``), or a trader's deposit address
("which networks accept an address like this?"), and sees every matching asset with its
parameters on each network. A ``RegistryIndex`` is immutable: built from a ``Snapshot`` of
plain values (never ORM rows) and replaced whole when the registry changes (``live``), so a
lookup never waits for the database and never sees a half-applied change.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from hashdesk.assets.formats import (
    ADDRESS_FORMATS,
    CASE_INSENSITIVE_TOKENS,
    address_formats_accepting,
)
from hashdesk.assets.schemas import (
    LookupDeployment,
    LookupHit,
    LookupNetwork,
    LookupResults,
    RegistryDocument,
)

MAX_QUERY = 200
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
# How many prefix matches are examined before ranking: "u" alone matches hundreds of symbols,
# and the agent keeps typing anyway.
PREFIX_SCAN = 200
_TOKEN = re.compile(r"[\w.\-:]+")
# Words agents put between an asset and its network ("usdt on tron") that name neither.
_FILLER = frozenset({"on", "via", "over", "network", "the", "token", "coin", "in"})


@dataclass(frozen=True)
class NetworkEntry:
    slug: str
    name: str
    family: str
    chain_id: int | None
    native_asset: str
    status: str
    status_reason: str | None
    memo_name: str | None
    memo_required: bool
    confirmations_credit: int
    confirmations_unlock: int
    block_time_seconds: float
    explorer_address_url: str | None
    address_format: str
    token_format: str | None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeploymentEntry:
    network: str
    contract: str | None
    decimals: int
    min_deposit: Decimal
    min_withdrawal: Decimal
    withdrawal_fee: Decimal
    memo_required: bool | None
    deposit_enabled: bool
    deposit_disabled_reason: str | None
    withdraw_enabled: bool
    withdraw_disabled_reason: str | None


@dataclass(frozen=True)
class AssetEntry:
    symbol: str
    name: str
    demo: bool
    deployments: tuple[DeploymentEntry, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    networks: tuple[NetworkEntry, ...]
    assets: tuple[AssetEntry, ...]


@dataclass
class _Scored:
    """A candidate: ranked first, turned into a ``LookupHit`` only if it makes the page."""

    score: float
    order: tuple[int, str]
    ref: int | str  # the asset's position, or the network's slug
    matched_by: str
    network: str | None = None


def explorer_url(template: str | None, placeholder: str, value: str | None) -> str | None:
    if not template or not value:
        return None
    return template.replace("{" + placeholder + "}", value)


class RegistryIndex:
    """Built once from a snapshot; ``lookup`` only reads it (safe from many threads)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.size = len(snapshot.assets)
        self.networks = {network.slug: network for network in snapshot.networks}
        self._network_hits = {slug: self._network_hit(n) for slug, n in self.networks.items()}
        self._asset_hits = [self._asset_hit(asset) for asset in snapshot.assets]
        self._demo = [asset.demo for asset in snapshot.assets]
        self._on = [frozenset(d.network for d in asset.deployments) for asset in snapshot.assets]
        self._by_symbol: dict[str, list[int]] = defaultdict(list)
        self._by_name: dict[str, list[int]] = defaultdict(list)
        self._symbols: list[tuple[str, int]] = []
        self._words: list[tuple[str, int]] = []
        self._contracts: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._network_keys: dict[str, str] = {}
        self._by_address_format: dict[str, list[str]] = defaultdict(list)
        self._index_assets(snapshot.assets)
        self._index_networks(snapshot.networks)

    # --- building ------------------------------------------------------------------------

    def _index_assets(self, assets: tuple[AssetEntry, ...]) -> None:
        for number, asset in enumerate(assets):
            symbol = asset.symbol.lower()
            self._by_symbol[symbol].append(number)
            self._symbols.append((symbol, number))
            self._by_name[asset.name.lower()].append(number)
            for word in set(_TOKEN.findall(asset.name.lower())):
                self._words.append((word, number))
            for deployment in asset.deployments:
                if deployment.contract:
                    self._contracts[self._contract_key(deployment)].append(
                        (number, deployment.network)
                    )
        self._symbols.sort()
        self._words.sort()

    def _contract_key(self, deployment: DeploymentEntry) -> str:
        network = self.networks.get(deployment.network)
        contract = deployment.contract or ""
        if network is not None and network.token_format in CASE_INSENSITIVE_TOKENS:
            return contract.lower()
        return contract

    def _index_networks(self, networks: tuple[NetworkEntry, ...]) -> None:
        for network in networks:
            for key in (network.slug, network.name.lower(), *network.aliases):
                self._network_keys.setdefault(key.lower(), network.slug)
            self._by_address_format[network.address_format].append(network.slug)

    def _network_hit(self, network: NetworkEntry) -> LookupHit:
        return LookupHit(kind="network", matched_by="network", name=network.name,
                         network=_lookup_network(network))  # fmt: skip

    def _asset_hit(self, asset: AssetEntry) -> LookupHit:
        deployments = [self._deployment(asset, d) for d in asset.deployments]
        return LookupHit(kind="asset", matched_by="symbol", symbol=asset.symbol, name=asset.name,
                         demo=asset.demo, deployments=deployments)  # fmt: skip

    def _deployment(self, asset: AssetEntry, deployment: DeploymentEntry) -> LookupDeployment:
        network = self.networks[deployment.network]
        memo_required = (
            network.memo_required if deployment.memo_required is None else deployment.memo_required
        )
        return LookupDeployment(
            network=network.slug, network_name=network.name, contract=deployment.contract,
            decimals=deployment.decimals, min_deposit=deployment.min_deposit,
            min_withdrawal=deployment.min_withdrawal, withdrawal_fee=deployment.withdrawal_fee,
            memo_required=memo_required, memo_name=network.memo_name,
            deposit_enabled=deployment.deposit_enabled,
            deposit_disabled_reason=deployment.deposit_disabled_reason,
            withdraw_enabled=deployment.withdraw_enabled,
            withdraw_disabled_reason=deployment.withdraw_disabled_reason,
            explorer_contract_url=explorer_url(network.explorer_address_url, "address",
                                               deployment.contract),
        )  # fmt: skip

    # --- looking up ----------------------------------------------------------------------

    def lookup(self, query: str, limit: int = DEFAULT_LIMIT) -> LookupResults:
        text = query.strip()[:MAX_QUERY]
        formats = address_formats_accepting(text) if " " not in text else []
        found: dict[tuple[str, str], _Scored] = {}
        if text:
            self._match_contract(text, found)
            self._match_qualified(text, found)
            self._match_assets(text.lower(), None, found)
            self._match_network(text.lower(), found)
            formats = self._match_address(formats, found)
        ranked = sorted(found.values(), key=lambda s: (-s.score, s.order))
        hits = [self._hit(s) for s in ranked[: max(1, min(limit, MAX_LIMIT))]]
        return LookupResults(query=text, address_formats=formats, hits=hits)

    def _hit(self, scored: _Scored) -> LookupHit:
        if isinstance(scored.ref, str):
            return self._network_hits[scored.ref].model_copy(
                update={"matched_by": scored.matched_by}
            )
        base = self._asset_hits[scored.ref]
        deployments = base.deployments
        if scored.network is not None:
            deployments = [d for d in deployments if d.network == scored.network]
        return base.model_copy(update={"matched_by": scored.matched_by, "deployments": deployments})

    def _add(self, found: dict[tuple[str, str], _Scored], key: tuple[str, str],
             candidate: _Scored) -> None:  # fmt: skip
        known = found.get(key)
        if known is None or known.score < candidate.score:
            found[key] = candidate

    def _add_asset(self, found: dict[tuple[str, str], _Scored], number: int, score: float,
                   matched_by: str, network: str | None = None) -> None:  # fmt: skip
        if network is not None and network not in self._on[number]:
            return
        score -= 5 if self._demo[number] else 0
        symbol = self._asset_hits[number].symbol or ""
        self._add(found, ("asset", f"{symbol}@{network or ''}"),
                  _Scored(score, (0, symbol), number, matched_by, network))  # fmt: skip

    def _match_contract(self, text: str, found: dict[tuple[str, str], _Scored]) -> None:
        for key in {text, text.lower()}:
            for number, network in self._contracts.get(key, ()):
                self._add_asset(found, number, 95, "contract", network)

    def _match_qualified(self, text: str, found: dict[tuple[str, str], _Scored]) -> None:
        """``usdt trc20``, ``usdc on base``, ``tron usdt``: an asset narrowed to a network."""
        tokens = _TOKEN.findall(text.lower())
        if len(tokens) < 2:
            return
        for size in (3, 2, 1):
            if len(tokens) <= size:
                continue
            for network_words, rest in ((tokens[-size:], tokens[:-size]),
                                        (tokens[:size], tokens[size:])):  # fmt: skip
                slug = self._network_keys.get(" ".join(network_words))
                words = [word for word in rest if word not in _FILLER]
                if slug is not None and words:
                    self._match_assets(" ".join(words), slug, found, bonus=3)

    def _match_assets(self, text: str, network: str | None,
                      found: dict[tuple[str, str], _Scored], bonus: float = 0) -> None:  # fmt: skip
        for number in self._by_symbol.get(text, ()):
            self._add_asset(found, number, 100 + bonus, "symbol", network)
        for number in self._by_name.get(text, ()):
            self._add_asset(found, number, 90 + bonus, "name", network)
        for symbol, number in _prefixed(self._symbols, text):
            self._add_asset(found, number, 70 + bonus - (len(symbol) - len(text)), "symbol",
                            network)  # fmt: skip
        self._match_words(text, network, found, bonus)

    def _match_words(self, text: str, network: str | None,
                     found: dict[tuple[str, str], _Scored], bonus: float) -> None:  # fmt: skip
        words = _TOKEN.findall(text)
        if not words or len(text) < 2:
            return
        candidates = {number for _, number in _prefixed(self._words, words[0])}
        for word in words[1:]:
            candidates &= {number for _, number in _prefixed(self._words, word)}
        for number in candidates:
            self._add_asset(found, number, 50 + bonus, "name", network)

    def _match_network(self, text: str, found: dict[tuple[str, str], _Scored]) -> None:
        slug = self._network_keys.get(text)
        if slug is not None:
            self._add(found, ("network", slug), _Scored(96, (1, slug), slug, "network"))

    def _match_address(self, formats: list[str],
                       found: dict[tuple[str, str], _Scored]) -> list[str]:  # fmt: skip
        """Networks whose addresses look like the query; returns the address kinds used.
        A name-like kind (an EOS account) also matches words: used only if nothing else is."""
        strict = [kind for kind in formats if not ADDRESS_FORMATS[kind].ambiguous]
        used = strict or (formats if not found else [])
        for kind in used:
            for slug in self._by_address_format.get(kind, ()):
                self._add(found, ("network", slug), _Scored(80, (1, slug), slug, "address"))
        return used


def _prefixed(pairs: list[tuple[str, int]], prefix: str) -> list[tuple[str, int]]:
    start = bisect.bisect_left(pairs, (prefix, -1))
    found: list[tuple[str, int]] = []
    for position in range(start, min(start + PREFIX_SCAN, len(pairs))):
        if not pairs[position][0].startswith(prefix):
            break
        found.append(pairs[position])
    return found


def _lookup_network(network: NetworkEntry) -> LookupNetwork:
    return LookupNetwork(
        id=network.slug, name=network.name, family=network.family, chain_id=network.chain_id,
        native_asset=network.native_asset, status=network.status,
        status_reason=network.status_reason, memo_name=network.memo_name,
        memo_required=network.memo_required, confirmations_credit=network.confirmations_credit,
        confirmations_unlock=network.confirmations_unlock,
        block_time_seconds=network.block_time_seconds,
        explorer_address_url=network.explorer_address_url,
    )  # fmt: skip


def snapshot_from_document(document: RegistryDocument) -> Snapshot:
    """A snapshot of a registry document, no database involved (tests, benchmarks, checks
    of a file before it is imported)."""
    networks = tuple(
        NetworkEntry(
            slug=n.id, name=n.name, family=n.family.value, chain_id=n.chain_id,
            native_asset=n.native_asset, status=n.status.value, status_reason=n.status_reason,
            memo_name=n.memo.name if n.memo else None,
            memo_required=bool(n.memo and n.memo.required),
            confirmations_credit=n.confirmations_credit,
            confirmations_unlock=n.confirmations_unlock, block_time_seconds=n.block_time_seconds,
            explorer_address_url=n.explorer_address_url, address_format=n.address_format,
            token_format=n.token_format, aliases=tuple(n.aliases),
        )
        for n in document.networks
    )  # fmt: skip
    assets = tuple(
        AssetEntry(a.symbol, a.name, a.demo, tuple(
            DeploymentEntry(d.network, d.contract, d.decimals, d.min_deposit, d.min_withdrawal,
                            d.withdrawal_fee, d.memo_required, d.deposit_enabled,
                            d.deposit_disabled_reason, d.withdraw_enabled,
                            d.withdraw_disabled_reason)
            for d in a.networks))
        for a in document.assets
    )  # fmt: skip
    return Snapshot(networks, assets)
