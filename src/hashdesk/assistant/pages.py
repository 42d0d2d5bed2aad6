"""The assistant's pages: ``/hc/{locale}/assistant`` (works without JavaScript: every
button is a form that posts and comes back), the small script of the help-center panel, and
the deflection panel in the console for leads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy.orm import Session

from hashdesk.assistant import actions, queries
from hashdesk.assistant.actions import Tools
from hashdesk.assistant.models import AssistantConversation, Author, Outcome
from hashdesk.assistant.queries import Asker
from hashdesk.assistant.routes import (
    ASSISTANT_MESSAGE,
    MAX_ID,
    ToolsDep,
    WritingPrincipal,
    asker_of,
)
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import DomainError, InvalidInput, NotFound
from hashdesk.core.i18n import LOCALES, gettext_for
from hashdesk.core.ratelimit import GUEST_TICKET, hit_limit
from hashdesk.tickets.models import Ticket
from hashdesk.web.deps import DbSession, MaybePrincipal, RateLimiterDep, client_address
from hashdesk.web.forms import Posted, PostedForm
from hashdesk.web.pages import redirect, render_page

router = APIRouter(include_in_schema=False)
SCRIPT = Path(__file__).resolve().parent / "static" / "assistant.js"
CURRENT = "assistant_conversation"
FLASH = "assistant_flash"
ACTIONS = ("ask", "choice", "flow", "stop", "feedback", "handoff", "new")


def _page_locale(request: Request, locale: str) -> str:
    if locale not in LOCALES:
        raise NotFound("No such page.")
    request.state.locale, request.state.locale_explicit = locale, True
    return locale


def _current(session: Session, request: Request, asker: Asker) -> AssistantConversation | None:
    conversation_id = request.session.get(CURRENT)
    if not isinstance(conversation_id, int):
        return None
    conversation = queries.get_conversation(session, conversation_id)
    return conversation if conversation is not None and asker.owns(conversation) else None


def _message_view(message: Any, last_answer_id: int | None) -> dict[str, Any]:
    data = message.data or {}
    return {
        "id": message.id, "author": message.author, "body": message.body,
        "article": data.get("article"), "options": data.get("options") or [],
        "choices": (data.get("choices") or []) if message.id == last_answer_id else [],
        "kind": data.get("kind") or data.get("decision") or "",
        "tracking_id": data.get("tracking_id"),
    }  # fmt: skip


def _conversation_context(
    session: Session, conversation: AssistantConversation | None
) -> dict[str, Any]:
    if conversation is None:
        return {"conversation": None, "messages": [], "ticket": None}
    messages = queries.list_messages(session, conversation)
    last = next((m.id for m in reversed(messages) if m.author == Author.ASSISTANT), None)
    ticket = session.get(Ticket, conversation.ticket_id) if conversation.ticket_id else None
    return {
        "conversation": conversation,
        "messages": [_message_view(m, last) for m in messages],
        "ticket": ticket,
        "shown_article": any(m.data.get("article") for m in messages),
    }


@router.get("/hc/{locale}/assistant", response_class=HTMLResponse)
def assistant_page(
    request: Request, locale: str, session: DbSession, tools: ToolsDep, principal: MaybePrincipal
) -> Response:
    _page_locale(request, locale)
    asker = asker_of(request, principal)
    conversation = _current(session, request, asker)
    translate = gettext_for(locale).gettext
    context = {
        **_conversation_context(session, conversation),
        "flows": [(flow.id, translate(flow.title)) for flow in tools.flows.values()],
        "flash": request.session.pop(FLASH, None),
        "is_trader": principal is not None and principal.kind is PrincipalKind.TRADER,
        "action_url": f"/hc/{locale}/assistant",
        "prefill": request.query_params.get("q", "")[:1000],
        "ended": conversation is not None and conversation.outcome is not None,
        "Outcome": Outcome,
    }
    return render_page(request, "assistant/page.html", context, principal=principal)


@router.post("/hc/{locale}/assistant/{action}", response_class=HTMLResponse)
def assistant_action(
    request: Request, locale: str, action: str, form: Posted, session: DbSession, tools: ToolsDep,
    principal: WritingPrincipal, limiter: RateLimiterDep,
) -> Response:  # fmt: skip
    _page_locale(request, locale)
    if action not in ACTIONS:
        raise NotFound("No such page.")
    asker = asker_of(request, principal)
    try:
        _act(request, session, tools, principal, asker, limiter, action, form, locale)
    except DomainError as error:
        if isinstance(error, NotFound):
            raise
        # Nothing half-done stays: the refusal is shown on the page the trader comes back to.
        session.rollback()
        request.session[FLASH] = error.render(gettext_for(locale).gettext)
    return redirect(f"/hc/{locale}/assistant#latest")


def _act(
    request: Request, session: Session, tools: Tools, principal: Principal | None, asker: Asker,
    limiter: RateLimiterDep, action: str, form: PostedForm, locale: str,
) -> None:  # fmt: skip
    if action == "new":
        request.session.pop(CURRENT, None)
        return
    conversation = _current(session, request, asker)
    if conversation is None or (conversation.outcome is not None and action == "ask"):
        hit_limit(limiter, ASSISTANT_MESSAGE, client_address(request))
        conversation = actions.check_start_conversation(session, asker, None, locale)
        request.session[CURRENT] = conversation.id
    if action == "ask":
        hit_limit(limiter, ASSISTANT_MESSAGE, client_address(request))
        actions.check_ask(session, tools, asker, conversation, form.text("body"))
    elif action == "choice":
        actions.check_choose(session, conversation, _number(form, "article_id"))
    elif action == "flow":
        actions.check_start_flow(session, tools, asker, conversation, form.text("flow_id"))
    elif action == "stop":
        actions.check_stop_flow(session, conversation)
    elif action == "feedback":
        actions.check_feedback(session, principal, conversation, form.text("solved") == "yes",
                               _number(form, "article_id"), form.text("reason"))  # fmt: skip
    else:
        if asker.trader_id is None:
            hit_limit(limiter, GUEST_TICKET, client_address(request))
        email = form.text("email") or None
        if email is not None and ("@" not in email or len(email) > 320):
            raise InvalidInput("Enter a valid email address.", field="email")
        actions.check_handoff(session, tools, principal, conversation, email, form.text("note"))


def _number(form: PostedForm, name: str) -> int:
    value = form.text(name)
    if not value.isdigit() or len(value) > 10 or int(value) > MAX_ID:
        raise InvalidInput("Choose one of the articles offered.", field=name)
    return int(value)


@router.get("/assistant/assistant.js")
def panel_script() -> FileResponse:
    """The help-center panel's script (same origin: the pages allow no other scripts)."""
    return FileResponse(SCRIPT, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/console/assistant", response_class=HTMLResponse)
def console_deflection(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    if principal is None or not principal.is_agent:
        return redirect("/console/login?next=/console/assistant")
    principal.require(Permission.VIEW_REPORTS)
    now = utcnow()
    periods = [(days, queries.deflection(session, now - timedelta(days=days), now))
               for days in (1, 7, 30)]  # fmt: skip
    return render_page(request, "assistant/console_deflection.html", {"periods": periods},
                       principal=principal)  # fmt: skip
