"""Registry storage: the networks the exchange runs, its assets, and each asset on each network.

A ``Network`` carries what support and the chain tools need to know about a chain: family,
chain id, block time, confirmations, explorer templates, the kinds of its address, hash,
token and memo formats (``hashdesk.assets.formats``) and its RPC endpoints. An ``Asset`` is
one ticker; an ``AssetNetwork`` is that ticker on one network, with the contract (none for a
network's native coin), decimals, limits, fee, and whether deposits and withdrawals are open.

Amounts are stored as decimal text (``DecimalText``): exact on SQLite and PostgreSQL alike,
where a float would turn 0.1 into 0.1000000000000000055.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class Family(enum.StrEnum):
    EVM = "evm"
    UTXO = "utxo"
    ACCOUNT = "account"
    OTHER = "other"


class NetworkStatus(enum.StrEnum):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    SUSPENDED = "suspended"


class DecimalText(TypeDecorator[Decimal]):
    """A non-negative amount kept as its exact decimal text."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else format(value.normalize(), "f")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Network(Base):
    __tablename__ = "registry_networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    family: Mapped[str] = mapped_column(String(16))
    # Unique: two EVM networks with one chain id would make a signed transaction replayable
    # between them, and the monitor checks each endpoint's chain id against this one.
    chain_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    native_asset: Mapped[str] = mapped_column(String(20))
    block_time_seconds: Mapped[float]
    confirmations_credit: Mapped[int]
    confirmations_unlock: Mapped[int]
    explorer_tx_url: Mapped[str | None] = mapped_column(String(300))
    explorer_address_url: Mapped[str | None] = mapped_column(String(300))
    address_format: Mapped[str] = mapped_column(String(32))
    tx_hash_format: Mapped[str] = mapped_column(String(32))
    token_format: Mapped[str | None] = mapped_column(String(32))
    memo_name: Mapped[str | None] = mapped_column(String(16))
    memo_format: Mapped[str | None] = mapped_column(String(32))
    memo_required: Mapped[bool] = mapped_column(default=False)
    rpc_endpoints: Mapped[list[str]] = mapped_column(JSON, default=list)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=NetworkStatus.ACTIVE.value)
    status_reason: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Asset(Base):
    __tablename__ = "registry_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept as the exchange writes it (stETH, USDC.e); unique regardless of case (actions).
    symbol: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Generated long-tail rows of the demo registry, never real tokens.
    demo: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    networks: Mapped[list[AssetNetwork]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="AssetNetwork.id"
    )


class AssetNetwork(Base):
    __tablename__ = "registry_asset_networks"
    __table_args__ = (
        UniqueConstraint("asset_id", "network_id"),
        # One token contract belongs to one asset per network (native coins have none).
        UniqueConstraint("network_id", "contract", name="uq_registry_asset_networks_contract"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("registry_assets.id", ondelete="CASCADE"))
    network_id: Mapped[int] = mapped_column(ForeignKey("registry_networks.id"), index=True)
    contract: Mapped[str | None] = mapped_column(String(200))
    decimals: Mapped[int]
    min_deposit: Mapped[Decimal] = mapped_column(DecimalText)
    min_withdrawal: Mapped[Decimal] = mapped_column(DecimalText)
    withdrawal_fee: Mapped[Decimal] = mapped_column(DecimalText)
    # None: as the network says (``Network.memo_required``).
    memo_required: Mapped[bool | None]
    deposit_enabled: Mapped[bool] = mapped_column(default=True)
    deposit_disabled_reason: Mapped[str | None] = mapped_column(String(300))
    withdraw_enabled: Mapped[bool] = mapped_column(default=True)
    withdraw_disabled_reason: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="networks")
    network: Mapped[Network] = relationship(lazy="joined")
