"""Agent presence: status (online, away, offline), capacity and skills, seen by every node.

Two backends behind one small interface, like the event bus: ``MemoryPresence`` for one
process (the SQLite default) and ``RedisPresence`` when ``HASHDESK_REDIS_URL`` is set. An
entry lives ``PRESENCE_TTL_SECONDS`` unless refreshed: an open agent socket refreshes it every
``PRESENCE_REFRESH_SECONDS``, so the agents of a node that dies go offline by themselves.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import redis

PRESENCE_TTL_SECONDS = 60
PRESENCE_REFRESH_SECONDS = 20.0
STATUSES = ("online", "away", "offline")


@dataclass(frozen=True)
class AgentPresence:
    agent_id: int
    status: str
    capacity: int
    languages: list[str] = field(default_factory=list)
    department: str = "frontline"
    name: str = ""

    @property
    def online(self) -> bool:
        return self.status == "online"

    def speaks(self, language: str) -> bool:
        return language in self.languages or language.split("-")[0] in {
            spoken.split("-")[0] for spoken in self.languages
        }


class PresenceStore(Protocol):
    def put(self, presence: AgentPresence, ttl: int = PRESENCE_TTL_SECONDS) -> None: ...

    def get(self, agent_id: int) -> AgentPresence | None: ...

    def everyone(self) -> list[AgentPresence]:
        """Every agent with a live entry (any status)."""
        ...

    def remove(self, agent_id: int) -> None: ...


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, AgentPresence]] = {}

    def put(self, presence: AgentPresence, ttl: int = PRESENCE_TTL_SECONDS) -> None:
        with self._lock:
            self._entries[presence.agent_id] = (time.monotonic() + ttl, presence)

    def get(self, agent_id: int) -> AgentPresence | None:
        with self._lock:
            entry = self._entries.get(agent_id)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def everyone(self) -> list[AgentPresence]:
        now = time.monotonic()
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            return [presence for _, presence in self._entries.values()]

    def remove(self, agent_id: int) -> None:
        with self._lock:
            self._entries.pop(agent_id, None)


class RedisPresence:
    """One key per agent (with its TTL) and a set naming the agents who have one."""

    def __init__(self, url: str, prefix: str = "hashdesk:") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)
        self._key = f"{prefix}chat:presence"

    def put(self, presence: AgentPresence, ttl: int = PRESENCE_TTL_SECONDS) -> None:
        pipe = self._client.pipeline()
        pipe.set(f"{self._key}:{presence.agent_id}", json.dumps(asdict(presence)), ex=ttl)
        pipe.sadd(self._key, presence.agent_id)
        pipe.execute()

    def get(self, agent_id: int) -> AgentPresence | None:
        raw = self._client.get(f"{self._key}:{agent_id}")
        return AgentPresence(**json.loads(str(raw))) if raw else None

    def everyone(self) -> list[AgentPresence]:
        members = sorted(int(member) for member in self._client.smembers(self._key))
        if not members:
            return []
        values = self._client.mget([f"{self._key}:{member}" for member in members])
        expired = [member for member, value in zip(members, values, strict=True) if not value]
        if expired:
            self._client.srem(self._key, *expired)
        return [AgentPresence(**json.loads(str(value))) for value in values if value]

    def remove(self, agent_id: int) -> None:
        pipe = self._client.pipeline()
        pipe.delete(f"{self._key}:{agent_id}")
        pipe.srem(self._key, agent_id)
        pipe.execute()


def make_presence(redis_url: str | None, prefix: str = "hashdesk:") -> PresenceStore:
    return RedisPresence(redis_url, prefix) if redis_url else MemoryPresence()
