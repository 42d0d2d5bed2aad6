"""Helpers of the monitor's tests: registry networks made through the registry's actions,
and rounds of observations as the poller hands them to ``do_record_round``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.assets.actions import check_put_network
from hashdesk.assets.models import Network
from hashdesk.assets.schemas import NetworkFields
from hashdesk.chains.actions import do_record_round
from hashdesk.chains.incidents import Expectation, Facts
from hashdesk.chains.models import Incident
from hashdesk.chains.monitor import Observation, Report, Target
from hashdesk.core.auth import SYSTEM
from hashdesk.core.clock import utcnow

INTERVAL = 0.2


def add_network(session: Session, slug: str, *, chain_id: int | None = None,
                endpoints: tuple[str, ...] = (), block_time: float = 1.0,
                confirmations: int = 3, family: str = "evm") -> Network:  # fmt: skip
    fields = NetworkFields(
        name=slug.title(), family=family, chain_id=chain_id if family == "evm" else None,
        native_asset="ETH" if family == "evm" else "LTC", block_time_seconds=block_time,
        confirmations_credit=confirmations, confirmations_unlock=confirmations,
        address_format="evm" if family == "evm" else "litecoin",
        tx_hash_format="evm" if family == "evm" else "hex", rpc_endpoints=list(endpoints),
    )  # fmt: skip
    network = check_put_network(session, SYSTEM, slug, fields)
    session.commit()
    return network


def target(session: Session, slug: str) -> Target:
    n = session.scalars(select(Network).where(Network.slug == slug)).one()
    return Target(n.slug, n.family, n.chain_id, n.block_time_seconds, n.confirmations_credit,
                  tuple(n.rpc_endpoints))  # fmt: skip


def record(session: Session, slug: str, facts: Facts, *, error: str | None = None,
           calm: int = 0, now: datetime | None = None) -> dict[str, int]:  # fmt: skip
    """One round in which only ``slug`` was polled and the monitor knew ``facts``."""
    t = target(session, slug)
    now = now or utcnow()
    seen = Observation(slug, now, endpoint="http://node.test", error=error)
    expect = Expectation(t.block_time, t.confirmations_credit, INTERVAL)
    calm_polls = do_record_round(session, [Report(t, seen, facts, expect, calm)], [slug], now)
    session.commit()
    return calm_polls


def incidents_of(session: Session, slug: str) -> list[Incident]:
    session.expire_all()
    query = select(Incident).where(Incident.network == slug).order_by(Incident.id)
    return list(session.scalars(query))
