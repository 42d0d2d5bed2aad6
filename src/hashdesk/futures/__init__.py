"""Futures support desk: margin and liquidation arithmetic (``Decimal`` only), tier tables and
the liquidation calculator. The explainer, price verifier and margin-call monitor build on
these names; nothing else reaches into the modules."""

from hashdesk.futures.book import BookPositions, MarginBook
from hashdesk.futures.calculator import check_liquidation
from hashdesk.futures.margin import (
    PRECISION,
    Contract,
    Leg,
    MaintenanceRate,
    MaintenanceSchedule,
    MarginError,
    MarginMode,
    Position,
    Side,
    Venue,
    bankruptcy_price,
    cross_liquidation_price,
    funding_payment,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    margin_ratio,
    plain,
    round_to_tick,
    unrealised_pnl,
)
from hashdesk.futures.schemas import LiquidationQuote, LiquidationRequest
from hashdesk.futures.tiers import (
    Tier,
    TierTable,
    TierTableError,
    cumulative_amounts,
    demo_tier_table,
    load_tier_tables,
    parse_tier_tables,
)

__all__ = [
    "PRECISION",
    "BookPositions",
    "Contract",
    "Leg",
    "LiquidationQuote",
    "LiquidationRequest",
    "MaintenanceRate",
    "MaintenanceSchedule",
    "MarginBook",
    "MarginError",
    "MarginMode",
    "Position",
    "Side",
    "Tier",
    "TierTable",
    "TierTableError",
    "Venue",
    "bankruptcy_price",
    "check_liquidation",
    "cross_liquidation_price",
    "cumulative_amounts",
    "demo_tier_table",
    "funding_payment",
    "initial_margin",
    "liquidation_price",
    "load_tier_tables",
    "maintenance_margin",
    "margin_ratio",
    "parse_tier_tables",
    "plain",
    "round_to_tick",
    "unrealised_pnl",
]
