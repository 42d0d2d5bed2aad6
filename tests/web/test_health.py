"""``/healthz`` tells a load balancer whether this node can serve: database, and Redis when
configured; and an operator how far its help-center search is."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk import __version__
from hashdesk.app import create_app
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM
from hashdesk.helpcenter.actions import check_create_article
from hashdesk.helpcenter.models import ArticleStatus
from hashdesk.helpcenter.schemas import ArticleCreate
from hashdesk.helpcenter.search.live import live_index
from hashdesk.runtime import Runtime
from tests.conftest import free_port


def test_a_healthy_node_says_ok(client: TestClient, settings: Settings) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["version"], body["checks"]["database"]) == (
        "ok",
        __version__,
        "ok",
    )
    assert ("redis" in body["checks"]) == (settings.redis_url is not None)


def test_redis_is_checked_when_configured(settings: Settings, redis_available: str) -> None:
    with_redis = settings.model_copy(update={"redis_url": redis_available})
    with TestClient(create_app(with_redis, Runtime(with_redis))) as client:
        assert client.get("/healthz").json()["checks"] == {"database": "ok", "redis": "ok"}


def test_a_node_that_lost_redis_or_its_database_reports_503(settings: Settings) -> None:
    broken = settings.model_copy(update={
        "redis_url": f"redis://127.0.0.1:{free_port()}/0",
        "database_url": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
    })  # fmt: skip
    with TestClient(create_app(broken, Runtime(broken))) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"].startswith("error")
    assert body["checks"]["redis"] == "error: unreachable"


def test_the_search_shows_once_built_with_the_pages_still_waiting_for_vectors(
    client: TestClient, runtime: Runtime, session: Session
) -> None:
    data = ArticleCreate(title="Deposit not arrived", body="Check the network and the memo.",
                         section="funds/deposits", locale="en", status=ArticleStatus.PUBLISHED)  # fmt: skip
    check_create_article(session, SYSTEM, data)
    session.commit()
    assert "search" not in client.get("/healthz").json()  # no search yet: nothing built
    assert client.get("/api/v1/helpcenter/search", params={"q": "deposit"}).status_code == 200

    assert client.get("/healthz").json()["search"]["pages"] == 1
    assert live_index(runtime).wait_idle(30.0)
    assert client.get("/healthz").json()["search"] == {"pages": 1, "pages_without_vectors": 0}
