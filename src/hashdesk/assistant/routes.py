"""Assistant API under /api/v1/assistant: conversations, their messages, flows, feedback,
"talk to a human", a one-shot answer, and the deflection figures for leads.

Signed-in traders own their conversations; a guest's belong to a random guest key. On this
site the key rides in the session cookie, so a guest's writes carry the page's CSRF token like
any cookie-authenticated write. A widget embedded on another site (where browsers keep the
cookie back) sends the key it was given in the ``X-Assistant-Key`` header instead: a header
that a forging site cannot know, so such requests need no CSRF token.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hashdesk.assistant import actions, queries
from hashdesk.assistant.actions import Tools
from hashdesk.assistant.engine import reply_json
from hashdesk.assistant.models import AssistantConversation
from hashdesk.assistant.queries import Asker
from hashdesk.assistant.schemas import (
    ChoiceCreate,
    ConversationCreate,
    ConversationPublic,
    DeflectionPublic,
    FeedbackCreate,
    FlowPublic,
    FlowStart,
    HandoffCreate,
    MessageCreate,
    MessagePublic,
)
from hashdesk.assistant.service import get_tools
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import InvalidInput
from hashdesk.core.i18n import gettext_for
from hashdesk.core.ratelimit import GUEST_TICKET, Limit, hit_limit
from hashdesk.tickets.models import Ticket
from hashdesk.web.deps import (
    CurrentAgent,
    DbSession,
    MaybePrincipal,
    RateLimiterDep,
    client_address,
    get_runtime,
    require_csrf,
)
from hashdesk.web.pages import page_locale

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])

ASSISTANT_MESSAGE = Limit("assistant-message", 30, 60)
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
ConversationId = Annotated[int, Path(ge=1, le=MAX_ID)]
GUEST_KEY = "assistant_guest"
GUEST_KEY_HEADER = "X-Assistant-Key"
_GUEST_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def tools_dep(request: Request) -> Tools:
    return get_tools(get_runtime(request))


ToolsDep = Annotated[Tools, Depends(tools_dep)]


def header_guest_key(request: Request) -> str | None:
    """The guest key of the ``X-Assistant-Key`` header, None without one."""
    value = request.headers.get(GUEST_KEY_HEADER)
    if value is None:
        return None
    if not _GUEST_KEY_SHAPE.fullmatch(value):
        raise InvalidInput("The X-Assistant-Key header must be the key this desk gave you "
                           "(16 to 64 letters, digits, - or _).", field=GUEST_KEY_HEADER)  # fmt: skip
    return value


async def _asker_csrf(request: Request, principal: MaybePrincipal) -> Principal | None:
    # Signed-in cookie sessions were checked by MaybePrincipal; a guest's conversation that
    # rides on the session cookie is checked here (a header key cannot be forged by a site).
    if principal is None and header_guest_key(request) is None:
        await require_csrf(request)
    return principal


WritingPrincipal = Annotated[Principal | None, Depends(_asker_csrf)]


def asker_of(request: Request, principal: Principal | None) -> Asker:
    """The trader, or the guest key of the header or of this browser (created on first use)."""
    if principal is not None and principal.kind is PrincipalKind.TRADER:
        return Asker(trader_id=principal.id)
    key = header_guest_key(request) or request.session.get(GUEST_KEY)
    if not key:
        key = request.session[GUEST_KEY] = secrets.token_urlsafe(24)
    return Asker(guest_key=str(key), include_internal=principal is not None and principal.is_agent)


def _limit(request: Request, limiter: RateLimiterDep, asker: Asker) -> None:
    hit_limit(limiter, ASSISTANT_MESSAGE, client_address(request))
    subject = f"trader:{asker.trader_id}" if asker.trader_id else f"guest:{asker.guest_key}"
    hit_limit(limiter, ASSISTANT_MESSAGE, subject)


def conversation_public(
    session: Session, conversation: AssistantConversation
) -> ConversationPublic:
    ticket = session.get(Ticket, conversation.ticket_id) if conversation.ticket_id else None
    messages = [
        MessagePublic.model_validate(m) for m in queries.list_messages(session, conversation)
    ]
    return ConversationPublic(
        id=conversation.id, locale=conversation.locale, outcome=conversation.outcome,
        resolved_by=conversation.resolved_by, reason=conversation.reason,
        flow_id=conversation.flow_id, ticket_tracking_id=ticket.tracking_id if ticket else None,
        started_at=conversation.started_at, messages=messages,
    )  # fmt: skip


class AnswerPublic(BaseModel):
    """The CLI's JSON shape, plus the decision (answer, clarify, handoff) and addresses."""

    answered: bool
    decision: str
    article: dict[str, object] | None
    confidence: float
    candidates: list[dict[str, object]]


class HandoffPublic(BaseModel):
    tracking_id: str
    conversation: ConversationPublic


@router.get("/answer", response_model=AnswerPublic)
def answer(
    request: Request, tools: ToolsDep, principal: MaybePrincipal, limiter: RateLimiterDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    locale: Annotated[str | None, Query(max_length=16)] = None,
) -> AnswerPublic:  # fmt: skip
    """One question, one decision, nothing stored (the help-center search box asks here)."""
    hit_limit(limiter, ASSISTANT_MESSAGE, client_address(request))
    reply = tools.engine.respond(
        q, locale=actions.check_locale(locale), fallback_locale=page_locale(request, principal),
        include_internal=principal is not None and principal.is_agent,
    )  # fmt: skip
    return AnswerPublic.model_validate(reply_json(reply, detailed=True))


@router.get("/flows", response_model=list[FlowPublic])
def list_flows(request: Request, tools: ToolsDep, principal: MaybePrincipal) -> list[FlowPublic]:
    translate = gettext_for(page_locale(request, principal)).gettext
    return [FlowPublic(id=flow.id, title=translate(flow.title)) for flow in tools.flows.values()]


@router.post("/conversations", status_code=201, response_model=ConversationPublic)
def start_conversation(
    data: ConversationCreate, request: Request, session: DbSession, tools: ToolsDep,
    principal: WritingPrincipal, limiter: RateLimiterDep,
) -> ConversationPublic:  # fmt: skip
    asker = asker_of(request, principal)
    _limit(request, limiter, asker)
    conversation = actions.check_start_conversation(
        session, asker, data.locale, page_locale(request, principal)
    )
    if data.message:
        actions.check_ask(session, tools, asker, conversation, data.message)
    session.flush()
    # The guest's key goes back to the caller alone, for a widget on a site without the cookie.
    return conversation_public(session, conversation).model_copy(
        update={"guest_key": asker.guest_key}
    )


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic)
def get_conversation(
    conversation_id: ConversationId, request: Request, session: DbSession, principal: MaybePrincipal
) -> ConversationPublic:
    conversation = queries.access_conversation(
        session, asker_of(request, principal), conversation_id
    )
    return conversation_public(session, conversation)


@router.post("/conversations/{conversation_id}/messages", status_code=201,
             response_model=MessagePublic)  # fmt: skip
def post_message(
    conversation_id: ConversationId, data: MessageCreate, request: Request, session: DbSession,
    tools: ToolsDep, principal: WritingPrincipal, limiter: RateLimiterDep,
) -> MessagePublic:  # fmt: skip
    """The trader's message; the answer is the assistant's reply."""
    asker = asker_of(request, principal)
    conversation = queries.access_conversation(session, asker, conversation_id)
    _limit(request, limiter, asker)
    reply = actions.check_ask(session, tools, asker, conversation, data.body)
    session.flush()
    return MessagePublic.model_validate(reply)


@router.post("/conversations/{conversation_id}/choice", status_code=201,
             response_model=MessagePublic)  # fmt: skip
def choose(
    conversation_id: ConversationId, data: ChoiceCreate, request: Request, session: DbSession,
    principal: WritingPrincipal,
) -> MessagePublic:  # fmt: skip
    conversation = queries.access_conversation(
        session, asker_of(request, principal), conversation_id
    )
    reply = actions.check_choose(session, conversation, data.article_id)
    session.flush()
    return MessagePublic.model_validate(reply)


@router.post("/conversations/{conversation_id}/flow", status_code=201, response_model=MessagePublic)
def start_flow(
    conversation_id: ConversationId, data: FlowStart, request: Request, session: DbSession, tools: ToolsDep,
    principal: WritingPrincipal,
) -> MessagePublic:  # fmt: skip
    asker = asker_of(request, principal)
    conversation = queries.access_conversation(session, asker, conversation_id)
    reply = actions.check_start_flow(session, tools, asker, conversation, data.flow_id)
    session.flush()
    return MessagePublic.model_validate(reply)


@router.post("/conversations/{conversation_id}/flow/stop", status_code=201,
             response_model=MessagePublic)  # fmt: skip
def stop_flow(
    conversation_id: ConversationId,
    request: Request,
    session: DbSession,
    principal: WritingPrincipal,
) -> MessagePublic:
    conversation = queries.access_conversation(
        session, asker_of(request, principal), conversation_id
    )
    reply = actions.check_stop_flow(session, conversation)
    session.flush()
    return MessagePublic.model_validate(reply)


@router.post("/conversations/{conversation_id}/feedback", status_code=201,
             response_model=MessagePublic)  # fmt: skip
def feedback(
    conversation_id: ConversationId, data: FeedbackCreate, request: Request, session: DbSession,
    principal: WritingPrincipal,
) -> MessagePublic:  # fmt: skip
    """ "This solved it" (``solved: true``) or not; also the article's "Was this helpful?" vote."""
    conversation = queries.access_conversation(
        session, asker_of(request, principal), conversation_id
    )
    reply = actions.check_feedback(session, principal, conversation, data.solved, data.article_id,
                                   data.reason)  # fmt: skip
    session.flush()
    return MessagePublic.model_validate(reply)


@router.post("/conversations/{conversation_id}/handoff", status_code=201,
             response_model=HandoffPublic)  # fmt: skip
def handoff(
    conversation_id: ConversationId, data: HandoffCreate, request: Request, session: DbSession,
    tools: ToolsDep, principal: WritingPrincipal, limiter: RateLimiterDep,
) -> HandoffPublic:  # fmt: skip
    """ "Talk to a human": a ticket with the transcript, language and predicted category."""
    asker = asker_of(request, principal)
    conversation = queries.access_conversation(session, asker, conversation_id)
    if asker.trader_id is None:
        hit_limit(limiter, GUEST_TICKET, client_address(request))
    ticket = actions.check_handoff(session, tools, principal, conversation, data.email, data.note)
    session.flush()
    return HandoffPublic(tracking_id=ticket.tracking_id,
                         conversation=conversation_public(session, conversation))  # fmt: skip


@router.get("/stats/deflection", response_model=DeflectionPublic)
def deflection(
    session: DbSession, agent: CurrentAgent, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> DeflectionPublic:
    """Outcomes and the deflection rate of conversations started in the last ``days`` days."""
    agent.require(Permission.VIEW_REPORTS)
    until = utcnow()
    figures = queries.deflection(session, until - timedelta(days=days), until)
    return DeflectionPublic(
        **{name: getattr(figures, name) for name in DeflectionPublic.model_fields}
    )
