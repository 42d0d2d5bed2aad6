"""The futures pages: the public liquidation calculator and the agents' checks page, through
the real app (forms, CSRF, uploads) and the real library."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D
from html import escape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.core.auth import Role
from hashdesk.futures import LiquidationRequest, check_liquidation, explain_files, plain
from hashdesk.futures.records import render_sentences
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader

T0 = 1_772_352_000_000  # 2026-03-01 08:00:00 UTC

# Bybit, "Liquidation Price (USDT Contract)", Example 1 (Long):
# https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract
# 1 BTC long at 20,000 USDT, 50x, MMR 0.5 %: IM 400, MM 100, LP = 20,000 - (400 - 100) = 19,700.
BYBIT_EXAMPLE_1 = {
    "contract": "linear", "side": "long", "mode": "isolated", "entry_price": "20000",
    "quantity": "1", "wallet_balance": "400", "maintenance_margin_rate": "0.005",
    "maintenance_amount": "0", "leverage": "50", "venue": "bybit",
}  # fmt: skip


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page carries no CSRF field"
    return found.group(1)


def shown_value(page: str, name: str) -> tuple[str, str]:
    """(what the page shows, the exact value) of a result figure."""
    found = re.search(rf'data-testid="{name}" data-exact="([^"]*)">([^<]*)<', page)
    assert found, f"no {name} in the result"
    return found.group(2), found.group(1)


def calculate(client: TestClient, **fields: str) -> Any:
    token = csrf_of(client.get("/futures/calculator").text)
    return client.post("/futures/calculator", data={**fields, "csrf_token": token})


# --- the calculator ----------------------------------------------------------------------------


def test_the_calculator_is_public_and_linked_from_every_page(client: TestClient) -> None:
    page = client.get("/futures/calculator")
    assert page.status_code == 200
    for name in (
        "entry_price",
        "quantity",
        "contract_size",
        "wallet_balance",
        "leverage",
        "maintenance_margin_rate",
        "maintenance_amount",
        "tier_symbol",
        "venue",
    ):
        assert f'<label for="{name}">' in page.text and f'id="{name}"' in page.text
    assert page.text.count("<fieldset>") == 3 and "<legend>" in page.text
    assert 'data-testid="calculator-result"' not in page.text
    assert 'href="/futures/calculator"' in client.get("/").text


def test_bybit_example_1_as_the_library_and_bybit_answer(client: TestClient) -> None:
    response = calculate(client, **BYBIT_EXAMPLE_1)
    assert response.status_code == 200, response.text
    expected = check_liquidation(LiquidationRequest.model_validate(BYBIT_EXAMPLE_1))
    assert expected.liquidation_price == D(19700)  # the published figure
    figures = {name: shown_value(response.text, name) for name in
               ("liquidation_price", "bankruptcy_price", "initial_margin", "maintenance_margin")}  # fmt: skip
    assert figures["liquidation_price"] == ("19700", "19700")
    assert figures["initial_margin"] == ("400", plain(expected.initial_margin))
    assert figures["maintenance_margin"] == ("100", plain(expected.maintenance_margin))
    assert figures["bankruptcy_price"][1] == plain(expected.bankruptcy_price or D(0)) == "19600"
    summary = re.search(r'data-testid="calculator-summary">([^<]*)<', response.text)
    assert summary and "falls to 19700, 1.5% below the entry price" in summary.group(1)
    assert 'value="20000"' in response.text  # the form keeps what was typed


def test_the_tier_is_looked_up_from_the_notional(client: TestClient) -> None:
    # 5 BTC at 60,000 = 300,000 USDT: the demo BTCUSDT table's third tier (1 %, amount 1,300).
    fields = {"contract": "linear", "side": "long", "mode": "cross", "entry_price": "60000",
              "quantity": "5", "wallet_balance": "30000", "maintenance_amount": "0",
              "tier_symbol": "BTCUSDT"}  # fmt: skip
    response = calculate(client, **fields)
    assert response.status_code == 200, response.text
    assert 'data-testid="tier-used"' in response.text and "Tier 3 of the BTCUSDT" in response.text
    assert 'value="0.01"' in response.text and 'value="1300"' in response.text
    request = LiquidationRequest.model_validate(
        {**fields, "maintenance_margin_rate": "0.01", "maintenance_amount": "1300"}
    )
    expected = check_liquidation(request).liquidation_price
    assert expected is not None and shown_value(response.text, "liquidation_price")[1] == plain(
        expected
    )
    # A leverage above what the tier allows is refused next to the leverage field.
    refused = calculate(client, **fields, leverage="75")
    assert refused.status_code == 422
    assert 'data-testid="error-leverage"' in refused.text and "above the 50x" in refused.text


def test_errors_are_shown_next_to_the_field_at_fault(client: TestClient) -> None:
    bad = {**BYBIT_EXAMPLE_1, "entry_price": "-5", "quantity": "abc", "wallet_balance": ""}
    response = calculate(client, **bad)
    assert response.status_code == 422
    page = response.text
    assert re.search(r'id="entry_price"[^>]*aria-invalid="true"', page)
    assert 'data-testid="error-entry_price">Enter a number above 0.<' in page
    assert 'data-testid="error-quantity">Enter a number, such as 20000 or 0.005.<' in page
    assert 'data-testid="error-wallet_balance">Enter a value.<' in page
    assert 'data-testid="calculator-result"' not in page
    # A rule of the library (an inverse contract needs its size) lands on its field too.
    inverse = calculate(client, **{**BYBIT_EXAMPLE_1, "contract": "inverse", "venue": ""})
    assert inverse.status_code == 422 and 'data-testid="error-contract_size"' in inverse.text


def test_the_calculator_refuses_a_post_without_its_csrf_token(client: TestClient) -> None:
    client.get("/futures/calculator")  # a session exists, with its token
    response = client.post("/futures/calculator", data=BYBIT_EXAMPLE_1,
                           headers={"Accept": "text/html"})  # fmt: skip
    assert response.status_code == 403
    assert 'data-testid="calculator-result"' not in response.text
    forged = client.post("/futures/calculator", data={**BYBIT_EXAMPLE_1, "csrf_token": "forged"})
    assert forged.status_code == 403


# --- the agents' page --------------------------------------------------------------------------

POSITION = {"symbol": "BTCUSDT", "contract": "linear", "side": "long", "mode": "isolated",
            "entry_price": "60000", "quantity": "1", "wallet_balance": "3000",
            "maintenance_margin_rate": "0.005", "maintenance_amount": "0"}  # fmt: skip
# Binance USDⓈ-M, one position: LP = (60000 - margin) / 0.995 = 57286.43 at 3000 margin.
MARKS = "time,mark_price\n" + "\n".join(
    f"{T0 + i * 1000},{price}" for i, price in enumerate((60000, 59500, 58200, 57900, 57280, 57000))
)
CHANGES = f"time,kind,amount\n{T0 + 1500},funding,-12.5\n"

T = 1_772_352_010_000
FILL = {"symbol": "BTCUSDT", "side": "buy", "price": "60001.5", "quantity": "0.5", "time": T}
LOG = f"trade_id,symbol,side,price,qty,time,order_id\nt-1,BTCUSDT,buy,60001.5,0.5,{T + 3},o-1\n"
BINANCE = f"venue,symbol,time,price,qty\nbinance,BTCUSDT,{T - 200},60000,0.1\nbinance,BTCUSDT,{T + 100},60004,0.1\n"
BYBIT = f"venue,symbol,time,price,qty\nbybit,BTCUSDT,{T - 100},59998,0.1\nbybit,BTCUSDT,{T + 150},60003,0.1\n"


@pytest.fixture
def agent_client(client: TestClient, session: Session) -> TestClient:
    login_agent(client, make_agent(session, Role.TECHNICIAN))
    return client


def test_only_staff_reach_the_checks(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    for method, url in (("get", "/console/futures"), ("post", "/console/futures/explain")):
        response = client.request(method, url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/console/login"
        )
    login_trader(client, runtime.settings, make_trader(session))
    assert client.get("/console/futures", follow_redirects=False).status_code == 303
    files = {"position": ("position.json", json.dumps(POSITION)), "marks": ("marks.csv", MARKS)}
    refused = client.post("/console/futures/explain", files=files, follow_redirects=False)
    assert refused.status_code == 303 and "explain-result" not in refused.text


def test_the_explainer_explains_and_draws_the_chart(agent_client: TestClient) -> None:
    page = agent_client.get("/console/futures")
    assert page.status_code == 200 and 'data-testid="nav-futures"' in page.text
    files = [("position", ("position.json", json.dumps(POSITION))), ("marks", ("marks.csv", MARKS)),
             ("changes", ("changes.csv", CHANGES))]  # fmt: skip
    response = agent_client.post("/console/futures/explain", files=files)
    assert response.status_code == 200, response.text
    text = response.text
    assert (
        'data-testid="explain-result"' in text
        and "Liquidated at 2026-03-01 08:00:04.000 UTC" in text
    )
    assert text.count('data-testid="sentence"') >= 2
    svg = re.search(r"<svg .*?</svg>", text, re.S)
    assert svg is not None and 'role="img"' in svg.group(0)
    assert svg.group(0).count(
        'data-series="mark"'
    ) == 1 and 'data-series="liquidation"' in svg.group(0)
    assert 'data-event="funding"' in svg.group(0) and 'data-event="liquidation"' in svg.group(0)
    assert "<script" not in svg.group(0)
    extra = re.search(r'data-testid="extra-margin" data-exact="([^"]+)"', text)
    assert extra is not None and D(extra.group(1)) > 0


def test_the_explainer_speaks_the_agents_language(agent_client: TestClient, tmp_path: Path) -> None:
    files = [("position", ("position.json", json.dumps(POSITION))), ("marks", ("marks.csv", MARKS))]
    german = agent_client.post("/console/futures/explain?lang=de", files=files).text
    assert 'lang="de"' in german
    (tmp_path / "position.json").write_text(json.dumps(POSITION), encoding="utf-8")
    (tmp_path / "marks.csv").write_text(MARKS, encoding="utf-8")
    result = explain_files(tmp_path / "position.json", tmp_path / "marks.csv")
    expected = [escape(sentence) for sentence in render_sentences(result.sentences, "de")]
    assert expected and re.findall(r'data-testid="sentence">([^<]*)<', german) == expected


def test_the_fill_check_gives_a_verdict_and_its_evidence(agent_client: TestClient) -> None:
    files = [("fill", ("fill.json", json.dumps(FILL))), ("log", ("log.csv", LOG)),
             ("markets", ("binance.csv", BINANCE)), ("markets", ("bybit.csv", BYBIT))]  # fmt: skip
    response = agent_client.post("/console/futures/fill", files=files, data={"skew_ms": "250"})
    assert response.status_code == 200, response.text
    assert 'data-verdict="consistent"' in response.text
    assert 'data-venue="binance"' in response.text and 'data-venue="bybit"' in response.text
    assert "trade t-1 of order o-1" in response.text


def test_the_liquidation_check_confirms_the_mark(agent_client: TestClient) -> None:
    spec = {"symbol": "BTCUSDT", "side": "long", "price": "57286.43", "time": T0 + 4100}
    files = [
        ("liquidation", ("liquidation.json", json.dumps(spec))),
        ("liq_marks", ("marks.csv", MARKS)),
    ]
    response = agent_client.post("/console/futures/liquidation", files=files)
    assert response.status_code == 200, response.text
    assert 'data-verdict="confirmed"' in response.text and "57280" in response.text


def test_bad_files_are_refused_naming_file_row_and_column(agent_client: TestClient) -> None:
    broken = MARKS.replace("57900", "fifty-seven")
    files = [
        ("position", ("position.json", json.dumps(POSITION))),
        ("marks", ("marks.csv", broken)),
    ]
    response = agent_client.post("/console/futures/explain", files=files)
    assert response.status_code == 422
    error = re.search(r'data-testid="error-marks">([^<]*)<', response.text)
    assert (
        error
        and "marks.csv, row 5, column mark_price: fifty-seven is not a number." in error.group(1)
    )
    bad_log = LOG.replace("buy,60001.5", "long,60001.5")
    files = [("fill", ("fill.json", json.dumps(FILL))), ("log", ("trades.csv", bad_log)),
             ("markets", ("binance.csv", BINANCE))]  # fmt: skip
    response = agent_client.post("/console/futures/fill", files=files)
    assert response.status_code == 422
    assert (
        'data-testid="error-log">trades.csv, row 2, column side: long is not buy or sell.'
        in response.text
    )
    missing = agent_client.post("/console/futures/fill", files=[("fill", ("fill.json", "{}"))])
    assert missing.status_code == 422 and 'data-testid="error-log">Choose a file.<' in missing.text
    files[0] = ("fill", ("my fill.json", json.dumps({**FILL, "side": "up"})))
    wrong = agent_client.post("/console/futures/fill", files=files).text
    assert 'data-testid="error-fill">my fill.json, field side:' in wrong


def test_uploads_over_the_size_limit_are_refused(agent_client: TestClient, runtime: Runtime,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(runtime.settings, "max_upload_bytes", 64)
    files = [("position", ("position.json", json.dumps(POSITION))), ("marks", ("marks.csv", MARKS))]
    response = agent_client.post("/console/futures/explain", files=files)
    assert response.status_code == 422
    assert 'data-testid="error-position">position.json is larger than' in response.text


def test_the_checks_need_the_csrf_token(agent_client: TestClient) -> None:
    del agent_client.headers["X-CSRF-Token"]
    files = [("position", ("position.json", json.dumps(POSITION))), ("marks", ("marks.csv", MARKS))]
    response = agent_client.post("/console/futures/explain", files=files)
    assert response.status_code == 403 and "explain-result" not in response.text
