from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.core.auth import Principal, PrincipalKind, Role
from hashdesk.core.errors import NotFound


def get_trader(session: Session, trader_id: int) -> Trader:
    trader = session.get(Trader, trader_id)
    if trader is None:
        raise NotFound("No trader {trader_id}.", trader_id=trader_id)
    return trader


def get_trader_by_external_id(session: Session, external_id: str) -> Trader | None:
    return session.scalar(select(Trader).where(Trader.external_id == external_id))


def get_agent(session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("No agent {agent_id}.", agent_id=agent_id)
    return agent


def get_agent_by_email(session: Session, email: str) -> Agent | None:
    return session.scalar(select(Agent).where(func.lower(Agent.email) == email.lower()))


def list_agents(session: Session, *, active_only: bool = True) -> list[Agent]:
    query = select(Agent).order_by(Agent.name)
    if active_only:
        query = query.where(Agent.active.is_(True))
    return list(session.scalars(query))


def list_traders_for_picker(session: Session, limit: int = 40) -> list[Trader]:
    """A spread of demo traders (VIPs first) for the demo sign-in picker."""
    query = select(Trader).order_by(Trader.vip_level.desc(), Trader.id).limit(limit)
    return list(session.scalars(query))


def agent_principal(agent: Agent) -> Principal:
    return Principal(kind=PrincipalKind.AGENT, id=agent.id, name=agent.name, role=Role(agent.role))


def trader_principal(trader: Trader) -> Principal:
    return Principal(
        kind=PrincipalKind.TRADER,
        id=trader.id,
        name=trader.name or trader.email,
        locale=trader.language,
    )
