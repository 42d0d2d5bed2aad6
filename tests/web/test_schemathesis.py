"""Schemathesis over the published OpenAPI schema: whatever a client sends, the server
answers with a 2xx or a 4xx problem, never a 500.

Run twice: unauthenticated, and as a signed-in lead agent (cookie and CSRF token sent with
every request, so writes get past authentication into the domain code). Bounded to a few dozen
examples per operation to keep the suite fast; ``/api/v1/stream`` is an endless event stream
and is left out.

(The operations are walked inside one test per mode rather than with
``schemathesis.pytest.from_fixture``, whose lazy fixtures do not work with pytest 9.)
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy.orm import Session

from hashdesk.core.auth import Role
from tests.conftest import login_agent, make_agent, make_trader, open_ticket

EXAMPLES_PER_OPERATION = 25
SESSION_COOKIE = "hashdesk_session"
bounded = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples every run: a failure here is reproducible
    database=None,
)


def _some_data(session: Session) -> None:
    """A little data, so that small ids and real paths lead somewhere."""
    trader = make_trader(session)
    open_ticket(session, trader)
    open_ticket(session, trader, category="deposit", fields={"network": "tron", "asset": "USDT"})


def _server_errors(client: TestClient, headers: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [
        result.ok() for result in schema.exclude(path="/api/v1/stream").get_all_operations()
    ]
    assert len(operations) > 20, "the schema lost its operations"
    failures: list[str] = []
    for operation in operations:
        # Valid and invalid inputs alike: invalid ones must come back as 4xx problems.
        cases = st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE))

        @bounded
        @given(case=cases)
        def call(case: Any) -> None:
            response = case.call(headers={**(case.headers or {}), **headers})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} query={case.query} "
                                f"body={case.body!r} -> {response.status_code}: {response.text[:300]}")  # fmt: skip

        call()
    return failures


def test_no_anonymous_request_makes_the_server_fail(client: TestClient, session: Session) -> None:
    _some_data(session)
    assert _server_errors(client, {}) == []


def test_no_request_of_a_signed_in_agent_makes_the_server_fail(
    client: TestClient, session: Session
) -> None:
    _some_data(session)
    token = login_agent(client, make_agent(session, Role.LEAD))
    credentials = {"Cookie": f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}",
                   "X-CSRF-Token": token}  # fmt: skip
    assert _server_errors(client, credentials) == []
