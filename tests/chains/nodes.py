"""Real local blockchain nodes for the chain tests: anvil (EVM) and litecoind in regtest.

Each node runs as a child process on free ports, with ``stop()``/``start()`` to take it down
and bring it back (the monitor's "node down → incident → resolved" tests); ``start`` after a
stop keeps the chain (anvil dumps its state to a file on exit, litecoind keeps its datadir).
The helpers talk to the node with plain httpx, not with ``hashdesk.chains.rpc``, so a fault in
the clients under test cannot hide behind the fixture that checks them.

Where the tools come from: anvil from the npm package ``@foundry-rs/anvil`` (``npm ci`` at
the repository root installs it with its binary), solc-js from the npm package ``solc``, and
``litecoind`` from Debian (``apt-get install litecoind``). ``find_anvil``/``find_litecoind``
return None when a tool is missing; the fixtures then skip (fail with
``HASHDESK_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "node_modules" / ".bin"
CONTRACTS = Path(__file__).resolve().parent / "contracts"
START_SECONDS = 30.0
RPC_USER = "hashdesk"
RPC_PASSWORD = "regtest-password"
# anvil's first default account (well known, funded with 10,000 ETH on every fresh anvil).
ANVIL_CHAIN_ID = 31337
TRANSFER_SELECTOR = "a9059cbb"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_anvil() -> Path | None:
    """The native binary the npm package ships (the ``.bin/anvil`` wrapper is a node script
    that would outlive a killed child), else an anvil on PATH (a foundryup install)."""
    for candidate in sorted((REPO / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


def find_litecoind() -> Path | None:
    found = shutil.which("litecoind")
    return Path(found) if found else None


def find_solcjs() -> Path | None:
    candidate = NODE_BIN / "solcjs"
    return candidate if candidate.exists() and shutil.which("node") else None


class NodeError(RuntimeError):
    pass


class _Process:
    """A node process with its log file; stopping waits for it to exit."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self, command: list[str]) -> None:
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after the grace period: litecoind does not exit while a
        client (a tracer's or monitor's pooled connection) keeps an HTTP connection open."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class JsonRpcNode:
    """What both nodes share: an URL, raw JSON-RPC calls, waiting until the node answers."""

    name = "node"
    version = "2.0"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self._process = _Process(self.name, workdir)
        self._http = httpx.Client(timeout=30, trust_env=False)
        self._auth: httpx.BasicAuth | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def rpc(self, method: str, *params: Any) -> Any:
        payload = {"jsonrpc": self.version, "id": 1, "method": method, "params": list(params)}
        response = self._http.post(self.rpc_url, json=payload, auth=self._auth)
        document = json.loads(response.content, parse_float=Decimal)
        if document.get("error"):
            raise NodeError(f"{self.name} {method}{list(params)}: {document['error']}")
        return document["result"]

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        if self._process.running():
            return
        self._process.spawn(self.command())
        self._wait_ready()

    def stop(self) -> None:
        """Takes the node down; its port refuses connections until ``start``."""
        self._http.close()  # our own keep-alive connection would hold the node up
        self._http = httpx.Client(timeout=30, trust_env=False)
        self._process.terminate()

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return self._process.running()

    def close(self) -> None:
        self.stop()
        self._http.close()

    def ready_probe(self) -> None:
        raise NotImplementedError

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self._process.running():
                raise NodeError(f"{self.name} exited:\n{self._process.log_tail()}")
            try:
                self.ready_probe()
                return
            except (httpx.HTTPError, NodeError, ValueError, KeyError) as error:
                last = error
                time.sleep(0.1)
        self.stop()
        raise NodeError(f"{self.name} did not answer within {START_SECONDS} s: {last}")


@dataclass(frozen=True)
class Token:
    address: str
    decimals: int
    deployer: str


class AnvilNode(JsonRpcNode):
    """anvil with its ten funded, unlocked accounts (``accounts``)."""

    name = "anvil"

    def __init__(self, workdir: Path, binary: Path, chain_id: int = ANVIL_CHAIN_ID) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.chain_id = chain_id
        self.state_file = workdir / "anvil-state.json"
        self.accounts: list[str] = []
        self.automine = True

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--silent",
            "--chain-id",
            str(self.chain_id),
            "--state",
            str(self.state_file),
        ]

    def ready_probe(self) -> None:
        self.accounts = [account.lower() for account in self.rpc("eth_accounts")]
        self.automine = True  # a fresh or restarted anvil mines every transaction at once

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", enabled)
        self.automine = enabled

    def send(
        self, sender: str, to: str, value: int = 0, data: str | None = None, gas: int | None = None
    ) -> str:
        """``gas`` set explicitly skips estimation, so a transaction that reverts is still mined."""
        transaction: dict[str, str] = {"from": sender, "to": to, "value": hex(value)}
        if data is not None:
            transaction["data"] = data
        if gas is not None:
            transaction["gas"] = hex(gas)
        tx_hash = str(self.rpc("eth_sendTransaction", transaction)).lower()
        if self.automine:
            self.receipt(tx_hash)  # mined before the caller looks
        return tx_hash

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        """The receipt, waiting briefly: anvil answers ``eth_sendTransaction`` before the
        automined block is indexed now and then."""
        deadline = time.monotonic() + 5
        while (receipt := self.rpc("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise NodeError(f"no receipt for {tx_hash}")
            time.sleep(0.02)
        return dict(receipt)

    def deploy(self, sender: str, bytecode: str) -> str:
        tx_hash = self.rpc("eth_sendTransaction", {"from": sender, "data": bytecode})
        return str(self.receipt(tx_hash)["contractAddress"]).lower()

    def deploy_token(self, compiled_bytecode: str, supply: int, decimals: int = 6) -> Token:
        deployer = self.accounts[0]
        address = self.deploy(deployer, "0x" + compiled_bytecode + f"{supply:064x}")
        return Token(address=address, decimals=decimals, deployer=deployer)

    def token_transfer(
        self, token: Token, to: str, amount: int, sender: str | None = None, gas: int | None = None
    ) -> str:
        data = (
            "0x"
            + TRANSFER_SELECTOR
            + to.lower().removeprefix("0x").rjust(64, "0")
            + f"{amount:064x}"
        )
        return self.send(sender or token.deployer, token.address, data=data, gas=gas)

    def reorg(self, depth: int) -> None:
        """Replaces the last ``depth`` blocks with empty ones: their transactions are gone."""
        self.rpc("anvil_reorg", depth, [])


class LitecoinNode(JsonRpcNode):
    """litecoind in regtest with a wallet, ``-txindex`` and RPC authentication."""

    name = "litecoind"
    version = "1.0"

    def __init__(self, workdir: Path, binary: Path, template: Path | None = None) -> None:
        """``template``: a stopped node's datadir to start from (a copy; see ``prepare``)."""
        super().__init__(workdir)
        self.binary = binary
        self.p2p_port = free_port()
        self.datadir = workdir / "litecoin"
        if template is not None:
            shutil.copytree(template, self.datadir)
        self.datadir.mkdir(exist_ok=True)
        self._auth = httpx.BasicAuth(RPC_USER, RPC_PASSWORD)
        self._wallet_ready = False

    @property
    def client_url(self) -> str:
        """The endpoint as HashDesk is configured with it: credentials and the chain name."""
        return f"http://{RPC_USER}:{RPC_PASSWORD}@127.0.0.1:{self.port}/#chain=regtest"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "-regtest",
            "-server",
            "-listen=0",
            "-txindex=1",
            f"-datadir={self.datadir}",
            f"-port={self.p2p_port}",
            f"-rpcport={self.port}",
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            f"-rpcuser={RPC_USER}",
            f"-rpcpassword={RPC_PASSWORD}",
            "-fallbackfee=0.0002",
            "-printtoconsole=0",
            "-dnsseed=0",
            "-discover=0",
        ]

    def ready_probe(self) -> None:
        self.rpc("getblockchaininfo")
        if not self._wallet_ready:
            self._load_wallet()

    def _load_wallet(self) -> None:
        try:
            self.rpc("loadwallet", "tests")
        except NodeError as error:
            text = str(error)
            if "not found" in text or "does not exist" in text or "-18" in text:
                self.rpc("createwallet", "tests")
            elif "already loaded" not in text:
                raise
        self._wallet_ready = True

    def start(self) -> None:
        self._wallet_ready = False
        super().start()

    @classmethod
    def prepare(cls, workdir: Path, binary: Path, blocks: int = 101) -> Path:
        """A datadir with the wallet made and ``blocks`` mined (101: one spendable coinbase),
        left stopped: a node started from a copy is ready in about a second, where making
        the wallet takes several."""
        node = cls(workdir, binary)
        node.start()
        node.mine(blocks)
        node.close()
        return node.datadir

    def new_address(self) -> str:
        return str(self.rpc("getnewaddress", "", "bech32"))

    def mine(self, blocks: int = 1, address: str | None = None) -> list[str]:
        return list(self.rpc("generatetoaddress", blocks, address or self.new_address()))

    def send(self, address: str, amount: Decimal, memo: str | None = None) -> str:
        if memo is None:
            return str(self.rpc("sendtoaddress", address, str(amount)))
        return self._send_with_memo(address, amount, memo)

    def _send_with_memo(self, address: str, amount: Decimal, memo: str) -> str:
        raw = self.rpc(
            "createrawtransaction", [], [{address: str(amount)}, {"data": memo.encode().hex()}]
        )
        funded = self.rpc("fundrawtransaction", raw)
        signed = self.rpc("signrawtransactionwithwallet", funded["hex"])
        return str(self.rpc("sendrawtransaction", signed["hex"]))

    def height(self) -> int:
        return int(self.rpc("getblockcount"))

    def invalidate(self, block_hash: str) -> None:
        self.rpc("invalidateblock", block_hash)

    def reconsider(self, block_hash: str) -> None:
        self.rpc("reconsiderblock", block_hash)


def compile_contract(source: Path, contract: str, outdir: Path) -> str:
    """Compiles with solc-js (offline) and returns the creation bytecode as hex."""
    solcjs = find_solcjs()
    if solcjs is None:
        raise NodeError("solc-js is not installed (npm ci)")
    subprocess.run(
        [str(solcjs), "--bin", "--optimize", "-o", str(outdir), str(source)],
        check=True,
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    matches = sorted(outdir.glob(f"*_{contract}.bin"))
    if not matches:
        raise NodeError(f"solcjs wrote no bytecode for {contract} in {outdir}")
    return matches[0].read_text().strip()


class LyingServer:
    """A tiny local HTTP server that answers JSON-RPC badly, as broken or hostile endpoints
    do. ``behaviour``: ``wrong_chain`` (chain id 1 and Bitcoin's mainnet name), ``garbage``
    (HTML), ``not_rpc`` (JSON without result or error), ``hang`` (accepts, never answers),
    ``trickle`` (one byte a second, forever), ``unauthorized`` (HTTP 401). Change it at any
    time by assigning ``behaviour``."""

    def __init__(self, behaviour: str) -> None:
        import http.server
        import threading

        self.behaviour = behaviour
        self._stop = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                owner.answer(self, request)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def answer(self, handler: Any, request: dict[str, Any]) -> None:
        behaviour = self.behaviour
        if behaviour in {"hang", "trickle"}:
            self._stall(handler, trickle=behaviour == "trickle")
            return
        status, body = self._body(behaviour, request)
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _body(self, behaviour: str, request: dict[str, Any]) -> tuple[int, bytes]:
        if behaviour == "garbage":
            return 200, b"<html><body>502 Bad Gateway</body></html>"
        if behaviour == "not_rpc":
            return 200, b'{"hello": "world"}'
        if behaviour == "unauthorized":
            return 401, b""
        results = {"eth_chainId": "0x1", "getblockchaininfo": {"chain": "main", "blocks": 1}}
        result = results.get(str(request.get("method")))
        return 200, json.dumps(
            {"jsonrpc": "2.0", "id": request.get("id"), "result": result}
        ).encode()

    def _stall(self, handler: Any, trickle: bool) -> None:
        if trickle:
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.end_headers()
        while not self._stop.wait(1.0):
            if trickle:
                try:
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
