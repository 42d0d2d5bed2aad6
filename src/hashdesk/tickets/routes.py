"""Ticket API under /api/v1. Each route parses, calls one check_/access_ and shapes the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from hashdesk.core.auth import SYSTEM, Permission, Principal, PrincipalKind
from hashdesk.core.errors import InvalidInput, NotFound
from hashdesk.core.pagination import check_page_size, decode_cursor
from hashdesk.core.ratelimit import GUEST_CODE, GUEST_TICKET, GUEST_VERIFY, hit_limit
from hashdesk.tickets import actions, queries
from hashdesk.tickets.attachments import MAX_FILES_PER_MESSAGE
from hashdesk.tickets.models import Attachment, Ticket
from hashdesk.tickets.schemas import (
    AgentReplyCreate,
    AssignmentChange,
    BacklogFigure,
    CategoryChange,
    CategoryCreate,
    CategoryPublic,
    EntryPublic,
    GuestCodeRequest,
    GuestCodeVerify,
    GuestTicketCreate,
    HandoffCreate,
    MacroApply,
    MacroCreate,
    MacroPublic,
    MergeRequest,
    PriorityChange,
    ReplyForm,
    SlaPolicyChange,
    SlaPolicyPublic,
    StatusChange,
    TicketCreate,
    TicketDetail,
    TicketListQuery,
    TicketPage,
    TicketSummary,
)
from hashdesk.web.deps import (
    CurrentAgent,
    CurrentPrincipal,
    DbSession,
    RateLimiterDep,
    SettingsDep,
    client_address,
    sign_in_guest,
)
from hashdesk.web.forms import Posted, validate_body
from hashdesk.web.idempotency import IdempotencyKey, idempotent_create

router = APIRouter(prefix="/api/v1", tags=["tickets"])
Reference = Annotated[str, "numeric id or tracking ID"]


class Accepted(BaseModel):
    detail: str


class GuestSession(BaseModel):
    tracking_id: str
    csrf_token: str


def _detail(session: DbSession, principal: Principal, ticket: Ticket) -> TicketDetail:
    return TicketDetail.model_validate(queries.detail(session, principal, ticket))


# The attachments endpoint reads its multipart form by hand (see web/forms.py), so its body is
# described here for the OpenAPI document.
ATTACHMENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "maxItems": MAX_FILES_PER_MESSAGE,
                        },
                        "body": {"type": "string", "maxLength": 20_000},
                    },
                }
            }
        },
    }
}


@router.get("/categories", response_model=list[CategoryPublic])
def list_categories(session: DbSession) -> list[CategoryPublic]:
    return [CategoryPublic.model_validate(c) for c in queries.list_categories(session)]


@router.post("/categories", status_code=201, response_model=CategoryPublic)
def create_category(
    data: CategoryCreate, session: DbSession, agent: CurrentAgent
) -> CategoryPublic:
    return CategoryPublic.model_validate(actions.check_create_category(session, agent, data))


@router.patch("/categories/{slug}", response_model=CategoryPublic)
def change_category(
    slug: Annotated[str, Path(max_length=48)], data: CategoryChange, session: DbSession,
    agent: CurrentAgent,
) -> CategoryPublic:  # fmt: skip
    return CategoryPublic.model_validate(actions.check_change_category(session, agent, slug, data))


@router.get("/sla-policies", response_model=list[SlaPolicyPublic])
def list_sla_policies(session: DbSession, agent: CurrentAgent) -> list[SlaPolicyPublic]:
    return [SlaPolicyPublic.model_validate(p) for p in queries.list_sla_policies(session)]


@router.put("/sla-policies/{policy_id}", response_model=SlaPolicyPublic)
def change_sla_policy(
    policy_id: int, data: SlaPolicyChange, session: DbSession, agent: CurrentAgent
) -> SlaPolicyPublic:
    return SlaPolicyPublic.model_validate(
        actions.check_change_sla_policy(session, agent, policy_id, data)
    )


@router.post("/tickets", status_code=201, response_model=TicketDetail)
def create_ticket(
    data: TicketCreate, session: DbSession, principal: CurrentPrincipal, key: IdempotencyKey = None
) -> JSONResponse:
    def create() -> TicketDetail:
        ticket = actions.check_create_ticket(session, principal, data)
        session.flush()
        return TicketDetail.model_validate(queries.detail(session, principal, ticket))

    return idempotent_create(session, f"{principal.kind.value}:{principal.id}", key, data, create)


@router.post("/guest/tickets", status_code=201, response_model=TicketDetail)
def create_guest_ticket(
    data: GuestTicketCreate, request: Request, session: DbSession, limiter: RateLimiterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:  # fmt: skip
    hit_limit(limiter, GUEST_TICKET, client_address(request))
    ticket_data = TicketCreate.model_validate(data.model_dump(exclude={"email"}))

    def create() -> TicketDetail:
        ticket = actions.check_create_ticket(session, SYSTEM, ticket_data, guest_email=data.email)
        session.flush()
        guest = Principal(kind=PrincipalKind.GUEST, id=0, ticket_id=ticket.id)
        return TicketDetail.model_validate(queries.detail(session, guest, ticket))

    return idempotent_create(session, f"guest:{data.email.lower()}", key, data, create)


@router.post("/guest/codes", status_code=202, response_model=Accepted)
def request_guest_code(
    data: GuestCodeRequest, request: Request, session: DbSession, limiter: RateLimiterDep
) -> Accepted:
    hit_limit(limiter, GUEST_CODE, client_address(request))
    actions.check_request_guest_code(session, data.tracking_id, data.email)
    return Accepted(detail="If the tracking ID and email match, a code is on its way.")


@router.post("/guest/sessions", response_model=GuestSession)
def open_guest_session(
    data: GuestCodeVerify, request: Request, session: DbSession, limiter: RateLimiterDep
) -> GuestSession:
    hit_limit(limiter, GUEST_VERIFY, client_address(request))
    ticket = actions.check_guest_code(session, data.tracking_id, data.email, data.code)
    token = sign_in_guest(request, ticket)
    return GuestSession(tracking_id=ticket.tracking_id, csrf_token=token)


@router.get("/tickets", response_model=TicketPage)
def list_tickets(
    session: DbSession,
    principal: CurrentPrincipal,
    query: Annotated[TicketListQuery, Query()],
) -> TicketPage:
    page = queries.list_tickets(session, principal, query, limit=check_page_size(query.limit),
                                after_id=decode_cursor(query.cursor))  # fmt: skip
    items = [TicketSummary.model_validate(queries.summary(t)) for t in page.items]
    return TicketPage(items=items, next_cursor=page.next_cursor)


@router.get("/tickets/{ticket_ref}", response_model=TicketDetail)
def get_ticket(
    ticket_ref: Reference, session: DbSession, principal: CurrentPrincipal
) -> TicketDetail:
    result = _detail(session, principal, queries.access_ticket_ref(session, principal, ticket_ref))
    if principal.is_agent:
        actions.do_record_view(session, principal, result.id)
    return result


@router.post("/tickets/{ticket_ref}/messages", status_code=201, response_model=EntryPublic)
def post_message(
    ticket_ref: Reference, data: AgentReplyCreate, session: DbSession, principal: CurrentPrincipal
) -> EntryPublic:
    ticket = queries.access_ticket_ref(session, principal, ticket_ref)
    entry = actions.check_reply(session, principal, ticket, data.body, internal=data.internal,
                                set_status=data.set_status)  # fmt: skip
    session.flush()
    return EntryPublic.model_validate(entry)


@router.post("/tickets/{ticket_ref}/attachments", status_code=201, response_model=EntryPublic,
             openapi_extra=ATTACHMENTS_BODY)  # fmt: skip
def post_attachments(
    ticket_ref: Reference, session: DbSession, principal: CurrentPrincipal, form: Posted
) -> EntryPublic:
    """A message with files (``multipart/form-data``: ``files``, and an optional ``body``)."""
    if not form.uploads:
        raise InvalidInput("Attach at least one file.", field="files")
    checked = form.checked_uploads()
    data = validate_body(ReplyForm, {"body": form.values.get("body", "")})
    ticket = queries.access_ticket_ref(session, principal, ticket_ref)
    entry = actions.check_reply(session, principal, ticket, data.body, uploads=checked)
    session.flush()
    session.refresh(entry, ["attachments"])
    return EntryPublic.model_validate(entry)


@router.get("/tickets/{ticket_ref}/attachments/{attachment_id}")
def download_attachment(
    ticket_ref: Reference, attachment_id: int, session: DbSession, principal: CurrentPrincipal,
    settings: SettingsDep,
) -> FileResponse:  # fmt: skip
    ticket = queries.access_ticket_ref(session, principal, ticket_ref)
    attachment = session.get(Attachment, attachment_id)
    visible = {
        e.id for e in queries.list_entries(session, ticket, include_internal=principal.is_agent)
    }
    if (
        attachment is None
        or attachment.ticket_id != ticket.id
        or attachment.entry_id not in visible
    ):
        raise NotFound("No attachment {attachment_id}.", attachment_id=attachment_id)
    return FileResponse(settings.upload_dir / attachment.storage_key, media_type=attachment.content_type,
                        filename=attachment.filename, content_disposition_type="attachment")  # fmt: skip


@router.post("/tickets/{ticket_ref}/status", response_model=TicketDetail)
def change_status(
    ticket_ref: Reference, data: StatusChange, session: DbSession, agent: CurrentAgent
) -> TicketDetail:
    ticket = queries.access_ticket_ref(session, agent, ticket_ref)
    actions.check_change_status(session, agent, ticket, data.status)
    return _detail(session, agent, ticket)


@router.post("/tickets/{ticket_ref}/assignment", response_model=TicketDetail)
def change_assignment(
    ticket_ref: Reference, data: AssignmentChange, session: DbSession, agent: CurrentAgent
) -> TicketDetail:
    ticket = queries.access_ticket_ref(session, agent, ticket_ref)
    actions.check_assign(session, agent, ticket, data.assignee_id)
    return _detail(session, agent, ticket)


@router.post("/tickets/{ticket_ref}/priority", response_model=TicketDetail)
def change_priority(
    ticket_ref: Reference, data: PriorityChange, session: DbSession, agent: CurrentAgent
) -> TicketDetail:
    ticket = queries.access_ticket_ref(session, agent, ticket_ref)
    actions.check_change_priority(session, agent, ticket, data.priority)
    return _detail(session, agent, ticket)


@router.post("/tickets/{ticket_ref}/handoff", response_model=TicketDetail)
def handoff(
    ticket_ref: Reference, data: HandoffCreate, session: DbSession, agent: CurrentAgent
) -> TicketDetail:
    ticket = queries.access_ticket_ref(session, agent, ticket_ref)
    actions.check_handoff(session, agent, ticket, data.department, data.note)
    # Shaped from the ticket already fetched: after a hand-off to security a frontline agent
    # may no longer look the ticket up, yet the hand-off itself succeeded.
    return _detail(session, agent, ticket)


@router.post("/tickets/{ticket_ref}/merge", response_model=TicketDetail)
def merge(
    ticket_ref: Reference, data: MergeRequest, session: DbSession, agent: CurrentAgent
) -> TicketDetail:
    ticket = queries.access_ticket_ref(session, agent, ticket_ref)
    target = actions.check_merge(session, agent, ticket, data.into_tracking_id)
    return _detail(session, agent, target)


@router.post("/tickets/{ticket_ref}/macro", status_code=201, response_model=EntryPublic)
def apply_macro(
    ticket_ref: Reference, data: MacroApply, session: DbSession, agent: CurrentAgent
) -> EntryPublic:
    ticket = queries.access_ticket_ref(session, agent, ticket_ref)
    entry = actions.check_apply_macro(session, agent, ticket, data.macro_id)
    session.flush()
    return EntryPublic.model_validate(entry)


@router.get("/macros", response_model=list[MacroPublic])
def list_macros(
    session: DbSession, agent: CurrentAgent, language: str | None = None
) -> list[MacroPublic]:
    agent.require(Permission.VIEW_TICKETS)
    return [MacroPublic.model_validate(m) for m in queries.list_macros(session, language)]


@router.post("/macros", status_code=201, response_model=MacroPublic)
def create_macro(data: MacroCreate, session: DbSession, agent: CurrentAgent) -> MacroPublic:
    macro = actions.check_create_macro(session, agent, data)
    return MacroPublic.model_validate(macro)


@router.get("/stats/backlog", response_model=BacklogFigure)
def backlog(session: DbSession, agent: CurrentAgent) -> BacklogFigure:
    agent.require(Permission.VIEW_TICKETS)
    old_open, week = queries.backlog_figure(session)
    return BacklogFigure(open_older_than_48h=old_open, created_last_7_days=week,
                         share=round(old_open / week, 4) if week else 0.0)  # fmt: skip
