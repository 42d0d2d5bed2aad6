"""FastAPI dependencies, as ``Annotated`` aliases so a route's signature says what it needs.

Sign-in comes from the session cookie (agents, traders, guests) or, for the API, from an
``Authorization: Bearer`` token the exchange issued. Cookie-authenticated writes must carry
the CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any
from weakref import WeakKeyDictionary

from anyio import CancelScope, Semaphore, to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import (
    agent_principal,
    get_trader_by_external_id,
    trader_principal,
)
from hashdesk.config import Settings
from hashdesk.core.auth import Principal, PrincipalKind, decode_exchange_token
from hashdesk.core.db import Database
from hashdesk.core.errors import InvalidInput, NotAuthenticated, PermissionDenied
from hashdesk.core.events import EventBus
from hashdesk.core.ratelimit import RateLimiter
from hashdesk.runtime import Runtime
from hashdesk.tickets.attachments import MAX_FILES_PER_MESSAGE
from hashdesk.tickets.models import Ticket

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# One semaphore per event loop and database (tests run several apps and loops in one process).
_session_slots: RunVar[WeakKeyDictionary[Database, Semaphore]] = RunVar("hashdesk_session_slots")


def _slots(database: Database) -> Semaphore:
    slots = _session_slots.get(None)
    if slots is None:
        slots = WeakKeyDictionary()
        _session_slots.set(slots)
    if database not in slots:
        slots[database] = Semaphore(database.max_sessions)
    return slots[database]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; committed when the handler returns, rolled back on error.

    The session waits for a free slot on the event loop, not in a worker thread: FastAPI
    validates a sync route's response in the thread pool *before* it closes the session, and
    without this gate every thread could end up waiting for a pooled connection (or SQLite's
    write lock) held by a request that is waiting for a thread, a deadlock that ends only at
    the 30 s timeout (measured, see bench/RESULTS.md). Creating a session does no I/O, so it
    happens here on the loop; commit and close share one trip to the thread pool.
    """
    database = get_runtime(request).database
    async with _slots(database):
        session = database.session()
        succeeded = False
        try:
            yield session
            succeeded = True
        finally:
            # Shielded: a client that hangs up mid-request must still release its connection.
            with CancelScope(shield=True):
                await to_thread.run_sync(_finish, session, succeeded)


def _finish(session: Session, succeeded: bool) -> None:
    try:
        if succeeded:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings_dep(request: Request) -> Settings:
    return get_runtime(request).settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_bus(request: Request) -> EventBus:
    return get_runtime(request).bus


BusDep = Annotated[EventBus, Depends(get_bus)]


def get_rate_limiter(request: Request) -> RateLimiter:
    return get_runtime(request).rate_limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def read_form(request: Request) -> FormData:
    """The request's form, parsed once (Starlette keeps it) whoever asks first.

    The parser stops at the first file past one more than a message may carry: enough for
    the upload check to refuse the message by name, without first spooling up to Starlette's
    default of a thousand files to disk.
    """
    try:
        return await request.form(max_files=MAX_FILES_PER_MESSAGE + 1)
    except HTTPException as error:
        if error.status_code == 400 and str(error.detail).startswith("Too many files"):
            raise InvalidInput(
                "At most {maximum} files per message.", field="files",
                maximum=MAX_FILES_PER_MESSAGE,
            ) from error  # fmt: skip
        raise


async def _check_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await read_form(request)
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    expected = request.session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise PermissionDenied("The form or request is missing its CSRF token; reload the page.")


async def require_csrf(request: Request) -> None:
    """For forms that work before anyone signs in (sign-in, guest forms): login CSRF."""
    await _check_csrf(request)


CsrfChecked = Depends(require_csrf)


def _principal_from_bearer(session: Session, runtime: Runtime, token: str) -> Principal:
    settings = runtime.settings
    claims = decode_exchange_token(token, settings.exchange_jwt_key, settings.exchange_jwt_issuer)
    trader = get_trader_by_external_id(session, str(claims["sub"]))
    if trader is None:
        raise NotAuthenticated(
            "This trader is not known yet; the exchange must push the profile first."
        )
    _keep_loaded(session, trader)
    return trader_principal(trader)


def _keep_loaded(session: Session, row: Agent | Trader) -> None:
    """Hold the signed-in row for the request: the identity map keeps rows only weakly, so
    without this a later ``session.get`` of the same trader queries again (one more SELECT
    per ticket create, measured)."""
    session.info["signed_in_row"] = row


def _principal_from_cookie(session: Session, data: dict[str, Any]) -> Principal | None:
    kind, identifier = data.get("kind"), data.get("id")
    if kind == PrincipalKind.AGENT and isinstance(identifier, int):
        agent = session.get(Agent, identifier)
        if agent is None or not agent.active:
            return None
        _keep_loaded(session, agent)
        return agent_principal(agent)
    if kind == PrincipalKind.TRADER and isinstance(identifier, int):
        trader = session.get(Trader, identifier)
        if trader is None:
            return None
        _keep_loaded(session, trader)
        return trader_principal(trader)
    if kind == PrincipalKind.GUEST and isinstance(data.get("ticket_id"), int):
        return Principal(kind=PrincipalKind.GUEST, id=0, name=str(data.get("email", "guest")),
                         ticket_id=int(data["ticket_id"]), locale=str(data.get("locale", "en")))  # fmt: skip
    return None


def _bearer_token(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else None


def _signed_in(request: Request, session: DbSession) -> Principal | None:
    """Who the token or cookie names. A plain ``def`` on purpose: FastAPI runs it in the
    thread pool, so its blocking queries never stall the event loop (an ``async def`` here
    froze every request behind each lookup, and deadlocked on the connection pool under load,
    see bench/RESULTS.md)."""
    token = _bearer_token(request)
    if token is not None:
        return _principal_from_bearer(session, get_runtime(request), token)
    return _principal_from_cookie(session, dict(request.session.get("who") or {}))


async def optional_principal(
    request: Request, principal: Annotated[Principal | None, Depends(_signed_in)]
) -> Principal | None:
    # Bearer requests carry no ambient credential, so only cookie sign-ins need CSRF.
    if principal is not None and _bearer_token(request) is None:
        await _check_csrf(request)
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise NotAuthenticated("Sign in first.")
    return principal


async def current_agent(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_agent:
        raise PermissionDenied("This needs a staff sign-in.")
    return principal


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentAgent = Annotated[Principal, Depends(current_agent)]


def sign_in(request: Request, who: dict[str, Any]) -> str:
    """Start a fresh session (new CSRF token: no fixation) and return the token."""
    request.session.clear()
    request.session["who"] = who
    return csrf_token(request)


def sign_in_guest(request: Request, ticket: Ticket) -> str:
    """Admit a guest, who proved the code mailed for ``ticket``, to that one ticket."""
    return sign_in(request, {"kind": "guest", "ticket_id": ticket.id, "email": ticket.guest_email,
                             "locale": ticket.language})  # fmt: skip


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
