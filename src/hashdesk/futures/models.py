"""Futures storage: open positions as the exchange's connector last pushed them (with the
margin-call level each is latched at), the last mark price of each contract, and the margin
alerts traders were sent.

Amounts are decimal text (``DecimalText``, as in the asset registry): exact on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashdesk.assets.models import DecimalText
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class FuturesPosition(Base):
    """One open position. ``tier_table`` names the contract's tier table, or is None when the
    exchange gave flat terms (``maintenance_margin_rate`` and ``maintenance_amount``).
    ``alert_level`` is how many margin-call thresholds the position is latched at (0 none,
    1 warning, 2 critical): saved so that a restarted monitor does not alert again."""

    __tablename__ = "futures_positions"
    __table_args__ = (UniqueConstraint("trader_id", "symbol", "side"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("traders.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    contract: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(16))
    entry_price: Mapped[Decimal] = mapped_column(DecimalText)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    contract_size: Mapped[Decimal] = mapped_column(DecimalText)
    wallet_balance: Mapped[Decimal] = mapped_column(DecimalText)
    leverage: Mapped[Decimal | None] = mapped_column(DecimalText, default=None)
    tier_table: Mapped[str | None] = mapped_column(String(32), default=None)
    maintenance_margin_rate: Mapped[Decimal | None] = mapped_column(DecimalText, default=None)
    maintenance_amount: Mapped[Decimal | None] = mapped_column(DecimalText, default=None)
    alert_level: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FuturesMark(Base):
    """The last mark price the monitor saw for a contract (what the console computes with)."""

    __tablename__ = "futures_marks"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    time_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MarginAlert(Base):
    """One margin call sent to a trader: the portal lists these; the email went through the
    outbox in the same transaction."""

    __tablename__ = "futures_margin_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    trader_id: Mapped[int] = mapped_column(ForeignKey("traders.id", ondelete="CASCADE"), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    level: Mapped[int]
    threshold: Mapped[Decimal] = mapped_column(DecimalText)
    margin_ratio: Mapped[Decimal] = mapped_column(DecimalText)
    mark_price: Mapped[Decimal] = mapped_column(DecimalText)
    liquidation_price: Mapped[Decimal | None] = mapped_column(DecimalText, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskEntry(Base):
    """One row of the margin monitor's last snapshot of the riskiest positions (``rank`` 0 is
    the highest margin ratio). The monitor already holds every ratio in its book, so it saves
    this short list (at most once a second) and the console reads it instead of figuring
    every open position on each refresh. A table, not process memory or Redis: it works on
    the SQLite default and is shared by every ``hashdesk serve`` node."""

    __tablename__ = "futures_risk_snapshot"

    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    position_id: Mapped[int]
    margin_ratio: Mapped[float]  # the monitor's screening float; capped at EXHAUSTED
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
