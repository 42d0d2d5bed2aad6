"""The UTXO family's client: Bitcoin Core's JSON-RPC, which litecoind, dogecoind and the
other forks speak too.

A transaction is looked up with ``getrawtransaction`` (verbose), which finds it in the
mempool and, on a node run with ``-txindex``, in any block; a node without the index still
knows the transactions of its own wallet (``gettransaction``). Its block's header says
whether that block is still on the main chain: ``confirmations`` is -1 for a block a reorg
left behind. An ``OP_RETURN`` output is the memo some exchanges ask for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
    register_family,
)
from hashdesk.core.i18n import N_

COIN_DECIMALS = 8
# Bitcoin Core's error codes that mean "no such thing", not "the node is broken".
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_INVALID_PARAMETER = -8
RPC_METHOD_NOT_FOUND = -32601
RPC_WALLET_NOT_FOUND = -18
# The genesis blocks of the main chains HashDesk knows: a "litecoin" endpoint that answers
# with Bitcoin's genesis is a configuration mistake, caught before it misleads anyone.
MAIN_GENESIS = {
    "bitcoin": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "litecoin": "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2",
}


def expected_chain_name(endpoint: str) -> str:
    """``main`` unless the URL's fragment names another chain (``#chain=regtest``)."""
    options = parse_qs(urlsplit(endpoint).fragment)
    return options.get("chain", ["main"])[0]


@register_family("utxo")
class UtxoClient:
    def __init__(
        self,
        endpoint: str,
        *,
        network: str,
        chain_id: int | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.network = network
        self.expected_chain = expected_chain_name(endpoint)
        # Bitcoin Core answers JSON-RPC 1.0 (2.0 only since v28, and litecoind is older).
        self.transport = JsonRpcTransport(endpoint, network=network, timeout=timeout, version="1.0")
        self.endpoint = self.transport.endpoint

    def close(self) -> None:
        self.transport.close()

    def _call(self, method: str, *params: Any) -> Any:
        return self.transport.call(method, list(params))

    def _dict(self, method: str, *params: Any) -> dict[str, Any]:
        result = self._call(method, *params)
        if not isinstance(result, dict):
            raise self.transport.bad_shape(method, result)
        return result

    def _int(self, method: str, value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.transport.bad_shape(method, value)

    def chain_id(self) -> None:
        return None  # UTXO chains are told apart by name and genesis block, not an id

    def chain_name(self) -> str:
        name = self._dict("getblockchaininfo").get("chain")
        if not isinstance(name, str):
            raise self.transport.bad_shape("getblockchaininfo", name)
        return name

    def verify_chain(self) -> None:
        found = self.chain_name()
        if found != self.expected_chain:
            raise self._wrong_chain(found, self.expected_chain)
        genesis = MAIN_GENESIS.get(self.network) if found == "main" else None
        if genesis is not None and self.block_hash(0) != genesis:
            raise self._wrong_chain("main with another genesis block", f"{self.network} main")

    def _wrong_chain(self, found: str, expected: str) -> RpcWrongChain:
        return RpcWrongChain(
            N_("The node at {endpoint} serves chain {found}, not {expected} ({network})."),
            network=self.network,
            endpoint=self.endpoint,
            found=found,
            expected=expected,
        )

    def head(self) -> Head:
        info = self._dict("getblockchaininfo")
        best = info.get("bestblockhash")
        if not isinstance(best, str):
            raise self.transport.bad_shape("getblockchaininfo", best)
        header = self._dict("getblockheader", best)
        return Head(
            height=self._int("getblockchaininfo", info.get("blocks")),
            hash=best,
            time=datetime.fromtimestamp(self._int("getblockheader", header.get("time")), UTC),
        )

    def head_height(self) -> int:
        return self._int("getblockcount", self._call("getblockcount"))

    def block_hash(self, height: int) -> str | None:
        try:
            found = self._call("getblockhash", height)
        except RpcCallFailed as error:
            if error.rpc_code == RPC_INVALID_PARAMETER:  # "Block height out of range"
                return None
            raise
        if not isinstance(found, str):
            raise self.transport.bad_shape("getblockhash", found)
        return found

    def congestion(self) -> Congestion:
        info = self._dict("getmempoolinfo")
        min_fee = info.get("mempoolminfee")
        return Congestion(
            pending_transactions=self._int("getmempoolinfo", info.get("size")),
            mempool_bytes=self._int("getmempoolinfo", info.get("bytes")),
            min_fee_rate=min_fee if isinstance(min_fee, Decimal) else None,
        )

    def transaction(self, tx_hash: str) -> ChainTransaction | None:
        txid = tx_hash.lower().removeprefix("0x")
        raw = self._raw_transaction(txid)
        if raw is None:
            return None
        return self._decode(txid, raw)

    def _raw_transaction(self, txid: str) -> dict[str, Any] | None:
        try:
            return self._dict("getrawtransaction", txid, True)
        except RpcCallFailed as error:
            if error.rpc_code != RPC_INVALID_ADDRESS_OR_KEY:
                raise
        return self._wallet_transaction(txid)

    def _wallet_transaction(self, txid: str) -> dict[str, Any] | None:
        """The node's own wallet knows its transactions without ``-txindex``."""
        try:
            wallet = self._dict("gettransaction", txid)
        except RpcCallFailed as error:
            if error.rpc_code in {
                RPC_INVALID_ADDRESS_OR_KEY,
                RPC_METHOD_NOT_FOUND,
                RPC_WALLET_NOT_FOUND,
            }:
                return None
            raise
        decoded = self._dict("decoderawtransaction", wallet.get("hex"))
        decoded["blockhash"] = wallet.get("blockhash")
        return decoded

    def _decode(self, txid: str, raw: dict[str, Any]) -> ChainTransaction:
        transfers = tuple(self._outputs(raw.get("vout")))
        block_hash = raw.get("blockhash")
        if not isinstance(block_hash, str):
            return ChainTransaction(
                tx_hash=txid,
                state=TxState.PENDING,
                transfers=transfers,
                native_decimals=COIN_DECIMALS,
            )
        header = self._dict("getblockheader", block_hash)
        if self._int("getblockheader", header.get("confirmations")) < 0:
            # The block was left behind by a reorg; the transaction may come back later.
            return ChainTransaction(
                tx_hash=txid,
                state=TxState.PENDING,
                transfers=transfers,
                native_decimals=COIN_DECIMALS,
                orphaned_block_hash=block_hash,
            )
        return ChainTransaction(
            tx_hash=txid,
            state=TxState.CONFIRMED,
            block_height=self._int("getblockheader", header.get("height")),
            block_hash=block_hash,
            transfers=transfers,
            native_decimals=COIN_DECIMALS,
        )

    def _outputs(self, outputs: object) -> list[Transfer]:
        if not isinstance(outputs, list):
            raise self.transport.bad_shape("getrawtransaction", outputs)
        memo = next((m for m in map(_op_return, outputs) if m is not None), None)
        transfers = []
        for output in outputs:
            transfer = self._output(output, memo)
            if transfer is not None:
                transfers.append(transfer)
        return transfers

    def _output(self, output: object, memo: str | None) -> Transfer | None:
        if not isinstance(output, dict):
            return None
        script = output.get("scriptPubKey")
        address = _script_address(script)
        if address is None:
            return None  # OP_RETURN and bare scripts pay no address
        value = output.get("value")
        if not isinstance(value, Decimal | int) or isinstance(value, bool) or value < 0:
            raise self.transport.bad_shape("getrawtransaction", output)
        amount = int(Decimal(value) * 10**COIN_DECIMALS)
        position = output.get("n")
        return Transfer(
            recipient=address,
            amount=amount,
            memo=memo,
            position=position if isinstance(position, int) else -1,
        )


def _script_address(script: object) -> str | None:
    if not isinstance(script, dict):
        return None
    address = script.get("address")  # Bitcoin Core 22+
    if isinstance(address, str):
        return address
    addresses = script.get("addresses")  # older nodes, litecoind 0.21
    if isinstance(addresses, list) and len(addresses) == 1 and isinstance(addresses[0], str):
        return addresses[0]
    return None


OP_RETURN = 0x6A
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D


def _op_return(output: object) -> str | None:
    """The text an ``OP_RETURN`` output carries (its hex when it is not UTF-8).

    Read from the script's hex, not its ``asm``: the node shows a push of up to four bytes
    in ``asm`` as a number, so the memo "7781" would read 825767735."""
    script = output.get("scriptPubKey") if isinstance(output, dict) else None
    raw = script.get("hex") if isinstance(script, dict) else None
    try:
        data = bytes.fromhex(raw) if isinstance(raw, str) else b""
    except ValueError:
        return None
    if len(data) < 2 or data[0] != OP_RETURN:
        return None
    payload = _pushed(data[1:])
    if payload is None:
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.hex()


def _pushed(script: bytes) -> bytes | None:
    """The bytes of the first data push at the start of ``script``."""
    opcode = script[0]
    if 0 < opcode < OP_PUSHDATA1:
        start, length = 1, opcode
    elif opcode == OP_PUSHDATA1 and len(script) > 1:
        start, length = 2, script[1]
    elif opcode == OP_PUSHDATA2 and len(script) > 2:
        start, length = 3, int.from_bytes(script[1:3], "little")
    else:
        return None
    payload = script[start : start + length]
    return payload if len(payload) == length else None
