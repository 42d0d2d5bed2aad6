"""Page helpers shared by every domain's ``pages.py``, and the site's own pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hashdesk.core.auth import Principal
from hashdesk.core.i18n import text_direction
from hashdesk.web.deps import MaybePrincipal, csrf_token
from hashdesk.web.locale import LOCALE_COOKIE
from hashdesk.web.templating import html_environment, render

router = APIRouter(include_in_schema=False)


def page_locale(request: Request, principal: Principal | None) -> str:
    """The trader's own language wins unless this browser chose one explicitly."""
    chosen = str(getattr(request.state, "locale", "en"))
    explicit = bool(getattr(request.state, "locale_explicit", False))
    if principal is not None and not principal.is_agent and not explicit and principal.locale:
        return principal.locale
    return chosen


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    locale = page_locale(request, principal)
    values = {
        "request": request,
        "principal": principal,
        "csrf_token": csrf_token(request),
        "settings": request.app.state.runtime.settings,
        **(context or {}),
    }
    html = render(html_environment(), template, locale, values)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    if "lang" in request.query_params and getattr(request.state, "locale_explicit", False):
        response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    response.headers["Content-Language"] = locale
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'"
    )
    return response


def render_error_page(
    request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    return render_page(request, "web/error.html", {"title": title, "detail": detail,
                                                   "status": status},
                       status_code=status, headers=headers)  # fmt: skip


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: MaybePrincipal) -> Response:
    if principal is not None and principal.is_agent:
        return redirect("/console")
    return render_page(request, "web/home.html", principal=principal)


__all__ = ["redirect", "render_error_page", "render_page", "router", "text_direction"]
