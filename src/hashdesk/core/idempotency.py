"""``Idempotency-Key`` on creates: a retried request gets the first answer, not a duplicate.

The remembered response is written in the same transaction as the thing it created, so
either both exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base
from hashdesk.core.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 128


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(96))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1 to {maximum} printable characters.",
            field="Idempotency-Key",
            maximum=MAX_KEY_LENGTH,
        )
    return key


def find_replay(
    session: Session, scope: str, key: str, request_fingerprint: str
) -> IdempotencyRecord | None:
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is not None and record.fingerprint != request_fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            field="Idempotency-Key",
        )
    return record


def remember(
    session: Session,
    scope: str,
    key: str,
    request_fingerprint: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    session.add(
        IdempotencyRecord(
            scope=scope,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status_code,
            body=body,
        )
    )
