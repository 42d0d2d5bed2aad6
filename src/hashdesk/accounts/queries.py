from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import AccountTransfer, Agent, DepositAddress, Trader
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


# --- deposit addresses and transfer records (pushed by the connector) ---------------------------


def address_key(address: str) -> str:
    """How an address is stored and looked up: EVM hex addresses in lowercase (their case is
    only a checksum); every other format is case-sensitive and kept as written."""
    text = address.strip()
    if len(text) == 42 and text[:2].lower() == "0x":
        return text.lower()
    return text


def list_deposit_addresses(session: Session, trader_id: int) -> list[DepositAddress]:
    return list(
        session.scalars(
            select(DepositAddress)
            .where(DepositAddress.trader_id == trader_id)
            .order_by(DepositAddress.network, DepositAddress.id)
        )
    )


def find_deposit_addresses(session: Session, address: str) -> list[DepositAddress]:
    """Every deposit address record with this address (any network, memo or trader)."""
    return list(
        session.scalars(
            select(DepositAddress).where(DepositAddress.address == address_key(address))
        )
    )


def get_transfer(session: Session, kind: str, external_id: str) -> AccountTransfer | None:
    return session.scalar(
        select(AccountTransfer).where(
            AccountTransfer.kind == kind, AccountTransfer.external_id == external_id
        )
    )


def find_transfers_by_tx(session: Session, tx_hash: str) -> list[AccountTransfer]:
    """The exchange's records of a transaction; an EVM hash matches in any case."""
    wanted = {tx_hash, tx_hash.lower()}
    return list(
        session.scalars(
            select(AccountTransfer)
            .where(AccountTransfer.tx_hash.in_(wanted))
            .order_by(AccountTransfer.id)
        )
    )


def list_pending_transfers(session: Session, network: str) -> list[AccountTransfer]:
    """Deposits and withdrawals still pending on ``network`` (the monitor warns their traders)."""
    return list(
        session.scalars(
            select(AccountTransfer)
            .where(AccountTransfer.network == network, AccountTransfer.status == "pending")
            .order_by(AccountTransfer.id)
        )
    )
