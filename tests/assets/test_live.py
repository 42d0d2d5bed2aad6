"""Every process's lookup index follows the registry: its own writes at once, another
node's through the event bus (Redis), and, without a shared bus, by checking the tables."""

from __future__ import annotations

import time

from hashdesk.assets.actions import check_set_network_status
from hashdesk.assets.live import live_registry
from hashdesk.assets.models import NetworkStatus
from hashdesk.assets.schemas import NetworkStatusChange
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.db import Database
from hashdesk.runtime import Runtime


def _status(runtime: Runtime, slug: str) -> str:
    hit = live_registry(runtime).index().lookup(slug).hits[0]
    assert hit.network is not None
    return hit.network.status


def _set_maintenance(database: Database, slug: str) -> None:
    with database.transaction() as session:
        change = NetworkStatusChange(status=NetworkStatus.MAINTENANCE, reason="upgrade")
        check_set_network_status(session, SYSTEM, slug, change)


def _wait_for(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_write_in_this_process_is_seen_by_the_next_lookup(registry: Runtime) -> None:
    assert _status(registry, "tron") == "active"
    _set_maintenance(registry.database, "tron")
    assert _status(registry, "tron") == "maintenance"


def test_another_node_hears_of_the_change_through_redis(registry: Runtime, redis_available: str,
                                                        settings: Settings) -> None:  # fmt: skip
    on_redis = settings.model_copy(update={"redis_url": redis_available,
                                           "redis_prefix": "hashdesk-test-assets:"})  # fmt: skip
    node_a, node_b = Runtime(on_redis), Runtime(on_redis)
    try:
        assert _status(node_a, "bitcoin") == "active" and _status(node_b, "bitcoin") == "active"
        _set_maintenance(node_a.database, "bitcoin")
        assert _status(node_a, "bitcoin") == "maintenance"
        assert _wait_for(lambda: live_registry(node_b)._index is not None
                         and _status(node_b, "bitcoin") == "maintenance")  # fmt: skip
    finally:
        live_registry(node_a).stop()
        live_registry(node_b).stop()
        node_a.database.dispose()
        node_b.database.dispose()


def test_a_change_from_a_process_sharing_no_bus_is_found_by_the_table_check(
    registry: Runtime,
) -> None:
    live = live_registry(registry)
    assert _status(registry, "ethereum") == "active"
    assert live.wait_listening(5.0)  # its first check is done: the one below is the test's
    elsewhere = Database(
        registry.settings.database_url
    )  # as `hashdesk assets import` without Redis
    try:
        _set_maintenance(elsewhere, "ethereum")
    finally:
        elsewhere.dispose()
    assert _status(registry, "ethereum") == "active"  # not told yet
    live._verify()
    assert _status(registry, "ethereum") == "maintenance"
