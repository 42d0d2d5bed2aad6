"""Pick the request's UI locale: ``?lang=`` (remembered in a cookie), then the cookie, then
Accept-Language. Pages of a signed-in trader prefer the trader's own setting."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from hashdesk.core.i18n import match_locale, negotiate_locale

LOCALE_COOKIE = "hd_locale"


class LocaleMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookie = SimpleCookie(headers.get("cookie", ""))
        chosen = match_locale(_query_lang(scope.get("query_string", b"")))
        remembered = cookie[LOCALE_COOKIE].value if LOCALE_COOKIE in cookie else None
        locale = chosen or negotiate_locale(remembered, headers.get("accept-language"))
        scope.setdefault("state", {})["locale"] = locale
        scope["state"]["locale_explicit"] = bool(chosen or match_locale(remembered))
        await self.app(scope, receive, send)


def _query_lang(query: bytes) -> str | None:
    for part in query.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "lang":
            return value
    return None
