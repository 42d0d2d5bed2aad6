"""Webhook endpoints (admins) and the outbox's health (leads and admins)."""

from __future__ import annotations

from fastapi import APIRouter

from hashdesk.core.auth import Permission
from hashdesk.notify import actions, queries
from hashdesk.notify.schemas import OutboxStats, WebhookCreate, WebhookCreated, WebhookPublic
from hashdesk.web.deps import CurrentAgent, DbSession

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


@router.get("/webhooks", response_model=list[WebhookPublic])
def list_webhooks(session: DbSession, agent: CurrentAgent) -> list[WebhookPublic]:
    agent.require(Permission.MANAGE_SETTINGS)
    return [WebhookPublic.model_validate(w) for w in queries.list_webhooks(session)]


@router.post("/webhooks", status_code=201, response_model=WebhookCreated)
def create_webhook(data: WebhookCreate, session: DbSession, agent: CurrentAgent) -> WebhookCreated:
    endpoint = actions.check_create_webhook(session, agent, str(data.url), data.event_types)
    session.flush()
    return WebhookCreated.model_validate(endpoint)


@router.get("/outbox", response_model=OutboxStats)
def outbox(session: DbSession, agent: CurrentAgent) -> OutboxStats:
    agent.require(Permission.VIEW_REPORTS)
    return OutboxStats.model_validate(queries.outbox_counts(session))
