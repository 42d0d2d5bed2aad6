"""The liquidation calculator: one position, its margin, one tier's terms → the four figures.

The rules that tie the request's fields together (each error names its field):

* ``contract_size`` is required for inverse contracts; linear quantities are already in base
  units, so there it is ignored.
* ``maintenance_margin`` is the maintenance margin **at the entry price**: notional at entry x
  ``maintenance_margin_rate`` - ``maintenance_amount``, the figure a venue shows for a position
  just opened. It must not be negative. A ``wallet_balance`` at or below it is answered, not
  refused: the liquidation price then lies on the far side of the entry (the position is
  already past it), which is what a support agent needs to see.
* ``initial_margin`` is notional at entry / ``leverage``; without a leverage it is the
  ``wallet_balance`` that backs the position (the isolated margin, or the cross wallet when
  the position is the only thing in it), i.e. the position's effective leverage is
  notional / wallet_balance. The leverage changes only this figure: the prices follow from
  the margin actually there (``wallet_balance``), whatever leverage opened the position.
* ``mode``: with a single position and nothing else in the account, cross margin is isolated
  margin with the whole wallet, so both give the same prices. Other positions are the
  library's business (``margin.cross_liquidation_price``).
* ``venue`` picks the published convention (``margin.Venue``); none means Binance's, the exact
  solution of the defining equation.

Nothing is rounded: see ``margin.plain`` for the output form.
"""

from __future__ import annotations

from decimal import Decimal

from hashdesk.futures.margin import (
    ONE,
    Contract,
    MaintenanceRate,
    MarginError,
    Position,
    Venue,
    bankruptcy_price,
    exact,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    plain,
)
from hashdesk.futures.schemas import LiquidationQuote, LiquidationRequest


@exact
def check_liquidation(request: LiquidationRequest) -> LiquidationQuote:
    position = _position(request)
    terms = MaintenanceRate(request.maintenance_margin_rate, request.maintenance_amount)
    maintenance = _checked_maintenance(position, terms, request)
    initial = _initial_margin(position, request)
    return LiquidationQuote(
        liquidation_price=liquidation_price(
            position, request.wallet_balance, terms, venue=request.venue or Venue.BINANCE
        ),
        bankruptcy_price=bankruptcy_price(position, request.wallet_balance),
        initial_margin=initial,
        maintenance_margin=maintenance,
    )


def _position(request: LiquidationRequest) -> Position:
    size = request.contract_size
    if request.contract is Contract.INVERSE:
        if size is None:
            raise MarginError(
                "contract_size is required for inverse contracts (the quote value of one "
                "contract, e.g. 100 for BTCUSD).",
                field="contract_size",
            )
        return Position(request.contract, request.side, request.entry_price, request.quantity, size)
    # Linear quantities are already in base units: a contract_size sent along changes nothing.
    return Position(request.contract, request.side, request.entry_price, request.quantity, ONE)


def _checked_maintenance(
    position: Position, terms: MaintenanceRate, request: LiquidationRequest
) -> Decimal:
    at_entry = maintenance_margin(position, terms)
    if at_entry < 0:
        raise MarginError(
            "maintenance_amount {amount} exceeds the notional at entry x the rate ({gross}): "
            "the maintenance margin would be negative.",
            field="maintenance_amount", amount=plain(request.maintenance_amount),
            gross=plain(position.entry_notional * terms.rate),
        )  # fmt: skip
    return at_entry


def _initial_margin(position: Position, request: LiquidationRequest) -> Decimal:
    if request.leverage is None:
        return request.wallet_balance
    return initial_margin(position, request.leverage)
