"""Sign-in pages: traders (the exchange's token, or the demo picker) and agents (password).

Sign-in forms check the CSRF token too, although nobody is signed in yet, so another site
cannot sign a browser into an account of its choosing (login CSRF).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from hashdesk.accounts import actions
from hashdesk.accounts.queries import get_trader, list_traders_for_picker
from hashdesk.core.errors import DomainError, NotFound
from hashdesk.core.i18n import gettext_for
from hashdesk.core.ratelimit import LOGIN_BY_ADDRESS, LOGIN_BY_EMAIL, TRADER_TOKEN, hit_limit
from hashdesk.web.deps import (
    CsrfChecked,
    DbSession,
    MaybePrincipal,
    RateLimiterDep,
    SettingsDep,
    client_address,
    sign_in,
)
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=256)]


def _safe_next(url: str, default: str) -> str:
    """Only paths on this site, so a crafted link cannot send a fresh sign-in elsewhere."""
    if url.startswith("/") and not url.startswith(("//", "/\\")):
        return url
    return default


# --- traders ------------------------------------------------------------------------------------


@router.get("/portal/sign-in", response_class=HTMLResponse)
def trader_sign_in(
    request: Request, session: DbSession, principal: MaybePrincipal, settings: SettingsDep
) -> Response:
    traders = list_traders_for_picker(session) if settings.demo_mode else []
    return render_page(request, "accounts/sign_in.html", {"traders": traders}, principal=principal)


@router.post("/portal/sign-in/demo", response_class=HTMLResponse, dependencies=[CsrfChecked])
def demo_sign_in(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    trader_id: Annotated[int, Form()],
) -> Response:
    """The demo's picker: sign in as any demo trader. Absent unless demo mode is on."""
    if not settings.demo_mode:
        raise NotFound("No such page.")
    trader = get_trader(session, trader_id)
    sign_in(request, {"kind": "trader", "id": trader.id})
    return redirect("/portal")


@router.get("/auth/exchange", response_class=HTMLResponse)
def exchange_sign_in(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    token: Annotated[str, Query(min_length=1, max_length=8192)],
) -> Response:
    """Where the exchange sends a trader: ``/auth/exchange?token=<JWT it signed>``."""
    hit_limit(limiter, TRADER_TOKEN, client_address(request))
    trader = actions.check_trader_token(
        session, token, settings.exchange_jwt_key, settings.exchange_jwt_issuer
    )
    sign_in(request, {"kind": "trader", "id": trader.id})
    return redirect("/portal")


@router.post("/portal/sign-out", response_class=HTMLResponse)
def trader_sign_out(request: Request, principal: MaybePrincipal) -> Response:
    request.session.clear()
    return redirect("/")


# --- agents -------------------------------------------------------------------------------------


@router.get("/console/login", response_class=HTMLResponse)
def agent_login_page(request: Request, principal: MaybePrincipal, next: str = "") -> Response:
    if principal is not None and principal.is_agent:
        return redirect(_safe_next(next, "/console"))
    return render_page(
        request,
        "accounts/console_login.html",
        {"next": _safe_next(next, ""), "email": "", "error": None},
        principal=principal,
    )


@router.post("/console/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def agent_login(
    request: Request,
    session: DbSession,
    principal: MaybePrincipal,
    limiter: RateLimiterDep,
    email: FormText = "",
    password: Password = "",
    next: FormText = "",
) -> Response:
    try:
        hit_limit(limiter, LOGIN_BY_ADDRESS, client_address(request))
        hit_limit(limiter, LOGIN_BY_EMAIL, email.strip().lower())
        agent = actions.check_agent_login(session, email.strip(), password)
    except DomainError as error:
        gettext = gettext_for(page_locale(request, principal)).gettext
        context = {"next": _safe_next(next, ""), "email": email, "error": error.render(gettext)}
        return render_page(
            request,
            "accounts/console_login.html",
            context,
            principal=principal,
            status_code=error.status,
        )
    sign_in(request, {"kind": "agent", "id": agent.id})
    return redirect(_safe_next(next, "/console"))


@router.post("/console/logout", response_class=HTMLResponse)
def agent_logout(request: Request, principal: MaybePrincipal) -> Response:
    request.session.clear()
    return redirect("/console/login")
