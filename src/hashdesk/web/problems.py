"""The one place that turns errors into HTTP: problem+json (RFC 9457) for the API, a page
for browsers. A request never answers 500 for bad input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis import RedisError
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hashdesk.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from hashdesk.core.i18n import gettext_for
from hashdesk.web.pages import render_error_page

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    code: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"type": f"about:blank#{code}", "title": title, "status": status, "detail": detail,
            "code": code, "instance": request.url.path, **(extra or {})}  # fmt: skip
    if _wants_html(request):
        return render_error_page(request, status, title, detail, headers)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _locale(request: Request) -> str:
    return str(getattr(request.state, "locale", "en"))


async def domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    translations = gettext_for(_locale(request))
    detail = error.render(translations.gettext)
    extra: dict[str, Any] = {}
    if error.field:
        extra["errors"] = [{"field": error.field, "message": detail}]
    headers = (
        {"Retry-After": str(error.params["retry_after"])} if "retry_after" in error.params else None
    )
    title = translations.gettext(error.title)
    return problem_response(request, error.status, title, detail, error.code, extra, headers)


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [
        str(part) for part in location if part not in ("body", "query", "path", "header", "form")
    ]
    return ".".join(parts) or "body"


async def validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            "field": _field_name(tuple(item.get("loc", ()))),
            "message": str(item.get("msg", "invalid")),
        }
        for item in error.errors()
    ]
    # pydantic's own messages are English; the title is ours and translated.
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors[:5])
    title = gettext_for(_locale(request)).gettext(InvalidInput.title)
    return problem_response(request, 422, title, detail, InvalidInput.code, {"errors": errors})


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == NotFound.status:  # an unknown address: say so in the reader's language
        title = gettext_for(_locale(request)).gettext(NotFound.title)
        return problem_response(request, NotFound.status, title, title, NotFound.code)
    code = {405: "method_not_allowed", 401: "not_authenticated"}.get(
        error.status_code, "http_error"
    )
    return problem_response(request, error.status_code, str(error.detail), str(error.detail), code,
                            headers=dict(error.headers or {}))  # fmt: skip


async def write_conflict(request: Request, error: Exception) -> Response:
    """Two writes raced for something unique (a tracking ID, an idempotency key): the
    transaction was rolled back whole, so the client can simply try again."""
    log.warning("write conflict on %s: %s", request.url.path, error)
    return await domain_error(
        request, Conflict("A simultaneous change got there first; nothing was saved. Try again.")
    )


async def redis_down(request: Request, error: Exception) -> Response:
    log.error("redis unavailable: %s", error)
    return await domain_error(
        request, ServiceUnavailable("A shared service is unavailable; try again shortly.")
    )


async def database_down(request: Request, error: Exception) -> Response:
    log.error("database unavailable: %s", error)
    return await domain_error(
        request, ServiceUnavailable("The database is unavailable; try again shortly.")
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(IntegrityError, write_conflict)
    app.add_exception_handler(RedisError, redis_down)
