"""``/healthz``: is the database (and Redis, when configured) answering? It also tells how
far the node's help-center search is, which does not make it unhealthy: a node that has not
embedded its pages yet serves, by words alone (``hashdesk helpcenter embed`` before ``serve``
avoids that)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from hashdesk import __version__
from hashdesk.helpcenter.search.live import search_status
from hashdesk.runtime import Runtime
from hashdesk.web.deps import RuntimeDep

router = APIRouter(tags=["health"])


def _check(runtime: Runtime) -> dict[str, str]:
    checks = {}
    try:
        with runtime.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as error:
        checks["database"] = f"error: {type(error).__name__}"
    if runtime.settings.redis_url:
        checks["redis"] = "ok" if runtime.bus.ping() else "error: unreachable"
    return checks


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    checks = await run_in_threadpool(_check, runtime)
    healthy = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {
        "status": "ok" if healthy else "degraded",
        "version": __version__,
        "checks": checks,
    }
    if (search := await run_in_threadpool(search_status, runtime)) is not None:
        body["search"] = search
    return JSONResponse(body, status_code=200 if healthy else 503)
