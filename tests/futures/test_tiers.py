"""Tier tables: the stored amounts obey the cum formula, lookups at the boundaries, loading
errors that name the field, and the liquidation price re-checked across tiers."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from hashdesk.futures import (
    Contract,
    MaintenanceRate,
    Position,
    Side,
    TierTableError,
    cumulative_amounts,
    demo_tier_table,
    liquidation_price,
    load_tier_tables,
    maintenance_margin,
    parse_tier_tables,
    unrealised_pnl,
)

DEMO = load_tier_tables()


@pytest.mark.parametrize("symbol", sorted(DEMO))
def test_stored_amounts_follow_the_cum_formula(symbol: str) -> None:
    # Written out here rather than through cumulative_amounts, so a wrong helper cannot
    # vouch for wrong data: cum_n = floor_n x (MMR_n - MMR_(n-1)) + cum_(n-1), cum_1 = 0.
    tiers = DEMO[symbol].tiers
    assert tiers[0].maintenance_amount == 0
    for previous, tier in itertools.pairwise(tiers):
        expected = (
            tier.floor * (tier.maintenance_margin_rate - previous.maintenance_margin_rate)
            + previous.maintenance_amount
        )
        assert tier.maintenance_amount == expected


@pytest.mark.parametrize("symbol", sorted(DEMO))
def test_requirement_is_continuous_where_tiers_meet(symbol: str) -> None:
    for previous, tier in itertools.pairwise(DEMO[symbol].tiers):
        assert previous.terms.margin(tier.floor) == tier.terms.margin(tier.floor)


def test_binance_usdm_published_bracket_examples() -> None:
    # "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts":
    # https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93
    # a 264,000 USDT BTCUSDT position has MMR 1 %; a 500,000 USDT one a maintenance amount of
    # 1,300 USDT; that amount = 250,000 x (1 % - 0.5 %) + 50.
    table = demo_tier_table("BTCUSDT")
    assert table.maintenance_at(D(264000)).rate == D("0.01")
    assert table.maintenance_at(D(500000)).amount == D(1300)
    assert cumulative_amounts([D(0), D(50000), D(250000)], [D("0.004"), D("0.005"), D("0.01")]) == [
        D(0),
        D(50),
        D(1300),
    ]


def test_binance_coin_m_published_bracket_examples() -> None:
    # "How to Calculate Liquidation Price of Coin-M Futures Contracts": a 300 BTC BTCUSD
    # position has MMR 12.5 % and a maintenance amount of 11.605 BTC (today's page:
    # https://www.binance.com/es-MX/support/faq/how-to-calculate-liquidation-price-of-coin-m-futures-contracts-ceccfcfb4e3a45e3b48b0b1bb1a8ae46);
    # the older page's arithmetic: level 5 = 50 BTC x (5 % - 2.5 %) + 0.56 BTC = 1.81 BTC
    # (https://www.binance.com/es/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46).
    table = demo_tier_table("BTCUSD")
    assert table.maintenance_at(D(300)) == MaintenanceRate(D("0.125"), D("11.605"))
    amounts = cumulative_amounts([D(0), D(50)], [D("0.025"), D("0.05")])
    assert amounts[1] + D("0.56") == D("1.81")


def test_lookup_at_the_boundaries() -> None:
    table = demo_tier_table("BTCUSDT")
    first, second = table.tiers[0], table.tiers[1]
    assert table.tier_for(D(0)) == first
    assert table.tier_for(D(50000)) == first  # the cap belongs to its tier: "max position"
    assert table.tier_for(D("50000.01")) == second
    assert table.tier_for(D(250000)) == second
    assert table.max_leverage_for(D(50000)) == 125
    assert table.max_leverage_for(D("50000.01")) == 100
    assert table.tier_for(D(10) ** 12) == table.tiers[-1]


def test_check_leverage_refuses_above_the_tier_maximum_and_the_last_cap() -> None:
    table = demo_tier_table("BTCUSDT")
    table.check_leverage(D(50000), D(125))
    with pytest.raises(TierTableError) as raised:
        table.check_leverage(D(60000), D(125))
    assert raised.value.field == "leverage"
    assert "100" in str(raised.value)
    with pytest.raises(TierTableError) as too_big:
        table.check_leverage(D(600_000_000), D(1))
    assert too_big.value.field == "quantity"


def test_liquidation_price_is_rechecked_in_the_tier_it_falls_in() -> None:
    # 26 BTC long at 10,000 (260,000 USDT: tier 3, 1 %, 1,300) with 26,000 USDT: at the price
    # the tier-3 terms give, the notional is ~235,000, in tier 2 (0.5 %, 50), so the price is
    # recomputed there, and there it is consistent.
    table = demo_tier_table("BTCUSDT")
    position = Position(Contract.LINEAR, Side.LONG, D(10000), D(26))
    wallet = D(26000)
    first_guess = (D(260000) - wallet - D(1300)) / (D(26) * (1 - D("0.01")))
    price = liquidation_price(position, wallet, table)
    assert price is not None
    assert price == (D(260000) - wallet - D(50)) / (D(26) * (1 - D("0.005")))
    assert price != first_guess
    assert table.tier_for(position.notional(price)) == table.tiers[1]
    equity = wallet + unrealised_pnl(position, price)
    assert abs(equity - maintenance_margin(position, table, price)) < D("1e-25")


def _table(**changes: Any) -> dict[str, Any]:
    table = json.loads(json.dumps(_ETH_THREE_TIERS))
    table["ETHUSDT"]["tiers"][2].update(changes)
    return table


_ETH_THREE_TIERS = {
    "ETHUSDT": {
        "contract": "linear",
        "settlement_asset": "USDT",
        "tiers": [
            {"floor": "0", "cap": "10000", "max_leverage": 100,
             "maintenance_margin_rate": "0.005", "maintenance_amount": "0"},
            {"floor": "10000", "cap": "100000", "max_leverage": 75,
             "maintenance_margin_rate": "0.0065", "maintenance_amount": "15"},
            {"floor": "100000", "cap": "500000", "max_leverage": 50,
             "maintenance_margin_rate": "0.01", "maintenance_amount": "365"},
        ],
    }
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"maintenance_amount": "360"}, "ETHUSDT.tiers[2].maintenance_amount"),
        ({"floor": "120000"}, "ETHUSDT.tiers[2].floor"),
        ({"maintenance_margin_rate": "0.006", "maintenance_amount": "-35"},
         "ETHUSDT.tiers[2].maintenance_margin_rate"),
        ({"maintenance_margin_rate": "1.5"}, "ETHUSDT.tiers[2].maintenance_margin_rate"),
        ({"max_leverage": "0"}, "ETHUSDT.tiers[2].max_leverage"),
        ({"cap": "100000"}, "ETHUSDT.tiers[2].cap"),
        ({"cap": "lots"}, "ETHUSDT.tiers[2].cap"),
        ({"cap": True}, "ETHUSDT.tiers[2].cap"),
        ({"cap": "Infinity"}, "ETHUSDT.tiers[2].cap"),
    ],
)  # fmt: skip
def test_a_bad_table_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TierTableError) as raised:
        parse_tier_tables(_table(**changes))
    assert raised.value.field == field


def test_wrong_contract_and_empty_tiers_are_named() -> None:
    with pytest.raises(TierTableError) as raised:
        parse_tier_tables({"X": {"contract": "spot", "tiers": []}})
    assert raised.value.field == "X.contract"
    with pytest.raises(TierTableError) as empty:
        parse_tier_tables({"X": {"contract": "linear", "tiers": []}})
    assert empty.value.field == "X.tiers"


def test_yaml_and_json_files_load_alike(tmp_path: Path) -> None:
    import yaml

    as_json = tmp_path / "tiers.json"
    as_json.write_text(json.dumps(_ETH_THREE_TIERS))
    as_yaml = tmp_path / "tiers.yaml"
    # Plain YAML numbers, as someone editing the file by hand would write them.
    as_yaml.write_text(
        yaml.safe_dump(json.loads(json.dumps(_ETH_THREE_TIERS).replace('"0.0065"', "0.0065")))
    )
    assert load_tier_tables(as_json) == load_tier_tables(as_yaml)
    assert load_tier_tables(as_yaml)["ETHUSDT"].tiers[1].maintenance_margin_rate == D("0.0065")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TierTableError) as missing:
        load_tier_tables(tmp_path / "none.json")
    assert missing.value.field == "path"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(TierTableError):
        load_tier_tables(broken)


def test_demo_table_for_an_unknown_symbol_is_named() -> None:
    with pytest.raises(TierTableError) as raised:
        demo_tier_table("DOGEUSDT")
    assert raised.value.field == "symbol"
    assert "BTCUSDT" in str(raised.value)
