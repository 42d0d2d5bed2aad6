"""What a running HashDesk process holds: settings, database, event bus, rate limiter and the
outbox worker. Built once by the app factory (or a test) and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hashdesk.config import Settings
from hashdesk.core.cache import ConfigCache
from hashdesk.core.db import Database
from hashdesk.core.events import EventBus, make_bus
from hashdesk.core.ratelimit import RateLimiter, make_rate_limiter
from hashdesk.notify.jobs import OutboxWorker

if TYPE_CHECKING:
    from hashdesk.chains.monitor import Monitor


@dataclass
class Runtime:
    settings: Settings
    database: Database = field(init=False)
    bus: EventBus = field(init=False)
    rate_limiter: RateLimiter = field(init=False)
    outbox: OutboxWorker = field(init=False)
    config_cache: ConfigCache = field(init=False)
    chain_monitor: Monitor | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.bus = make_bus(self.settings.redis_url, self.settings.redis_prefix)
        self.rate_limiter = make_rate_limiter(self.settings.redis_url, self.settings.redis_prefix)
        self.config_cache = ConfigCache()
        self.database = Database(
            self.settings.database_url,
            session_info={
                "bus": self.bus,
                "settings": self.settings,
                "config_cache": self.config_cache,
            },
        )
        self.outbox = OutboxWorker(self.database, self.settings)
        self.database.set_session_info("wake_outbox", self.outbox.wake)

    def start(self) -> None:
        if self.settings.run_outbox_worker:
            self.outbox.start()
        if self.settings.run_chain_monitor:  # one process leads; see core/leader.py
            from hashdesk.chains.monitor import Monitor

            self.chain_monitor = Monitor(self.database, self.settings)
            self.chain_monitor.start()

    def stop(self) -> None:
        if self.settings.run_outbox_worker:
            self.outbox.stop()
        if self.chain_monitor is not None:
            self.chain_monitor.stop()
        self.bus.close()
        self.database.dispose()
