from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from hashdesk.core.auth import Role

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]


class TraderUpsert(BaseModel):
    """What the exchange's connector pushes about one trader."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: Annotated[str, Field(max_length=200)] = ""
    region: Annotated[str, Field(max_length=8, pattern=r"^[A-Za-z]{0,8}$")] = ""
    language: Annotated[str, Field(max_length=16)] = "en"
    vip_level: Annotated[int, Field(ge=0, le=9)] = 0
    kyc_level: Annotated[int, Field(ge=0, le=3)] = 0
    anti_phishing_code: Annotated[str | None, Field(max_length=32)] = None


class TraderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str
    email: str
    name: str
    region: str
    language: str
    vip_level: int
    kyc_level: int
    updated_at: datetime


class AgentLogin(BaseModel):
    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=256)]


class TraderTokenLogin(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=8192)]


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    department: str
    languages: list[str] = ["en"]
    password: Annotated[str, Field(min_length=10, max_length=256)]


class AgentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    department: str
    languages: list[str]
    active: bool


class SessionInfo(BaseModel):
    kind: str
    id: int
    name: str
    role: str | None = None
    csrf_token: str
