"""Idle chat connections: server memory per open WebSocket, HashDesk next to the bare relay.

Starts a real ``hashdesk serve`` node and ``bench/chat_bare_relay.py``, reads each server's
resident memory (RSS, /proc), opens ``--connections`` WebSockets to it and, on HashDesk, has
each one sign in as a guest (``hello`` answered by ``welcome``: a widget waiting on a page),
waits ``--settle`` seconds, reads the RSS again and divides the growth by the connections.
Each client comes from its own address through the trusted proxy header (as in
``chat_load.py``), so the per-address connect limit applies per client.

    .venv/bin/python bench/chat_idle.py --connections 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from chat_load import VENV_BIN, address, expect, free_port, node_env

CONNECT_CONCURRENCY = 50


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (``hashdesk serve`` may fork none or one)."""
    total = 0
    pids = [pid]
    with suppress(FileNotFoundError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


@contextmanager
def server(command: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[int]:
    log = (cwd / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            if proc.poll() is not None:
                raise RuntimeError((cwd / f"server-{port}.log").read_text())
            time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        log.close()


async def open_all(urls: list[str], hello: bool) -> list[ClientConnection]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(n: int, url: str) -> ClientConnection:
        async with gate:
            ws = await connect(url, additional_headers={"X-Forwarded-For": address(n)},
                               ping_interval=None, max_queue=None)  # fmt: skip
            if hello:
                await ws.send(json.dumps({"type": "hello", "guest_email": f"g{n}@example.com"}))
                await expect(ws, "welcome")
            return ws

    return list(await asyncio.gather(*(one(n, url) for n, url in enumerate(urls))))


async def measure(pid: int, urls: list[str], hello: bool, settle: float) -> dict[str, Any]:
    await asyncio.sleep(settle)
    before = rss_bytes(pid)
    started = time.perf_counter()
    sockets = await open_all(urls, hello)
    opened_in = time.perf_counter() - started
    await asyncio.sleep(settle)
    after = rss_bytes(pid)
    alive = sum(1 for ws in sockets if ws.state.name == "OPEN")
    for ws in sockets:
        with suppress(Exception):
            await ws.close()
    return {"connections": len(sockets), "open_after_settle": alive,
            "rss_before_mb": round(before / 2**20, 1), "rss_after_mb": round(after / 2**20, 1),
            "kb_per_connection": round((after - before) / len(sockets) / 1024, 1),
            "opened_in_s": round(opened_in, 1)}  # fmt: skip


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        database_url = args.database_url or f"sqlite:///{workdir / 'hashdesk.sqlite3'}"
        env = node_env(database_url, args.redis_url)
        subprocess.run([str(VENV_BIN / "hashdesk"), "migrate"], env=env, cwd=workdir, check=True,
                       capture_output=True)  # fmt: skip
        port, bare_port = free_port(), free_port()
        node_cmd = [str(VENV_BIN / "hashdesk"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        bare_cmd = [str(VENV_BIN / "uvicorn"), "bench.chat_bare_relay:app", "--port", str(bare_port),
                    "--log-level", "warning", "--ws-per-message-deflate", "false"]  # fmt: skip
        bare_env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        count = args.connections
        results = {}
        with server(bare_cmd, bare_env, workdir, bare_port) as pid:
            urls = [f"ws://127.0.0.1:{bare_port}/ws/{n}/a" for n in range(count)]
            results["bare relay"] = await measure(pid, urls, False, args.settle)
            print("bare relay", json.dumps(results["bare relay"]), flush=True)
        with server(node_cmd, env, workdir, port) as pid:
            urls = [f"ws://127.0.0.1:{port}/api/v1/chat/ws"] * count
            results["hashdesk"] = await measure(pid, urls, True, args.settle)
            print("hashdesk", json.dumps(results["hashdesk"]), flush=True)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.node(),
            "cpus": os.cpu_count(), "args": vars(args), "results": results}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before each reading")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    # Each client socket is a file descriptor here (and one in each server).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, args.connections * 2 + 1000))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    report = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
