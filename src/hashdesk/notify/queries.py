from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.notify.models import OutboxMessage, OutboxState, WebhookEndpoint


def list_webhooks(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
    counts = {state.value: 0 for state in OutboxState}
    counts.update({state: count for state, count in rows})
    return counts
