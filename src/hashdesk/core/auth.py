"""Who is asking, and what their role lets them do.

Principals: an agent (signed in with a password), a trader (signed in with a token the
exchange issued), or a guest who proved an email address for one ticket. Roles map to
permissions here, in one table, so a route asks ``principal.require(Permission.X)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hashdesk.core.errors import NotAuthenticated, PermissionDenied


class Role(enum.StrEnum):
    FRONTLINE = "frontline"
    TECHNICIAN = "technician"
    ACCOUNT_MANAGER = "account_manager"
    COMMUNITY = "community"
    SECURITY = "security"
    LEAD = "lead"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    VIEW_TICKETS = "view_tickets"
    REPLY = "reply"
    NOTE = "note"
    ASSIGN = "assign"
    CHANGE_STATUS = "change_status"
    HANDOFF = "handoff"
    MERGE = "merge"
    VIEW_SECURITY_TICKETS = "view_security_tickets"
    MANAGE_MACROS = "manage_macros"
    MANAGE_ARTICLES = "manage_articles"
    MANAGE_ASSETS = "manage_assets"
    MANAGE_STAFF = "manage_staff"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_AUDIT = "view_audit"
    VIEW_REPORTS = "view_reports"


_AGENT_BASICS = {
    Permission.VIEW_TICKETS,
    Permission.REPLY,
    Permission.NOTE,
    Permission.CHANGE_STATUS,
    Permission.HANDOFF,
    Permission.ASSIGN,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.FRONTLINE: frozenset(_AGENT_BASICS),
    Role.TECHNICIAN: frozenset(_AGENT_BASICS | {Permission.MERGE}),
    Role.ACCOUNT_MANAGER: frozenset(_AGENT_BASICS | {Permission.MERGE}),
    # Community staff moderate channels; on tickets they read and leave notes only.
    Role.COMMUNITY: frozenset({Permission.VIEW_TICKETS, Permission.NOTE}),
    Role.SECURITY: frozenset(
        _AGENT_BASICS | {Permission.MERGE, Permission.VIEW_SECURITY_TICKETS, Permission.VIEW_AUDIT}
    ),
    Role.LEAD: frozenset(
        _AGENT_BASICS
        | {
            Permission.MERGE,
            Permission.VIEW_SECURITY_TICKETS,
            Permission.MANAGE_MACROS,
            Permission.MANAGE_ARTICLES,
            Permission.MANAGE_ASSETS,
            Permission.VIEW_AUDIT,
            Permission.VIEW_REPORTS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


class PrincipalKind(enum.StrEnum):
    AGENT = "agent"
    TRADER = "trader"
    GUEST = "guest"
    SYSTEM = "system"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: int
    name: str = ""
    role: Role | None = None
    locale: str = "en"
    # A guest is admitted to exactly one ticket, the one whose emailed code they entered.
    ticket_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_agent(self) -> bool:
        return self.kind is PrincipalKind.AGENT

    def can(self, permission: Permission) -> bool:
        return self.role is not None and permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.is_agent:
            raise PermissionDenied("This needs a staff sign-in.")
        if not self.can(permission):
            raise PermissionDenied(
                "Your role ({role}) may not do this ({permission}).",
                role=self.role,
                permission=permission.value,
            )

    def audit_actor(self) -> tuple[str, int]:
        return self.kind.value, self.id


SYSTEM = Principal(kind=PrincipalKind.SYSTEM, id=0, name="HashDesk")

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def decode_exchange_token(token: str, key: str, issuer: str) -> dict[str, Any]:
    """Check a trader sign-in token issued by the exchange (HS256, ``sub`` = external id)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            issuer=issuer,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise NotAuthenticated("The sign-in token has expired.") from error
    except jwt.PyJWTError as error:
        raise NotAuthenticated(
            "The sign-in token is not valid: {reason}", reason=str(error)
        ) from error
    return claims
