"""Every API error is an RFC 9457 problem document (``application/problem+json``) with a
stable code, a translated detail and, where one input was at fault, the field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.app import create_app
from hashdesk.config import Settings
from hashdesk.runtime import Runtime
from tests.conftest import free_port, login_trader, make_trader
from tests.tickets.test_api import assert_problem


def test_an_unknown_api_path_or_method_is_a_problem_too(client: TestClient) -> None:
    problem = assert_problem(client.get("/api/v1/no-such-thing"), 404)
    assert (problem["code"], problem["instance"]) == ("not_found", "/api/v1/no-such-thing")
    assert problem["type"] == "about:blank#not_found"
    assert assert_problem(client.delete("/api/v1/categories"), 405)["code"] == "method_not_allowed"


def test_validation_errors_list_every_wrong_field(
    client: TestClient, session: Session, settings: Settings
) -> None:
    login_trader(client, settings, make_trader(session))
    response = client.post("/api/v1/tickets", json={"category": 5, "subject": "x", "extra": 1})
    problem = assert_problem(response, 422)
    fields = {error["field"] for error in problem["errors"]}
    assert {"category", "subject", "description", "extra"} <= fields
    assert problem["code"] == "invalid_input"
    assert "subject" in problem["detail"]


def test_problem_details_follow_the_requested_language(client: TestClient) -> None:
    from hashdesk.core.i18n import gettext_for

    english = assert_problem(client.get("/api/v1/tickets"), 401)
    german = assert_problem(client.get("/api/v1/tickets", headers={"Accept-Language": "de"}), 401)
    assert english["code"] == german["code"] == "not_authenticated"  # codes never translate
    assert (english["title"], english["detail"]) == ("Sign-in required", "Sign in first.")
    catalog = gettext_for("de")
    assert (german["title"], german["detail"]) == (
        catalog.gettext("Sign-in required"), catalog.gettext("Sign in first."))  # fmt: skip
    assert german["detail"] != english["detail"]


def test_a_database_outage_is_a_503_problem_not_a_500(
    database_url: str, settings: Settings
) -> None:
    down = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone"}
    )
    runtime = Runtime(down)
    with TestClient(create_app(down, runtime), raise_server_exceptions=False) as client:
        problem = assert_problem(client.get("/api/v1/categories"), 503)
    assert problem["code"] == "service_unavailable"


def test_invalid_input_and_unknown_addresses_are_titled_in_the_readers_language(
    client: TestClient,
) -> None:
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    invalid = client.post("/api/v1/guest/tickets", json={"email": "nope"}, headers=german)
    missing = client.get("/api/v1/no-such-thing", headers=german)
    assert invalid.status_code == 422 and missing.status_code == 404
    assert invalid.json()["title"] == "Ungültige Eingabe"
    assert missing.json()["title"] == "Nicht gefunden"
    assert missing.headers["content-type"].startswith("application/problem+json")
