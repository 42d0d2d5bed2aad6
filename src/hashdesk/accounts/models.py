from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashdesk.assets.models import DecimalText
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class Trader(Base):
    """A user of the exchange, as the exchange's connector last described them."""

    __tablename__ = "traders"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(8), default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    vip_level: Mapped[int] = mapped_column(default=0)
    kyc_level: Mapped[int] = mapped_column(default=0)
    anti_phishing_code: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Agent(Base):
    """A member of staff; ``role`` decides what they may do, ``department`` where they sit."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(32))
    languages: Mapped[list[str]] = mapped_column(default=list)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DepositAddress(Base):
    """An address (with its memo, where the network has one) the exchange gave a trader to
    deposit to, as the connector pushed it. ``asset`` None: any asset the network carries.
    EVM addresses are kept lowercase, so a checksummed and a plain spelling are one address."""

    __tablename__ = "deposit_addresses"
    __table_args__ = (UniqueConstraint("network", "address", "memo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("traders.id", ondelete="CASCADE"), index=True)
    network: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(200), index=True)
    # "" rather than NULL: a unique constraint treats NULLs as all different.
    memo: Mapped[str] = mapped_column(String(100), default="")
    asset: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TransferKind(enum.StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class TransferStatus(enum.StrEnum):
    PENDING = "pending"  # seen, waiting for confirmations (deposit) or to be sent (withdrawal)
    COMPLETED = "completed"  # a deposit credited, a withdrawal broadcast and confirmed
    FAILED = "failed"
    CANCELLED = "cancelled"


class AccountTransfer(Base):
    """A deposit or withdrawal in the exchange's own records, pushed by the connector.

    ``block_height``/``block_hash`` are where the exchange's node saw the transaction: the
    deposit tracer compares them with the chain now to tell a reorg from a typo."""

    __tablename__ = "account_transfers"
    __table_args__ = (
        UniqueConstraint("kind", "external_id"),
        # The monitor's question: who has something pending on this network?
        Index("ix_account_transfers_network_status", "network", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    trader_id: Mapped[int] = mapped_column(ForeignKey("traders.id", ondelete="CASCADE"), index=True)
    network: Mapped[str] = mapped_column(String(40))
    asset: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(DecimalText)
    address: Mapped[str] = mapped_column(String(200))
    memo: Mapped[str] = mapped_column(String(100), default="")
    tx_hash: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16))
    block_height: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
