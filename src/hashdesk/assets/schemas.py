"""Registry shapes: what the API, the import files and the export share.

``NetworkData`` and ``AssetData`` are one record each of an import (JSON, or CSV rows folded
into the same shape) and of the API's writes; rules that need the rest of the registry (does
the network exist, does the contract fit its token format) live in ``actions``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hashdesk.assets.formats import ADDRESS_FORMATS, MEMO_FORMATS, TOKEN_FORMATS, TX_HASH_FORMATS
from hashdesk.assets.models import Family, NetworkStatus

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$"
MAX_DECIMALS = 30
MAX_AMOUNT = Decimal("1e24")

Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40,
                                        pattern=SLUG_PATTERN)]  # fmt: skip
Symbol = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20,
                                          pattern=SYMBOL_PATTERN)]  # fmt: skip
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Alias = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1,
                                         max_length=40)]  # fmt: skip
Endpoint = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300,
                                            pattern=r"^(?:https?|wss?)://[^\s]+$")]  # fmt: skip
UrlTemplate = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300,
                                               pattern=r"^https?://[^\s]+$")]  # fmt: skip
Amount = Annotated[Decimal, Field(ge=0, lt=MAX_AMOUNT, allow_inf_nan=False)]
Contract = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _one_of(value: str | None, known: dict[str, object], what: str) -> None:
    if value is not None and value not in known:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(sorted(known))}")


class MemoSpec(BaseModel):
    """A network's deposit memo: what the UI calls it, its format, and whether a deposit
    without one can be credited automatically."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["tag", "memo", "comment"]
    format: Annotated[str, Field(max_length=32)]
    required: bool = True

    @model_validator(mode="after")
    def _known_format(self) -> MemoSpec:
        _one_of(self.format, dict(MEMO_FORMATS), "memo format")
        return self


class NetworkFields(BaseModel):
    """Everything about a network but its slug (the API's PUT body)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    family: Family
    chain_id: Annotated[int | None, Field(ge=1, le=2**53)] = None
    native_asset: Symbol
    block_time_seconds: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]
    confirmations_credit: Annotated[int, Field(ge=0, le=1_000_000)]
    confirmations_unlock: Annotated[int, Field(ge=0, le=1_000_000)]
    explorer_tx_url: UrlTemplate | None = None
    explorer_address_url: UrlTemplate | None = None
    address_format: Annotated[str, Field(max_length=32)]
    tx_hash_format: Annotated[str, Field(max_length=32)]
    token_format: Annotated[str | None, Field(max_length=32)] = None
    memo: MemoSpec | None = None
    rpc_endpoints: Annotated[list[Endpoint], Field(max_length=20)] = []
    aliases: Annotated[list[Alias], Field(max_length=20)] = []
    status: NetworkStatus = NetworkStatus.ACTIVE
    status_reason: Reason | None = None

    @model_validator(mode="after")
    def _consistent(self) -> NetworkFields:
        _one_of(self.address_format, dict(ADDRESS_FORMATS), "address format")
        _one_of(self.tx_hash_format, dict(TX_HASH_FORMATS), "transaction hash format")
        _one_of(self.token_format, dict(TOKEN_FORMATS), "token format")
        if self.family is Family.EVM and self.chain_id is None:
            raise ValueError("an EVM network needs its chain_id")
        if self.confirmations_unlock < self.confirmations_credit:
            raise ValueError("confirmations_unlock cannot be below confirmations_credit")
        if self.explorer_tx_url and "{tx}" not in self.explorer_tx_url:
            raise ValueError("explorer_tx_url must contain {tx}")
        if self.explorer_address_url and "{address}" not in self.explorer_address_url:
            raise ValueError("explorer_address_url must contain {address}")
        if self.status is not NetworkStatus.ACTIVE and not self.status_reason:
            raise ValueError("say why the network is not active (status_reason)")
        return self


class NetworkData(NetworkFields):
    id: Slug


class NetworkStatusChange(BaseModel):
    """What the monitor (or an admin) sets when a network goes into maintenance and back."""

    model_config = ConfigDict(extra="forbid")

    status: NetworkStatus
    reason: Reason | None = None


class AssetNetworkFields(BaseModel):
    """An asset on one network (the API's PUT body)."""

    model_config = ConfigDict(extra="forbid")

    contract: Contract | None = None
    decimals: Annotated[int, Field(ge=0, le=MAX_DECIMALS)]
    min_deposit: Amount = Decimal(0)
    min_withdrawal: Amount = Decimal(0)
    withdrawal_fee: Amount = Decimal(0)
    memo_required: bool | None = None
    deposit_enabled: bool = True
    deposit_disabled_reason: Reason | None = None
    withdraw_enabled: bool = True
    withdraw_disabled_reason: Reason | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AssetNetworkFields:
        for name in ("min_deposit", "min_withdrawal", "withdrawal_fee"):
            exponent = getattr(self, name).normalize().as_tuple().exponent
            if isinstance(exponent, int) and -exponent > self.decimals:
                raise ValueError(f"{name} has more decimal places than the asset's {self.decimals}")
        if not self.deposit_enabled and not self.deposit_disabled_reason:
            raise ValueError("say why deposits are closed (deposit_disabled_reason)")
        if not self.withdraw_enabled and not self.withdraw_disabled_reason:
            raise ValueError("say why withdrawals are closed (withdraw_disabled_reason)")
        if self.deposit_enabled:
            self.deposit_disabled_reason = None
        if self.withdraw_enabled:
            self.withdraw_disabled_reason = None
        return self


class AssetNetworkData(AssetNetworkFields):
    network: Slug


class AssetFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    demo: bool = False


class AssetData(AssetFields):
    symbol: Symbol
    networks: Annotated[list[AssetNetworkData], Field(max_length=200)] = []

    @model_validator(mode="after")
    def _one_row_per_network(self) -> AssetData:
        seen: set[str] = set()
        for row in self.networks:
            if row.network in seen:
                raise ValueError(f"network {row.network!r} is listed twice")
            seen.add(row.network)
        return self


class RegistryDocument(BaseModel):
    """A registry file: networks and assets (either may be left out)."""

    model_config = ConfigDict(extra="forbid")

    networks: list[NetworkData] = []
    assets: list[AssetData] = []


# --- responses -------------------------------------------------------------------------------


class NetworkPublic(NetworkData):
    pass


class AssetNetworkPublic(AssetNetworkData):
    network_name: str
    network_status: NetworkStatus
    memo_name: str | None
    memo_required_here: bool
    explorer_contract_url: str | None


class AssetPublic(AssetData):
    networks: list[AssetNetworkPublic] = []  # type: ignore[assignment]


class AssetList(BaseModel):
    items: list[AssetPublic]
    next_cursor: str | None


class LookupNetwork(BaseModel):
    id: str
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


class LookupDeployment(BaseModel):
    network: str
    network_name: str
    contract: str | None
    decimals: int
    min_deposit: Decimal
    min_withdrawal: Decimal
    withdrawal_fee: Decimal
    memo_required: bool
    memo_name: str | None
    deposit_enabled: bool
    deposit_disabled_reason: str | None
    withdraw_enabled: bool
    withdraw_disabled_reason: str | None
    explorer_contract_url: str | None


class LookupHit(BaseModel):
    kind: Literal["asset", "network"]
    matched_by: Literal["symbol", "name", "contract", "network", "address"]
    symbol: str | None = None
    name: str
    demo: bool = False
    network: LookupNetwork | None = None
    deployments: list[LookupDeployment] = []


class LookupResults(BaseModel):
    query: str
    address_formats: list[str] = Field(
        description="address kinds the query passes (empty when it is not an address)"
    )
    hits: list[LookupHit]
