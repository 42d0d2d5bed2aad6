"""RPC clients for blockchain nodes: one small interface, one implementation per family.

The monitor and the deposit tracer ask every chain the same few questions: where is the
head (height, hash, time), which block sits at a height (reorgs), how congested is it, and
what does the chain know about a transaction. ``ChainClient`` is that interface;
``rpc_evm.EvmClient`` (Ethereum JSON-RPC) and ``rpc_utxo.UtxoClient`` (Bitcoin Core's
JSON-RPC, spoken by litecoind and the other forks) answer it. A family registers its client
class with ``register_family``; ``client_for`` picks one from a registry network's family.

Every failure is one of the typed errors below, never an httpx or JSON exception, and every
call ends within its deadline (a node that trickles bytes is cut off, not waited for):

    ServiceUnavailable (503)
    └── RpcError                  a node could not answer; ``retryable`` says if backing off helps
        ├── RpcUnreachable        connection refused, DNS, TLS: nothing answered
        ├── RpcTimeout            the node did not answer within the deadline
        ├── RpcBadResponse        the answer is not JSON-RPC (garbage, HTML, wrong shape, too big)
        ├── RpcRejected           the node refused us (HTTP 401/403: wrong credentials)
        ├── RpcCallFailed         the node answered with a JSON-RPC error object (code, message)
        └── RpcWrongChain         the endpoint serves another chain than the registry says
"""

from __future__ import annotations

import enum
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from hashdesk.core.errors import ServiceUnavailable
from hashdesk.core.i18n import N_

DEFAULT_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
# A block with full transactions is a few MB at most; anything bigger is a lying endpoint.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class RpcError(ServiceUnavailable):
    """A node could not answer. ``retryable``: backing off and asking again may help."""

    code = "rpc_error"
    title = "Blockchain node error"
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, network: str, endpoint: str, **params: Any) -> None:
        self.network = network
        self.endpoint = endpoint
        super().__init__(message, network=network, endpoint=endpoint, **params)


class RpcUnreachable(RpcError):
    code = "rpc_unreachable"
    title = "Node unreachable"


class RpcTimeout(RpcError):
    code = "rpc_timeout"
    title = "Node timed out"


class RpcBadResponse(RpcError):
    code = "rpc_bad_response"
    title = "Node sent an invalid answer"


class RpcRejected(RpcError):
    code = "rpc_rejected"
    title = "Node refused the request"
    retryable = False


class RpcCallFailed(RpcError):
    """The node understood the call and answered with an error object."""

    code = "rpc_call_failed"
    title = "Node returned an error"

    def __init__(
        self,
        message: str,
        *,
        network: str,
        endpoint: str,
        rpc_code: int,
        rpc_message: str,
        **params: Any,
    ) -> None:
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        super().__init__(
            message,
            network=network,
            endpoint=endpoint,
            rpc_code=rpc_code,
            rpc_message=rpc_message,
            **params,
        )


class RpcWrongChain(RpcError):
    """A configuration fault, not a passing one: asking again will not help."""

    code = "rpc_wrong_chain"
    title = "Node serves another chain"
    retryable = False


@dataclass(frozen=True)
class Head:
    height: int
    hash: str
    time: datetime  # the block's own timestamp (UTC), as the miner or validator set it


@dataclass(frozen=True)
class Congestion:
    """What a node says about its queue. None: this family or node does not report it."""

    pending_transactions: int | None = None
    queued_transactions: int | None = None
    mempool_bytes: int | None = None
    base_fee: int | None = None  # EVM: wei per gas of the latest block
    min_fee_rate: Decimal | None = None  # UTXO: the mempool's minimum fee, coins per kB


class TxState(enum.StrEnum):
    PENDING = "pending"  # known to the node, not in a block of the main chain
    CONFIRMED = "confirmed"  # in a block of the main chain, and succeeded
    FAILED = "failed"  # in a block, but reverted (EVM): nothing was transferred


@dataclass(frozen=True)
class Transfer:
    """Value a transaction moves to one recipient.

    ``amount`` is in base units (wei, satoshi-like units, a token's smallest unit);
    ``contract`` is the token contract, None for the network's native coin.
    ``position`` is the output index (UTXO) or log index (EVM token), -1 for EVM native value.
    """

    recipient: str
    amount: int
    contract: str | None = None
    memo: str | None = None
    position: int = -1


@dataclass(frozen=True)
class ChainTransaction:
    tx_hash: str
    state: TxState
    block_height: int | None = None
    block_hash: str | None = None
    sender: str | None = None
    transfers: tuple[Transfer, ...] = ()
    # The native coin's decimals as the chain counts them (18 on EVM, 8 on Bitcoin forks).
    native_decimals: int = 18
    # Hashes of blocks this transaction was seen in that are no longer on the main chain.
    orphaned_block_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def confirmations(self, head_height: int) -> int:
        """Blocks on top of (and including) the transaction's block; 0 while pending."""
        if self.state is TxState.PENDING or self.block_height is None:
            return 0
        return max(0, head_height - self.block_height + 1)


class ChainClient(Protocol):
    """What the monitor and the tracer ask a node. Every method raises only ``RpcError``."""

    network: str
    endpoint: str

    def chain_id(self) -> int | None: ...

    def verify_chain(self) -> None: ...

    def head(self) -> Head: ...

    def head_height(self) -> int: ...

    def block_hash(self, height: int) -> str | None: ...

    def congestion(self) -> Congestion: ...

    def transaction(self, tx_hash: str) -> ChainTransaction | None: ...

    def close(self) -> None: ...


def split_url(url: str) -> SplitResult | None:
    """``url``'s parts, or None when no URL could have them (a port out of range or not a
    number, a broken IPv6 host): ``urlsplit`` raises for those only when asked the port."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return None
    return parts


def redact(url: str) -> str:
    """The endpoint as errors and logs may show it: without the password."""
    parts = split_url(url)
    if parts is None:
        return re.sub(r"//[^/@]*@", "//***@", url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class JsonRpcTransport:
    """JSON-RPC 1.0/2.0 over HTTP with a hard deadline per call.

    httpx's read timeout restarts at every chunk, so a node trickling a byte a second would
    never time out; the body is read in chunks against one deadline instead.
    """

    def __init__(
        self,
        url: str,
        *,
        network: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        version: str = "2.0",
    ) -> None:
        parts = split_url(url)
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise RpcUnreachable(
                N_("The RPC endpoint {endpoint} of {network} is not an http(s) URL."),
                network=network,
                endpoint=redact(url),
            )
        auth = None
        if parts.username is not None:
            auth = httpx.BasicAuth(parts.username, parts.password or "")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.url = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
        self.network = network
        self.endpoint = redact(url)
        self.timeout = timeout
        self.version = version
        self._next_id = 0
        self._client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
            headers={"content-type": "application/json"},
            trust_env=False,  # a proxy from the environment must not sit between us and a node
        )

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        """The ``result`` of one call; raises a typed ``RpcError`` for anything else."""
        self._next_id += 1
        payload = {
            "jsonrpc": self.version,
            "id": self._next_id,
            "method": method,
            "params": params or [],
        }
        status, body = self._post(json.dumps(payload).encode())
        return self._result(method, status, body)

    def _post(self, content: bytes) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.timeout
        try:
            with self._client.stream("POST", self.url, content=content) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_raw():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise self._bad(
                            N_("the answer is larger than {limit} bytes"), limit=MAX_RESPONSE_BYTES
                        )
                    if time.monotonic() > deadline:
                        raise self._timeout()
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks)
        except httpx.TimeoutException as error:
            raise self._timeout() from error
        except (httpx.TransportError, httpx.InvalidURL) as error:
            raise RpcUnreachable(
                N_("The node of {network} at {endpoint} is unreachable: {reason}."),
                network=self.network,
                endpoint=self.endpoint,
                reason=str(error) or type(error).__name__,
            ) from error

    def _result(self, method: str, status: int, body: bytes) -> Any:
        if status in {401, 403}:
            raise RpcRejected(
                N_("The node of {network} at {endpoint} refused the credentials (HTTP {status})."),
                network=self.network,
                endpoint=self.endpoint,
                status=status,
            )
        try:
            # Amounts stay exact: 0.1 LTC must not become 0.1000000000000000055.
            document = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as error:
            raise self._bad(
                N_("HTTP {status}, not JSON: {start!r}"),
                status=status,
                start=body[:60].decode("utf-8", "replace"),
            ) from error
        if not isinstance(document, dict) or not ({"result", "error"} & document.keys()):
            raise self._bad(N_("not a JSON-RPC answer to {method}"), method=method)
        failure = document.get("error")
        if failure is not None:
            raise self._call_failed(method, failure)
        if status >= 400:
            raise self._bad(N_("HTTP {status} without an error object"), status=status)
        return document.get("result")

    def _call_failed(self, method: str, error: object) -> RpcCallFailed:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return RpcCallFailed(
            N_("The node of {network} answered {method} with error {rpc_code}: {rpc_message}"),
            network=self.network,
            endpoint=self.endpoint,
            method=method,
            rpc_code=code if isinstance(code, int) else 0,
            rpc_message=str(message if message is not None else error)[:300],
        )

    def _timeout(self) -> RpcTimeout:
        return RpcTimeout(
            N_("The node of {network} at {endpoint} did not answer within {seconds} seconds."),
            network=self.network,
            endpoint=self.endpoint,
            seconds=self.timeout,
        )

    def _bad(self, detail: str, **params: Any) -> RpcBadResponse:
        return RpcBadResponse(
            N_("The node of {network} at {endpoint} sent an invalid answer: {detail}"),
            network=self.network,
            endpoint=self.endpoint,
            detail=detail.format(**params),
        )

    def bad_shape(self, method: str, value: object) -> RpcBadResponse:
        """For family clients: a result that is JSON-RPC but not what ``method`` returns."""
        return self._bad(
            N_("unexpected result of {method}: {value!r}"), method=method, value=str(value)[:80]
        )


ClientFactory = Callable[..., ChainClient]
_FAMILIES: dict[str, ClientFactory] = {}


def register_family(family: str) -> Callable[[ClientFactory], ClientFactory]:
    """Registers the client class of a network family (``assets.models.Family`` values)."""

    def register(factory: ClientFactory) -> ClientFactory:
        _FAMILIES[family] = factory
        return factory

    return register


def supported_families() -> frozenset[str]:
    _load_builtin_families()
    return frozenset(_FAMILIES)


class UnsupportedFamily(RpcError):
    code = "rpc_unsupported_family"
    title = "No client for this network family"
    retryable = False


def client_for(
    family: str,
    endpoint: str,
    *,
    network: str,
    chain_id: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> ChainClient:
    """A client for one endpoint of a network, checked by ``verify_chain``: the EVM chain
    id against ``chain_id``; on UTXO networks the chain name (``main`` unless the URL's
    fragment says otherwise: ``http://u:p@host:9332/#chain=regtest``; a fragment is never
    sent to the node) and, on main chains HashDesk knows, the genesis block."""
    _load_builtin_families()
    factory = _FAMILIES.get(family)
    if factory is None:
        raise UnsupportedFamily(
            N_("HashDesk has no RPC client for {network} (family {family})."),
            network=network,
            endpoint=redact(endpoint),
            family=family,
        )
    return factory(endpoint, network=network, chain_id=chain_id, timeout=timeout)


def _load_builtin_families() -> None:
    # Imported here, not at the top: the family modules import this one.
    from hashdesk.chains import rpc_evm, rpc_utxo  # noqa: F401


def hex_int(transport: JsonRpcTransport, method: str, value: object) -> int:
    """An EVM quantity ("0x1a") as an int; a typed error when the node sent something else."""
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise transport.bad_shape(method, value)
