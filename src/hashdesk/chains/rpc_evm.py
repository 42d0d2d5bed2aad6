"""The EVM family's client: Ethereum JSON-RPC (geth, erigon, anvil and the hosted providers).

Token deposits are read from the receipt's logs: an ERC-20 ``Transfer(from, to, value)``
event has the event's hash as topic 0 and the two addresses as topics 1 and 2 (an ERC-721
transfer has a third topic, the token id, and is not a fungible deposit). A transaction
still pending has no receipt; a plain ``transfer(to, value)`` call is decoded from its input
so the tracer can already say which token is on its way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hashdesk.chains.rpc import (
    DEFAULT_TIMEOUT_SECONDS,
    ChainTransaction,
    Congestion,
    Head,
    JsonRpcTransport,
    RpcCallFailed,
    RpcWrongChain,
    Transfer,
    TxState,
    hex_int,
    register_family,
)
from hashdesk.core.i18n import N_

# keccak256("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# The first four bytes of keccak256("transfer(address,uint256)")
TRANSFER_SELECTOR = "0xa9059cbb"
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_WORD = 64  # hex digits in one 32-byte ABI word


def topic_address(topic: object) -> str | None:
    """The address in a 32-byte topic or ABI word (the last 20 bytes), lowercase."""
    if not isinstance(topic, str) or len(topic) != 2 + _WORD:
        return None
    return "0x" + topic[-40:].lower()


def word_int(word: str) -> int | None:
    try:
        return int(word, 16) if word else None
    except ValueError:
        return None


@register_family("evm")
class EvmClient:
    def __init__(
        self,
        endpoint: str,
        *,
        network: str,
        chain_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.network = network
        self.expected_chain_id = chain_id
        self.transport = JsonRpcTransport(endpoint, network=network, timeout=timeout)
        self.endpoint = self.transport.endpoint

    def close(self) -> None:
        self.transport.close()

    def _call(self, method: str, *params: Any) -> Any:
        return self.transport.call(method, list(params))

    def chain_id(self) -> int:
        return hex_int(self.transport, "eth_chainId", self._call("eth_chainId"))

    def verify_chain(self) -> None:
        if self.expected_chain_id is None:
            self.chain_id()  # still proves the endpoint speaks Ethereum JSON-RPC
            return
        found = self.chain_id()
        if found != self.expected_chain_id:
            raise RpcWrongChain(
                N_("The node at {endpoint} serves chain id {found}, not {expected} ({network})."),
                network=self.network,
                endpoint=self.endpoint,
                found=found,
                expected=self.expected_chain_id,
            )

    def _block(self, tag: str) -> dict[str, Any] | None:
        block = self._call("eth_getBlockByNumber", tag, False)
        if block is None:
            return None
        if not isinstance(block, dict) or not isinstance(block.get("hash"), str):
            raise self.transport.bad_shape("eth_getBlockByNumber", block)
        return block

    def head(self) -> Head:
        block = self._block("latest")
        if block is None:
            raise self.transport.bad_shape("eth_getBlockByNumber", None)
        return Head(
            height=hex_int(self.transport, "eth_getBlockByNumber", block.get("number")),
            hash=str(block["hash"]).lower(),
            time=datetime.fromtimestamp(
                hex_int(self.transport, "eth_getBlockByNumber", block.get("timestamp")), UTC
            ),
        )

    def head_height(self) -> int:
        return hex_int(self.transport, "eth_blockNumber", self._call("eth_blockNumber"))

    def block_hash(self, height: int) -> str | None:
        block = self._block(hex(height))
        return None if block is None else str(block["hash"]).lower()

    def congestion(self) -> Congestion:
        latest = self._block("latest")
        base_fee = latest.get("baseFeePerGas") if latest else None
        pending, queued = self._pending_counts()
        return Congestion(
            pending_transactions=pending,
            queued_transactions=queued,
            base_fee=hex_int(self.transport, "eth_getBlockByNumber", base_fee)
            if base_fee is not None
            else None,
        )

    def _pending_counts(self) -> tuple[int | None, int | None]:
        """``txpool_status`` where the node offers it (geth, anvil); else the size of the
        pending block, which public providers do serve."""
        try:
            status = self._call("txpool_status")
        except RpcCallFailed:
            pending_block = self._block("pending")
            if pending_block is None:
                return None, None
            transactions = pending_block.get("transactions")
            return (len(transactions) if isinstance(transactions, list) else None), None
        if not isinstance(status, dict):
            raise self.transport.bad_shape("txpool_status", status)
        return (
            hex_int(self.transport, "txpool_status", status.get("pending")),
            hex_int(self.transport, "txpool_status", status.get("queued")),
        )

    def transaction(self, tx_hash: str) -> ChainTransaction | None:
        found = self._call("eth_getTransactionByHash", tx_hash)
        if found is None:
            return None
        if not isinstance(found, dict) or not isinstance(found.get("hash"), str):
            raise self.transport.bad_shape("eth_getTransactionByHash", found)
        if found.get("blockNumber") is None:
            return self._pending(found)
        receipt = self._call("eth_getTransactionReceipt", tx_hash)
        if receipt is None:
            # Between the block and its receipt index (or just reorged out): still pending.
            return self._pending(found)
        if not isinstance(receipt, dict):
            raise self.transport.bad_shape("eth_getTransactionReceipt", receipt)
        return self._mined(found, receipt)

    def _pending(self, found: dict[str, Any]) -> ChainTransaction:
        return ChainTransaction(
            tx_hash=str(found["hash"]).lower(),
            state=TxState.PENDING,
            sender=_lower(found.get("from")),
            transfers=tuple(self._native(found)) + tuple(self._input_transfer(found)),
        )

    def _mined(self, found: dict[str, Any], receipt: dict[str, Any]) -> ChainTransaction:
        succeeded = (
            hex_int(self.transport, "eth_getTransactionReceipt", receipt.get("status", "0x1")) == 1
        )
        transfers = (*self._native(found), *self._log_transfers(receipt)) if succeeded else ()
        return ChainTransaction(
            tx_hash=str(found["hash"]).lower(),
            state=TxState.CONFIRMED if succeeded else TxState.FAILED,
            block_height=hex_int(
                self.transport, "eth_getTransactionReceipt", receipt.get("blockNumber")
            ),
            block_hash=_lower(receipt.get("blockHash")),
            sender=_lower(found.get("from")),
            transfers=transfers,
        )

    def _native(self, found: dict[str, Any]) -> list[Transfer]:
        value = hex_int(self.transport, "eth_getTransactionByHash", found.get("value", "0x0"))
        recipient = _lower(found.get("to"))
        return [Transfer(recipient=recipient, amount=value)] if value and recipient else []

    def _input_transfer(self, found: dict[str, Any]) -> list[Transfer]:
        data = found.get("input") or found.get("data")
        contract = _lower(found.get("to"))
        if not isinstance(data, str) or not data.startswith(TRANSFER_SELECTOR) or not contract:
            return []
        arguments = data[len(TRANSFER_SELECTOR) :]
        recipient = topic_address("0x" + arguments[:_WORD]) if len(arguments) >= 2 * _WORD else None
        amount = word_int(arguments[_WORD : 2 * _WORD])
        if recipient is None or amount is None:
            return []
        return [Transfer(recipient=recipient, amount=amount, contract=contract)]

    def _log_transfers(self, receipt: dict[str, Any]) -> list[Transfer]:
        logs = receipt.get("logs")
        if not isinstance(logs, list):
            return []
        transfers = []
        for log in logs:
            transfer = _erc20_transfer(log)
            if transfer is not None:
                transfers.append(transfer)
        return transfers


def _erc20_transfer(log: object) -> Transfer | None:
    if not isinstance(log, dict):
        return None
    topics = log.get("topics")
    if not isinstance(topics, list) or len(topics) != 3 or str(topics[0]).lower() != TRANSFER_TOPIC:
        return None
    recipient = topic_address(topics[2])
    data = log.get("data")
    amount = word_int(data[2:]) if isinstance(data, str) and data.startswith("0x") else None
    contract = _lower(log.get("address"))
    if recipient is None or amount is None or contract is None:
        return None
    index = log.get("logIndex")
    position = int(index, 16) if isinstance(index, str) and index.startswith("0x") else 0
    return Transfer(recipient=recipient, amount=amount, contract=contract, position=position)


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None
