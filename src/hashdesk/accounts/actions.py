from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import AccountTransfer, Agent, DepositAddress, Trader, TransferKind
from hashdesk.accounts.queries import (
    address_key,
    get_agent_by_email,
    get_trader_by_external_id,
    get_transfer,
    list_deposit_addresses,
)
from hashdesk.accounts.schemas import (
    AgentCreate,
    DepositAddressesReplace,
    TraderUpsert,
    TransferUpsert,
)
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


# --- deposit addresses and transfer records (pushed by the connector) ---------------------------


def _connector_trader(session: Session, external_id: str, field: str) -> Trader:
    trader = get_trader_by_external_id(session, external_id)
    if trader is None:
        raise InvalidInput(
            "No trader {external_id}: push the trader's profile first.",
            field=field, external_id=external_id,
        )  # fmt: skip
    return trader


def check_replace_deposit_addresses(
    session: Session, external_id: str, data: DepositAddressesReplace
) -> list[DepositAddress]:
    trader = _connector_trader(session, external_id, "external_id")
    seen: set[tuple[str, str, str]] = set()
    for position, item in enumerate(data.addresses):
        key = (item.network, address_key(item.address), item.memo)
        if key in seen:
            raise InvalidInput(
                "Address {address} on {network} is listed twice.",
                field=f"addresses.{position}", address=item.address, network=item.network,
            )  # fmt: skip
        seen.add(key)
        owner = session.scalar(
            select(DepositAddress.trader_id).where(
                DepositAddress.network == key[0], DepositAddress.address == key[1],
                DepositAddress.memo == key[2], DepositAddress.trader_id != trader.id,
            )
        )  # fmt: skip
        if owner is not None:
            raise Conflict(
                "Address {address} on {network} belongs to another trader.",
                field=f"addresses.{position}", address=item.address, network=item.network,
            )  # fmt: skip
    return do_replace_deposit_addresses(session, trader, data)


def do_replace_deposit_addresses(
    session: Session, trader: Trader, data: DepositAddressesReplace
) -> list[DepositAddress]:
    before = {(a.network, a.address, a.memo): a for a in list_deposit_addresses(session, trader.id)}
    wanted = {(i.network, address_key(i.address), i.memo): i for i in data.addresses}
    for key, gone in before.items():
        if key not in wanted:
            session.delete(gone)
    session.flush()  # a removed row must be gone before an equal one comes back
    for key, item in wanted.items():
        kept = before.get(key)
        if kept is None:
            session.add(DepositAddress(trader_id=trader.id, network=key[0], address=key[1],
                                       memo=key[2], asset=item.asset))  # fmt: skip
        else:
            kept.asset = item.asset
    session.flush()
    audit.record(session, SYSTEM, "trader.deposit_addresses", "trader", trader.id,
                 before={"count": len(before)}, after={"count": len(wanted)})  # fmt: skip
    return list_deposit_addresses(session, trader.id)


def check_upsert_transfer(
    session: Session, kind: TransferKind, external_id: str, data: TransferUpsert
) -> AccountTransfer:
    if not 1 <= len(external_id) <= 128:
        raise InvalidInput("external_id must have 1 to 128 characters.", field="external_id")
    trader = _connector_trader(session, data.trader, "trader")
    existing = get_transfer(session, kind.value, external_id)
    if existing is not None and existing.trader_id != trader.id:
        raise Conflict(
            "The {kind} {external_id} belongs to another trader.",
            field="trader", kind=kind.value, external_id=external_id,
        )  # fmt: skip
    return do_upsert_transfer(session, trader, kind, external_id, data, existing)


def do_upsert_transfer(
    session: Session, trader: Trader, kind: TransferKind, external_id: str, data: TransferUpsert,
    existing: AccountTransfer | None,
) -> AccountTransfer:  # fmt: skip
    row = existing or AccountTransfer(kind=kind.value, external_id=external_id)
    values = data.model_dump(exclude={"trader"})
    values["address"] = address_key(data.address)
    values["tx_hash"] = (
        data.tx_hash.lower() if data.tx_hash and data.tx_hash[:2] == "0x" else data.tx_hash
    )
    for name, value in values.items():
        setattr(row, name, value)
    row.trader_id = trader.id
    if existing is None:
        session.add(row)
    session.flush()
    return row
