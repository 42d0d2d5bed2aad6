"""The deposit tracer on a UTXO chain: litecoind in regtest, with a memo (OP_RETURN) the
deposit address needs, confirmations, and a reorg by ``invalidateblock``."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from hashdesk.accounts.actions import check_replace_deposit_addresses
from hashdesk.accounts.schemas import DepositAddressesReplace
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.chains import tracer
from hashdesk.chains.tracer import NextAction, Outcome, Tracer, TraceRequest, TraceResult, Verdict
from hashdesk.core.auth import SYSTEM
from hashdesk.runtime import Runtime
from tests.chains.nodes import LitecoinNode
from tests.conftest import make_trader

MEMO = "7781"


@pytest.fixture(autouse=True)
def _fresh_tracer() -> Iterator[None]:
    tracer.reset()
    yield
    tracer.reset()


class LitecoinDesk:
    def __init__(self, runtime: Runtime, node: LitecoinNode) -> None:
        self.runtime = runtime
        self.node = node
        self.address = node.new_address()
        document = RegistryDocument.model_validate({
            "networks": [{
                "id": "ltc-regtest", "name": "Litecoin regtest", "family": "utxo",
                "native_asset": "TLTC", "block_time_seconds": 150, "confirmations_credit": 6,
                "confirmations_unlock": 6, "address_format": "litecoin", "tx_hash_format": "hex",
                "rpc_endpoints": [node.client_url]}],
            "assets": [{"symbol": "TLTC", "name": "Test Litecoin", "networks": [
                {"network": "ltc-regtest", "decimals": 8, "min_deposit": "0.001",
                 "memo_required": True}]}],
        })  # fmt: skip
        with runtime.database.transaction() as session:
            import_document(session, SYSTEM, document)
        with runtime.database.session() as session:
            self.trader_id = make_trader(session, "u-ltc").id
        with runtime.database.transaction() as session:
            check_replace_deposit_addresses(session, "u-ltc", DepositAddressesReplace.model_validate(
                {"addresses": [{"network": "ltc-regtest", "address": self.address, "memo": MEMO}]}))  # fmt: skip

    def trace(self, txid: str) -> TraceResult:
        with self.runtime.database.transaction() as session:
            return Tracer(session).trace(TraceRequest(tx_hash=txid, trader_id=self.trader_id))


@pytest.fixture
def ltc(runtime: Runtime, litecoin: LitecoinNode) -> LitecoinDesk:
    return LitecoinDesk(runtime, litecoin)


def test_deposit_with_its_memo_confirms_then_waits_for_the_records(ltc: LitecoinDesk) -> None:
    txid = ltc.node.send(ltc.address, Decimal("1.5"), memo=MEMO)

    pending = ltc.trace(txid)
    assert pending.verdict is Verdict.PENDING
    assert (pending.asset, pending.amount) == ("TLTC", "1.5")
    assert pending.next_step.minutes == 15  # 6 blocks of 150 s

    ltc.node.mine(2)
    confirming = ltc.trace(txid)
    assert confirming.verdict is Verdict.CONFIRMING
    assert (confirming.confirmations, confirming.next_step.blocks) == (2, 4)
    assert next(e for e in confirming.evidence if e.check == "memo").outcome is Outcome.OK

    ltc.node.mine(4)
    done = ltc.trace(txid)
    assert done.verdict is Verdict.NOT_CREDITED
    assert done.next_step.ticket is not None
    assert done.next_step.ticket.fields["memo"] == MEMO


def test_missing_and_wrong_memo(ltc: LitecoinDesk) -> None:
    without = ltc.node.send(ltc.address, Decimal("1"))
    wrong = ltc.node.send(ltc.address, Decimal("1"), memo="1234")

    assert ltc.trace(without).verdict is Verdict.MEMO_MISSING
    result = ltc.trace(wrong)
    assert result.verdict is Verdict.MEMO_WRONG
    assert "1234" in result.explanation
    assert result.next_step.action is NextAction.RECOVERY_TICKET


def test_reorg_by_invalidateblock_puts_the_deposit_back_to_pending(ltc: LitecoinDesk) -> None:
    txid = ltc.node.send(ltc.address, Decimal("2"), memo=MEMO)
    blocks = ltc.node.mine(1)
    assert ltc.trace(txid).verdict is Verdict.CONFIRMING

    ltc.node.invalidate(blocks[0])
    result = ltc.trace(txid)

    assert result.verdict is Verdict.PENDING
    assert next(e for e in result.evidence if e.check == "reorg").outcome is Outcome.WAITING


def test_unknown_txid_and_stopped_node(ltc: LitecoinDesk) -> None:
    assert ltc.trace("ab" * 32).verdict is Verdict.NOT_FOUND
    ltc.node.stop()
    result = ltc.trace("ab" * 32)
    assert result.verdict is Verdict.UNAVAILABLE
    assert result.node_problems[0].code == "rpc_unreachable"
