"""Registry reads. Staff read (any agent); traders and guests get a 403, as for every
console-only resource."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hashdesk.assets.formats import (
    ADDRESS_FORMATS,
    MEMO_FORMATS,
    NETWORKS,
    TX_HASH_FORMATS,
    Check,
    Problem,
    check_address,
    check_tx_hash,
    xrp_tag,
)
from hashdesk.assets.index import AssetEntry, DeploymentEntry, NetworkEntry, Snapshot
from hashdesk.assets.models import Asset, AssetNetwork, Family, Network, NetworkStatus
from hashdesk.assets.schemas import AssetNetworkPublic, AssetPublic, MemoSpec, NetworkPublic
from hashdesk.core.auth import Principal
from hashdesk.core.errors import NotFound, PermissionDenied
from hashdesk.core.i18n import N_
from hashdesk.core.pagination import Page, encode_cursor


def require_staff(principal: Principal) -> None:
    if not principal.is_agent:
        raise PermissionDenied("This needs a staff sign-in.")


def get_network(session: Session, slug: str) -> Network | None:
    return session.scalar(select(Network).where(Network.slug == slug))


def list_networks(session: Session) -> list[Network]:
    return list(session.scalars(select(Network).order_by(Network.slug)))


def networks_by_slug(session: Session) -> dict[str, Network]:
    return {network.slug: network for network in list_networks(session)}


def find_listing(session: Session, network: Network, contract: str | None) -> AssetNetwork | None:
    """The asset ``contract`` is on ``network`` (None: the network's native coin); hex EVM
    contracts compare in any case, other families exactly."""
    query = select(AssetNetwork).join(Asset).where(AssetNetwork.network_id == network.id)
    if contract is None:
        query = query.where(Asset.symbol == network.native_asset, AssetNetwork.contract.is_(None))
    elif network.family == Family.EVM.value:
        query = query.where(func.lower(AssetNetwork.contract) == contract.lower())
    else:
        query = query.where(AssetNetwork.contract == contract)
    return session.scalar(query.limit(1))


def find_listing_elsewhere(
    session: Session, network: Network, contract: str
) -> AssetNetwork | None:
    """A listing of ``contract`` on another network than ``network`` (the right token sent
    on the wrong network)."""
    return session.scalar(
        select(AssetNetwork)
        .where(AssetNetwork.network_id != network.id,
               func.lower(AssetNetwork.contract) == contract.lower())
        .limit(1)
    )  # fmt: skip


def get_asset(session: Session, symbol: str) -> Asset | None:
    """The asset whose symbol is ``symbol`` in any case (symbols are unique regardless)."""
    query = (
        select(Asset)
        .where(func.lower(Asset.symbol) == symbol.lower())
        .options(selectinload(Asset.networks))
    )
    return session.scalar(query)


def asset_exists(session: Session, symbol: str) -> bool:
    """Whether the registry lists ``symbol`` (in any case), without loading the asset."""
    query = select(Asset.id).where(func.lower(Asset.symbol) == symbol.lower()).limit(1)
    return session.scalar(query) is not None


def list_assets(session: Session, after_id: int | None, limit: int) -> Page[Asset]:
    query = select(Asset).options(selectinload(Asset.networks)).order_by(Asset.id).limit(limit + 1)
    if after_id is not None:
        query = query.where(Asset.id > after_id)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more and rows else None)


def list_all_assets(session: Session) -> list[Asset]:
    return list(
        session.scalars(select(Asset).options(selectinload(Asset.networks)).order_by(Asset.id))
    )


def access_network(session: Session, principal: Principal, slug: str) -> Network:
    require_staff(principal)
    network = get_network(session, slug)
    if network is None:
        raise NotFound("No network {network}.", network=slug)
    return network


def access_asset(session: Session, principal: Principal, symbol: str) -> Asset:
    require_staff(principal)
    asset = get_asset(session, symbol)
    if asset is None:
        raise NotFound("No asset {symbol}.", symbol=symbol)
    return asset


def count_registry(session: Session) -> tuple[int, int, int]:
    """Networks, assets, asset-network rows."""
    return (
        session.scalar(select(func.count(Network.id))) or 0,
        session.scalar(select(func.count(Asset.id))) or 0,
        session.scalar(select(func.count(AssetNetwork.id))) or 0,
    )


# --- public shapes ----------------------------------------------------------------------------


MemoName = Literal["tag", "memo", "comment"]


def network_public(network: Network) -> NetworkPublic:
    memo = None
    if network.memo_format and network.memo_name:
        memo = MemoSpec.model_construct(name=cast(MemoName, network.memo_name), format=network.memo_format,
                                        required=network.memo_required)  # fmt: skip
    return NetworkPublic.model_construct(
        id=network.slug, name=network.name, family=Family(network.family), chain_id=network.chain_id,
        native_asset=network.native_asset, block_time_seconds=network.block_time_seconds,
        confirmations_credit=network.confirmations_credit,
        confirmations_unlock=network.confirmations_unlock,
        explorer_tx_url=network.explorer_tx_url, explorer_address_url=network.explorer_address_url,
        address_format=network.address_format, tx_hash_format=network.tx_hash_format,
        token_format=network.token_format, memo=memo, rpc_endpoints=list(network.rpc_endpoints),
        aliases=list(network.aliases), status=NetworkStatus(network.status), status_reason=network.status_reason,
    )  # fmt: skip


def asset_network_public(row: AssetNetwork) -> AssetNetworkPublic:
    network = row.network
    template = network.explorer_address_url
    return AssetNetworkPublic.model_construct(
        network=network.slug, contract=row.contract, decimals=row.decimals,
        min_deposit=row.min_deposit, min_withdrawal=row.min_withdrawal,
        withdrawal_fee=row.withdrawal_fee, memo_required=row.memo_required,
        deposit_enabled=row.deposit_enabled, deposit_disabled_reason=row.deposit_disabled_reason,
        withdraw_enabled=row.withdraw_enabled,
        withdraw_disabled_reason=row.withdraw_disabled_reason, network_name=network.name,
        network_status=NetworkStatus(network.status), memo_name=network.memo_name,
        memo_required_here=network.memo_required if row.memo_required is None else row.memo_required,
        explorer_contract_url=template.replace("{address}", row.contract)
        if template and row.contract else None,
    )  # fmt: skip


def asset_public(asset: Asset) -> AssetPublic:
    return AssetPublic.model_construct(symbol=asset.symbol, name=asset.name, demo=asset.demo,
                                       networks=[asset_network_public(r) for r in asset.networks])  # fmt: skip


# --- the lookup index's snapshot ------------------------------------------------------------


def registry_fingerprint(session: Session) -> tuple[object, ...]:
    """Changes whenever a row is added, removed or updated (counts and latest change)."""
    values: list[object] = []
    for model in (Network, Asset, AssetNetwork):
        count, latest = session.execute(
            select(func.count(model.id), func.max(model.updated_at))
        ).one()
        values += [count, str(latest)]
    return tuple(values)


def load_snapshot(session: Session) -> Snapshot:
    """The whole registry as plain values, in three queries (about 30 ms for 1,300 assets)."""
    networks = {row.id: _network_entry(row) for row in session.scalars(select(Network))}
    deployments: dict[int, list[DeploymentEntry]] = defaultdict(list)
    columns = (AssetNetwork.asset_id, AssetNetwork.network_id, AssetNetwork.contract,
               AssetNetwork.decimals, AssetNetwork.min_deposit, AssetNetwork.min_withdrawal,
               AssetNetwork.withdrawal_fee, AssetNetwork.memo_required,
               AssetNetwork.deposit_enabled, AssetNetwork.deposit_disabled_reason,
               AssetNetwork.withdraw_enabled, AssetNetwork.withdraw_disabled_reason)  # fmt: skip
    for row in session.execute(select(*columns).order_by(AssetNetwork.id)):
        asset_id, network_id, *values = row
        deployments[asset_id].append(DeploymentEntry(networks[network_id].slug, *values))
    assets = tuple(
        AssetEntry(symbol, name, demo, tuple(deployments.get(asset_id, ())))
        for asset_id, symbol, name, demo in session.execute(
            select(Asset.id, Asset.symbol, Asset.name, Asset.demo).order_by(Asset.id)
        )
    )
    return Snapshot(tuple(networks.values()), assets)


def _network_entry(network: Network) -> NetworkEntry:
    return NetworkEntry(
        slug=network.slug, name=network.name, family=network.family, chain_id=network.chain_id,
        native_asset=network.native_asset, status=network.status,
        status_reason=network.status_reason, memo_name=network.memo_name,
        memo_required=network.memo_required, confirmations_credit=network.confirmations_credit,
        confirmations_unlock=network.confirmations_unlock,
        block_time_seconds=network.block_time_seconds,
        explorer_address_url=network.explorer_address_url,
        address_format=network.address_format, token_format=network.token_format,
        aliases=tuple(alias.lower() for alias in network.aliases),
    )  # fmt: skip


# --- the networks traders choose from ---------------------------------------------------------


@dataclass(frozen=True)
class NetworkChoice:
    """A network a trader may name (a ticket's ``network`` field, a diagnostic's answer;
    its ``slug`` is what is kept), with the checks of its transaction hashes, addresses and,
    on a network whose deposits carry one, memos (XRP's destination tag, TON's comment)."""

    slug: str
    name: str
    tx_hash: Check
    address: Check
    memo: Check | None = None


@dataclass(frozen=True)
class NetworkChoices:
    """The networks traders choose from, and every lower-case spelling that names one."""

    by_slug: dict[str, NetworkChoice]
    spellings: dict[str, str]

    def resolve(self, text: str) -> NetworkChoice | None:
        """The network ``text`` names: a slug, an alias or a name, in any case, alone or in
        a phrase as traders write it ("USDT on Tron", "Ethereum (ERC20)").

        In a phrase the longest spellings count ("bitcoin cash network" is Bitcoin Cash, not
        Bitcoin), and only when they all name the same network: "Arbitrum or Ethereum"
        names none, rather than a guess the trader did not make.
        """
        slug = self.spellings.get(_spelling(text))
        if slug is None:
            slug = self._named_in(_words(text))
        return self.by_slug[slug] if slug else None

    def mentioned_in(
        self, text: str, ordinary: Callable[[str], bool] = lambda _spelling: False
    ) -> NetworkChoice | None:
        """The one network a free text (a trader's first message) names, as ``resolve``
        finds it in a phrase, where a spelling that is ``ordinary`` there (an everyday word
        such as "base", a coin's ticker such as "eth") does not count."""
        slug = self._named_in(_words(text), ordinary)
        return self.by_slug[slug] if slug else None

    def _named_in(
        self, words: list[str], ordinary: Callable[[str], bool] = lambda _spelling: False
    ) -> str | None:
        for length in range(min(len(words), self._longest_spelling), 0, -1):
            named = {
                self.spellings[phrase]
                for start in range(len(words) - length + 1)
                if (phrase := " ".join(words[start : start + length])) in self.spellings
                and not ordinary(phrase)
            }
            if named:
                return named.pop() if len(named) == 1 else None
        return None

    @cached_property
    def _longest_spelling(self) -> int:
        """Words in the longest spelling: no longer phrase of a text can name a network."""
        return max((spelling.count(" ") + 1 for spelling in self.spellings), default=0)

    def suggest(self, text: str, limit: int = 3) -> list[NetworkChoice]:
        """The networks whose spellings are closest to ``text``: what a trader who wrote
        "etherium" or "tron20" most likely meant."""
        close = difflib.get_close_matches(_spelling(text), self.spellings, n=limit * 4)
        slugs = dict.fromkeys(self.spellings[spelling] for spelling in close)
        return [self.by_slug[slug] for slug in list(slugs)[:limit]]

    def choices(self) -> list[NetworkChoice]:
        return sorted(self.by_slug.values(), key=lambda network: network.name.lower())


# Networks most deposits go through, named when nothing the trader wrote is close to one.
WELL_KNOWN_NETWORKS = ("bitcoin", "ethereum", "tron", "bsc", "solana")


def _spelling(text: str) -> str:
    return " ".join(text.split()).lower()


def _words(text: str) -> list[str]:
    words = (word.strip("()[]{}.,;:!?\"'") for word in text.lower().split())
    return [word for word in words if word]


def any_tx_hash(value: str) -> Problem | None:
    return check_tx_hash(None, value)


def any_address(value: str) -> Problem | None:
    return check_address(None, value)


def unknown_network(networks: NetworkChoices, text: str) -> tuple[str, dict[str, str]]:
    """The message (a msgid) and its values for a network nobody calls ``text``: the closest
    spellings when there are some, else a few well-known networks, rather than every slug of
    the registry (79 of them, too many to read in a chat)."""
    close = networks.suggest(text)
    if close:
        message = N_("Unknown network {network}. Did you mean {suggestions}?")
    else:
        message = N_(
            "Unknown network {network}. Name it as your wallet does, such as {suggestions}."
        )
        close = [networks.by_slug[slug] for slug in WELL_KNOWN_NETWORKS if slug in networks.by_slug]
        close = close or networks.choices()[:3]
    names = ", ".join(f"{choice.name} ({choice.slug})" for choice in close)
    return message, {"network": text, "suggestions": names}


# Before the registry is filled (a fresh database, before ``hashdesk assets import`` or the
# demo), traders choose from the networks whose formats ``formats.NETWORKS`` knows, named by
# slug, name or the token and ticker spellings traders use (the registry's data has its own).
_FIXED_ALIASES = {
    "erc20": "ethereum", "eth": "ethereum", "trc20": "tron", "trx": "tron", "bep20": "bsc",
    "bnb": "bsc", "btc": "bitcoin", "ltc": "litecoin", "sol": "solana", "matic": "polygon",
    "pol": "polygon", "arb": "arbitrum", "op": "optimism", "avax": "avalanche",
    "avax c-chain": "avalanche",
}  # fmt: skip
_FIXED_MEMOS = {"xrp": xrp_tag}
FIXED_NETWORK_CHOICES = NetworkChoices(
    by_slug={slug: NetworkChoice(slug, n.name, n.tx_hash, n.address, _FIXED_MEMOS.get(slug))
             for slug, n in NETWORKS.items()},
    spellings={_spelling(n.name): slug for slug, n in NETWORKS.items()} | _FIXED_ALIASES
    | {slug: slug for slug in NETWORKS},
)  # fmt: skip


def network_choices(session: Session | None) -> NetworkChoices:
    """The registry's networks, whatever their status (a deposit stuck on a network under
    maintenance is exactly what a trader writes in about); ``FIXED_NETWORK_CHOICES`` while the
    registry is empty or when there is no ``session`` to read it with."""
    rows = list_networks(session) if session is not None else []
    if not rows:
        return FIXED_NETWORK_CHOICES
    by_slug: dict[str, NetworkChoice] = {}
    for row in rows:
        address = ADDRESS_FORMATS.get(row.address_format)
        memo = MEMO_FORMATS.get(row.memo_format) if row.memo_format else None
        by_slug[row.slug] = NetworkChoice(
            row.slug, row.name, TX_HASH_FORMATS.get(row.tx_hash_format, any_tx_hash),
            address.check if address else any_address, memo.check if memo else None,
        )  # fmt: skip
    # A slug outranks an alias, an alias a name: "avalanche" is an alias of avalanche-c, and
    # would name a network called "avalanche" instead if the registry had one.
    spellings = {_spelling(row.name): row.slug for row in rows}
    spellings |= {_spelling(alias): row.slug for row in rows for alias in row.aliases or ()}
    spellings |= {row.slug.lower(): row.slug for row in rows}
    return NetworkChoices(by_slug, spellings)
