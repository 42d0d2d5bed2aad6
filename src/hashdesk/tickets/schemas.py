from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import Priority, Status

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200)]
FieldValue = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class TicketFields(BaseModel):
    """Structured fields; which ones a category asks for is the category's data."""

    model_config = ConfigDict(extra="forbid")

    network: FieldValue | None = None
    asset: FieldValue | None = None
    tx_hash: FieldValue | None = None
    address: FieldValue | None = None
    order_id: FieldValue | None = None
    memo: FieldValue | None = None


class TicketFilter(BaseModel):
    """What the console's views and search narrow a ticket list by."""

    model_config = ConfigDict(extra="forbid")

    view: Literal["mine", "unassigned", "breaching"] | None = None
    department: Department | None = None
    status: Status | None = None
    category: Annotated[str | None, Field(max_length=48)] = None
    priority: Priority | None = None
    language: Annotated[str | None, Field(max_length=16)] = None
    search: Annotated[str | None, Field(max_length=200)] = None


class TicketListQuery(TicketFilter):
    """The list endpoint's query string: the filters and the page. (The filters alone would
    refuse ``cursor`` and ``limit`` as unknown parameters.)"""

    cursor: Annotated[str | None, Field(max_length=200)] = None
    limit: int = 25


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, Field(max_length=48)]
    subject: Subject
    description: Text
    fields: TicketFields = TicketFields()
    language: Annotated[str | None, Field(max_length=16)] = None


class GuestTicketCreate(TicketCreate):
    email: EmailStr


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Text


class AgentReplyCreate(ReplyCreate):
    internal: bool = False
    set_status: Status | None = None


class ReplyForm(BaseModel):
    """A reply as the portal's and console's forms (and the attachments endpoint) send it:
    the body may be left empty when files are attached (``actions.check_reply`` decides)."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] = ""
    internal: bool = False
    set_status: Status | None = None


class HandoffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: Department
    note: Text


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status


class AssignmentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: int | None


class PriorityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into_tracking_id: Annotated[str, Field(max_length=20)]


class MacroApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    macro_id: int


class MacroCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    body: Text
    language: Annotated[str, Field(max_length=16)] = "en"
    department: Department | None = None
    set_status: Status | None = None


class GuestCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_id: Annotated[str, Field(max_length=20)]
    email: EmailStr


class GuestCodeVerify(GuestCodeRequest):
    code: Annotated[str, Field(pattern=r"^\d{6}$")]


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int


class EntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    author_kind: str
    author_name: str
    body: str
    public: bool
    data: dict[str, Any]
    created_at: datetime
    attachments: list[AttachmentPublic] = []


class TicketSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    tracking_id: str
    category: str
    department: str
    subject: str
    status: str
    priority: str
    language: str
    vip_level: int
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_breached: bool = False


class TicketDetail(TicketSummary):
    description: str
    fields: dict[str, Any]
    trader_id: int | None
    guest_email: str | None
    merged_into_id: int | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    entries: list[EntryPublic]


class TicketPage(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None


FieldName = Literal["network", "asset", "tx_hash", "address", "order_id", "memo"]


class CategoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    department: str
    fields: list[str]
    required_fields: list[str]
    default_priority: str
    active: bool


class CategoryChange(BaseModel):
    """An admin's edit of a category; omitted values stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
        | None
    ) = None
    department: Department | None = None
    fields: list[FieldName] | None = None
    required_fields: list[FieldName] | None = None
    default_priority: Priority | None = None
    position: Annotated[int, Field(ge=0, le=1000)] | None = None
    active: bool | None = None


class CategoryCreate(CategoryChange):
    slug: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,47}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    department: Department


class SlaPolicyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    priority: str | None
    min_vip_level: int
    first_response_minutes: int
    resolution_minutes: int


class SlaPolicyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 30)]
    resolution_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 90)]


class MacroPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    body: str
    language: str
    department: str | None
    set_status: str | None


class BacklogFigure(BaseModel):
    open_older_than_48h: int
    created_last_7_days: int
    share: float
