"""Sign-in for agents and traders, and the exchange's signed connector API."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request

from hashdesk.accounts import actions
from hashdesk.accounts.models import TransferKind
from hashdesk.accounts.queries import list_agents
from hashdesk.accounts.schemas import (
    AgentCreate,
    AgentLogin,
    AgentPublic,
    DepositAddressesReplace,
    DepositAddressPublic,
    SessionInfo,
    TraderPublic,
    TraderTokenLogin,
    TraderUpsert,
    TransferPublic,
    TransferUpsert,
)
from hashdesk.config import Settings
from hashdesk.core.errors import InvalidInput, NotAuthenticated, PayloadTooLarge
from hashdesk.core.ratelimit import LOGIN_BY_ADDRESS, LOGIN_BY_EMAIL, TRADER_TOKEN, hit_limit
from hashdesk.core.signing import SIGNATURE_HEADER, request_message, verify
from hashdesk.web.deps import (
    CurrentAgent,
    CurrentPrincipal,
    DbSession,
    RateLimiterDep,
    SettingsDep,
    client_address,
    csrf_token,
    sign_in,
)
from hashdesk.web.forms import validate_body

router = APIRouter(prefix="/api/v1", tags=["accounts"])
MAX_CONNECTOR_BODY = 64 * 1024


@router.post("/auth/login", response_model=SessionInfo)
def agent_login(
    data: AgentLogin, request: Request, session: DbSession, limiter: RateLimiterDep
) -> SessionInfo:
    hit_limit(limiter, LOGIN_BY_ADDRESS, client_address(request))
    hit_limit(limiter, LOGIN_BY_EMAIL, data.email.strip().lower())
    agent = actions.check_agent_login(session, data.email, data.password)
    token = sign_in(request, {"kind": "agent", "id": agent.id})
    return SessionInfo(
        kind="agent", id=agent.id, name=agent.name, role=agent.role, csrf_token=token
    )


@router.post("/auth/trader-token", response_model=SessionInfo)
def trader_login(
    data: TraderTokenLogin, request: Request, session: DbSession, settings: SettingsDep,
    limiter: RateLimiterDep,
) -> SessionInfo:  # fmt: skip
    hit_limit(limiter, TRADER_TOKEN, client_address(request))
    trader = actions.check_trader_token(session, data.token, settings.exchange_jwt_key,
                                        settings.exchange_jwt_issuer)  # fmt: skip
    token = sign_in(request, {"kind": "trader", "id": trader.id})
    return SessionInfo(
        kind="trader", id=trader.id, name=trader.name or trader.email, csrf_token=token
    )


@router.post("/auth/logout", status_code=204)
def logout(request: Request, principal: CurrentPrincipal) -> None:
    request.session.clear()


@router.get("/auth/session", response_model=SessionInfo)
def whoami(request: Request, principal: CurrentPrincipal) -> SessionInfo:
    role = principal.role.value if principal.role else None
    return SessionInfo(kind=principal.kind.value, id=principal.id, name=principal.name, role=role,
                       csrf_token=csrf_token(request))  # fmt: skip


async def connector_body(request: Request) -> bytes:
    """The raw body (the signature covers its bytes), read on the event loop so that the route
    can run in the thread pool; reading stops as soon as it passes the limit."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CONNECTOR_BODY:
            raise PayloadTooLarge("The request body is too large.", field="body")
    return bytes(body)


@router.put("/connector/traders/{external_id}", response_model=TraderPublic)
def upsert_trader(
    external_id: str, request: Request, session: DbSession, settings: SettingsDep,
    body: Annotated[bytes, Depends(connector_body)],
) -> TraderPublic:  # fmt: skip
    """The exchange pushes a trader's profile. Signed: ``X-HashDesk-Signature: t=..,v1=..``,
    the HMAC-SHA256 with the connector secret of ``"<t>.PUT <path>\n<body>"``."""
    message = request_message("PUT", request.url.path, body)
    if not verify(settings.connector_secret, request.headers.get(SIGNATURE_HEADER, ""), message):
        raise NotAuthenticated("The connector signature is missing, wrong or too old.")
    if not 1 <= len(external_id) <= 128:
        raise InvalidInput("external_id must have 1 to 128 characters.", field="external_id")
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise InvalidInput("The request body is not JSON.", field="body") from error
    # Read by hand (the signature covers the raw bytes), but answered like any other request
    # body: one problem entry per wrong field.
    data = validate_body(TraderUpsert, payload)
    return TraderPublic.model_validate(actions.check_upsert_trader(session, external_id, data))


@router.get("/agents", response_model=list[AgentPublic])
def agents(session: DbSession, agent: CurrentAgent) -> list[AgentPublic]:
    return [AgentPublic.model_validate(a) for a in list_agents(session)]


@router.post("/agents", status_code=201, response_model=AgentPublic)
def create_agent(data: AgentCreate, session: DbSession, agent: CurrentAgent) -> AgentPublic:
    return AgentPublic.model_validate(actions.check_create_agent(session, agent, data))


def signed_connector_payload(request: Request, settings: Settings, body: bytes) -> object:
    """The JSON body of a connector call whose signature (over method, path and body) holds."""
    message = request_message(request.method, request.url.path, body)
    if not verify(settings.connector_secret, request.headers.get(SIGNATURE_HEADER, ""), message):
        raise NotAuthenticated("The connector signature is missing, wrong or too old.")
    try:
        return json.loads(body)
    except ValueError as error:
        raise InvalidInput("The request body is not JSON.", field="body") from error


@router.put(
    "/connector/traders/{external_id}/deposit-addresses",
    response_model=list[DepositAddressPublic],
)
def replace_deposit_addresses(
    external_id: str, request: Request, session: DbSession, settings: SettingsDep,
    body: Annotated[bytes, Depends(connector_body)],
) -> list[DepositAddressPublic]:  # fmt: skip
    """The exchange pushes the trader's whole list of deposit addresses (signed as above)."""
    data = validate_body(DepositAddressesReplace, signed_connector_payload(request, settings, body))
    rows = actions.check_replace_deposit_addresses(session, external_id, data)
    return [DepositAddressPublic.model_validate(row) for row in rows]


@router.put("/connector/{kind}/{external_id}", response_model=TransferPublic)
def upsert_transfer(
    kind: Literal["deposits", "withdrawals"], external_id: str, request: Request,
    session: DbSession, settings: SettingsDep, body: Annotated[bytes, Depends(connector_body)],
) -> TransferPublic:  # fmt: skip
    """The exchange pushes one deposit or withdrawal record, keyed by its own id (signed)."""
    data = validate_body(TransferUpsert, signed_connector_payload(request, settings, body))
    transfer_kind = TransferKind.DEPOSIT if kind == "deposits" else TransferKind.WITHDRAWAL
    row = actions.check_upsert_transfer(session, transfer_kind, external_id, data)
    return TransferPublic.model_validate(row)
