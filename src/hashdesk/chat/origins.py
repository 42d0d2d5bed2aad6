"""Which sites may embed the chat widget: ``HASHDESK_CHAT_ALLOWED_ORIGINS``.

An exchange drops the widget's ``<script>`` tag on its own site, so the widget's requests
and its WebSocket come from that site's origin. Browsers send the ``Origin`` header with
them; HashDesk answers one of its own pages, or a site listed in the setting, and refuses
every other site with a clear error (default: this site only). Requests without ``Origin``
(a server, an exchange's own client, a plain ``<script>`` load) are not browsers acting for
another site and pass.

- HTTP (``WidgetOriginsMiddleware``): the widget's endpoints (``/api/v1/chat/...`` and the
  assistant's ``/api/v1/assistant/...``) answer preflights and carry CORS headers for the
  listed sites, with credentials; another site gets 403 ``origin_not_allowed``, also for
  requests that need no preflight, so it cannot make a change it could not read.
- WebSocket (``check_socket_origin``, at ``hello``): another site's socket gets the error
  frame ``permission_denied`` naming the origin (field ``origin``).

A listed site's requests need no CSRF token from the session cookie (which a browser keeps
from cross-site requests): the ``Origin`` check is what stops forged requests there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hashdesk.config import Settings
from hashdesk.core.errors import PermissionDenied
from hashdesk.core.i18n import N_, gettext_for, negotiate_locale

WIDGET_PATHS = ("/api/v1/chat/", "/api/v1/assistant/")
ALLOWED_HEADERS = (
    "Authorization, Content-Type, X-CSRF-Token, X-Chat-Email, X-Chat-Key, X-Assistant-Key"
)
ALLOWED_METHODS = "GET, POST"
PREFLIGHT_MAX_AGE = "600"
REFUSED = N_("This site ({origin}) may not use this support desk's chat widget: the desk's "
             "admin lists the sites that embed it in HASHDESK_CHAT_ALLOWED_ORIGINS.")  # fmt: skip


def normalize_origin(text: str) -> str:
    """``https://Exchange.example:443/`` -> ``https://exchange.example``; ValueError when
    ``text`` is not a scheme and a host (with an optional port), with nothing after."""
    text = text.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"{text!r} is not an origin like https://exchange.example")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


@lru_cache(maxsize=8)
def parse_origins(text: str) -> frozenset[str]:
    """The origins listed in ``text`` (separated by commas or spaces), normalized."""
    return frozenset(normalize_origin(part) for part in text.replace(",", " ").split())


def _same_site(origin: str, host: str, settings: Settings) -> bool:
    netloc = urlsplit(origin).netloc
    return netloc in (host, urlsplit(settings.public_url).netloc)


def origin_allowed(origin: str | None, host: str, settings: Settings) -> bool:
    """True for no ``Origin`` (not a browser acting for a site), this site, or a listed one."""
    if origin is None or _same_site(origin, host, settings):
        return True
    try:
        return normalize_origin(origin) in parse_origins(settings.chat_allowed_origins)
    except ValueError:  # "null" (a sandboxed frame, a file) or garbage: never listed
        return False


def cross_site_allowed(headers: Mapping[str, str], settings: Settings) -> bool:
    """The request comes from another site that the setting lists (so the ``Origin`` check
    stands in for the CSRF token that the session cookie cannot carry there)."""
    origin = headers.get("origin")
    host = headers.get("host", "")
    return (origin is not None and not _same_site(origin, host, settings)
            and origin_allowed(origin, host, settings))  # fmt: skip


def check_socket_origin(headers: Mapping[str, str], settings: Settings) -> None:
    origin = headers.get("origin")
    if not origin_allowed(origin, headers.get("host", ""), settings):
        raise PermissionDenied(REFUSED, field="origin", origin=origin)


class WidgetOriginsMiddleware:
    """CORS for the widget's HTTP endpoints (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(WIDGET_PATHS):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        settings: Settings = scope["app"].state.runtime.settings
        if origin is None or _same_site(origin, headers.get("host", ""), settings):
            await self.app(scope, receive, send)
            return
        if not origin_allowed(origin, headers.get("host", ""), settings):
            await _refuse(scope, headers, origin, send)
            return
        cors = _cors_headers(origin)
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if preflight:
            extra = [(b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                     (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                     (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode())]  # fmt: skip
            await send({"type": "http.response.start", "status": 204, "headers": cors + extra})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _merge(message.get("headers", []), cors)}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", b"Content-Disposition, Retry-After"),
            (b"vary", b"Origin")]  # fmt: skip


def _merge(
    headers: Iterable[tuple[bytes, bytes]], cors: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The response's headers with ``cors`` in place of any of the same name; ``Origin``
    joins a ``Vary`` the response already has (a page varying by language still does)."""
    names = {name for name, _ in cors}
    kept = [(name, value) for name, value in headers if name.lower() not in names]
    varies = [value for name, value in headers if name.lower() == b"vary"]
    vary = b", ".join([*varies, b"Origin"])
    return kept + [(name, vary if name == b"vary" else value) for name, value in cors]


async def _refuse(scope: Scope, headers: Headers, origin: str, send: Send) -> None:
    locale = negotiate_locale(None, headers.get("accept-language"))
    translate = gettext_for(locale).gettext
    body = {"type": "about:blank#origin_not_allowed", "title": translate("Not allowed"),
            "status": 403, "detail": translate(REFUSED).format(origin=origin),
            "code": "origin_not_allowed", "instance": scope["path"],
            "errors": [{"field": "origin", "message": translate(REFUSED).format(origin=origin)}]}  # fmt: skip
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"vary", b"Origin")]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})
