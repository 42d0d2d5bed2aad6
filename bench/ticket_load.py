"""Load benchmark of the ticket API: create, list and reply, against real server processes.

For each worker count, and each database (a fresh SQLite file; the PostgreSQL database
``hd_bench``), it migrates, starts ``hashdesk serve``, pushes traders through the signed
connector API, signs them in with exchange JWTs (Bearer), and drives the API with httpx at
``--concurrency`` clients (one trader each, one request in flight each, closed loop). In the
same run and the same rounds it drives ``bench/bare_app.py`` (one ORM insert into
PostgreSQL, same worker count) and reports the ticket figures as a ratio to it.

Every figure is the median of ``--rounds`` short rounds, because the machine is shared and
noisy; the load generator itself runs on the same cores as the servers. See bench/RESULTS.md.

    .venv/bin/python bench/ticket_load.py --json bench/results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import psycopg
import uvloop

from hashdesk.core.signing import SIGNATURE_HEADER, request_message, sign

BENCH_DIR = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
CONNECTOR_SECRET = "bench-connector-secret"  # noqa: S105 (a throwaway server's key)
JWT_KEY = "bench-exchange-jwt-key-0123456789abcdef"
JWT_ISSUER = "exchange"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/hd_bench"
OPERATIONS = ("create", "list", "reply")
TARGET_CREATES_PER_S = 500
TARGET_P95_MS = 50.0


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Phase:
    """One operation driven for one round: how many answered well, how fast."""

    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0  # what the load generator itself burnt meanwhile
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def client_cores(self) -> float:
        return self.client_cpu_seconds / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        """Latency in ms below which ``share`` of the requests finished (nearest rank)."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)] * 1000


@dataclass
class Figure:
    """Medians over the rounds of one operation on one set-up."""

    setup: str
    database: str
    workers: int
    operation: str
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int
    rounds: int
    client_cores: float
    ratio_to_bare: float | None = None


def figure(setup: str, database: str, workers: int, operation: str, rounds: list[Phase]) -> Figure:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    return Figure(
        setup=setup, database=database, workers=workers, operation=operation,
        per_second=median([r.per_second for r in rounds]),
        p50_ms=median([r.percentile(0.50) for r in rounds]),
        p95_ms=median([r.percentile(0.95) for r in rounds]),
        p99_ms=median([r.percentile(0.99) for r in rounds]),
        requests=sum(r.ok for r in rounds), errors=sum(r.errors for r in rounds),
        rounds=len(rounds), client_cores=median([r.client_cores for r in rounds]),
    )  # fmt: skip


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def drive(base_url: str, concurrency: int, seconds: float, request: Request) -> Phase:
    """``concurrency`` clients, each sending ``request`` back to back until time is up.

    Each client has its own ``AsyncClient`` (one keep-alive connection): one shared client
    with a 50-connection pool cost the load generator 2-3 times more CPU per request here.
    """
    phase = Phase()
    clients = [httpx.AsyncClient(base_url=base_url, timeout=30) for _ in range(concurrency)]
    deadline = time.perf_counter() + seconds

    async def one_client(number: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await request(clients[number], number)
            if response.is_success:
                phase.latencies.append(time.perf_counter() - started)
                phase.ok += 1
            else:
                phase.errors += 1
                if phase.errors == 1:
                    print(f"    first error: {response.status_code} {response.text[:300]}")

    cpu_before, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one_client(n) for n in range(concurrency)))
    phase.seconds = time.perf_counter() - began
    phase.client_cpu_seconds = time.process_time() - cpu_before
    for client in clients:
        await client.aclose()
    return phase


# --- the workload ----------------------------------------------------------------------------


@dataclass
class Traders:
    """One trader per client: its Bearer header and the tickets it opened."""

    headers: list[dict[str, str]]
    tickets: list[list[str]]
    counter: int = 0

    def next_number(self) -> int:
        self.counter += 1
        return self.counter


def exchange_token(external_id: str) -> str:
    claims = {"sub": external_id, "iss": JWT_ISSUER, "exp": datetime.now(UTC) + timedelta(hours=2)}
    return jwt.encode(claims, JWT_KEY, algorithm="HS256")


async def push_traders(base_url: str, count: int) -> Traders:
    """Create the traders the way the exchange does: signed connector calls."""
    headers: list[dict[str, str]] = []
    tickets: list[list[str]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for number in range(count):
            external_id = f"bench-{number}"
            body = json.dumps({"email": f"trader{number}@bench.example", "name": f"Trader {number}",
                               "region": "DE", "language": "en", "vip_level": 0,
                               "anti_phishing_code": "BENCH"}).encode()  # fmt: skip
            path = f"/api/v1/connector/traders/{external_id}"
            signature = sign(CONNECTOR_SECRET, request_message("PUT", path, body))
            response = await client.put(path, content=body, headers={
                SIGNATURE_HEADER: signature, "content-type": "application/json"})  # fmt: skip
            response.raise_for_status()
            headers.append({"authorization": f"Bearer {exchange_token(external_id)}"})
            tickets.append([])
    return Traders(headers, tickets)


def ticket_requests(traders: Traders) -> dict[str, Request]:
    """The three operations, as a trader of the exchange would call them."""

    async def create(client: httpx.AsyncClient, number: int) -> httpx.Response:
        serial = traders.next_number()
        response = await client.post("/api/v1/tickets", headers=traders.headers[number], json={
            "category": "deposit", "subject": f"Deposit {serial} not credited yet",
            "description": "I sent USDT over Tron two hours ago and it is not in my balance.",
            "fields": {"network": "tron", "asset": "USDT"},
        })  # fmt: skip
        if response.status_code == 201:
            traders.tickets[number].append(response.json()["tracking_id"])
        return response

    async def list_page(client: httpx.AsyncClient, number: int) -> httpx.Response:
        return await client.get("/api/v1/tickets", headers=traders.headers[number])

    async def reply(client: httpx.AsyncClient, number: int) -> httpx.Response:
        mine = traders.tickets[number]
        tracking_id = mine[traders.next_number() % len(mine)]
        return await client.post(f"/api/v1/tickets/{tracking_id}/messages",
                                 headers=traders.headers[number],
                                 json={"body": "Any news? The transaction is confirmed."})  # fmt: skip

    return {"create": create, "list": list_page, "reply": reply}


async def bare_insert(client: httpx.AsyncClient, number: int) -> httpx.Response:
    return await client.post("/rows", json={"subject": f"Deposit {number} not credited yet",
                                            "body": "I sent USDT over Tron two hours ago."})  # fmt: skip


# --- servers and databases -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHDESK_")}
    env.update({
        "HASHDESK_DATABASE_URL": database_url,
        "HASHDESK_CONNECTOR_SECRET": CONNECTOR_SECRET,
        "HASHDESK_EXCHANGE_JWT_KEY": JWT_KEY,
        "HASHDESK_EXCHANGE_JWT_ISSUER": JWT_ISSUER,
        # Every create queues its email in the request's transaction (measured); sending it is
        # the outbox worker's job, off the request path, and there is no SMTP server here.
        "HASHDESK_EMAIL_ENABLED": "true",
        "HASHDESK_RUN_OUTBOX_WORKER": "false",
        "BENCH_DATABASE_URL": database_url,
    })  # fmt: skip
    return env


@contextmanager
def server(command: list[str], env: dict[str, str], port: int, workdir: Path) -> Iterator[str]:
    """Start a server process, wait until it answers, yield its URL, stop it."""
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            # Any answer means it is listening; /healthz is HashDesk's, the bare app has 404.
            httpx.get(f"{base_url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    sys.exit(f"server did not start:\n{log_path.read_text()[-3000:]}")


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's own database when it is missing."""
    admin, _, name = url.replace("+psycopg", "").rpartition("/")
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def reset_postgres(url: str) -> None:
    """An empty public schema (the bare app's table lives in its own schema)."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")


def fresh_database(kind: str, pg_url: str, workdir: Path, workers: int) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / f'hashdesk-{workers}.sqlite3'}"
    reset_postgres(pg_url)
    return pg_url


def migrate(database_url: str, workdir: Path) -> None:
    subprocess.run([str(VENV_BIN / "hashdesk"), "migrate"], env=server_env(database_url),
                   cwd=workdir, check=True, capture_output=True)  # fmt: skip


def bare_table(pg_url: str, workdir: Path) -> None:
    subprocess.run([sys.executable, str(BENCH_DIR / "bare_app.py"), "create-table"],
                   env=server_env(pg_url), cwd=workdir, check=True)  # fmt: skip


def hashdesk_command(port: int, workers: int) -> list[str]:
    return [str(VENV_BIN / "hashdesk"), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip


def bare_command(port: int, workers: int) -> list[str]:
    return [str(VENV_BIN / "uvicorn"), "bare_app:create_app", "--factory", "--app-dir",
            str(BENCH_DIR), "--host", "127.0.0.1", "--port", str(port), "--workers",
            str(workers), "--no-access-log", "--log-level", "warning"]  # fmt: skip


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    rounds: int
    concurrency: int
    workers: list[int]
    databases: list[str]
    pg_url: str
    json_out: Path | None


async def measure_database(options: Options, database: str, workers: int, bare_url: str,
                           workdir: Path) -> list[Figure]:  # fmt: skip
    """Rounds of (bare insert, create, list, reply) against one fresh HashDesk."""
    url = fresh_database(database, options.pg_url, workdir, workers)
    migrate(url, workdir)
    port = free_port()
    with server(hashdesk_command(port, workers), server_env(url), port, workdir) as base_url:
        traders = await push_traders(base_url, options.concurrency)
        requests = ticket_requests(traders)
        for operation in OPERATIONS:  # warm up: imports, pools, caches; seeds reply targets
            await drive(base_url, options.concurrency, 1.0, requests[operation])
        results: dict[str, list[Phase]] = {"bare": [], **{op: [] for op in OPERATIONS}}
        for number in range(options.rounds):
            results["bare"].append(
                await drive(bare_url, options.concurrency, options.duration, bare_insert)
            )
            for operation in OPERATIONS:
                results[operation].append(
                    await drive(
                        base_url, options.concurrency, options.duration, requests[operation]
                    )
                )
            print(f"  {database} workers={workers} round {number + 1}: " + ", ".join(
                f"{name} {phases[-1].per_second:.0f}/s" for name, phases in results.items()))  # fmt: skip
    bare = figure("bare insert", "postgresql", workers, "insert", results["bare"])
    figures = [bare]
    for operation in OPERATIONS:
        ticket = figure("hashdesk", database, workers, operation, results[operation])
        if bare.per_second:
            ticket.ratio_to_bare = round(ticket.per_second / bare.per_second, 3)
        figures.append(ticket)
    return figures


async def run(options: Options, workdir: Path) -> list[Figure]:
    figures: list[Figure] = []
    ensure_postgres_database(options.pg_url)
    bare_table(options.pg_url, workdir)
    for workers in options.workers:
        port = free_port()
        bare_env = server_env(options.pg_url)
        with server(bare_command(port, workers), bare_env, port, workdir) as bare_url:
            await drive(bare_url, options.concurrency, 1.0, bare_insert)  # warm up
            for database in options.databases:
                figures += await measure_database(options, database, workers, bare_url, workdir)
    return figures


# --- reporting -------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "kernel": platform.release()}  # fmt: skip


def table(figures: list[Figure]) -> str:
    lines = [
        "| server | database | workers | operation | req/s | p50 ms | p95 ms | p99 ms | ratio to bare insert | errors | load generator CPU |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in figures:
        ratio = "" if f.ratio_to_bare is None else f"{f.ratio_to_bare:.2f}"
        lines.append(f"| {f.setup} | {f.database} | {f.workers} | {f.operation} | {f.per_second:.0f} "
                     f"| {f.p50_ms:.1f} | {f.p95_ms:.1f} | {f.p99_ms:.1f} | {ratio} | {f.errors} | {f.client_cores:.2f} cores |")  # fmt: skip
    return "\n".join(lines)


def verdict(figures: list[Figure]) -> str:
    creates = [f for f in figures if f.database == "postgresql" and f.operation == "create"]
    lines = []
    for f in creates:
        met = f.per_second >= TARGET_CREATES_PER_S and f.p95_ms < TARGET_P95_MS
        lines.append(f"PostgreSQL, {f.workers} worker(s): {f.per_second:.0f} creates/s, p95 "
                     f"{f.p95_ms:.1f} ms -> target (>= {TARGET_CREATES_PER_S}/s, p95 < "
                     f"{TARGET_P95_MS:.0f} ms) {'met' if met else 'NOT met'}")  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=2.5, help="seconds per round and operation"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per set-up (medians reported)"
    )
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", default="1,2", help="server worker processes, e.g. 1,2")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_PG_URL,
        help="a database the benchmark may wipe (its public schema is reset)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if not set(databases) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite and/or postgresql")
    return Options(duration=args.duration, rounds=args.rounds, concurrency=args.concurrency,
                   workers=[int(w) for w in args.workers.split(",")], databases=databases,
                   pg_url=args.postgres_url, json_out=args.json)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="hashdesk-bench-"))
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            figures = runner.run(run(options, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = (datetime.now(UTC) - started).total_seconds()
    print(f"\n{started:%Y-%m-%d %H:%M} UTC, {machine()}, {seconds:.0f} s, medians of "
          f"{options.rounds} rounds x {options.duration:g} s, {options.concurrency} clients\n")  # fmt: skip
    print(table(figures))
    print()
    print(verdict(figures))
    if options.json_out:
        report = {"date": started.isoformat(), "machine": machine(), "seconds": round(seconds),
                  "options": {**asdict(options), "json_out": str(options.json_out)},
                  "figures": [asdict(f) for f in figures]}  # fmt: skip
        options.json_out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
