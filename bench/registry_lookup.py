"""Registry quick lookup: latency of one lookup over the full demo registry, in process and
through the API, and the cost of rebuilding the index after a change.

The demo registry (79 networks, 1,354 assets, ~2,050 asset-network rows) is imported into a
fresh SQLite database through ``hashdesk.assets.demo``; the index is the one a running
process serves (``live_registry``), built from that database. Queries are what agents type:
a symbol keystroke by keystroke (``u``, ``us``, ``usd``, ``usdt``), names and the start of
their words, contract addresses (EVM ones lower-cased, as pasted from some explorers),
an asset with its network (``usdt trc20``, ``usdc on base``) and traders' deposit addresses
of many networks. Latency is wall time, nearest-rank percentiles; the API figure is one
``GET /api/v1/assets/lookup`` through the ASGI app (FastAPI, session cookie, database read of
the signed-in agent, JSON), without a network socket.

    .venv/bin/python bench/registry_lookup.py [--queries 2000] [--out /tmp/registry_results.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from hashdesk.accounts.actions import do_create_agent
from hashdesk.accounts.schemas import AgentCreate
from hashdesk.app import create_app
from hashdesk.assets.demo import demo_document, load_demo_registry
from hashdesk.assets.formats import base58_encode, base58check_encode, to_checksum_address
from hashdesk.assets.index import RegistryIndex
from hashdesk.assets.live import live_registry
from hashdesk.assets.queries import load_snapshot
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM, Role
from hashdesk.core.migrate import upgrade
from hashdesk.runtime import Runtime

PASSWORD = "bench password 1234"  # noqa: S105 (a throwaway benchmark database)
NETWORK_WORDS = ["trc20", "erc20", "bep20", "on base", "arbitrum", "solana", "polygon", "ton"]
FIXED_ADDRESSES = [
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh",
    "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
    "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu", "tz1VSUr8wwNhLAzempoch5d6hLRiTh8Cjcjb",
    "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L",
    "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs",
    "VCMJKWOY5P5P7SKMZFFOCEROPJCZOTIJMNIYNUCKH7LRO45JMJP6UYBIJA",
]  # fmt: skip


def realistic_queries(document: RegistryDocument, count: int, rng: random.Random) -> list[str]:
    assets = document.assets
    queries: list[str] = []
    while len(queries) < count:
        asset = rng.choice(assets[:154] if rng.random() < 0.7 else assets)  # real ones asked most
        kind = rng.random()
        if kind < 0.35:  # typing a symbol, keystroke by keystroke
            symbol = asset.symbol.lower()
            queries += [symbol[:n] for n in range(1, len(symbol) + 1)]
        elif kind < 0.5:
            words = asset.name.split()
            queries.append(" ".join(words[: rng.randint(1, len(words))])[: rng.randint(3, 20)])
        elif kind < 0.65 and any(row.contract for row in asset.networks):
            contract = next(row.contract for row in asset.networks if row.contract)
            queries.append(contract.lower() if contract.startswith("0x") else contract)
        elif kind < 0.8:
            queries.append(f"{asset.symbol} {rng.choice(NETWORK_WORDS)}")
        else:
            queries.append(_deposit_address(rng))
    return queries[:count]


def _deposit_address(rng: random.Random) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return to_checksum_address("0x" + rng.randbytes(20).hex())
    if choice == 1:
        return base58check_encode(b"\x41" + rng.randbytes(20))  # TRON
    if choice == 2:
        return base58_encode(rng.randbytes(32))  # Solana
    return rng.choice(FIXED_ADDRESSES)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(call: object, queries: list[str]) -> list[float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        call(query)  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/registry_results.md"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hd-registry-bench-"))
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    upgrade(url)
    settings = Settings(database_url=url, run_outbox_worker=False, secret_key="bench-secret",  # noqa: S106
                        upload_dir=folder / "uploads")  # fmt: skip
    runtime = Runtime(settings)
    started = time.perf_counter()
    summary = load_demo_registry(runtime.database, SYSTEM)
    load_seconds = time.perf_counter() - started
    with runtime.database.transaction() as session:
        do_create_agent(session, SYSTEM, AgentCreate(email="bench@desk.example.com", name="Bench",
                                                     role=Role.FRONTLINE, department="frontline",
                                                     password=PASSWORD))  # fmt: skip
    rebuilds = []
    for _ in range(5):
        started = time.perf_counter()
        with runtime.database.session() as session:
            index = RegistryIndex(load_snapshot(session))
        rebuilds.append((time.perf_counter() - started) * 1000)
    document = demo_document()
    queries = realistic_queries(document, args.queries, random.Random(5))
    live = live_registry(runtime)
    index = live.index()
    measure(lambda q: index.lookup(q), queries[:200])  # warm up
    in_process = measure(lambda q: live.index().lookup(q), queries)
    with TestClient(create_app(settings, runtime)) as client:
        response = client.post("/api/v1/auth/login",
                               json={"email": "bench@desk.example.com", "password": PASSWORD})  # fmt: skip
        assert response.status_code == 200, response.text
        api_queries = queries[: max(200, args.queries // 4)]

        def ask(query: str) -> None:
            answer = client.get("/api/v1/assets/lookup", params={"q": query})
            assert answer.status_code == 200, answer.text

        measure(ask, api_queries[:50])
        through_api = measure(ask, api_queries)
        # The same request cycle without a lookup: what the framework and sign-in cost alone.
        baseline = measure(lambda _q: client.get("/api/v1/auth/session"), api_queries)
    live.stop()
    report(args, summary.created, index.size, len(index.networks), load_seconds, rebuilds,
           in_process, through_api, baseline)  # fmt: skip


def report(args: argparse.Namespace, created: int, assets: int, networks: int,
           load_seconds: float, rebuilds: list[float], in_process: list[float],
           through_api: list[float], baseline: list[float]) -> None:  # fmt: skip
    def line(name: str, samples: list[float]) -> str:
        return (f"| {name} | {len(samples)} | {percentile(samples, 0.5):.3f} | "
                f"{percentile(samples, 0.95):.3f} | {percentile(samples, 0.99):.3f} | {max(samples):.2f} |")  # fmt: skip

    cpu = platform.processor() or platform.machine()
    text = "\n".join([
        "# Registry quick lookup",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.node()}, {cpu}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
        "- command: `.venv/bin/python bench/registry_lookup.py "
        f"--queries {args.queries} --out {args.out}`",
        f"- registry: {networks} networks, {assets} assets ({created} rows created by the demo import "
        f"in {load_seconds:.1f} s, SQLite, audited)",
        f"- index rebuild (3 queries + build), 5 runs: {min(rebuilds):.0f}-{max(rebuilds):.0f} ms",
        "",
        "| lookup | queries | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
        line("in process (`live_registry(runtime).index().lookup(q)`)", in_process),
        line("through the API (`GET /api/v1/assets/lookup`, TestClient)", through_api),
        line("baseline: `GET /api/v1/auth/session` (same client, no lookup)", baseline),
        "",
        "Queries: symbols typed keystroke by keystroke, names and word starts, contract "
        "addresses (EVM lower-cased), `SYMBOL network` pairs, and deposit addresses of "
        "EVM, TRON, Solana, Bitcoin, XRP, Stellar, Cosmos, Tezos, Polkadot, Dogecoin, TON "
        "and Algorand; 70 % about the well-known assets, 30 % about any.",
        "",
    ])  # fmt: skip
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
