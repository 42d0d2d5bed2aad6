"""Network monitor cost: N networks polled every I seconds, as CPU time of the process.

    .venv/bin/python bench/chains_monitor.py [--networks 60] [--interval 2] [--seconds 60]
        [--anvils 2] [--database-url URL] [--markdown /tmp/monitor_results.md]

Starts ``--anvils`` local anvil nodes (``node_modules/.bin/anvil``, ``--block-time`` 2 s so
heads move and the reorg window works as on a live chain) and spreads the networks over them:
``--networks`` monitor targets, each with its own name (the registry refuses two networks with
one chain id, so the targets are handed to the monitor directly, as ``load_targets`` would
make them). The real ``Monitor`` then runs its rounds for ``--seconds`` in its thread: real
RPC calls (head, a block hash when the head moved, congestion every third poll), the rules,
and one transaction per round writing health rows to the database (a fresh SQLite file
unless ``--database-url`` names another, migrated first).

Measures the process's CPU time (``time.process_time``: every thread of this process, not
the anvil processes) over the run, after a warm-up of 5 s, and prints it as a share of one
core, with the polls and rounds done. The target: under 10% of one core for 60 networks
every 2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from hashdesk.chains.monitor import Monitor, Target
from hashdesk.config import Settings
from hashdesk.core.db import Database
from hashdesk.core.leader import FileLock
from hashdesk.core.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
ANVIL_CHAIN_ID = 31337
WARM_UP_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_anvil() -> str:
    local = ROOT / "node_modules" / ".bin" / "anvil"
    found = str(local) if local.exists() else shutil.which("anvil")
    if found is None:
        raise SystemExit("anvil not found: run `npm ci` at the repository root")
    return found


def start_anvils(count: int) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    binary, processes, urls = find_anvil(), [], []
    for _ in range(count):
        port = free_port()
        command = [binary, "--host", "127.0.0.1", "--port", str(port), "--silent",
                   "--block-time", "2"]  # fmt: skip
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_ready(url)
    return processes, urls


def wait_ready(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"anvil at {url} did not start")


def targets(count: int, urls: list[str]) -> list[Target]:
    return [Target(f"bench-{i:03d}", "evm", ANVIL_CHAIN_ID, 2.0, 12, (urls[i % len(urls)],))
            for i in range(count)]  # fmt: skip


def run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    upgrade(url)
    settings = Settings(database_url=url, chain_monitor_interval_seconds=args.interval,
                        chain_rpc_timeout_seconds=5.0, run_outbox_worker=False)  # fmt: skip
    database = Database(url, session_info={"settings": settings})
    processes, urls = start_anvils(args.anvils)
    chosen = targets(args.networks, urls)
    monitor = Monitor(database, settings, leadership=FileLock(workdir / "leader.lock"),
                      targets=lambda: chosen)  # fmt: skip
    rounds: list[float] = []
    original_tick = monitor.tick

    def timed_tick() -> int:
        started = time.perf_counter()
        polled = original_tick()
        rounds.append(time.perf_counter() - started)
        return polled

    monitor.tick = timed_tick  # type: ignore[method-assign]
    try:
        monitor.start()
        time.sleep(WARM_UP_SECONDS)
        polls_before = sum(state.polls for state in monitor.states.values())
        rounds.clear()
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(args.seconds)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        polls = sum(state.polls for state in monitor.states.values()) - polls_before
        errors = sum(state.consecutive_errors for state in monitor.states.values())
    finally:
        monitor.stop()
        for process in processes:
            process.terminate()
            process.wait(10)
        database.dispose()
    return {"cpu_percent": 100 * cpu / wall, "cpu_seconds": cpu, "wall": wall, "polls": polls,
            "polls_per_second": polls / wall, "rounds": len(rounds),
            "round_ms_median": 1000 * statistics.median(rounds) if rounds else 0.0,
            "round_ms_max": 1000 * max(rounds) if rounds else 0.0, "errors": errors}  # fmt: skip


def report(args: argparse.Namespace, result: dict[str, float]) -> str:
    database = "SQLite" if not args.database_url else args.database_url.split(":", 1)[0]
    return "\n".join([
        f"- {args.networks} networks every {args.interval:g} s over {args.anvils} anvil nodes, "
        f"{database}, {result['wall']:.0f} s measured: **{result['cpu_percent']:.1f}% of one "
        f"core** ({result['cpu_seconds']:.2f} s CPU), {result['polls']:.0f} polls "
        f"({result['polls_per_second']:.1f}/s), {result['rounds']:.0f} rounds, round median "
        f"{result['round_ms_median']:.0f} ms, max {result['round_ms_max']:.0f} ms, networks "
        f"failing at the end: {result['errors']:.0f}",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=60)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--anvils", type=int, default=2)
    parser.add_argument("--database-url")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = run(args, Path(workdir))
    text = report(args, result)
    print(text)
    header = (f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}")  # fmt: skip
    if args.markdown:
        with args.markdown.open("a") as out:
            out.write(f"{header}\n{text}\n")


if __name__ == "__main__":
    main()
