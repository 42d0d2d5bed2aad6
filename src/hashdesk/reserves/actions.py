"""Writes of the proof-of-reserves domain: the audit of the agents' proof lookups (a proof
shows a trader's balances, so every lookup is recorded, found or not)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hashdesk.core import audit
from hashdesk.core.auth import Principal
from hashdesk.reserves.queries import TraderProof


def do_record_proof_view(session: Session, actor: Principal, found: TraderProof) -> None:
    """The agent saw ``found``: filed under the trader when HashDesk knows them, else under the
    leaf's index in the build (the audit's object ids are numbers)."""
    leaf = found.proof.get("leaf", {})
    index = leaf.get("index", 0) if isinstance(leaf, dict) else 0
    object_type, object_id = (
        ("trader", found.trader.id) if found.trader else ("reserves_leaf", int(index))
    )
    audit.record(session, actor, "reserves.proof_viewed", object_type, object_id,
                 after={"account_id": found.account_id, "build": found.build.folder.name,
                        "root": found.build.root_hash, "valid": found.verification.ok})  # fmt: skip


def do_record_failed_lookup(
    session: Session, actor: Principal, account_id: str, trader_id: int | None, reason: str
) -> None:
    audit.record(session, actor, "reserves.proof_lookup_failed",
                 "trader" if trader_id is not None else "reserves_leaf", trader_id or 0,
                 after={"account_id": account_id[:128], "reason": reason})  # fmt: skip
