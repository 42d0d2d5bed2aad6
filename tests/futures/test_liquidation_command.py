"""The ``hashdesk futures liquidation`` contract: JSON in on stdin, four decimal strings out,
and every bad input refused with a message naming its field."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hashdesk.cli import main

BYBIT_EXAMPLE_1: dict[str, Any] = {
    "contract": "linear",
    "side": "long",
    "mode": "isolated",
    "entry_price": 20000,
    "quantity": 1,
    "wallet_balance": 400,
    "maintenance_margin_rate": 0.005,
    "maintenance_amount": 0,
    "leverage": 50,
    "venue": "bybit",
}


def run(payload: Any) -> tuple[int, str, str]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    result = CliRunner().invoke(main, ["futures", "liquidation"], input=text)
    return result.exit_code, result.stdout, result.stderr


def quote(payload: dict[str, Any]) -> dict[str, Any]:
    code, out, err = run(payload)
    assert code == 0, err
    answer: dict[str, Any] = json.loads(out)
    return answer


def test_bybit_example_through_the_command() -> None:
    # Bybit "Liquidation Price (USDT Contract)", Example 1 (see test_worked_examples.py).
    assert quote(BYBIT_EXAMPLE_1) == {
        "liquidation_price": "19700",
        "bankruptcy_price": "19600",
        "initial_margin": "400",
        "maintenance_margin": "100",
    }


def test_numbers_and_decimal_strings_give_the_same_answer() -> None:
    as_strings = {key: str(value) for key, value in BYBIT_EXAMPLE_1.items()}
    assert quote(as_strings) == quote(BYBIT_EXAMPLE_1)
    # A JSON number is read as the decimal it spells, not as a binary float.
    tricky = dict(BYBIT_EXAMPLE_1, entry_price=0.1, quantity=3, wallet_balance=0.03, leverage=None)
    del tricky["leverage"]
    answer = quote(tricky)
    assert answer["initial_margin"] == "0.03"
    assert D(answer["maintenance_margin"]) == D("0.0015")


def test_outputs_are_plain_decimal_strings() -> None:
    answer = quote(dict(BYBIT_EXAMPLE_1, venue="binance"))
    assert answer["liquidation_price"].startswith("19698.492462311557788944723618")
    small = quote({
        "contract": "inverse", "side": "long", "mode": "cross", "entry_price": "16000",
        "quantity": "1", "contract_size": "100", "wallet_balance": "0.0000625",
        "maintenance_margin_rate": "0.000001", "maintenance_amount": "0",
    })  # fmt: skip
    for value in (*answer.values(), *small.values()):
        assert isinstance(value, str)
        assert "E" not in value and "e" not in value
        assert value == "0" or not value.endswith(("0", ".")) or "." not in value
    assert small["initial_margin"] == "0.0000625"


def test_isolated_and_cross_agree_when_the_position_is_alone() -> None:
    for contract_fields in (
        {"contract": "linear"},
        {"contract": "inverse", "contract_size": 100, "quantity": 3000, "wallet_balance": "0.2"},
    ):
        payload = dict(BYBIT_EXAMPLE_1, venue="binance", **contract_fields)
        payload.pop("leverage")
        isolated = quote(dict(payload, mode="isolated"))
        assert isolated == quote(dict(payload, mode="cross"))


def test_venues_differ_where_their_published_formulas_do() -> None:
    base = dict(BYBIT_EXAMPLE_1, maintenance_amount=0)
    binance = D(quote(dict(base, venue="binance"))["liquidation_price"])
    bybit = D(quote(dict(base, venue="bybit"))["liquidation_price"])
    coinex = D(quote(dict(base, venue="coinex"))["liquidation_price"])
    default = D(quote({k: v for k, v in base.items() if k != "venue"})["liquidation_price"])
    assert default == binance == coinex  # no maintenance amount: the same equation
    assert bybit == D(19700) != binance


def test_without_leverage_the_initial_margin_is_the_wallet_balance() -> None:
    payload = {k: v for k, v in BYBIT_EXAMPLE_1.items() if k != "leverage"}
    assert quote(dict(payload, wallet_balance=1000))["initial_margin"] == "1000"


def test_a_long_that_cannot_be_liquidated_has_null_prices() -> None:
    payload = dict(BYBIT_EXAMPLE_1, wallet_balance=20000, leverage=1, venue="binance")
    answer = quote(payload)
    assert answer["liquidation_price"] is None
    assert answer["bankruptcy_price"] is None


VALID: dict[str, Any] = dict(BYBIT_EXAMPLE_1)


def without(field: str) -> dict[str, Any]:
    return {key: value for key, value in VALID.items() if key != field}


BAD_INPUTS: list[tuple[str, Any, str]] = [
    *[
        (f"missing {name}", without(name), name)
        for name in ("contract", "side", "mode", "entry_price", "quantity", "wallet_balance",
                     "maintenance_margin_rate", "maintenance_amount")
    ],
    ("negative quantity", dict(VALID, quantity=-1), "quantity"),
    ("zero quantity", dict(VALID, quantity="0"), "quantity"),
    ("zero price", dict(VALID, entry_price=0), "entry_price"),
    ("price not a number", dict(VALID, entry_price="twenty"), "entry_price"),
    ("price as a bool", dict(VALID, entry_price=True), "entry_price"),
    ("price as a list", dict(VALID, entry_price=[1]), "entry_price"),
    ("price NaN string", dict(VALID, entry_price="NaN"), "entry_price"),
    ("price Infinity string", dict(VALID, entry_price="Infinity"), "entry_price"),
    ("zero wallet", dict(VALID, wallet_balance=0), "wallet_balance"),
    ("negative maintenance amount", dict(VALID, maintenance_amount=-5), "maintenance_amount"),
    ("rate of 1", dict(VALID, maintenance_margin_rate=1), "maintenance_margin_rate"),
    ("negative rate", dict(VALID, maintenance_margin_rate="-0.01"), "maintenance_margin_rate"),
    ("unknown contract", dict(VALID, contract="quanto"), "contract"),
    ("unknown side", dict(VALID, side="buy"), "side"),
    ("unknown mode", dict(VALID, mode="portfolio"), "mode"),
    ("unknown venue", dict(VALID, venue="kraken"), "venue"),
    ("leverage below 1", dict(VALID, leverage="0.5"), "leverage"),
    ("inverse without contract_size", dict(VALID, contract="inverse"), "contract_size"),
    ("zero contract_size", dict(VALID, contract="inverse", contract_size=0), "contract_size"),
    ("amount above the gross margin", dict(VALID, maintenance_amount=101), "maintenance_amount"),
    ("coinex inverse", dict(VALID, venue="coinex", contract="inverse", contract_size=100,
                            quantity=200, wallet_balance="0.1"), "contract"),
    ("coinex with an amount", dict(VALID, venue="coinex", maintenance_amount=50),
     "maintenance_amount"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "field"), [(p, f) for _, p, f in BAD_INPUTS],
                         ids=[name for name, _, _ in BAD_INPUTS])  # fmt: skip
def test_bad_input_exits_non_zero_naming_the_field(payload: dict[str, Any], field: str) -> None:
    payload = {key: value for key, value in payload.items() if value is not None}
    code, out, err = run(payload)
    assert code != 0
    assert out == ""
    assert any(line.startswith(f"{field}: ") for line in err.splitlines()), err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"a string"', "null",
                                  '{"entry_price": NaN}'])  # fmt: skip
def test_input_that_is_not_one_json_object_is_refused(text: str) -> None:
    code, out, err = run(text)
    assert code != 0
    assert out == ""
    assert err.startswith("input: "), err


def test_every_problem_is_reported_at_once() -> None:
    code, _, err = run(dict(VALID, quantity=-1, side="up", venue="kraken"))
    assert code != 0
    assert {line.split(":")[0] for line in err.splitlines()} == {"quantity", "side", "venue"}


def test_the_installed_command_reads_stdin() -> None:
    hashdesk = Path(sys.executable).with_name("hashdesk")
    done = subprocess.run(
        [str(hashdesk), "futures", "liquidation"],
        input=json.dumps(BYBIT_EXAMPLE_1), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["liquidation_price"] == "19700"


def test_tiers_show_prints_checked_tables(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["futures", "tiers", "show", "BTCUSD"])
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert list(shown) == ["BTCUSD"]
    assert shown["BTCUSD"]["tiers"][6]["maintenance_amount"] == "11.605"
    broken = tmp_path / "tiers.json"
    table = {"X": {"contract": "linear", "tiers": [
        {"floor": "0", "cap": "10", "max_leverage": 10, "maintenance_margin_rate": "0.01",
         "maintenance_amount": "0"},
        {"floor": "10", "cap": "20", "max_leverage": 5, "maintenance_margin_rate": "0.02",
         "maintenance_amount": "0.2"},
    ]}}  # fmt: skip
    broken.write_text(json.dumps(table))
    refused = CliRunner().invoke(main, ["futures", "tiers", "show", "--file", str(broken)])
    assert refused.exit_code != 0
    assert refused.stderr.startswith("X.tiers[1].maintenance_amount: ")
    unknown = CliRunner().invoke(main, ["futures", "tiers", "show", "ETHUSD"])
    assert unknown.exit_code != 0
    assert unknown.stderr.startswith("symbol: ")


def test_unknown_fields_are_ignored_with_a_warning() -> None:
    code, out, err = run(dict(VALID, symbol="BTCUSDT", entry=1))
    assert code == 0
    assert json.loads(out) == quote(VALID)
    assert "entry, symbol" in err


def test_a_linear_contract_size_changes_nothing() -> None:
    assert quote(dict(VALID, contract_size=100)) == quote(VALID)


def test_the_leverage_sets_the_initial_margin_and_not_the_prices() -> None:
    at_50x, at_40x = quote(VALID), quote(dict(VALID, leverage=40))
    assert D(at_40x["initial_margin"]) == D(20000) / 40
    assert at_40x["liquidation_price"] == at_50x["liquidation_price"]


def test_a_wallet_below_the_maintenance_margin_is_already_past_liquidation() -> None:
    answer = quote(dict(VALID, wallet_balance=50, leverage=None))
    assert D(answer["liquidation_price"]) > D(VALID["entry_price"])
