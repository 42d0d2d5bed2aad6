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
# A claim on an agent outlives a node that died while holding it by no more than this: far
# longer than a routing transaction, short enough that the agent is not lost for long.
CLAIM_TTL_SECONDS = 10.0
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
    # Skills kept in ``chat_agent_skills``; routing fills them in from the database.
    categories: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)

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

    def claim_agent(self, agent_id: int, token: str, ttl: float = CLAIM_TTL_SECONDS) -> bool:
        """Take the right to route chats to ``agent_id`` for ``token`` (one routing
        transaction), atomically across nodes; True also when ``token`` holds it already.
        The holder counts the agent's chats and offers one only while it holds the claim, and
        releases it once its transaction ended, so the next node counts that offer too."""
        ...

    def release_agent(self, agent_id: int, token: str) -> None:
        """Give the claim back, if ``token`` still holds it."""
        ...


class MemoryPresence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[float, AgentPresence]] = {}
        # agent id -> (token, until when); under the same lock, so two threads routing at
        # once cannot both claim one agent.
        self._claims: dict[int, tuple[str, float]] = {}

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

    def claim_agent(self, agent_id: int, token: str, ttl: float = CLAIM_TTL_SECONDS) -> bool:
        now = time.monotonic()
        with self._lock:
            holder = self._claims.get(agent_id)
            if holder is not None and holder[0] != token and holder[1] > now:
                return False
            self._claims[agent_id] = (token, now + ttl)
            return True

    def release_agent(self, agent_id: int, token: str) -> None:
        with self._lock:
            holder = self._claims.get(agent_id)
            if holder is not None and holder[0] == token:
                del self._claims[agent_id]


# KEYS[1]: the agent's claim; ARGV: token, ttl in ms. Free or already ours: (re)take it.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Delete the claim only if it is still ours (it may have expired and gone to another node).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisPresence:
    """One key per agent (with its TTL) and a set naming the agents who have one; seats in
    claims on agents are keys taken and given back by Lua scripts (one atomic step each)."""

    def __init__(self, url: str, prefix: str = "hashdesk:") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, decode_responses=True)
        self._key = f"{prefix}chat:presence"
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)

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

    def claim_agent(self, agent_id: int, token: str, ttl: float = CLAIM_TTL_SECONDS) -> bool:
        key = f"{self._key}:claim:{agent_id}"
        return bool(self._claim(keys=[key], args=[token, max(1, round(ttl * 1000))]))

    def release_agent(self, agent_id: int, token: str) -> None:
        self._release(keys=[f"{self._key}:claim:{agent_id}"], args=[token])


def make_presence(redis_url: str | None, prefix: str = "hashdesk:") -> PresenceStore:
    return RedisPresence(redis_url, prefix) if redis_url else MemoryPresence()
