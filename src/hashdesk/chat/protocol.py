"""The chat socket's frames, limits and error codes (written out in docs/chat-protocol.md).

Every frame is one JSON object with a ``type``. ``parse_frame`` turns the raw text of a
client frame into one of the models below or raises ``FrameError`` with a stable code; the
gateway answers that with an ``error`` frame and keeps the connection open.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from hashdesk.core.errors import DomainError

MAX_FRAME_BYTES = 8 * 1024
MAX_TEXT_CHARS = 4000
MAX_CLIENT_ID_CHARS = 64
# A new socket may send this many frames at once, then one per 1/FRAMES_PER_SECOND seconds.
FRAME_BURST = 20
FRAMES_PER_SECOND = 5.0

ChatId = Annotated[int, Field(ge=1, le=2**62)]
Seq = Annotated[int, Field(ge=0, le=2**62)]
MessageText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
]
ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_CLIENT_ID_CHARS, pattern=r"^[\w.:-]+$")
]
Language = Annotated[str, StringConstraints(max_length=16)]


class FrameError(Exception):
    """A frame the server refuses; ``code`` is one of ``ERROR_CODES``."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


ERROR_CODES = {
    "bad_json": "the frame is not a JSON object",
    "bad_frame": "unknown type, or a field is missing or wrong (see field)",
    "frame_too_large": f"the frame is over {MAX_FRAME_BYTES} bytes",
    "binary_frame": "binary frames are not part of the protocol",
    "not_authenticated": "hello first, or the token/session is not valid",
    "already_authenticated": "hello was already accepted on this socket",
    "permission_denied": "this kind of sign-in may not send this frame",
    "not_found": "no such chat, or not yours (never told apart)",
    "conflict": "the chat's state does not allow it (e.g. closed)",
    "invalid_input": "a value is wrong (see field)",
    "rate_limited": "too many frames; retry_after seconds",
}


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Frame):
    """Sign in: ``token`` (the exchange's JWT), ``guest_email``, or neither (the console's
    session cookie, for agents and for traders signed in on the help center)."""

    type: Literal["hello"]
    token: Annotated[str | None, Field(max_length=4096)] = None
    guest_email: EmailStr | None = None
    guest_name: Annotated[str | None, StringConstraints(max_length=100)] = None
    # A guest whose address was proven comes back as it (``chat.guests``).
    guest_token: Annotated[str | None, Field(max_length=100)] = None
    language: Language | None = None


class Start(_Frame):
    """Open a chat (traders and guests); ``text`` is the first message."""

    type: Literal["start"]
    text: MessageText | None = None
    client_id: ClientId | None = None
    language: Language | None = None
    # The assistant conversation the trader leaves for this chat: routed with its predicted
    # category from the first offer.
    assistant: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None
    # A guest's assistant key (the ``X-Assistant-Key`` of the widget's assistant requests),
    # for a widget on another site whose socket carries no session cookie.
    assistant_key: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")] = None


class Resume(_Frame):
    """Join a chat and receive every message after ``last_seq`` (0: all), then live ones.
    A guest shows the chat's ``key`` from the ``chat`` frame they got when it started."""

    type: Literal["resume"]
    chat: ChatId
    last_seq: Seq = 0
    key: Annotated[str | None, Field(max_length=200)] = None


class Message(_Frame):
    type: Literal["message"]
    chat: ChatId
    text: MessageText
    client_id: ClientId


class Typing(_Frame):
    type: Literal["typing"]
    chat: ChatId


class Read(_Frame):
    type: Literal["read"]
    chat: ChatId
    seq: Seq


class Accept(_Frame):
    type: Literal["accept"]
    chat: ChatId


class Transfer(_Frame):
    type: Literal["transfer"]
    chat: ChatId
    agent: Annotated[int, Field(ge=1)]


class ToTicket(_Frame):
    type: Literal["ticket"]
    chat: ChatId


class Close(_Frame):
    type: Literal["close"]
    chat: ChatId


class Presence(_Frame):
    type: Literal["presence"]
    status: Literal["online", "away", "offline"]
    capacity: Annotated[int | None, Field(ge=1, le=20)] = None


class Ping(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[
    Hello
    | Start
    | Resume
    | Message
    | Typing
    | Read
    | Accept
    | Transfer
    | ToTicket
    | Close
    | Presence
    | Ping,
    Field(discriminator="type"),
]
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_TYPES = ("hello", "start", "resume", "message", "typing", "read", "accept", "transfer",
                "ticket", "close", "presence", "ping")  # fmt: skip


def parse_frame(raw: str) -> ClientFrame:
    """The frame in ``raw``, or ``FrameError`` naming what is wrong."""
    if len(raw) * 4 > MAX_FRAME_BYTES and len(raw.encode()) > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"A frame may have at most {MAX_FRAME_BYTES} bytes.")
    try:
        # Most frames are right: parsed and checked in one pass (pydantic's own JSON parser);
        # one that is not goes the long way below, which says what is wrong with it.
        return _client_frame.validate_json(raw)
    except PydanticValidationError:
        pass
    try:
        data = orjson.loads(raw)
    except ValueError as error:
        raise FrameError("bad_json", "The frame is not valid JSON.") from error
    if not isinstance(data, dict):
        raise FrameError("bad_json", "A frame is a JSON object.")
    if data.get("type") not in CLIENT_TYPES:
        raise FrameError("bad_frame", "Unknown frame type; expected one of: "
                         + ", ".join(CLIENT_TYPES) + ".", field="type")  # fmt: skip
    try:
        return _client_frame.validate_python(data)
    except PydanticValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or None
        raise FrameError("bad_frame", f"{field or 'frame'}: {first['msg']}", field=field) from error


def error_frame(
    code: str, message: str, *, field: str | None = None, ref: str | None = None, **extra: Any
) -> dict[str, Any]:
    """``ref`` repeats the client's ``client_id`` (or frame type) so it knows what failed."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field:
        frame["field"] = field
    if ref:
        frame["ref"] = ref
    frame.update(extra)
    return frame


def domain_error_frame(error: DomainError, ref: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        extra["retry_after"] = retry_after
    return error_frame(error.code, error.render(), field=error.field, ref=ref, **extra)
