from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    event_types: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=32)] = []


class WebhookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    """Shown once, at creation: the secret that signs this endpoint's deliveries."""

    secret: str


class OutboxStats(BaseModel):
    pending: int
    sent: int
    failed: int
