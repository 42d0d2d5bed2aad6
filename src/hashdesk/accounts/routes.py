"""Sign-in for agents and traders, and the exchange's signed connector API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

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
from hashdesk.core.errors import InvalidInput
from hashdesk.core.ratelimit import LOGIN_BY_ADDRESS, LOGIN_BY_EMAIL, TRADER_TOKEN, hit_limit
from hashdesk.web.connector import ConnectorBody, signed_connector_payload
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


@router.put("/connector/traders/{external_id}", response_model=TraderPublic)
def upsert_trader(
    external_id: str, request: Request, session: DbSession, settings: SettingsDep,
    body: ConnectorBody,
) -> TraderPublic:  # fmt: skip
    """The exchange pushes a trader's profile (signed: see ``web.connector``)."""
    payload = signed_connector_payload(request, settings, body)
    if not 1 <= len(external_id) <= 128:
        raise InvalidInput("external_id must have 1 to 128 characters.", field="external_id")
    data = validate_body(TraderUpsert, payload)
    return TraderPublic.model_validate(actions.check_upsert_trader(session, external_id, data))


@router.get("/agents", response_model=list[AgentPublic])
def agents(session: DbSession, agent: CurrentAgent) -> list[AgentPublic]:
    return [AgentPublic.model_validate(a) for a in list_agents(session)]


@router.post("/agents", status_code=201, response_model=AgentPublic)
def create_agent(data: AgentCreate, session: DbSession, agent: CurrentAgent) -> AgentPublic:
    return AgentPublic.model_validate(actions.check_create_agent(session, agent, data))


@router.put(
    "/connector/traders/{external_id}/deposit-addresses",
    response_model=list[DepositAddressPublic],
)
def replace_deposit_addresses(
    external_id: str, request: Request, session: DbSession, settings: SettingsDep,
    body: ConnectorBody,
) -> list[DepositAddressPublic]:  # fmt: skip
    """The exchange pushes the trader's whole list of deposit addresses (signed as above)."""
    data = validate_body(DepositAddressesReplace, signed_connector_payload(request, settings, body))
    rows = actions.check_replace_deposit_addresses(session, external_id, data)
    return [DepositAddressPublic.model_validate(row) for row in rows]


@router.put("/connector/{kind}/{external_id}", response_model=TransferPublic)
def upsert_transfer(
    kind: Literal["deposits", "withdrawals"], external_id: str, request: Request,
    session: DbSession, settings: SettingsDep, body: ConnectorBody,
) -> TransferPublic:  # fmt: skip
    """The exchange pushes one deposit or withdrawal record, keyed by its own id (signed)."""
    data = validate_body(TransferUpsert, signed_connector_payload(request, settings, body))
    transfer_kind = TransferKind.DEPOSIT if kind == "deposits" else TransferKind.WITHDRAWAL
    row = actions.check_upsert_transfer(session, transfer_kind, external_id, data)
    return TransferPublic.model_validate(row)
