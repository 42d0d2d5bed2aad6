"""Deposit tracer: time to a verdict against a local anvil node (target: p95 under 100 ms).

    .venv/bin/python bench/chains_tracer.py [--deposits 200] [--traces 500]
        [--database-url URL] [--markdown /tmp/tracer_results.md]

Starts anvil (``npm ci`` installs it), deploys the tests' ERC-20 (compiled by solc-js),
imports a two-network registry (devnet with the node, devnet-b without), gives a trader a
deposit address and sends ``--deposits`` real transfers (token and native, some below the
minimum, some to a stranger's address), mines blocks so they have 1 to 20 confirmations,
and records half of them as credited. Then it traces random hashes of those deposits (one
in ten unknown), each in a fresh database session as an API request would, and reports
wall-time percentiles (nearest rank) of ``Tracer(session).trace(...)`` in process, and of
``POST /api/v1/chains/trace`` through the ASGI app (TestClient, signed-in agent).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the node helpers live with the tests

from tests.chains.nodes import (  # noqa: E402
    CONTRACTS,
    AnvilNode,
    compile_contract,
    find_anvil,
)

from hashdesk.accounts.actions import (  # noqa: E402
    check_replace_deposit_addresses,
    check_upsert_transfer,
    do_create_agent,
    do_upsert_trader,
)
from hashdesk.accounts.models import TransferKind  # noqa: E402
from hashdesk.accounts.schemas import (  # noqa: E402
    AgentCreate,
    DepositAddressesReplace,
    TraderUpsert,
    TransferUpsert,
)
from hashdesk.app import create_app  # noqa: E402
from hashdesk.assets.schemas import RegistryDocument  # noqa: E402
from hashdesk.assets.transfer import import_document  # noqa: E402
from hashdesk.chains.tracer import Tracer, TraceRequest  # noqa: E402
from hashdesk.config import Settings  # noqa: E402
from hashdesk.core.auth import SYSTEM, Role  # noqa: E402
from hashdesk.core.migrate import upgrade  # noqa: E402
from hashdesk.runtime import Runtime  # noqa: E402

PASSWORD = "bench password 1234"  # noqa: S105 (a throwaway benchmark database)
TUSD = 10**6


def registry(anvil: AnvilNode, token: str) -> RegistryDocument:
    evm = {"family": "evm", "native_asset": "DETH", "block_time_seconds": 2.0,
           "confirmations_credit": 12, "confirmations_unlock": 12, "address_format": "evm",
           "tx_hash_format": "evm", "token_format": "evm"}  # fmt: skip
    return RegistryDocument.model_validate({
        "networks": [
            {"id": "devnet", "name": "Devnet", "chain_id": anvil.chain_id,
             "rpc_endpoints": [anvil.rpc_url], **evm},
            {"id": "devnet-b", "name": "Devnet B", "chain_id": 31338, **evm}],
        "assets": [
            {"symbol": "DETH", "name": "Devnet Ether", "networks": [
                {"network": "devnet", "decimals": 18, "min_deposit": "0.01"}]},
            {"symbol": "TUSD", "name": "Test Dollar", "networks": [
                {"network": "devnet", "contract": token, "decimals": 6, "min_deposit": "10"}]}],
    })  # fmt: skip


def send_deposits(anvil: AnvilNode, token_address: str, deposit_address: str, count: int,
                  rng: random.Random) -> list[str]:  # fmt: skip
    from tests.chains.nodes import Token

    token = Token(token_address, 6, anvil.accounts[0])
    hashes = []
    for _ in range(count):
        roll = rng.random()
        to = anvil.accounts[7] if roll < 0.1 else deposit_address
        if roll < 0.7:
            amount = rng.randint(1, 500) * TUSD
            hashes.append(anvil.token_transfer(token, to, amount))
        else:
            hashes.append(anvil.send(anvil.accounts[1], to, rng.randint(1, 10**19)))
        if rng.random() < 0.3:
            anvil.mine(1)
    anvil.mine(rng.randint(1, 10))
    return hashes


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def rank(share: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deposits", type=int, default=200)
    parser.add_argument("--traces", type=int, default=500)
    parser.add_argument("--database-url")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    binary = find_anvil()
    if binary is None:
        raise SystemExit("anvil not found: run `npm ci` at the repository root")
    rng = random.Random(5)
    work = Path(tempfile.mkdtemp(prefix="hd-tracer-bench-"))
    url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    upgrade(url)
    throwaway = "bench-" + rng.randbytes(16).hex()  # a throwaway database's secrets
    settings = Settings(database_url=url, secret_key=throwaway, run_outbox_worker=False,
                        connector_secret=throwaway, exchange_jwt_key=throwaway)  # fmt: skip
    runtime = Runtime(settings)
    anvil = AnvilNode(work, binary)
    anvil.start()
    try:
        hashes, setup_seconds = prepare(runtime, anvil, work, args.deposits, rng)
        in_process = measure_in_process(runtime, hashes, args.traces, rng)
        through_api = measure_api(runtime, hashes, max(100, args.traces // 2), rng)
    finally:
        anvil.close()
    report(args, url, setup_seconds, in_process, through_api)


def prepare(runtime: Runtime, anvil: AnvilNode, work: Path, deposits: int,
            rng: random.Random) -> tuple[list[str], float]:  # fmt: skip
    started = time.monotonic()
    bytecode = compile_contract(CONTRACTS / "TestDollar.sol", "TestDollar", work)
    token = anvil.deploy_token(bytecode, 10**15)
    deposit_address = anvil.accounts[2]
    with runtime.database.transaction() as session:
        import_document(session, SYSTEM, registry(anvil, token.address))
        do_upsert_trader(session, "bench-trader", TraderUpsert(email="bench@example.com"))
        do_create_agent(session, SYSTEM, AgentCreate(email="tech@example.com", name="Tech",
                                             role=Role.TECHNICIAN, department="blockchain",
                                             password=PASSWORD))  # fmt: skip
    with runtime.database.transaction() as session:
        check_replace_deposit_addresses(session, "bench-trader", DepositAddressesReplace.model_validate(
            {"addresses": [{"network": "devnet", "address": deposit_address}]}))  # fmt: skip
    hashes = send_deposits(anvil, token.address, deposit_address, deposits, rng)
    with runtime.database.transaction() as session:
        for number, tx_hash in enumerate(hashes[::2]):
            data = TransferUpsert(trader="bench-trader", network="devnet", asset="TUSD",
                                  amount=Decimal(25), address=deposit_address, tx_hash=tx_hash,
                                  status="completed", occurred_at=datetime.now(UTC))  # fmt: skip
            check_upsert_transfer(session, TransferKind.DEPOSIT, f"bench-{number}", data)
    return hashes, time.monotonic() - started


def _pick(hashes: list[str], rng: random.Random) -> str:
    return rng.choice(hashes) if rng.random() < 0.9 else "0x" + rng.randbytes(32).hex()


def measure_in_process(runtime: Runtime, hashes: list[str], count: int,
                       rng: random.Random) -> dict[str, float]:  # fmt: skip
    samples: list[float] = []
    for number in range(count + 20):
        request = TraceRequest(tx_hash=_pick(hashes, rng), trader_id=1)
        started = time.perf_counter()
        with runtime.database.transaction() as session:
            Tracer(session).trace(request)
        if number >= 20:  # the first traces build the kept client and verify the chain
            samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def measure_api(runtime: Runtime, hashes: list[str], count: int,
                rng: random.Random) -> dict[str, float]:  # fmt: skip
    samples: list[float] = []
    with TestClient(create_app(runtime.settings, runtime)) as client:
        login = client.post(
            "/api/v1/auth/login", json={"email": "tech@example.com", "password": PASSWORD}
        )
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        for number in range(count + 10):
            body = {"tx_hash": _pick(hashes, rng), "trader_id": 1}
            started = time.perf_counter()
            response = client.post("/api/v1/chains/trace", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"trace failed: {response.status_code} {response.text}")
            if number >= 10:
                samples.append(elapsed)
    return percentiles(samples)


def report(args: argparse.Namespace, url: str, setup: float, in_process: dict[str, float],
           api: dict[str, float]) -> None:  # fmt: skip
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    rows = [("in process (`Tracer(session).trace`)", args.traces, in_process),
            ("through the API (`POST /api/v1/chains/trace`)", max(100, args.traces // 2), api)]  # fmt: skip
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.node() and 'vm'}, {platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        f"- database: {database}; {args.deposits} deposits sent to anvil, set-up {setup:.1f} s",
        "",
        "| trace | traces | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
        *(f"| {name} | {count} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} | {p['max']:.2f} |"
          for name, count, p in rows),
    ]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
