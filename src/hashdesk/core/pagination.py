"""Cursor pagination: an opaque cursor names the last row seen, so pages never shift."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from hashdesk.core.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["id"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise InvalidInput("The cursor is not one this API issued.", field="cursor") from error
    if not isinstance(value, int) or value < 0:
        raise InvalidInput("The cursor is not one this API issued.", field="cursor")
    return value


def check_page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(
            "limit must be between 1 and {maximum}.", field="limit", maximum=MAX_PAGE_SIZE
        )
    return limit
