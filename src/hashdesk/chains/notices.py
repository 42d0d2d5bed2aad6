"""Emails to the traders whose deposits or withdrawals wait on a network in trouble."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import AccountTransfer, Trader, TransferStatus
from hashdesk.chains.incidents import LEVEL_LABELS, REASONS
from hashdesk.chains.models import Incident
from hashdesk.notify import do_enqueue_email
from hashdesk.tickets.actions import settings_of


def pending_traders(session: Session, network: str) -> list[Trader]:
    """Traders with a deposit or withdrawal on ``network`` that is not finished (the
    exchange's records, pushed through the connector); each once, however many they have."""
    pending = select(AccountTransfer.trader_id).where(
        AccountTransfer.network == network,
        AccountTransfer.status == TransferStatus.PENDING.value,
    )
    return list(session.scalars(select(Trader).where(Trader.id.in_(pending)).order_by(Trader.id)))


def notify_pending_traders(session: Session, incident: Incident, name: str, *, opened: bool) -> int:
    """Queue one email per affected trader, in the trader's language; the number queued."""
    settings = settings_of(session)
    if not settings.email_enabled:
        return 0
    traders = pending_traders(session, incident.network)
    context = {
        "network": name, "opened": opened, "level_label": LEVEL_LABELS[incident.level],
        "reasons": [REASONS[r] for r in incident.reasons if r in REASONS],
        "url": f"{settings.public_url}/status/{incident.network}",
    }  # fmt: skip
    for trader in traders:
        do_enqueue_email(session, to=trader.email, template="network_incident",
                         locale=trader.language, context=context,
                         anti_phishing_code=trader.anti_phishing_code)  # fmt: skip
    return len(traders)
