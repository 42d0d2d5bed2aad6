"""Where the tracer is used: the CLI (``hashdesk chains trace``), the API for the console and
the assistant, and the assistant's "deposit not arrived" check."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import check_replace_deposit_addresses
from hashdesk.accounts.models import AccountTransfer, DepositAddress, Trader
from hashdesk.accounts.schemas import DepositAddressesReplace
from hashdesk.assets.demo import real_document
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.assistant.actions import Tools
from hashdesk.assistant.diagnostics import CheckResult, get_check
from hashdesk.assistant.engine import Engine
from hashdesk.assistant.routes import tools_dep
from hashdesk.chains import tracer
from hashdesk.chains.tracer import Tracer, TraceRequest, Verdict, trace_scope
from hashdesk.cli import main
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM, Role
from hashdesk.demo.deposits import load_demo_transfers
from hashdesk.runtime import Runtime
from hashdesk.tickets.models import Ticket
from tests.assistant.assistant_fakes import ScriptedSearcher, word_language
from tests.chains.nodes import AnvilNode, LyingServer, Token
from tests.chains.test_tracer import TUSD, Desk, make_desk
from tests.conftest import exchange_token, login_agent, login_trader, make_agent, make_trader

MISSING = "0x" + "77" * 32


@pytest.fixture(autouse=True)
def _fresh_tracer() -> Iterator[None]:
    tracer.reset()
    yield
    tracer.reset()


@pytest.fixture
def desk(runtime: Runtime, anvil: AnvilNode, anvil_token: Token) -> Desk:
    return make_desk(runtime, anvil, anvil_token)


def test_cli_json_verdict_with_an_rpc_override(
    desk: Desk, cli: CliRunner, lying_rpc: LyingServer
) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    args = ["chains", "trace", "--tx", tx_hash, "--network", "devnet", "--json"]

    direct = cli.invoke(main, args)
    assert direct.exit_code == 0, direct.output
    document = json.loads(direct.output)
    # No trader named: the deposit address still identifies whose it is.
    assert (document["verdict"], document["asset"], document["amount"]) == (
        "confirming",
        "TUSD",
        "25",
    )
    assert {e["check"] for e in document["evidence"]} >= {"found", "recipient", "token"}

    lied_to = cli.invoke(main, [*args, "--rpc", f"devnet={lying_rpc.url}"])
    assert lied_to.exit_code == 0
    assert json.loads(lied_to.output)["node_problems"][0]["code"] == "rpc_wrong_chain"

    as_trader = cli.invoke(main, ["chains", "trace", "--tx", tx_hash, "--trader", "u-trace"])
    assert as_trader.exit_code == 0 and as_trader.output.startswith("confirming:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tx", "0x12"], "not a transaction hash"),
        (["--tx", MISSING, "--network", "narnia"], "Unknown network narnia"),
        (["--tx", MISSING, "--rpc", "devnet"], "is not NAME=URL"),
        (["--tx", MISSING, "--rpc", "narnia=http://127.0.0.1:1/"], "Unknown network narnia"),
        (["--tx", MISSING, "--rpc", "devnet=http://127.0.0.1:99999/"], "is not an http(s) URL"),
        (["--tx", MISSING, "--rpc", "devnet=ftp://u:pw@node/"], "'ftp://u:***@node/' is not an"),
        (["--tx", MISSING, "--trader", "nobody"], "No trader"),
    ],
)
def test_cli_bad_input_exits_with_the_reason(
    desk: Desk, cli: CliRunner, args: list[str], message: str
) -> None:
    result = cli.invoke(main, ["chains", "trace", *args, "--json"])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_api_for_agents_and_traders(
    desk: Desk, client: TestClient, session: Session, settings: Settings
) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    assert client.post("/api/v1/chains/trace", json={"tx_hash": tx_hash}).status_code == 401

    login_trader(client, settings, desk.trader)
    mine = client.post("/api/v1/chains/trace", json={"tx_hash": tx_hash, "network": "devnet"})
    assert mine.status_code == 200, mine.text
    assert mine.json()["verdict"] == "confirming"
    bad = client.post("/api/v1/chains/trace", json={"tx_hash": "0x12"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"

    client.cookies.clear()
    login_agent(client, make_agent(session, Role.TECHNICIAN, department="blockchain"))
    other = client.post(
        "/api/v1/chains/trace", json={"tx_hash": MISSING, "trader_id": desk.trader.id}
    )
    assert other.status_code == 200 and other.json()["verdict"] == "not_found"


def test_assistant_check_uses_the_tracer_in_scope(desk: Desk, runtime: Runtime) -> None:
    check = get_check("deposit_trace")
    assert check is not None
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    answers = {"network": "devnet", "asset": "TUSD", "tx_hash": tx_hash}

    def branch(answers: dict[str, str]) -> str:
        found = check(answers)
        return found.branch if isinstance(found, CheckResult) else found

    assert branch(answers) == "untraced"  # no runtime in scope (a CLI or a unit test)
    with trace_scope(runtime, desk.trader.id, "en"):
        waiting = check(answers)
        assert isinstance(waiting, CheckResult) and waiting.branch == "explained"
        assert "25 TUSD on Devnet has 1 of the 3 confirmations" in waiting.answers[
            "trace_explanation"]  # fmt: skip
        assert "wait about 2 more blocks" in waiting.answers["trace_next_step"]
        wrong = check({**answers, "asset": "DETH"})
        assert isinstance(wrong, CheckResult) and wrong.branch == "recovery"
        assert (wrong.answers["trace_asset"], wrong.answers["trace_address"]) == (
            "TUSD", desk.address)  # fmt: skip
        desk.anvil.mine(2)
        desk.record(tx_hash, "completed")
        assert branch(answers) == "credited"
        assert branch({**answers, "tx_hash": MISSING}) == "not_found"
        assert branch({**answers, "network": "narnia"}) == "untraced"


def test_demo_connector_data_is_deterministic_and_traceable(runtime: Runtime) -> None:
    with runtime.database.transaction() as session:
        import_document(session, SYSTEM, real_document())
    with runtime.database.session() as session:
        for number in range(12):
            make_trader(session, f"demo-{number}")
    now = datetime(2026, 11, 27, tzinfo=UTC)
    written = load_demo_transfers(runtime.database, random.Random(3), now)
    again = load_demo_transfers(runtime.database, random.Random(3), now)  # a second load updates
    assert written == again > 0
    with runtime.database.session() as session:
        records = list(session.scalars(select(AccountTransfer).order_by(AccountTransfer.id)))
        assert len(records) == written
        assert session.scalar(select(DepositAddress).limit(1)) is not None
        deposit = next(r for r in records if r.kind == "deposit")
        # The demo registry has no nodes: the tracer says so, and shows the exchange's record.
        result = Tracer(session).trace(TraceRequest(tx_hash=str(deposit.tx_hash)))
    assert result.verdict is Verdict.UNAVAILABLE and result.searched == []
    assert next(e for e in result.evidence if e.check == "credited").data["asset"] == deposit.asset


@dataclass
class Mainnet:
    """A real node posing as Ethereum (chain id 1: a network the tickets' request form and
    its checks know), USDT (the test ERC-20; minimum deposit 10) and trader u-flow."""

    node: AnvilNode
    token: Token
    address: str  # u-flow's deposit address on ethereum


@pytest.fixture
def mainnet(
    runtime: Runtime, anvil_binary: Path, tmp_path: Path, erc20_bytecode: str
) -> Iterator[Mainnet]:
    node = AnvilNode(tmp_path, anvil_binary, chain_id=1)
    node.start()
    try:
        token = node.deploy_token(erc20_bytecode, 10**12)
        with runtime.database.transaction() as session:
            import_document(session, SYSTEM, RegistryDocument.model_validate({
                "networks": [{"id": "ethereum", "name": "Ethereum", "family": "evm", "chain_id": 1,
                              "native_asset": "ETH", "block_time_seconds": 12,
                              "confirmations_credit": 6, "confirmations_unlock": 64,
                              "address_format": "evm", "tx_hash_format": "evm",
                              "token_format": "evm", "rpc_endpoints": [node.rpc_url]}],
                "assets": [{"symbol": "USDT", "name": "Tether USD", "networks": [
                    {"network": "ethereum", "contract": token.address, "decimals": 6,
                     "min_deposit": "10"}]}],
            }))  # fmt: skip
        with runtime.database.session() as session:
            make_trader(session, "u-flow")
        with runtime.database.transaction() as session:
            check_replace_deposit_addresses(session, "u-flow", DepositAddressesReplace.model_validate(
                {"addresses": [{"network": "ethereum", "address": node.accounts[2]}]}))  # fmt: skip
        yield Mainnet(node, token, node.accounts[2])
    finally:
        node.close()


def deposit_flow(
    client: TestClient, settings: Settings, tx_hash: str
) -> tuple[str, dict[str, Any]]:
    """Walks "my deposit has not arrived" as u-flow's API client (bearer token) up to the
    hash; returns the conversation's URL and the assistant's reply to the hash."""
    client.app.dependency_overrides[tools_dep] = lambda: Tools(  # type: ignore[attr-defined]
        Engine(ScriptedSearcher({}), detect=word_language), predict=lambda text: ("deposit", 0.9)
    )
    client.headers["Authorization"] = f"Bearer {exchange_token(settings, 'u-flow')}"
    conversation = client.post("/api/v1/assistant/conversations", json={})
    url = f"/api/v1/assistant/conversations/{conversation.json()['id']}"
    client.post(f"{url}/flow", json={"flow_id": "deposit_not_arrived"})
    for answer in ("Ethereum", "USDT", "There was no memo or tag"):
        assert client.post(f"{url}/messages", json={"body": answer}).status_code == 201
    reply = client.post(f"{url}/messages", json={"body": tx_hash})
    assert reply.status_code == 201, reply.text
    return url, reply.json()


@pytest.fixture
def flow_client(client: TestClient) -> Iterator[TestClient]:
    yield client
    client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    client.headers.pop("Authorization", None)


def test_assistant_flow_says_how_many_blocks_to_wait(
    mainnet: Mainnet, flow_client: TestClient, settings: Settings
) -> None:
    """The whole path: the flow's check traces on the real node, and the trader reads the
    tracer's own words: what it found and how long to wait."""
    tx_hash = mainnet.node.token_transfer(mainnet.token, mainnet.address, 50 * TUSD)
    _, reply = deposit_flow(flow_client, settings, tx_hash)
    assert "50 USDT on Ethereum has 1 of the 6 confirmations" in reply["body"], reply
    assert "wait about 5 more blocks (about 1 minutes)" in reply["body"]


def test_assistant_hands_a_recovery_verdict_over_with_its_fields(
    mainnet: Mainnet, flow_client: TestClient, settings: Settings, session: Session
) -> None:
    tx_hash = mainnet.node.token_transfer(mainnet.token, mainnet.address, 5 * TUSD)
    url, reply = deposit_flow(flow_client, settings, tx_hash)

    assert reply["data"]["kind"] == "flow_ticket" and reply["data"]["outcome"] == "recovery"
    assert "below the minimum deposit of 10 USDT" in reply["body"]
    fields = {"network": "ethereum", "asset": "USDT", "tx_hash": tx_hash.lower(),
              "address": mainnet.address}  # fmt: skip
    assert reply["data"]["fields"] == fields
    handed = flow_client.post(f"{url}/handoff", json={})
    assert handed.status_code == 201, handed.text
    ticket = session.scalars(
        select(Ticket).where(Ticket.tracking_id == handed.json()["tracking_id"])
    ).one()
    assert ticket.category == "deposit" and "below minimum" in ticket.subject
    assert {k: v for k, v in ticket.fields.items() if v} == fields


class FormValues(HTMLParser):
    """What a browser would send from the page's ticket form: inputs, selected options,
    textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type") != "file":
            self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
            self.values.setdefault(a.get("name", ""), "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[a.get("name", "")] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def test_recovery_link_opens_the_portal_request_form_filled_in(
    mainnet: Mainnet, client: TestClient, settings: Settings, session: Session
) -> None:
    tx_hash = mainnet.node.token_transfer(mainnet.token, mainnet.address, 5 * TUSD)
    trader = session.scalars(select(Trader).where(Trader.external_id == "u-flow")).one()
    result = Tracer(session).trace(TraceRequest(tx_hash=tx_hash, trader_id=trader.id))
    session.commit()  # the trace records its sighting; SQLite has one writer at a time
    ticket = result.next_step.ticket
    assert result.verdict is Verdict.BELOW_MINIMUM and ticket is not None

    login_trader(client, settings, trader)
    form = client.get(ticket.url)
    assert form.status_code == 200
    parser = FormValues()
    parser.feed(form.text)
    sent = parser.values
    assert (sent["category"], sent["subject"], sent["description"]) == (
        "deposit", ticket.subject, result.explanation)  # fmt: skip
    assert {name: sent[f"fields.{name}"] for name in ticket.fields} == ticket.fields
    created = client.post("/portal/new", data=sent, follow_redirects=False)
    assert created.status_code in (302, 303), created.text
    session.expire_all()
    made = session.scalars(select(Ticket).where(Ticket.trader_id == trader.id)).one()
    assert made.category == "deposit" and made.fields["tx_hash"] == tx_hash.lower()
    assert made.fields["address"] == mainnet.address


def test_console_page_for_agents(desk: Desk, client: TestClient, session: Session) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.anvil.accounts[7], 25 * TUSD)
    assert client.get("/console/trace", follow_redirects=False).status_code in (302, 303)

    login_agent(client, make_agent(session, Role.TECHNICIAN, department="blockchain"))
    empty = client.get("/console/trace")
    assert empty.status_code == 200 and 'data-testid="trace-form"' in empty.text
    page = client.get("/console/trace", params={"tx": tx_hash, "trader": "u-trace"})
    assert page.status_code == 200
    assert 'data-verdict="wrong_address"' in page.text
    assert "is not your deposit address" in page.text
    small = desk.anvil.token_transfer(desk.token, desk.address, 5 * TUSD)
    recovery = client.get("/console/trace", params={"tx": small, "trader": "u-trace"}).text
    assert 'data-verdict="below_minimum"' in recovery
    assert f'href="https://explorer.test/address/{desk.address}"' in recovery
    assert (
        'data-testid="trace-ticket-link">http://' in recovery
        and "/portal/new?category=deposit" in recovery
    )
    refused = client.get("/console/trace", params={"tx": "0x12"})
    assert 'data-testid="trace-error"' in refused.text and "not a transaction hash" in refused.text
    nobody = client.get("/console/trace", params={"tx": tx_hash, "trader": "<script>"})
    assert "No trader &lt;script&gt;" in nobody.text
