from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import get_agent_by_email, get_trader_by_external_id
from hashdesk.accounts.schemas import AgentCreate, TraderUpsert
from hashdesk.core import audit
from hashdesk.core.auth import (
    SYSTEM,
    Permission,
    Principal,
    decode_exchange_token,
    hash_password,
    verify_password,
)
from hashdesk.core.errors import Conflict, InvalidInput, NotAuthenticated
from hashdesk.core.i18n import match_locale
from hashdesk.tickets.departments import Department


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verifying against a real hash when the email is unknown keeps the timing the same."""
    return hash_password("not-a-real-password")


def _trader_snapshot(trader: Trader) -> dict[str, Any]:
    return {
        "email": trader.email,
        "name": trader.name,
        "region": trader.region,
        "language": trader.language,
        "vip_level": trader.vip_level,
        "kyc_level": trader.kyc_level,
        "anti_phishing_code_set": trader.anti_phishing_code is not None,
    }


def check_upsert_trader(session: Session, external_id: str, data: TraderUpsert) -> Trader:
    language = match_locale(data.language)
    if language is None:
        raise InvalidInput("Unknown language {language}.", field="language", language=data.language)
    return do_upsert_trader(session, external_id, data.model_copy(update={"language": language}))


def do_upsert_trader(session: Session, external_id: str, data: TraderUpsert) -> Trader:
    trader = get_trader_by_external_id(session, external_id)
    before = _trader_snapshot(trader) if trader else None
    if trader is None:
        trader = Trader(external_id=external_id)
        session.add(trader)
    for name, value in data.model_dump().items():
        setattr(trader, name, value)
    if trader.region:
        trader.region = trader.region.upper()
    session.flush()
    action = "trader.updated" if before else "trader.created"
    audit.record(
        session, SYSTEM, action, "trader", trader.id, before=before, after=_trader_snapshot(trader)
    )
    return trader


def check_trader_token(session: Session, token: str, key: str, issuer: str) -> Trader:
    """Sign a trader in with the exchange's token; its claims refresh the profile."""
    claims = decode_exchange_token(token, key, issuer)
    external_id = str(claims["sub"])
    trader = get_trader_by_external_id(session, external_id)
    if trader is None:
        if "email" not in claims:
            raise NotAuthenticated("This trader is unknown and the token carries no email.")
        profile = {k: claims[k] for k in TraderUpsert.model_fields if k in claims}
        try:
            data = TraderUpsert.model_validate(profile)
        except ValueError as error:
            raise NotAuthenticated("The token's profile claims are not valid.") from error
        trader = check_upsert_trader(session, external_id, data)
    return trader


def check_agent_login(session: Session, email: str, password: str) -> Agent:
    agent = get_agent_by_email(session, email)
    valid = verify_password(agent.password_hash if agent else _dummy_hash(), password)
    if agent is None or not valid or not agent.active:
        raise NotAuthenticated("The email or password is not right.")
    return agent


def check_create_agent(
    session: Session, actor: Principal, data: AgentCreate, *, password_hash: str | None = None
) -> Agent:
    actor.require(Permission.MANAGE_STAFF)
    if data.department not in set(Department):
        raise InvalidInput(
            "Unknown department {department}.", field="department", department=data.department
        )
    if get_agent_by_email(session, data.email):
        raise Conflict("An agent with this email exists.", field="email")
    return do_create_agent(session, actor, data, password_hash=password_hash)


def do_create_agent(
    session: Session, actor: Principal, data: AgentCreate, *, password_hash: str | None = None
) -> Agent:
    """``password_hash``, when given, is an argon2 hash of ``data.password`` made earlier:
    bulk set-ups (the demo) hash one shared password once instead of once per agent."""
    agent = Agent(
        email=data.email.lower(),
        name=data.name,
        role=data.role.value,
        department=data.department,
        languages=data.languages,
        password_hash=password_hash or hash_password(data.password),
    )
    session.add(agent)
    session.flush()
    audit.record(
        session, actor, "agent.created", "agent", agent.id,
        after={"email": agent.email, "role": agent.role, "department": agent.department},
    )  # fmt: skip
    return agent
