from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

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


# --- the connector's deposit addresses and deposit/withdrawal records ---------------------------

NetworkSlug = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")
]
ChainText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
Memo = Annotated[str, StringConstraints(max_length=100, strip_whitespace=True)]
AssetSymbol = Annotated[
    str, StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9.\-]+$")
]


class DepositAddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: NetworkSlug
    address: ChainText
    memo: Memo = ""
    asset: AssetSymbol | None = None


class DepositAddressesReplace(BaseModel):
    """The trader's whole list: what is not in it any more is removed."""

    model_config = ConfigDict(extra="forbid")

    addresses: Annotated[list[DepositAddressIn], Field(max_length=500)]


class DepositAddressPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    network: str
    address: str
    memo: str
    asset: str | None


class TransferUpsert(BaseModel):
    """One deposit or withdrawal as the exchange records it."""

    model_config = ConfigDict(extra="forbid")

    trader: ExternalId
    network: NetworkSlug
    asset: AssetSymbol
    amount: Annotated[Decimal, Field(ge=0, max_digits=40, decimal_places=18)]
    address: ChainText
    memo: Memo = ""
    tx_hash: ChainText | None = None
    status: Literal["pending", "completed", "failed", "cancelled"]
    block_height: Annotated[int | None, Field(ge=0)] = None
    block_hash: Annotated[str | None, StringConstraints(max_length=100, pattern=r"^\S+$")] = None
    occurred_at: AwareDatetime


class TransferPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    external_id: str
    network: str
    asset: str
    amount: Decimal
    address: str
    memo: str
    tx_hash: str | None
    status: str
    block_height: int | None
    block_hash: str | None
    occurred_at: datetime
