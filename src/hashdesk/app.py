"""The ASGI application factory. Domains are found by convention: each domain's
``routes.py`` and ``pages.py`` expose a ``router``."""

from __future__ import annotations

import gc
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from hashdesk import __version__
from hashdesk.chains.tracer import TraceScopeMiddleware
from hashdesk.chat.origins import WidgetOriginsMiddleware
from hashdesk.config import Settings, get_settings
from hashdesk.runtime import Runtime
from hashdesk.web import problems
from hashdesk.web.locale import LocaleMiddleware

DOMAINS = (
    "web",
    "accounts",
    "tickets",
    "notify",
    "helpcenter",
    "assistant",
    "assets",
    "futures",
    "reserves",
    "chains",
    "chat",
)
ROUTER_MODULES = ("routes", "pages", "health", "stream")
STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"


def _routers() -> list[APIRouter]:
    found = []
    for domain in DOMAINS:
        for module_name in ROUTER_MODULES:
            try:
                module = importlib.import_module(f"hashdesk.{domain}.{module_name}")
            except ModuleNotFoundError as error:
                if error.name != f"hashdesk.{domain}.{module_name}":
                    raise
                continue
            found.append(module.router)
    return found


def _freeze_start_up_heap() -> None:
    """Everything loaded at start-up (modules, mappers, templates) lives as long as the
    process: frozen, the collector's full passes skip it. Scanning it stalled the event loop
    for 100-200 ms under chat load (bench/RESULTS.md, "Live chat load"). Once per process: an
    app started again in the same process (the tests) must not pin what ran before it."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        _freeze_start_up_heap()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="HashDesk",
        version=__version__,
        description="Support desk for cryptocurrency exchanges. Errors are application/problem+json.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Innermost, so that it sees the session and the locale: the assistant's deposit check
    # traces for the signed-in trader, in their language.
    app.add_middleware(TraceScopeMiddleware)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="hashdesk_session",
        same_site="lax",
        https_only=settings.cookie_secure,
        max_age=12 * 3600,
    )
    # Outermost: another site's widget request is answered (preflight) or refused before
    # anything else runs.
    app.add_middleware(WidgetOriginsMiddleware)
    problems.install(app)
    for router in _routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
