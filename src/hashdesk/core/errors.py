"""One error vocabulary for every domain.

A ``DomainError`` carries a stable ``code``, an HTTP status, a translatable English message
with named parameters and, where one input was at fault, the ``field``. ``hashdesk.web.problems``
turns it into ``application/problem+json`` or an HTML error page; nothing else maps errors.

    DomainError
    ├── InvalidInput        422  the request is well-formed but a value is wrong (names the field)
    ├── NotAuthenticated    401  no or an expired sign-in
    ├── PermissionDenied    403  signed in, but the role does not allow it
    ├── NotFound            404  missing, or not yours (we never reveal which)
    ├── Conflict            409  the state does not allow it (e.g. reply to a closed ticket)
    ├── PayloadTooLarge     413  an upload over the limit
    ├── UnsupportedMedia    415  an upload of a type we refuse
    ├── RateLimited         429  too many tries; ``retry_after`` seconds
    └── ServiceUnavailable  503  a dependency (database, Redis) is down
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        self.message = message
        self.field = field
        self.params = params
        super().__init__(self.render())

    def render(self, translate: Any = None) -> str:
        template = translate(self.message) if translate else self.message
        try:
            return str(template.format(**self.params))
        except (KeyError, IndexError, ValueError):
            return str(self.message)


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    title = "Invalid input"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    title = "Sign-in required"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    title = "Not allowed"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "Too large"


class UnsupportedMedia(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported file type"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, **params: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, retry_after=retry_after, **params)


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
