"""The ``Idempotency-Key`` header on creates, wired to ``core.idempotency``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hashdesk.core.idempotency import check_key, find_replay, fingerprint, remember

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="repeat a create safely: same key, same answer"),
]


def idempotent_create(
    session: Session,
    scope: str,
    key: str | None,
    request: BaseModel,
    create: Callable[[], BaseModel],
    status_code: int = 201,
) -> JSONResponse:
    """Run ``create`` once per (scope, key); a repeat gets the stored answer back."""
    if key is None:
        return JSONResponse(jsonable_encoder(create()), status_code=status_code)
    request_fingerprint = fingerprint(request.model_dump(mode="json"))
    replay = find_replay(session, scope, check_key(key), request_fingerprint)
    if replay is not None:
        return JSONResponse(replay.body, status_code=replay.status_code,
                            headers={"Idempotent-Replayed": "true"})  # fmt: skip
    body = jsonable_encoder(create())
    remember(session, scope, key, request_fingerprint, status_code, body)
    return JSONResponse(body, status_code=status_code)
