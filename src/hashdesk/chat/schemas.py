"""Request bodies of the chat's HTTP actions (the socket's frames are in ``protocol``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from hashdesk.chat.desk import MAX_COMMENT_CHARS, MAX_NOTE_CHARS

MAX_ID = 2**31 - 1


class GuestPass(BaseModel):
    """How a guest shows the chat is theirs: the email they gave and the chat's key (from the
    socket's ``chat`` frame). Signed-in traders send their token instead."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    key: str | None = Field(default=None, max_length=80)


class AssistantLink(GuestPass):
    conversation: int = Field(ge=1, le=MAX_ID)


class SurveyAnswer(GuestPass):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class ChatTicketCreate(BaseModel):
    """Turn the chat into a ticket; with ``department`` it is an escalation there."""

    model_config = ConfigDict(extra="forbid")

    department: str | None = Field(default=None, max_length=32)
    category: str | None = Field(default=None, max_length=48)
    reason: str = Field(default="", max_length=2000)


class GuestCodeEntry(GuestPass):
    """The code mailed to a guest's address, proving it (see ``chat.guests``)."""

    code: str = Field(min_length=6, max_length=6, pattern=r"^\s*\d{6}\s*$")
