from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.core import audit
from hashdesk.core.auth import Permission, Principal
from hashdesk.core.cache import cached, invalidate_on_commit
from hashdesk.core.clock import utcnow
from hashdesk.core.db import on_commit
from hashdesk.notify.emails import render_email
from hashdesk.notify.models import OutboxKind, OutboxMessage, WebhookEndpoint


def _wake_worker(session: Session) -> None:
    wake = session.info.get("wake_outbox")
    if wake is not None:
        on_commit(session, wake)


def do_enqueue_email(
    session: Session,
    *,
    to: str,
    template: str,
    locale: str,
    context: dict[str, Any],
    anti_phishing_code: str | None,
) -> OutboxMessage:
    """Queue an email; it carries the trader's anti-phishing code (or how to set one)."""
    subject, body = render_email(
        template, locale, {**context, "anti_phishing_code": anti_phishing_code}
    )
    message = OutboxMessage(
        kind=OutboxKind.EMAIL.value, payload={"to": to, "subject": subject, "body": body}
    )
    session.add(message)
    _wake_worker(session)
    return message


@dataclass(frozen=True)
class WebhookTarget:
    id: int
    url: str
    event_types: tuple[str, ...]


def active_webhooks(session: Session) -> list[WebhookTarget]:
    """The active endpoints, from the process's configuration cache (read on every change)."""

    def load() -> list[WebhookTarget]:
        query = select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
        return [WebhookTarget(e.id, e.url, tuple(e.event_types)) for e in session.scalars(query)]

    return cached(session, "webhooks", load)


def do_enqueue_webhooks(session: Session, event_type: str, data: dict[str, Any]) -> int:
    """Queue one delivery per active endpoint that listens for ``event_type``."""
    endpoints = active_webhooks(session)
    event = {
        "id": secrets.token_hex(12),
        "type": event_type,
        "created_at": utcnow().isoformat(),
        "data": data,
    }
    queued = 0
    for endpoint in endpoints:
        if endpoint.event_types and event_type not in endpoint.event_types:
            continue
        payload = {"endpoint_id": endpoint.id, "url": endpoint.url, "event": event}
        session.add(OutboxMessage(kind=OutboxKind.WEBHOOK.value, payload=payload))
        queued += 1
    if queued:
        _wake_worker(session)
    return queued


def check_create_webhook(
    session: Session, actor: Principal, url: str, event_types: list[str]
) -> WebhookEndpoint:
    actor.require(Permission.MANAGE_SETTINGS)
    endpoint = WebhookEndpoint(url=url, secret=secrets.token_urlsafe(32), event_types=event_types)
    session.add(endpoint)
    session.flush()
    invalidate_on_commit(session, "webhooks")
    audit.record(session, actor, "webhook.created", "webhook", endpoint.id, after={"url": url})
    return endpoint
