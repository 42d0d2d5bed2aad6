"""The one error vocabulary: every DomainError has a status, a stable code and a message
with its parameters filled in (translated when a catalog has it)."""

from __future__ import annotations

import pytest

from hashdesk.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMedia,
)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidInput, 422, "invalid_input"),
        (NotAuthenticated, 401, "not_authenticated"),
        (PermissionDenied, 403, "permission_denied"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (PayloadTooLarge, 413, "payload_too_large"),
        (UnsupportedMedia, 415, "unsupported_media_type"),
        (ServiceUnavailable, 503, "service_unavailable"),
    ],
)
def test_each_error_carries_its_http_status_and_code(
    error: type[DomainError], status: int, code: str
) -> None:
    raised = error("Something about {thing}.", field="thing", thing="x")
    assert (raised.status, raised.code, raised.field) == (status, code, "thing")
    assert str(raised) == "Something about x."


def test_rate_limited_keeps_retry_after_for_the_header() -> None:
    error = RateLimited("Too many attempts; try again in {retry_after} seconds.", retry_after=42)
    assert (error.status, error.retry_after, str(error)) == (
        429, 42, "Too many attempts; try again in 42 seconds.")  # fmt: skip


def test_the_message_is_translated_before_its_parameters_are_filled_in() -> None:
    error = NotFound("No ticket {reference}.", reference="HD-AAAA-BBBB")
    catalog = {"No ticket {reference}.": "Kein Ticket {reference}."}
    assert error.render(lambda message: catalog.get(message, message)) == (
        "Kein Ticket HD-AAAA-BBBB."
    )


def test_a_message_with_braces_but_no_parameters_is_shown_as_written() -> None:
    # User text can end up in a message; a stray brace must not turn into a crash.
    assert str(InvalidInput("Expected {json} here")) == "Expected {json} here"
