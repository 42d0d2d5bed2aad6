"""Request and response shapes of the assistant API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
LocaleCode = Annotated[str, Field(max_length=16)]
ArticleId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: LocaleCode | None = Field(
        default=None, description="answer in this locale; detected from each question when left out"
    )
    message: Question | None = Field(default=None, description="the first question, if any")


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Question


class ChoiceCreate(BaseModel):
    """The trader picks one topic of a "Did you mean A or B?" question."""

    model_config = ConfigDict(extra="forbid")

    article_id: ArticleId


class FlowStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow_id: Annotated[str, Field(max_length=64)]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    solved: bool = Field(description='true: "this solved it"; false: it did not')
    article_id: ArticleId | None = Field(
        default=None, description="the article voted on; default the last one shown"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class HandoffCreate(BaseModel):
    """ "Talk to a human". Guests give the address the ticket's replies go to."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class ArticleRef(BaseModel):
    id: int
    title: str
    url: str
    locale: str


class Candidate(BaseModel):
    id: int
    title: str
    url: str
    score: float


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author: str
    body: str
    data: dict[str, Any]
    created_at: datetime


class ConversationPublic(BaseModel):
    id: int
    locale: str
    outcome: str | None
    resolved_by: str | None
    reason: str | None
    flow_id: str | None
    ticket_tracking_id: str | None
    started_at: datetime
    messages: list[MessagePublic]
    # Only in the answer that starts a guest's conversation: the key that owns it, for the
    # X-Assistant-Key header of a widget on another site.
    guest_key: str | None = None


class FlowPublic(BaseModel):
    id: str
    title: str


class DeflectionPublic(BaseModel):
    since: datetime
    until: datetime
    conversations: int
    resolved: int
    resolved_confirmed: int
    resolved_no_return: int
    handed_off: int
    abandoned: int
    open: int
    returned_within_72h: int
    deflected: int
    deflection_rate: float | None
