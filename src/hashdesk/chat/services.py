"""What the chat domain keeps per running process: the presence store (Redis when configured,
else memory) next to the runtime's database, bus and rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from hashdesk.chat.presence import PresenceStore, make_presence
from hashdesk.core.per_runtime import PerRuntime
from hashdesk.core.ratelimit import Limit
from hashdesk.runtime import Runtime

# Per client address, shared by every node through the runtime's rate limiter.
CONNECT_BY_ADDRESS = Limit("chat-connect", 60, 60)
MESSAGE_BY_ADDRESS = Limit("chat-message", 120, 60)
START_BY_ADDRESS = Limit("chat-start", 10, 600)


@dataclass
class ChatServices:
    presence: PresenceStore


def _make(runtime: Runtime) -> ChatServices:
    settings = runtime.settings
    return ChatServices(presence=make_presence(settings.redis_url, settings.redis_prefix))


def _stop(_services: ChatServices) -> None:
    """Nothing to close: the Redis client's connections go with the garbage collector."""


_services: PerRuntime[ChatServices] = PerRuntime(_make, _stop)


def services_for(runtime: Runtime) -> ChatServices:
    return _services.get(runtime)
