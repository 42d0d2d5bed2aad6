"""The RPC clients against real nodes (anvil, litecoind regtest) and endpoints that lie."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from hashdesk.chains.rpc import (
    RpcBadResponse,
    RpcCallFailed,
    RpcError,
    RpcRejected,
    RpcTimeout,
    RpcUnreachable,
    RpcWrongChain,
    TxState,
    UnsupportedFamily,
    client_for,
    redact,
)
from tests.chains.nodes import AnvilNode, LitecoinNode, LyingServer, Token, free_port

ETHER = 10**18


def evm(node: AnvilNode, chain_id: int | None = None, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    return client_for(
        "evm", node.rpc_url, network="ethereum", chain_id=chain_id or node.chain_id, timeout=timeout
    )


def test_evm_head_block_hashes_and_congestion(anvil: AnvilNode) -> None:
    client = evm(anvil)
    client.verify_chain()
    anvil.mine(3)

    head = client.head()

    assert head.height == 3 == client.head_height()
    assert head.hash == anvil.rpc("eth_getBlockByNumber", "0x3", False)["hash"].lower()
    assert client.block_hash(3) == head.hash
    assert client.block_hash(4) is None
    congestion = client.congestion()
    assert congestion.pending_transactions == 0
    assert congestion.base_fee is not None and congestion.base_fee > 0


def test_native_transfer_pending_then_confirmed(anvil: AnvilNode) -> None:
    client = evm(anvil)
    anvil.set_automine(False)
    sender, receiver = anvil.accounts[0], anvil.accounts[1]
    tx_hash = anvil.send(sender, receiver, 2 * ETHER)

    pending = client.transaction(tx_hash)
    assert pending is not None and pending.state is TxState.PENDING
    assert pending.confirmations(client.head_height()) == 0
    assert [(t.recipient, t.amount, t.contract) for t in pending.transfers] == [
        (receiver, 2 * ETHER, None)
    ]
    assert client.congestion().pending_transactions == 1

    anvil.mine(5)
    mined = client.transaction(tx_hash)
    assert mined is not None and mined.state is TxState.CONFIRMED
    assert mined.block_height == 1 and mined.sender == sender
    assert mined.confirmations(client.head_height()) == 5


def test_erc20_transfer_is_decoded_from_the_receipt_log(
    anvil: AnvilNode, anvil_token: Token
) -> None:
    client = evm(anvil)
    receiver = anvil.accounts[3]
    tx_hash = anvil.token_transfer(anvil_token, receiver, 1_234_567)

    found = client.transaction(tx_hash)

    assert found is not None and found.state is TxState.CONFIRMED
    (transfer,) = found.transfers
    assert (transfer.recipient, transfer.amount, transfer.contract) == (
        receiver,
        1_234_567,
        anvil_token.address,
    )


def test_pending_erc20_transfer_is_decoded_from_its_input(
    anvil: AnvilNode, anvil_token: Token
) -> None:
    anvil.set_automine(False)
    tx_hash = anvil.token_transfer(anvil_token, anvil.accounts[4], 42)

    found = evm(anvil).transaction(tx_hash)

    assert found is not None and found.state is TxState.PENDING
    assert [(t.recipient, t.amount, t.contract) for t in found.transfers] == [
        (anvil.accounts[4], 42, anvil_token.address)
    ]


def test_reverted_token_transfer_moves_nothing(anvil: AnvilNode, anvil_token: Token) -> None:
    # accounts[5] holds no TUSD: the transfer reverts but is mined (gas given, not estimated).
    tx_hash = anvil.token_transfer(
        anvil_token, anvil.accounts[6], 10, sender=anvil.accounts[5], gas=100_000
    )

    found = evm(anvil).transaction(tx_hash)

    assert found is not None and found.state is TxState.FAILED and found.transfers == ()


def test_reorg_drops_the_transaction_and_changes_the_block_hash(anvil: AnvilNode) -> None:
    client = evm(anvil)
    tx_hash = anvil.send(anvil.accounts[0], anvil.accounts[1], ETHER)
    before = client.block_hash(1)

    anvil.reorg(1)

    assert client.transaction(tx_hash) is None
    assert client.block_hash(1) not in {None, before}


def test_unknown_transaction_is_none(anvil: AnvilNode) -> None:
    assert evm(anvil).transaction("0x" + "ab" * 32) is None


def test_wrong_chain_id_is_refused(anvil: AnvilNode) -> None:
    with pytest.raises(RpcWrongChain) as caught:
        evm(anvil, chain_id=56).verify_chain()
    assert "31337" in str(caught.value) and "56" in str(caught.value)
    assert not caught.value.retryable


def test_stopped_node_is_unreachable_and_back_after_restart(anvil: AnvilNode) -> None:
    client = evm(anvil)
    anvil.mine(2)
    anvil.stop()
    with pytest.raises(RpcUnreachable) as caught:
        client.head()
    assert caught.value.retryable and "ethereum" in str(caught.value)

    anvil.start()
    assert client.head().height == 2  # the chain survived the restart


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("garbage", RpcBadResponse),
        ("not_rpc", RpcBadResponse),
        ("unauthorized", RpcRejected),
        ("hang", RpcTimeout),
        ("trickle", RpcTimeout),
    ],
)
def test_lying_endpoints_give_typed_errors_in_time(
    lying_rpc: LyingServer, behaviour: str, error: type[RpcError]
) -> None:
    lying_rpc.behaviour = behaviour
    client = client_for("evm", lying_rpc.url, network="ethereum", chain_id=1, timeout=1.0)
    started = time.monotonic()

    with pytest.raises(error) as caught:
        client.head()

    assert time.monotonic() - started < 3.0
    assert caught.value.code.startswith("rpc_") and lying_rpc.url in str(caught.value)


def test_lying_endpoint_on_another_chain(lying_rpc: LyingServer) -> None:
    with pytest.raises(RpcWrongChain):
        client_for("evm", lying_rpc.url, network="bsc", chain_id=56).verify_chain()
    with pytest.raises(RpcWrongChain):
        client_for("utxo", lying_rpc.url + "#chain=regtest", network="litecoin").verify_chain()


def test_configuration_mistakes_are_named() -> None:
    with pytest.raises(UnsupportedFamily, match="solana"):
        client_for("account", "http://127.0.0.1:1/", network="solana")
    with pytest.raises(RpcUnreachable, match="not an http"):
        client_for("evm", "ftp://node.example/", network="ethereum")
    with pytest.raises(RpcUnreachable):
        client_for("evm", f"http://127.0.0.1:{free_port()}/", network="ethereum").head()
    assert redact("http://user:secret@host:1/") == "http://user:***@host:1/"
    for broken in ("http://127.0.0.1:99999/", "http://127.0.0.1:port/", "http://[::1/"):
        with pytest.raises(RpcUnreachable, match="not an http"):
            client_for("evm", broken, network="ethereum")
    assert redact("http://user:secret@host:99999/") == "http://***@host:99999/"


def test_utxo_head_congestion_and_memo_transaction(litecoin: LitecoinNode) -> None:
    client = client_for("utxo", litecoin.client_url, network="litecoin")
    client.verify_chain()
    assert client.head().height == 101 == client.head_height()
    assert client.block_hash(101) == litecoin.rpc("getbestblockhash")
    assert client.block_hash(500) is None

    receiver = litecoin.new_address()
    txid = litecoin.send(receiver, Decimal("1.25"), memo="tag-7781")
    assert client.congestion().pending_transactions == 1

    pending = client.transaction(txid)
    assert pending is not None and pending.state is TxState.PENDING
    paid = [t for t in pending.transfers if t.recipient == receiver]
    assert [(t.amount, t.memo) for t in paid] == [(125_000_000, "tag-7781")]
    assert pending.native_decimals == 8

    blocks = litecoin.mine(3)
    mined = client.transaction(txid)
    assert mined is not None and mined.state is TxState.CONFIRMED
    assert mined.block_height == 102 and mined.block_hash == blocks[0]
    assert mined.confirmations(client.head_height()) == 3

    litecoin.invalidate(blocks[0])  # a reorg: the block and those after it leave the chain
    dropped = client.transaction(txid)
    assert dropped is not None and dropped.state is TxState.PENDING
    assert client.block_hash(102) is None


def test_utxo_wrong_chain_credentials_and_bad_txid(litecoin: LitecoinNode) -> None:
    main_expected = litecoin.client_url.removesuffix("#chain=regtest")
    with pytest.raises(RpcWrongChain, match="regtest"):
        client_for("utxo", main_expected, network="litecoin").verify_chain()
    wrong_password = litecoin.client_url.replace("regtest-password", "nope")
    with pytest.raises(RpcRejected):
        client_for("utxo", wrong_password, network="litecoin").head()
    client = client_for("utxo", litecoin.client_url, network="litecoin")
    assert client.transaction("ab" * 32) is None
    with pytest.raises(RpcCallFailed):
        client.transaction("not-a-txid")
