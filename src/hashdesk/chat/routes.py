"""The chat socket (``/api/v1/chat/ws``), the widget script and the widget's session. The
protocol is in docs/chat-protocol.md; the socket's work is in ``gateway``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, WebSocket
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from hashdesk.assistant.queries import access_conversation
from hashdesk.assistant.routes import ToolsDep, asker_of
from hashdesk.chat import desk, guests
from hashdesk.chat.gateway import ChatConnection
from hashdesk.chat.jobs import routing_sweeper
from hashdesk.chat.models import Chat
from hashdesk.chat.origins import cross_site_allowed
from hashdesk.chat.queries import access_chat
from hashdesk.chat.schemas import (
    MAX_ID,
    AssistantLink,
    ChatTicketCreate,
    GuestCodeEntry,
    GuestPass,
    NoteCreate,
    SurveyAnswer,
)
from hashdesk.chat.services import MESSAGE_BY_ADDRESS
from hashdesk.chat.widget import WIDGET_CSS, render_widget
from hashdesk.core.auth import Principal, PrincipalKind
from hashdesk.core.errors import NotAuthenticated
from hashdesk.core.ratelimit import Limit, hit_limit
from hashdesk.web.deps import (
    CurrentAgent,
    DbSession,
    MaybePrincipal,
    RateLimiterDep,
    client_address,
    csrf_token,
    get_runtime,
    require_csrf,
)
from hashdesk.web.forms import validate_body

router = APIRouter(prefix="/api/v1/chat", tags=["chat"], lifespan=routing_sweeper)


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    await ChatConnection(websocket, websocket.app.state.runtime).run()


@router.get("/widget.js", response_class=Response)
def widget_script(
    request: Request, locale: Annotated[str | None, Query(max_length=16)] = None
) -> Response:
    """The widget, with its strings in ``locale`` (default English); it talks back to the
    address it was loaded from."""
    base = str(request.base_url)
    return Response(render_widget(locale, base), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/widget.css", response_class=Response)
def widget_style() -> Response:
    return Response(WIDGET_CSS.read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/widget-session")
def widget_session(request: Request) -> dict[str, str]:
    """The CSRF token of this browser's session, for the widget's assistant requests."""
    return {"csrf_token": csrf_token(request)}


# --- the desk around a chat (hand-off, survey, transcript; notes, context, tickets) -------------

ChatId = Annotated[int, Path(ge=1, le=MAX_ID)]
TRANSCRIPT_BY_ADDRESS = Limit("chat-transcript", 5, 3600)


async def _widget_principal(request: Request, principal: MaybePrincipal) -> Principal | None:
    # A guest's request rides on the session cookie (the assistant's guest key): CSRF-checked
    # here; token and signed-in requests were checked by MaybePrincipal. From a site listed
    # in HASHDESK_CHAT_ALLOWED_ORIGINS the browser keeps the cookie back and the Origin check
    # (WidgetOriginsMiddleware) stands in for the token.
    settings = get_runtime(request).settings
    if principal is None and not cross_site_allowed(request.headers, settings):
        await require_csrf(request)
    return principal


WidgetPrincipal = Annotated[Principal | None, Depends(_widget_principal)]


def _owner_chat(
    session: Session, request: Request, principal: Principal | None, chat_id: int, data: GuestPass
) -> tuple[Principal, Chat]:
    """The chat, if the trader (token or sign-in) or the guest (email and chat key) owns it."""
    if principal is None or principal.kind not in (PrincipalKind.TRADER, PrincipalKind.GUEST):
        if data.email is None or data.key is None:
            raise NotAuthenticated("Send your token, or the chat's email address and key.")
        email = str(data.email).lower()
        principal = Principal(kind=PrincipalKind.GUEST, id=0, name=email, extra={"email": email})
    secret = get_runtime(request).settings.secret_key
    return principal, access_chat(session, principal, chat_id, secret=secret, key=data.key)


def _agent_chat(session: Session, request: Request, agent: Principal, chat_id: int) -> Chat:
    secret = get_runtime(request).settings.secret_key
    return access_chat(session, agent, chat_id, secret=secret)


@router.post("/chats/{chat_id}/assistant", status_code=201)
def link_assistant(
    chat_id: ChatId, data: AssistantLink, request: Request, session: DbSession,
    principal: WidgetPrincipal, tools: ToolsDep,
) -> dict[str, Any]:  # fmt: skip
    """The widget hands off from the assistant: the chat gets that conversation's transcript,
    language and predicted category, for the agent."""
    _owner, chat = _owner_chat(session, request, principal, chat_id, data)
    conversation = access_conversation(session, asker_of(request, principal), data.conversation)
    handoff = desk.check_link_assistant(session, chat, conversation, tools.predict)
    return {"chat": chat.id, "conversation": conversation.id, "language": handoff.language,
            "predicted_category": handoff.predicted_category}  # fmt: skip


@router.post("/chats/{chat_id}/survey", status_code=201)
def answer_survey(
    chat_id: ChatId, data: SurveyAnswer, request: Request, session: DbSession,
    principal: WidgetPrincipal,
) -> dict[str, Any]:  # fmt: skip
    owner, chat = _owner_chat(session, request, principal, chat_id, data)
    outcome = desk.check_survey(session, owner, chat, data.rating, data.comment)
    return {"chat": chat.id, "rating": outcome.satisfaction}


@router.post("/chats/{chat_id}/transcript", status_code=202)
def email_transcript(
    chat_id: ChatId, data: GuestPass, request: Request, session: DbSession,
    principal: WidgetPrincipal, limiter: RateLimiterDep,
) -> dict[str, Any]:  # fmt: skip
    """Queue the transcript to the chat's email address, in the chat's language."""
    owner, chat = _owner_chat(session, request, principal, chat_id, data)
    hit_limit(limiter, TRANSCRIPT_BY_ADDRESS, client_address(request))
    address = desk.check_email_transcript(session, owner, chat)
    return {"chat": chat.id, "sent_to": address}


@router.post("/chats/{chat_id}/verification", status_code=202)
def request_guest_code(
    chat_id: ChatId, data: GuestPass, request: Request, session: DbSession,
    principal: WidgetPrincipal, limiter: RateLimiterDep,
) -> dict[str, Any]:  # fmt: skip
    """Mail a code to the guest's address (optional for chatting; needed for the transcript
    and to come back as that address)."""
    owner, chat = _owner_chat(session, request, principal, chat_id, data)
    hit_limit(limiter, TRANSCRIPT_BY_ADDRESS, client_address(request))
    return {"chat": chat.id, "sent_to": guests.check_request_code(session, owner, chat)}


@router.post("/chats/{chat_id}/verification/confirm")
def confirm_guest_code(
    chat_id: ChatId, data: GuestCodeEntry, request: Request, session: DbSession,
    principal: WidgetPrincipal,
) -> dict[str, Any]:  # fmt: skip
    """The code from the email: the address is the guest's; ``guest_token`` lets them come
    back as it (``hello`` with ``guest_email`` and ``guest_token``)."""
    owner, chat = _owner_chat(session, request, principal, chat_id, data)
    email = guests.check_code(session, owner, chat, data.code)
    secret = get_runtime(request).settings.secret_key
    return {"chat": chat.id, "email": email, "verified": True,
            "guest_token": guests.guest_token(secret, email)}  # fmt: skip


@router.get("/chats/{chat_id}/context")
def chat_context(
    chat_id: ChatId, request: Request, session: DbSession, agent: CurrentAgent
) -> dict[str, Any]:
    """The workspace's context panel: profile, VIP level, region, the assistant hand-off,
    open tickets, recent deposits and withdrawals, notes and the chat's record."""
    return desk.chat_context(session, _agent_chat(session, request, agent, chat_id))


@router.post("/chats/{chat_id}/notes", status_code=201)
def add_note(
    chat_id: ChatId, data: NoteCreate, request: Request, session: DbSession, agent: CurrentAgent
) -> dict[str, Any]:
    note = desk.check_add_note(session, agent, _agent_chat(session, request, agent, chat_id),
                               data.body)  # fmt: skip
    return {"id": note.id, "chat": note.chat_id, "body": note.body,
            "at": note.created_at.isoformat()}  # fmt: skip


@router.get("/chats/{chat_id}/canned")
def canned_replies(
    chat_id: ChatId, request: Request, session: DbSession, agent: CurrentAgent
) -> list[dict[str, Any]]:
    """Canned replies (the tickets' macros) in the chat's language."""
    return desk.canned_replies(session, _agent_chat(session, request, agent, chat_id), agent)


@router.post("/chats/{chat_id}/ticket", status_code=201)
def chat_to_ticket(
    chat_id: ChatId, data: ChatTicketCreate, request: Request, session: DbSession,
    agent: CurrentAgent,
) -> dict[str, Any]:  # fmt: skip
    """End the chat as a ticket with its transcript and category; with a department, an
    escalation there."""
    chat = _agent_chat(session, request, agent, chat_id)
    ticket = desk.check_chat_ticket(session, agent, chat, department=data.department,
                                    category=data.category, reason=data.reason)  # fmt: skip
    return {"chat": chat.id, "ticket": ticket.id, "tracking_id": ticket.tracking_id,
            "category": ticket.category, "department": ticket.department}  # fmt: skip


# --- attachments: the file is the request body (one per request), guests pass by headers -------

MAX_FILENAME_CHARS = 200


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _header_pass(request: Request) -> GuestPass:
    """A guest's email and chat key for requests whose body is a file (or that a link
    opens): sent as ``X-Chat-Email`` and ``X-Chat-Key``."""
    return validate_body(GuestPass, {"email": request.headers.get("x-chat-email"),
                                     "key": request.headers.get("x-chat-key")})  # fmt: skip


def _any_chat(
    session: Session, request: Request, principal: Principal | None, chat_id: int
) -> tuple[Principal, Chat]:
    if principal is not None and principal.is_agent:
        return principal, _agent_chat(session, request, principal, chat_id)
    return _owner_chat(session, request, principal, chat_id, _header_pass(request))


@router.post("/chats/{chat_id}/attachments", status_code=201)
def attach_file(
    chat_id: ChatId, request: Request, session: DbSession, principal: WidgetPrincipal,
    data: Annotated[bytes, Depends(_raw_body)],
    name: Annotated[str, Query(min_length=1, max_length=MAX_FILENAME_CHARS)],
) -> dict[str, Any]:  # fmt: skip
    """Send a file in the chat: the request body is the file, ``name`` its name. Images, PDF
    and text, as for tickets; the chat gets a message naming it (``client_id`` ``file:<id>``)."""
    sender, chat = _any_chat(session, request, principal, chat_id)
    hit_limit(get_runtime(request).rate_limiter, MESSAGE_BY_ADDRESS, client_address(request))
    settings = get_runtime(request).settings
    attachment, posted = desk.check_attach(session, sender, chat, name, data,
                                           upload_dir=settings.upload_dir,
                                           max_bytes=settings.max_upload_bytes)  # fmt: skip
    return {"id": attachment.id, "chat": chat.id, "filename": attachment.filename,
            "content_type": attachment.content_type, "size": attachment.size,
            "seq": posted.message.seq}  # fmt: skip


@router.get("/chats/{chat_id}/attachments/{attachment_id}")
def download_file(
    chat_id: ChatId, attachment_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request,
    session: DbSession, principal: MaybePrincipal,
) -> FileResponse:  # fmt: skip
    _who, chat = _any_chat(session, request, principal, chat_id)
    attachment = desk.get_attachment(session, chat, attachment_id)
    folder = get_runtime(request).settings.upload_dir
    return FileResponse(folder / attachment.storage_key, media_type=attachment.content_type,
                        filename=attachment.filename, content_disposition_type="attachment")  # fmt: skip
