"""The deposit tracer against a real anvil node: real transfers of a real ERC-20, pending
transactions, confirmations, a reorg, and every verdict the trader can get."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import check_replace_deposit_addresses, check_upsert_transfer
from hashdesk.accounts.models import Trader, TransferKind
from hashdesk.accounts.schemas import DepositAddressesReplace, TransferUpsert
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.chains import tracer
from hashdesk.chains.models import Sighting
from hashdesk.chains.tracer import NextAction, Outcome, Tracer, TraceRequest, TraceResult, Verdict
from hashdesk.core.auth import SYSTEM
from hashdesk.core.errors import InvalidInput
from hashdesk.runtime import Runtime
from tests.chains.nodes import AnvilNode, LyingServer, Token
from tests.conftest import make_trader

ETHER = 10**18
TUSD = 10**6
OTHER_CHAIN_ID = 31338
# A token contract the registry lists on devnet-b only (the "right token, wrong network" case).
BRIDGED = "0x" + "b1" * 20


@pytest.fixture(autouse=True)
def _fresh_tracer() -> Iterator[None]:
    tracer.reset()
    yield
    tracer.reset()


def devnet_document(anvil: AnvilNode, token: Token, **tusd: Any) -> RegistryDocument:
    """devnet (anvil) and devnet-b (no node: only its registry entries), with DETH as the
    native coin and TUSD, the test ERC-20, listed on both."""
    evm = {"family": "evm", "native_asset": "DETH", "block_time_seconds": 2.0,
           "confirmations_credit": 3, "confirmations_unlock": 6, "address_format": "evm",
           "tx_hash_format": "evm", "token_format": "evm"}  # fmt: skip
    return RegistryDocument.model_validate({
        "networks": [
            {"id": "devnet", "name": "Devnet", "chain_id": anvil.chain_id,
             "rpc_endpoints": [anvil.rpc_url],
             "explorer_tx_url": "https://explorer.test/tx/{tx}",
             "explorer_address_url": "https://explorer.test/address/{address}", **evm},
            {"id": "devnet-b", "name": "Devnet B", "chain_id": OTHER_CHAIN_ID, **evm},
        ],
        "assets": [
            {"symbol": "DETH", "name": "Devnet Ether", "networks": [
                {"network": "devnet", "decimals": 18, "min_deposit": "0.01"},
                {"network": "devnet-b", "decimals": 18, "min_deposit": "0.01"}]},
            {"symbol": "TUSD", "name": "Test Dollar", "networks": [
                {"network": "devnet", "contract": token.address, "decimals": 6,
                 "min_deposit": "10", **tusd},
                {"network": "devnet-b", "contract": BRIDGED, "decimals": 6, "min_deposit": "10"}]},
        ],
    })  # fmt: skip


@dataclass
class Desk:
    """The exchange's side: registry, a trader with deposit addresses, and the tracer."""

    runtime: Runtime
    anvil: AnvilNode
    token: Token
    trader: Trader

    @property
    def address(self) -> str:
        return self.anvil.accounts[2]  # the trader's deposit address on devnet

    def trace(self, tx_hash: str, **options: Any) -> TraceResult:
        options.setdefault("trader_id", self.trader.id)
        with self.runtime.database.transaction() as session:
            return Tracer(session, timeout=2.0).trace(TraceRequest(tx_hash=tx_hash, **options))

    def record(self, tx_hash: str, status: str, amount: str = "25", **extra: Any) -> None:
        data = TransferUpsert(
            trader=self.trader.external_id,
            network="devnet",
            asset="TUSD",
            amount=Decimal(amount),
            address=self.address,
            tx_hash=tx_hash,
            status=status,
            occurred_at=datetime.now(UTC),
            **extra,
        )  # type: ignore[arg-type]
        with self.runtime.database.transaction() as session:
            check_upsert_transfer(session, TransferKind.DEPOSIT, f"dep-{tx_hash[:12]}", data)

    def addresses(self, *rows: dict[str, Any], trader: Trader | None = None) -> None:
        owner = trader or self.trader
        with self.runtime.database.transaction() as session:
            check_replace_deposit_addresses(session, owner.external_id,
                                            DepositAddressesReplace.model_validate({"addresses": list(rows)}))  # fmt: skip


def make_desk(runtime: Runtime, anvil: AnvilNode, token: Token, **tusd: Any) -> Desk:
    with runtime.database.transaction() as session:
        import_document(session, SYSTEM, devnet_document(anvil, token, **tusd))
    with runtime.database.session() as session:
        trader = make_trader(session, "u-trace", language="en")
        session.expunge(trader)
    desk = Desk(runtime, anvil, token, trader)
    desk.addresses({"network": "devnet", "address": anvil.accounts[2]})
    return desk


@pytest.fixture
def desk(runtime: Runtime, anvil: AnvilNode, anvil_token: Token) -> Desk:
    return make_desk(runtime, anvil, anvil_token)


def evidence(result: TraceResult) -> dict[str, Outcome]:
    return {item.check: item.outcome for item in result.evidence}


# --- the happy path and waiting -------------------------------------------------------------


def test_credited_deposit_needs_nothing_more(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    desk.anvil.mine(2)
    desk.record(tx_hash, "completed")

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.CREDITED
    assert (result.network, result.asset, result.amount) == ("devnet", "TUSD", "25")
    assert (result.confirmations, result.required_confirmations) == (3, 3)
    assert evidence(result) == {
        "found": Outcome.OK, "recipient": Outcome.OK, "token": Outcome.OK, "minimum": Outcome.OK,
        "confirmations": Outcome.OK, "credited": Outcome.OK,
    }  # fmt: skip
    assert result.next_step.action is NextAction.NOTHING
    assert result.explorer_url == f"https://explorer.test/tx/{tx_hash}"
    recipient = next(item for item in result.evidence if item.check == "recipient")
    assert recipient.data["explorer_url"] == f"https://explorer.test/address/{desk.address}"
    assert "25 TUSD" in result.explanation and "credited" in result.explanation


def test_confirming_says_how_many_blocks_and_minutes_then_not_credited(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)

    waiting = desk.trace(tx_hash)

    assert waiting.verdict is Verdict.CONFIRMING
    assert (waiting.confirmations, waiting.required_confirmations) == (1, 3)
    assert (waiting.next_step.action, waiting.next_step.blocks) == (NextAction.WAIT, 2)
    assert waiting.next_step.minutes == 1  # 2 blocks of 2 s, rounded up to a minute
    assert "2 more blocks" in waiting.next_step.message

    desk.anvil.mine(2)
    confirmed = desk.trace(tx_hash)

    assert confirmed.verdict is Verdict.NOT_CREDITED
    assert confirmed.next_step.action is NextAction.RECOVERY_TICKET
    ticket = confirmed.next_step.ticket
    assert ticket is not None and ticket.category == "deposit"
    assert ticket.fields == {"network": "devnet", "asset": "TUSD", "tx_hash": tx_hash,
                             "address": desk.address}  # fmt: skip


def test_pending_transaction_waits_for_every_confirmation(desk: Desk) -> None:
    desk.anvil.set_automine(False)
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.PENDING
    assert evidence(result)["found"] is Outcome.WAITING
    assert (result.next_step.action, result.next_step.blocks) == (NextAction.WAIT, 3)
    assert result.asset == "TUSD"  # decoded from the pending call's input


def test_exchange_record_pending_after_enough_confirmations_is_not_credited(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    desk.anvil.mine(5)
    desk.record(tx_hash, "pending")

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.NOT_CREDITED
    assert evidence(result)["credited"] is Outcome.WAITING


# --- what went wrong ---------------------------------------------------------------------------


def test_address_outside_the_exchange_cannot_be_recovered(desk: Desk) -> None:
    stranger = desk.anvil.accounts[7]
    tx_hash = desk.anvil.token_transfer(desk.token, stranger, 25 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.WRONG_ADDRESS
    assert result.recipient == stranger
    assert result.next_step.action is NextAction.NOTHING


def test_another_traders_address_gets_a_recovery_ticket(desk: Desk) -> None:
    with desk.runtime.database.session() as session:
        other = make_trader(session, "u-other")
        session.expunge(other)
    desk.addresses({"network": "devnet", "address": desk.anvil.accounts[8]}, trader=other)
    tx_hash = desk.anvil.token_transfer(desk.token, desk.anvil.accounts[8], 25 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.WRONG_ADDRESS
    assert result.next_step.action is NextAction.RECOVERY_TICKET
    # Without a trader (an agent looking it up) the same deposit is the other trader's.
    assert desk.trace(tx_hash, trader_id=None).verdict is Verdict.CONFIRMING


def test_unlisted_token_is_the_wrong_token(desk: Desk, erc20_bytecode: str) -> None:
    unlisted = desk.anvil.deploy_token(erc20_bytecode, 10**12)
    tx_hash = desk.anvil.token_transfer(unlisted, desk.address, 25 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.WRONG_TOKEN
    assert evidence(result)["token"] is Outcome.PROBLEM
    assert unlisted.address in result.evidence[2].message
    assert result.next_step.action is NextAction.RECOVERY_TICKET


def test_native_coin_to_a_token_only_address_is_the_wrong_token(desk: Desk) -> None:
    desk.addresses({"network": "devnet", "address": desk.address, "asset": "TUSD"})
    tx_hash = desk.anvil.send(desk.anvil.accounts[0], desk.address, ETHER)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.WRONG_TOKEN
    assert "DETH" in result.explanation and "TUSD" in result.explanation


def test_asking_for_another_asset_is_the_wrong_token(desk: Desk) -> None:
    tx_hash = desk.anvil.send(desk.anvil.accounts[0], desk.address, ETHER)

    assert desk.trace(tx_hash, asset="TUSD").verdict is Verdict.WRONG_TOKEN
    assert desk.trace(tx_hash, asset="DETH").verdict is Verdict.CONFIRMING


def test_deposit_address_of_another_network_is_the_wrong_network(desk: Desk) -> None:
    desk.addresses({"network": "devnet-b", "address": desk.address})
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.WRONG_NETWORK
    assert "Devnet B" in result.explanation
    assert result.next_step.action is NextAction.RECOVERY_TICKET


def test_token_listed_on_another_network_is_the_right_token_on_the_wrong_network(
    runtime: Runtime, anvil: AnvilNode, erc20_bytecode: str
) -> None:
    # The contract deployed on devnet is, in the registry, TUSD on devnet-b only: the trader
    # bridged or picked the wrong chain in the wallet.
    token = anvil.deploy_token(erc20_bytecode, 10**12)
    desk = make_desk(runtime, anvil, Token("0x" + "c2" * 20, 6, token.deployer))
    with runtime.database.transaction() as session:
        import_document(session, SYSTEM, RegistryDocument.model_validate({"assets": [
            {"symbol": "TUSD", "name": "Test Dollar", "networks": [
                {"network": "devnet", "contract": "0x" + "c2" * 20, "decimals": 6},
                {"network": "devnet-b", "contract": token.address, "decimals": 6}]}]}))  # fmt: skip
    tx_hash = anvil.token_transfer(token, desk.address, 25 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.WRONG_NETWORK
    assert "Devnet B" in result.evidence[2].message


def test_below_the_minimum_deposit(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 5 * TUSD)

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.BELOW_MINIMUM
    assert "5 TUSD" in result.explanation and "10 TUSD" in result.explanation
    ticket = result.next_step.ticket
    assert result.next_step.action is NextAction.RECOVERY_TICKET and ticket is not None
    assert ticket.fields == {"network": "devnet", "asset": "TUSD", "tx_hash": tx_hash.lower(),
                             "address": desk.address}  # fmt: skip
    path, _, query = ticket.url.partition("?")
    assert path == "/portal/new" and parse_qs(query) == {
        "category": ["deposit"],
        "subject": [ticket.subject],
        "description": [result.explanation],
        **{f"fields.{name}": [value] for name, value in ticket.fields.items()},
    }


def test_suspended_deposits_are_credited_once_reopened(
    runtime: Runtime, anvil: AnvilNode, anvil_token: Token
) -> None:
    desk = make_desk(runtime, anvil, anvil_token, deposit_enabled=False,
                     deposit_disabled_reason="wallet upgrade")  # fmt: skip
    tx_hash = anvil.token_transfer(anvil_token, desk.address, 25 * TUSD)
    anvil.mine(3)
    desk.record(tx_hash, "pending")

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.DEPOSITS_SUSPENDED
    assert "wallet upgrade" in result.explanation
    assert result.next_step.action is NextAction.NOTHING


def test_reverted_transfer_moved_nothing(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD,
                                        sender=desk.anvil.accounts[5], gas=100_000)  # fmt: skip

    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.FAILED
    assert result.next_step.action is NextAction.NOTHING


def test_reorg_drops_a_deposit_seen_before(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    assert desk.trace(tx_hash).verdict is Verdict.CONFIRMING

    desk.anvil.reorg(1)
    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.DROPPED
    assert evidence(result)["reorg"] is Outcome.PROBLEM
    assert result.next_step.action is NextAction.NOTHING


def test_reorg_drops_a_deposit_seen_by_another_process(desk: Desk) -> None:
    """The sighting is in the database: a restarted process (or another node of HashDesk)
    still tells "dropped" from "never existed", with no block in the exchange's records."""
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    assert desk.trace(tx_hash).verdict is Verdict.CONFIRMING
    assert desk.trace(tx_hash).verdict is Verdict.CONFIRMING  # the same block: no new write
    tracer.reset()  # everything a process keeps is gone

    desk.anvil.reorg(1)
    result = desk.trace(tx_hash)

    assert result.verdict is Verdict.DROPPED
    with desk.runtime.database.session() as session:
        [sighting] = session.scalars(select(Sighting)).all()
    assert (sighting.network, sighting.tx_hash) == ("devnet", tx_hash.lower())


def test_reorg_seen_through_the_exchange_records(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    block = desk.anvil.receipt(tx_hash)
    desk.record(tx_hash, "pending", block_height=int(block["blockNumber"], 16),
                block_hash=block["blockHash"])  # fmt: skip
    desk.anvil.reorg(1)

    result = desk.trace(tx_hash)  # this process never saw it: the records did

    assert result.verdict is Verdict.DROPPED
    assert block["blockHash"].lower() in result.evidence[0].message.lower()


def test_unknown_hash_is_not_found(desk: Desk) -> None:
    result = desk.trace("0x" + "12" * 32)

    assert result.verdict is Verdict.NOT_FOUND
    assert result.searched == ["devnet"]
    assert result.next_step.action is NextAction.CHECK_HASH


# --- bad input and lying nodes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"tx_hash": "0x123"}, "tx_hash"),
        ({"tx_hash": "not a hash at all"}, "tx_hash"),
        ({"tx_hash": "0x" + "ab" * 32, "network": "narnia"}, "network"),
        ({"tx_hash": "ab" * 32, "network": "devnet"}, "tx_hash"),
        ({"tx_hash": "0x" + "ab" * 32, "rpc": {"narnia": "http://127.0.0.1:1/"}}, "rpc"),
        ({"tx_hash": "0x" + "ab" * 32, "trader_id": 999_999}, "trader"),
    ],
)
def test_bad_input_names_what_is_wrong(desk: Desk, options: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        desk.trace(**options)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("behaviour", "code"),
    [("wrong_chain", "rpc_wrong_chain"), ("garbage", "rpc_bad_response"), ("hang", "rpc_timeout")],
)
def test_lying_endpoint_gives_a_clear_verdict_in_time(
    desk: Desk, lying_rpc: LyingServer, behaviour: str, code: str
) -> None:
    lying_rpc.behaviour = behaviour
    result = desk.trace("0x" + "ab" * 32, rpc={"devnet": lying_rpc.url})

    assert result.verdict is Verdict.UNAVAILABLE
    assert [(p.network, p.code) for p in result.node_problems] == [("devnet", code)]
    assert result.next_step.action is NextAction.TRY_LATER


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:99999/", "http://[::1/", "not a url"])
def test_a_broken_endpoint_url_is_a_node_problem_not_a_crash(desk: Desk, endpoint: str) -> None:
    result = desk.trace("0x" + "ab" * 32, rpc={"devnet": endpoint})

    assert result.verdict is Verdict.UNAVAILABLE
    assert [(p.network, p.code) for p in result.node_problems] == [("devnet", "rpc_unreachable")]
    assert "is not an http(s) URL" in result.node_problems[0].message


def test_stopped_node_is_unavailable_then_back(desk: Desk) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    desk.anvil.stop()
    assert desk.trace(tx_hash).verdict is Verdict.UNAVAILABLE
    desk.anvil.start()
    assert desk.trace(tx_hash).verdict is Verdict.CONFIRMING


def test_rpc_override_points_a_network_at_another_endpoint(
    desk: Desk, lying_rpc: LyingServer
) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    with desk.runtime.database.transaction() as session:
        from hashdesk.assets.models import Network

        devnet = session.query(Network).filter_by(slug="devnet").one()
        devnet.rpc_endpoints = [lying_rpc.url]
    assert desk.trace(tx_hash).verdict is Verdict.UNAVAILABLE
    assert desk.trace(tx_hash, rpc={"devnet": desk.anvil.rpc_url}).verdict is Verdict.CONFIRMING


def test_explanation_follows_the_traders_language(desk: Desk, session: Session) -> None:
    tx_hash = desk.anvil.token_transfer(desk.token, desk.address, 25 * TUSD)
    assert desk.trace(tx_hash, locale="de").locale == "de"
    trader = session.get(Trader, desk.trader.id)
    assert trader is not None
    trader.language = "ja"
    session.commit()
    assert desk.trace(tx_hash).locale == "ja"
