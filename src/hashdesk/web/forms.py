"""Submitted forms, read on the event loop so that the routes using them can be plain
``def`` functions (FastAPI runs those in the thread pool, where blocking database calls and
file writes belong)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from hashdesk.tickets.attachments import (
    MAX_FILES_PER_MESSAGE,
    CheckedUpload,
    Upload,
    check_uploads,
)
from hashdesk.web.deps import get_runtime, read_form

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class PostedForm:
    """A submitted form: its text values and its files (read, not yet checked)."""

    values: dict[str, str]
    uploads: list[Upload] = field(default_factory=list)
    max_upload_bytes: int = 0

    def text(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def flag(self, name: str) -> bool:
        return self.values.get(name, "") in ("1", "on", "true")

    def checked_uploads(self) -> list[CheckedUpload]:
        """The files, checked for number, size and type (raises naming the one at fault)."""
        return check_uploads(self.uploads, self.max_upload_bytes)


async def posted_form(request: Request) -> PostedForm:
    """Read the form, and of its files at most one more than a message may carry (enough
    for the check to refuse the message), each up to one byte past the size limit."""
    form = await read_form(request)
    limit = get_runtime(request).settings.max_upload_bytes
    values: dict[str, str] = {}
    uploads: list[Upload] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            values[name] = value
        elif name == "files" and value.filename and len(uploads) <= MAX_FILES_PER_MESSAGE:
            uploads.append(Upload(value.filename, await value.read(limit + 1)))
    return PostedForm(values, uploads, limit)


Posted = Annotated[PostedForm, Depends(posted_form)]


def validate_body(model: type[ModelT], payload: object) -> ModelT:
    """``payload`` (read by hand: a form, a signed body) as ``model``; refused like any
    request body, one problem entry per wrong field."""
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
        ) from error
