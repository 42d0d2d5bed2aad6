"""Chat load benchmark: real WebSocket clients against a real ``hashdesk serve`` node.

``--chats`` traders each open a chat (exchange JWT in ``hello``); ``--agents`` agents (console
session cookies) go online with capacity 20 and accept them. Then, for each rate in
``--rates``, the traders together send that many messages per second (open loop, spread
evenly) for ``--duration`` seconds; each message carries its send time, and the agent's
socket that receives it records the latency. Counted: sent, acknowledged (stored, with a
``seq``), delivered. In the same run the same clients drive ``bench/chat_bare_relay.py``
(a bare Starlette relay) at the same rates; HashDesk's figures are reported next to it.

Each client says it comes through a trusted proxy from its own address (X-Forwarded-For;
the node is started with ``HASHDESK_CHAT_TRUSTED_PROXY_HEADER``), as clients behind a load
balancer do, so the per-address limits apply per client. No traffic goes to those addresses.

    .venv/bin/python bench/chat_load.py --chats 100 --agents 5 --rates 100,300 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

VENV_BIN = Path(sys.executable).parent
JWT_KEY = "bench-exchange-jwt-key-0123456789abcdef"
PASSWORD = "bench-agent-password"  # noqa: S105 (a throwaway server's agents)


@dataclass
class Round:
    target: str
    rate: int
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0  # the server's processes during the round (and its drain)
    client_cpu_s: float = 0.0  # this load generator's

    def summary(self, duration: float) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float | None:
            return (
                round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2) if ordered else None
            )

        per_message = 1000 / max(self.delivered, 1)
        return {"target": self.target, "rate": self.rate, "sent": self.sent, "acked": self.acked,
                "delivered": self.delivered, "delivered_per_s": round(self.delivered / duration, 1),
                "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "server_cpu_ms_per_msg": round(self.server_cpu_s * per_message, 3),
                "client_cpu_ms_per_msg": round(self.client_cpu_s * per_message, 3)}  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children that are still running (the
    workers of ``--workers``), from /proc: what a round cost the server, whatever else ran on
    the machine meanwhile."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        one = pending.pop()
        with suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{one}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


@dataclass
class Server:
    url: str
    pid: int


@contextmanager
def process(command: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[Server]:
    log = (cwd / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=2).status_code in (200, 404):
                    break
            if proc.poll() is not None:
                raise RuntimeError((cwd / f"server-{port}.log").read_text())
            time.sleep(0.2)
        yield Server(url, proc.pid)
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        log.close()


def node_env(database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHDESK_")}
    env.update({"HASHDESK_DATABASE_URL": database_url, "HASHDESK_EXCHANGE_JWT_KEY": JWT_KEY,
                "HASHDESK_CHAT_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
                "HASHDESK_EMAIL_ENABLED": "false", "HASHDESK_RUN_OUTBOX_WORKER": "false"})  # fmt: skip
    if redis_url:
        env["HASHDESK_REDIS_URL"] = redis_url
    return env


def make_agents(database_url: str, count: int) -> list[str]:
    from hashdesk.accounts.actions import do_create_agent
    from hashdesk.accounts.schemas import AgentCreate
    from hashdesk.core.auth import SYSTEM, Role, hash_password
    from hashdesk.core.db import Database

    database = Database(database_url)
    shared = hash_password(PASSWORD)
    emails = [f"bench-{uuid.uuid4().hex[:8]}@desk.example.com" for _ in range(count)]
    with database.transaction() as session:
        for email in emails:
            data = AgentCreate(email=email, name=email.split("@")[0], role=Role.FRONTLINE,
                               department="frontline", password=PASSWORD)  # fmt: skip
            do_create_agent(session, SYSTEM, data, password_hash=shared)
    database.dispose()
    return emails


def chats_without_agent(database_url: str, chat_ids: list[int]) -> int:
    """This run's chats not active with an agent once the set-up is done: their messages
    would be stored and acknowledged but reach no agent, and count as lost."""
    from sqlalchemy import func, select

    from hashdesk.chat.models import Chat, ChatStatus
    from hashdesk.core.db import Database

    database = Database(database_url)
    with database.transaction() as session:
        missing = session.scalar(select(func.count()).select_from(Chat).where(
            Chat.id.in_(chat_ids),
            (Chat.status != ChatStatus.ACTIVE.value) | Chat.agent_id.is_(None)))  # fmt: skip
    database.dispose()
    return int(missing or 0)


async def all_active(database_url: str, chat_ids: list[int], seconds: float = 60.0) -> None:
    """Wait until the node has carried out every accept (it answers them after the offers
    are out, a backlog of seconds under load that the first round would otherwise measure)."""
    deadline = time.monotonic() + seconds
    while missing := chats_without_agent(database_url, chat_ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{missing} of {len(chat_ids)} chats have no agent after set-up")
        await asyncio.sleep(0.5)


def address(n: int) -> str:
    """A distinct client address per socket, from the benchmarking range 198.18.0.0/15."""
    return f"198.18.{n // 250}.{n % 250 + 1}"


async def expect(ws: ClientConnection, frame_type: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") == frame_type:
                return frame
            if frame.get("type") == "error":
                raise RuntimeError(frame)


async def hashdesk_pairs(url: str, emails: list[str], chats: int) -> tuple[list[Any], list[Any]]:
    """Signed-in agent sockets (online) and trader sockets each with an accepted chat."""
    ws_url = url.replace("http", "ws") + "/api/v1/chat/ws"
    agents = []
    for n, email in enumerate(emails):
        async with httpx.AsyncClient(
            base_url=url, headers={"X-Forwarded-For": address(60000 + n)}
        ) as http:
            response = await http.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            )
            response.raise_for_status()
            cookie = f"hashdesk_session={http.cookies['hashdesk_session']}"
        ws = await connect(
            ws_url,
            additional_headers={"Cookie": cookie, "X-Forwarded-For": address(60000 + n)},
            max_queue=None,
            ping_interval=None,
        )
        await ws.send(json.dumps({"type": "hello"}))
        await expect(ws, "welcome")
        await ws.send(json.dumps({"type": "presence", "status": "online", "capacity": 20}))
        await expect(ws, "presence")
        agents.append(ws)
    traders: list[tuple[ClientConnection, int]] = []
    for n in range(chats):
        token = jwt.encode({"sub": f"bench-{uuid.uuid4().hex[:10]}", "iss": "exchange",
                            "exp": int(time.time()) + 3600, "email": f"t{n}@example.com"},
                           JWT_KEY, algorithm="HS256")  # fmt: skip
        ws = await connect(
            ws_url,
            additional_headers={"X-Forwarded-For": address(n)},
            max_queue=None,
            ping_interval=None,
        )
        await ws.send(json.dumps({"type": "hello", "token": token}))
        await expect(ws, "welcome")
        await ws.send(json.dumps({"type": "start"}))
        chat = (await expect(ws, "chat"))["chat"]
        traders.append((ws, chat))
    return agents, traders


async def accept_all(agents: list[ClientConnection], chats: int) -> None:
    # Distinct chats: a chat offered again (an accept refused, an offer expired) counted twice
    # would end the loop with another chat never accepted.
    accepted: set[int] = set()

    async def take(ws: ClientConnection) -> None:
        while len(accepted) < chats:
            try:
                async with asyncio.timeout(5):
                    frame = json.loads(await ws.recv())
            except TimeoutError:
                return
            if frame.get("type") == "offer":
                await ws.send(json.dumps({"type": "accept", "chat": frame["chat"]}))
                accepted.add(frame["chat"])

    await asyncio.gather(*(take(ws) for ws in agents))
    if len(accepted) < chats:
        raise RuntimeError(f"only {len(accepted)} of {chats} chats were accepted")


# Lean readers (orjson, no parsing of frames that are not counted): this client shares
# the machine's cores with the server it measures.
async def receive(ws: ClientConnection, results: list[Round]) -> None:
    with suppress(asyncio.CancelledError, ConnectionClosed):
        async for raw in ws:
            if '"t:' not in raw:  # only the load's own messages are timed
                continue
            frame = orjson.loads(raw)
            text = frame.get("text", "") if frame.get("type", "message") == "message" else ""
            if text.startswith("t:") and frame.get("sender", {}).get("kind", "trader") == "trader":
                _, phase, sent_at = text.split(":", 2)
                result = results[int(phase)]
                result.delivered += 1
                result.latencies_ms.append((time.perf_counter() - float(sent_at)) * 1000)


async def count_acks(ws: ClientConnection, results: list[Round]) -> None:
    with suppress(asyncio.CancelledError, ConnectionClosed):
        async for raw in ws:
            if '"ack"' not in raw[:16]:  # '{"type":"ack"', with or without spaces
                continue
            frame = orjson.loads(raw)
            results[int(str(frame["client_id"]).split("-")[1])].acked += 1


async def drive(senders: list[Any], receivers: list[ClientConnection], rate: int,
                duration: float, result: Round, frame_of: Any, server_pid: int) -> None:  # fmt: skip
    """Open loop: ``rate`` messages a second spread over the senders, for ``duration`` s."""
    await drive_phases(senders, receivers, [(result, rate, duration)], frame_of, server_pid)


async def drive_phases(senders: list[Any], receivers: list[ClientConnection],
                       phases: list[tuple[Round, int, float]], frame_of: Any,
                       server_pid: int) -> None:  # fmt: skip
    """Open loop, phase after phase without a pause: ``rate`` messages a second for
    ``seconds``, each message counted (sent, delivered, latency) in its phase's Round, and
    the CPU time the server and this client spent during it (the last phase's includes the
    drain after it)."""
    results = [phase[0] for phase in phases]

    readers = [asyncio.create_task(receive(ws, results)) for ws in receivers]
    readers += [asyncio.create_task(count_acks(s[0], results)) for s in senders
                if isinstance(s, tuple)]  # fmt: skip
    n = 0
    marks: list[tuple[float, float]] = []
    for index, (result, rate, seconds) in enumerate(phases):
        marks.append((cpu_seconds(server_pid), time.process_time()))
        interval = 1.0 / rate
        start = time.perf_counter()
        sent = 0
        while (now := time.perf_counter()) - start < seconds:
            due = start + sent * interval
            if due > now:
                await asyncio.sleep(due - now)
            sender = senders[n % len(senders)]
            ws, frame = frame_of(sender, n, f"t:{index}:{time.perf_counter()!r}", index)
            result.sent += 1
            sent += 1
            n += 1
            with suppress(ConnectionClosed):  # counted as sent and not delivered
                await ws.send(orjson.dumps(frame).decode())
    await asyncio.sleep(2.0)  # let the last messages arrive
    marks.append((cpu_seconds(server_pid), time.process_time()))
    for result, (server_at, client_at), (server_next, client_next) in zip(
        results, marks, marks[1:], strict=False
    ):
        result.server_cpu_s = server_next - server_at
        result.client_cpu_s = client_next - client_at
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


async def bare_round(server: Server, pairs: int, rate: int, duration: float) -> Round:
    ws_url = server.url.replace("http", "ws")
    a_side = [
        await connect(f"{ws_url}/ws/{n}/a", max_queue=None, ping_interval=None)
        for n in range(pairs)
    ]
    b_side = [
        await connect(f"{ws_url}/ws/{n}/b", max_queue=None, ping_interval=None)
        for n in range(pairs)
    ]
    result = Round("bare relay", rate)
    await drive(a_side, b_side, rate, duration, result,
                lambda ws, n, text, phase: (ws, {"text": text}), server.pid)  # fmt: skip
    result.acked = result.sent  # the bare relay stores nothing and acknowledges nothing
    for ws in a_side + b_side:
        await ws.close()
    return result


RUN = uuid.uuid4().hex[:6]  # client ids unique across runs, without a uuid per message
_messages = itertools.count()  # and across rounds (``n`` starts again at 0 in each)


def hashdesk_frame(sender: Any, n: int, text: str, phase: int) -> tuple[Any, dict[str, Any]]:
    return sender[0], {"type": "message", "chat": sender[1], "text": text,
                       "client_id": f"m{RUN}-{phase}-{next(_messages)}"}  # fmt: skip


async def hashdesk_round(agents: list[ClientConnection], traders: list[Any], rate: int,
                         duration: float, server: Server) -> Round:  # fmt: skip
    result = Round("hashdesk", rate)
    await drive(traders, agents, rate, duration, result, hashdesk_frame, server.pid)
    return result


async def spike_rounds(agents: list[ClientConnection], traders: list[Any], base: int,
                       baseline_seconds: float, spike_seconds: float,
                       server: Server) -> list[Round]:  # fmt: skip
    """The baseline rate, then five times it, then the baseline again, back to back."""
    phases = [(Round("baseline", base), base, baseline_seconds),
              (Round("spike 5x", base * 5), base * 5, spike_seconds),
              (Round("after", base), base, baseline_seconds)]  # fmt: skip
    await drive_phases(traders, agents, phases, hashdesk_frame, server.pid)
    return [phase[0] for phase in phases]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rates = [int(r) for r in args.rates.split(",")]
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        database_url = args.database_url or f"sqlite:///{workdir / 'hashdesk.sqlite3'}"
        env = node_env(database_url, args.redis_url)
        subprocess.run([str(VENV_BIN / "hashdesk"), "migrate"], env=env, cwd=workdir, check=True,
                       capture_output=True)  # fmt: skip
        emails = make_agents(database_url, args.agents)
        port = free_port()
        bare_port = free_port()
        bare_cmd = [str(VENV_BIN / "uvicorn"), "bench.chat_bare_relay:app", "--port", str(bare_port),
                    "--log-level", "warning", "--ws-per-message-deflate", "false"]  # fmt: skip
        node_cmd = [str(VENV_BIN / "hashdesk"), "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--workers", str(args.workers)]  # fmt: skip
        bare_env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        with process(node_cmd, env, workdir, port) as node, \
                process(bare_cmd, bare_env, workdir, bare_port) as bare:  # fmt: skip
            agents, traders = await hashdesk_pairs(node.url, emails, args.chats)
            await accept_all(agents, args.chats)
            await all_active(database_url, [chat for _, chat in traders])
            if args.spike:
                for result in await spike_rounds(agents, traders, args.spike, args.duration,
                                                 args.spike_seconds, node):  # fmt: skip
                    seconds = args.spike_seconds if result.target == "spike 5x" else args.duration
                    rounds.append(result.summary(seconds))
                    print(json.dumps(rounds[-1]), flush=True)
                rates = []
            for rate in rates:
                relay = await bare_round(bare, args.chats, rate, args.duration)
                rounds.append(relay.summary(args.duration))
                print(json.dumps(rounds[-1]), flush=True)
                ours = await hashdesk_round(agents, traders, rate, args.duration, node)
                rounds.append(ours.summary(args.duration))
                print(json.dumps(rounds[-1]), flush=True)
            for ws in agents + [t[0] for t in traders]:
                await ws.close()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.node(),
            "cpus": os.cpu_count(), "args": vars(args), "rounds": rounds}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--agents", type=int, default=5, help="each takes up to 20 chats")
    parser.add_argument("--rates", default="100,300", help="messages per second, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--spike", type=int, default=0, metavar="BASE",
                        help="instead of --rates: BASE msg/s for --duration, 5 x BASE for "
                        "--spike-seconds, BASE again for --duration")  # fmt: skip
    parser.add_argument("--spike-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1, help="hashdesk serve --workers")
    parser.add_argument("--client-loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.chats > args.agents * 20:
        parser.error("--chats must be at most 20 x --agents")
    # uvloop: the cheaper loop for this client, which shares the cores with the servers.
    report = (
        uvloop.run(main_async(args))
        if args.client_loop == "uvloop"
        else asyncio.run(main_async(args))
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
