"""The trader portal and the agent console, driven through their HTML forms."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.config import Settings
from hashdesk.core import audit
from hashdesk.core.auth import Role
from hashdesk.notify.jobs import drain
from hashdesk.runtime import Runtime
from hashdesk.tickets.actions import check_create_macro
from hashdesk.tickets.models import Ticket
from hashdesk.tickets.schemas import MacroCreate
from tests.conftest import AGENT_PASSWORD, exchange_token, make_agent, make_trader, open_ticket

SCRIPT = "<script>alert('x')</script>"
HTML = {"Accept": "text/html"}


def csrf_of(page: Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in_trader(client: TestClient, settings: Settings, trader: Trader) -> str:
    """Arrive from the exchange with its token, as a real trader does; returns the CSRF token."""
    token = exchange_token(settings, trader.external_id)
    arrived = client.get(f"/auth/exchange?token={token}", follow_redirects=False)
    assert arrived.status_code == 303 and arrived.headers["location"] == "/portal"
    return csrf_of(client.get("/portal"))


def sign_in_agent(client: TestClient, agent: Agent) -> str:
    token = csrf_of(client.get("/console/login"))
    signed = client.post(
        "/console/login",
        data={"email": agent.email, "password": AGENT_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return csrf_of(client.get("/console"))


def ticket_form(**overrides: str) -> dict[str, str]:
    form = {
        "category": "deposit",
        "subject": "USDT deposit not credited",
        "description": "I sent 250 USDT on TRON an hour ago.",
        "fields.network": "tron",
        "fields.asset": "USDT",
    }
    form.update(overrides)
    return form


def field_error(page: Response, name: str) -> str:
    found = re.search(rf'data-testid="error-{re.escape(name)}">([^<]*)<', page.text)
    assert found, f"no error shown next to {name}"
    return unescape(found.group(1))


def action_error(page: Response) -> str:
    found = re.search(r'data-testid="action-error">([^<]*)<', page.text)
    assert found, "the console shows no error for the refused action"
    return unescape(found.group(1))


def only_ticket(session: Session) -> Ticket:
    session.expire_all()
    return session.scalars(select(Ticket)).one()


# --- the trader portal ----------------------------------------------------------------------------


def test_portal_sends_strangers_to_sign_in(client: TestClient) -> None:
    response = client.get("/portal", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/sign-in"


def test_trader_opens_a_ticket_through_the_form(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    token = sign_in_trader(client, settings, trader)
    form_page = client.get("/portal/new")
    assert form_page.status_code == 200
    assert 'data-fields="network asset tx_hash address memo"' in form_page.text
    assert "Content-Security-Policy" in form_page.headers

    created = client.post(
        "/portal/new",
        data=ticket_form(csrf_token=token),
        files=[("files", ("screenshot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"))],
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    ticket = only_ticket(session)
    assert created.headers["location"] == f"/portal/tickets/{ticket.tracking_id}?created=1"
    assert ticket.fields == {"network": "tron", "asset": "USDT"}

    page = client.get(created.headers["location"])
    assert page.status_code == 200
    assert 'data-testid="created-notice"' in page.text
    assert ticket.tracking_id in page.text
    assert f"/api/v1/tickets/{ticket.tracking_id}/attachments/" in page.text
    assert "screenshot.png" in page.text

    dashboard = client.get("/portal")
    assert ticket.tracking_id in dashboard.text and "USDT deposit not credited" in dashboard.text
    assert 'data-live-stream="/api/v1/stream"' in dashboard.text
    fragment = client.get("/portal/fragments/tickets")
    assert fragment.status_code == 200 and ticket.tracking_id in fragment.text
    assert "<html" not in fragment.text


def test_refused_ticket_form_keeps_values_and_names_the_field(
    client: TestClient, session: Session, settings: Settings
) -> None:
    token = sign_in_trader(client, settings, make_trader(session))
    refused = client.post(
        "/portal/new",
        data=ticket_form(
            csrf_token=token, **{"fields.network": "ethereum", "fields.tx_hash": "0x1234"}
        ),
    )
    assert refused.status_code == 422
    assert "64 hexadecimal characters" in field_error(refused, "fields.tx_hash")
    assert 'value="USDT deposit not credited"' in refused.text
    assert 'value="0x1234"' in refused.text
    assert session.scalar(select(Ticket.id)) is None

    short = client.post("/portal/new", data=ticket_form(csrf_token=token, subject="x"))
    assert short.status_code == 422
    assert "3 to 200 characters" in field_error(short, "subject")

    missing = client.post(
        "/portal/new", data=ticket_form(csrf_token=token, **{"fields.network": ""})
    )
    assert missing.status_code == 422
    assert "network is required" in field_error(missing, "fields.network")


def test_refused_upload_is_shown_next_to_the_files(
    client: TestClient, session: Session, settings: Settings
) -> None:
    token = sign_in_trader(client, settings, make_trader(session))
    refused = client.post(
        "/portal/new",
        data=ticket_form(csrf_token=token),
        files=[
            (
                "files",
                ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\xff\xfe", "application/octet-stream"),
            )
        ],
    )
    assert refused.status_code == 415
    assert "tool.exe" in field_error(refused, "files")
    assert session.scalar(select(Ticket.id)) is None


def test_form_without_csrf_token_is_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sign_in_trader(client, settings, make_trader(session))
    refused = client.post("/portal/new", data=ticket_form(), headers=HTML)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    assert session.scalar(select(Ticket.id)) is None


def test_trader_cannot_open_another_traders_ticket(
    client: TestClient, session: Session, settings: Settings
) -> None:
    owner, other = make_trader(session, "u-1"), make_trader(session, "u-2")
    ticket = open_ticket(session, owner)
    token = sign_in_trader(client, settings, other)
    assert client.get(f"/portal/tickets/{ticket.tracking_id}", headers=HTML).status_code == 404
    assert client.get(f"/portal/tickets/{ticket.tracking_id}/timeline").status_code == 404
    reply = client.post(
        f"/portal/tickets/{ticket.tracking_id}/reply", data={"body": "hi", "csrf_token": token}
    )
    assert reply.status_code == 404
    assert ticket.tracking_id not in client.get("/portal/fragments/tickets").text


def test_portal_timeline_shows_replies_and_handoff_but_never_internal_notes(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(
        session, trader, category="deposit", fields={"network": "tron", "asset": "USDT"}
    )
    agent = make_agent(session, Role.TECHNICIAN, department="blockchain")
    agent_token = sign_in_agent(another_client, agent)
    base = f"/console/tickets/{ticket.tracking_id}"
    for action, data in (
        ("reply", {"body": "We are checking the TRON transaction."}),
        ("reply", {"body": "Secret: trader looks like a repeat claimant.", "internal": "1"}),
        ("handoff", {"department": "engineering", "note": "API side, please look"}),
        ("handoff", {"department": "blockchain", "note": "Back to chain team"}),
    ):
        done = another_client.post(
            f"{base}/{action}", data={**data, "csrf_token": agent_token}, follow_redirects=False
        )
        assert done.status_code == 303, done.text

    sign_in_trader(client, settings, trader)
    for url in (
        f"/portal/tickets/{ticket.tracking_id}",
        f"/portal/tickets/{ticket.tracking_id}/timeline",
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert "We are checking the TRON transaction." in page.text
        assert "passed to the Blockchain technicians team" in page.text
        assert "repeat claimant" not in page.text
        assert "API side, please look" not in page.text
        assert "Internal note" not in page.text

    console = another_client.get(base)
    assert "repeat claimant" in console.text
    assert 'data-testid="internal-badge"' in console.text


def test_trader_replies_with_an_attachment_and_the_ticket_reopens(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    token = sign_in_trader(client, settings, trader)
    url = f"/portal/tickets/{ticket.tracking_id}"
    empty = client.post(f"{url}/reply", data={"body": "  ", "csrf_token": token})
    assert empty.status_code == 422
    assert field_error(empty, "body")

    sent = client.post(
        f"{url}/reply",
        data={"body": "Here is the log.", "csrf_token": token},
        files=[("files", ("log.txt", b"error 42", "text/plain"))],
        follow_redirects=False,
    )
    assert sent.status_code == 303
    page = client.get(url)
    assert "Here is the log." in page.text and "log.txt" in page.text
    link = re.search(r'href="(/api/v1/tickets/[^"]+/attachments/\d+)"', page.text)
    assert link is not None
    assert client.get(link.group(1)).content == b"error 42"


def test_script_in_subject_is_escaped_in_portal_and_console(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader, subject=f"Help {SCRIPT}")
    sign_in_trader(client, settings, trader)
    sign_in_agent(another_client, make_agent(session))
    pages = [
        client.get("/portal"),
        client.get(f"/portal/tickets/{ticket.tracking_id}"),
        another_client.get("/console"),
        another_client.get(f"/console/tickets/{ticket.tracking_id}"),
        another_client.get("/console/fragments/board"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert SCRIPT not in page.text
        assert "&lt;script&gt;" in page.text


# --- guests ---------------------------------------------------------------------------------------


def test_guest_opens_a_ticket_and_tracks_it_with_an_emailed_code(
    client: TestClient, session: Session, runtime: Runtime, smtp_server: object
) -> None:
    form = client.get("/portal/guest/new")
    assert form.status_code == 200 and 'name="email"' in form.text
    token = csrf_of(form)
    bad = client.post(
        "/portal/guest/new",
        data={
            **ticket_form(category="account_recovery"),
            "fields.network": "",
            "fields.asset": "",
            "email": "not-an-email",
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422
    assert field_error(bad, "email")

    created = client.post(
        "/portal/guest/new",
        data={
            "category": "account_recovery",
            "subject": "Locked out after phone loss",
            "description": "My 2FA phone was stolen.",
            "email": "Guest@Example.com",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    ticket = only_ticket(session)
    shown = client.get(created.headers["location"])
    assert ticket.tracking_id in shown.text and "guest@example.com" in shown.text
    assert client.get("/portal/guest/created", follow_redirects=False).status_code == 303

    track = client.get(f"/portal/track?t={ticket.tracking_id}")
    assert f'value="{ticket.tracking_id}"' in track.text
    asked = client.post(
        "/portal/track",
        data={
            "tracking_id": ticket.tracking_id.lower(),
            "email": "guest@example.com",
            "csrf_token": csrf_of(track),
        },
        follow_redirects=False,
    )
    assert asked.status_code == 303 and asked.headers["location"] == "/portal/track/code"
    drain(runtime.database, runtime.settings)
    inbox = smtp_server.messages  # type: ignore[attr-defined]
    mail = next(m for m in inbox if "one-time code" in m["Subject"])
    code = re.search(r"\b(\d{6})\b", mail.get_content()).group(1)  # type: ignore[union-attr]

    code_page = client.get("/portal/track/code")
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(
        "/portal/track/code", data={"code": wrong, "csrf_token": csrf_of(code_page)}
    )
    assert refused.status_code == 422
    assert "wrong or has expired" in field_error(refused, "code")

    opened = client.post(
        "/portal/track/code",
        data={"code": code, "csrf_token": csrf_of(refused)},
        follow_redirects=False,
    )
    assert opened.headers["location"] == f"/portal/tickets/{ticket.tracking_id}"
    page = client.get(opened.headers["location"])
    assert "Locked out after phone loss" in page.text
    assert 'data-testid="reply-form"' in page.text
    assert client.get("/portal", follow_redirects=False).headers["location"] == (
        f"/portal/tickets/{ticket.tracking_id}"
    )


def test_guest_forms_need_the_csrf_token(client: TestClient, session: Session) -> None:
    client.get("/portal/track")
    refused = client.post("/portal/track", data={"tracking_id": "HD-AAAA-AAAA", "email": "a@b.co"})
    assert refused.status_code == 403
    created = client.post(
        "/portal/guest/new",
        data={
            "category": "other",
            "subject": "Hello there",
            "description": "x",
            "email": "a@b.co",
        },
    )
    assert created.status_code == 403
    assert session.scalar(select(Ticket.id)) is None


def test_code_requests_are_rate_limited(client: TestClient) -> None:
    token = csrf_of(client.get("/portal/track"))
    form = {"tracking_id": "HD-AAAA-AAAA", "email": "a@b.co", "csrf_token": token}
    statuses = [
        client.post("/portal/track", data=form, follow_redirects=False).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [303] * 10
    assert statuses[10] == 429
    limited = client.post("/portal/track", data=form)
    assert "Too many attempts" in limited.text


def test_unknown_tracking_id_format_is_refused(client: TestClient) -> None:
    token = csrf_of(client.get("/portal/track"))
    refused = client.post(
        "/portal/track", data={"tracking_id": "nope", "email": "a@b.co", "csrf_token": token}
    )
    assert refused.status_code == 422
    assert "HD-7KQ3-9XPA" in field_error(refused, "tracking_id")


# --- the agent console ------------------------------------------------------------------------------


def test_console_needs_a_staff_sign_in(
    client: TestClient, session: Session, settings: Settings
) -> None:
    assert (
        client.get("/console", follow_redirects=False)
        .headers["location"]
        .startswith("/console/login")
    )
    sign_in_trader(client, settings, make_trader(session))
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert client.get("/console/fragments/board").status_code == 403


def test_console_list_views_search_and_filters(client: TestClient, session: Session) -> None:
    trader = make_trader(session)
    deposit = open_ticket(
        session,
        trader,
        category="deposit",
        subject="Deposit missing on TRON",
        fields={"network": "tron", "asset": "USDT"},
    )
    login = open_ticket(session, trader, subject="2FA reset please")
    agent = make_agent(session)
    sign_in_agent(client, agent)

    page = client.get("/console")
    assert page.status_code == 200
    assert deposit.tracking_id in page.text and login.tracking_id in page.text
    assert 'data-testid="count-unassigned">2<' in page.text
    assert 'data-testid="count-department-blockchain">1<' in page.text
    assert 'data-testid="backlog-share">0.0%<' in page.text
    assert 'data-live-stream="/api/v1/stream"' in page.text

    by_department = client.get("/console?department=blockchain")
    assert deposit.tracking_id in by_department.text
    assert login.tracking_id not in by_department.text
    by_text = client.get("/console?search=reset+please")
    assert login.tracking_id in by_text.text and deposit.tracking_id not in by_text.text
    jump = client.get(f"/console?search={deposit.tracking_id.lower()}", follow_redirects=False)
    assert jump.headers["location"] == f"/console/tickets/{deposit.tracking_id}"
    assert client.get("/console?status=sleeping", headers=HTML).status_code == 422

    fragment = client.get("/console/fragments/board?department=blockchain")
    assert deposit.tracking_id in fragment.text and "<html" not in fragment.text


def test_console_pages_through_the_list(client: TestClient, session: Session) -> None:
    trader = make_trader(session)
    tickets = [open_ticket(session, trader, subject=f"Question number {n}") for n in range(27)]
    sign_in_agent(client, make_agent(session))
    first = client.get("/console")
    assert tickets[-1].tracking_id in first.text and tickets[0].tracking_id not in first.text
    next_link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_link is not None
    second = client.get(unescape(next_link.group(1)))
    assert tickets[0].tracking_id in second.text and tickets[-1].tracking_id not in second.text


def test_agent_works_a_ticket_from_the_console(client: TestClient, session: Session) -> None:
    trader = make_trader(session, vip_level=2, kyc_level=2, region="de", language="de")
    ticket = open_ticket(session, trader)
    other = open_ticket(session, trader, subject="Same problem again")
    agent = make_agent(session, Role.LEAD)
    token = sign_in_agent(client, agent)
    url = f"/console/tickets/{ticket.tracking_id}"

    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="trader-email">u-1001@example.com<' in page.text
    assert "VIP 2" in page.text and 'data-testid="trader-kyc">2<' in page.text
    assert any(
        e.action == "ticket.viewed" and e.actor_id == agent.id
        for e in audit.list_entries(session, "ticket", ticket.id)
    )

    def act(action: str, **data: str) -> Response:
        return client.post(
            f"{url}/{action}", data={**data, "csrf_token": token}, follow_redirects=False
        )

    assert act("assign", assignee_id="me").status_code == 303
    assert act("priority", priority="urgent").status_code == 303
    assert act("reply", body="Please send a selfie.", set_status="pending").status_code == 303
    assert act("status", status="open").status_code == 303
    session.expire_all()
    ticket = session.get(Ticket, ticket.id)  # type: ignore[assignment]
    assert (ticket.assignee_id, ticket.priority, ticket.status) == (agent.id, "urgent", "open")

    macro_id = check_create_macro(
        session, agent_principal(agent),
        MacroCreate(name="Thanks", body="Thanks {trader_name}, ref {tracking_id}."),
    ).id  # fmt: skip
    session.commit()
    assert act("macro", macro_id=str(macro_id)).status_code == 303
    page = client.get(url)
    assert f"Thanks Trader u-1001, ref {ticket.tracking_id}." in page.text
    assert 'data-testid="assignee">Lead Agent<' in page.text

    bad = act("merge", into_tracking_id="HD-0000-0000")
    assert bad.status_code == 422
    assert "No ticket" in field_error(bad, "merge")
    merged = act("merge", into_tracking_id=other.tracking_id)
    assert merged.headers["location"].startswith(f"/console/tickets/{other.tracking_id}")

    closed_again = act("status", status="open")
    assert closed_again.status_code == 409
    assert "cannot go from closed" in action_error(closed_again)


def test_console_action_without_csrf_is_refused(client: TestClient, session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    sign_in_agent(client, make_agent(session))
    refused = client.post(
        f"/console/tickets/{ticket.tracking_id}/reply", data={"body": "hi"}, headers=HTML
    )
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(Ticket, ticket.id).first_response_at is None  # type: ignore[union-attr]


def test_console_shows_only_what_the_role_allows(client: TestClient, session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    token = sign_in_agent(client, make_agent(session, Role.COMMUNITY))
    page = client.get(f"/console/tickets/{ticket.tracking_id}")
    assert 'data-testid="reply-form"' in page.text  # notes only
    assert 'name="internal" value="1"' in page.text
    for control in ("handoff-form", "merge-form", "assign-form", "status-form", "internal-toggle"):
        assert f'data-testid="{control}"' not in page.text

    refused = client.post(
        f"/console/tickets/{ticket.tracking_id}/handoff",
        data={"department": "blockchain", "note": "please", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert "may not do this" in action_error(refused)

    frontline_page = TestClient(client.app)
    sign_in_agent(frontline_page, make_agent(session, Role.FRONTLINE))
    page = frontline_page.get(f"/console/tickets/{ticket.tracking_id}")
    assert 'data-testid="handoff-form"' in page.text
    assert 'data-testid="merge-form"' not in page.text


def test_console_ticket_shows_sla_breach(client: TestClient, session: Session) -> None:
    from datetime import timedelta

    from hashdesk.core.clock import utcnow

    ticket = open_ticket(session, make_trader(session))
    ticket.first_response_due = utcnow() - timedelta(minutes=5)
    session.commit()
    sign_in_agent(client, make_agent(session))
    page = client.get(f"/console/tickets/{ticket.tracking_id}")
    assert 'data-testid="sla-breach-alert"' in page.text
    board = client.get("/console")
    assert 'data-testid="breach-warning"' in board.text
    assert 'data-testid="count-breaching">1<' in board.text


@pytest.mark.parametrize("locale", ["ar", "fa"])
def test_right_to_left_pages(client: TestClient, locale: str) -> None:
    page = client.get(f"/portal/track?lang={locale}")
    assert f'<html lang="{locale}" dir="rtl">' in page.text


# --- one rule, one budget, few queries ----------------------------------------------------------


def test_the_portal_offers_no_reply_form_where_a_reply_would_be_refused(
    client: TestClient, session: Session, settings: Settings
) -> None:
    from datetime import timedelta

    from hashdesk.core.clock import utcnow
    from hashdesk.tickets.actions import check_change_status
    from hashdesk.tickets.models import Status

    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    check_change_status(session, agent_principal(make_agent(session)), ticket, Status.RESOLVED)
    session.commit()
    sign_in_trader(client, settings, trader)
    url = f"/portal/tickets/{ticket.tracking_id}"
    assert 'data-testid="reply-form"' in client.get(url).text  # resolved, within the window

    ticket.resolved_at = utcnow() - timedelta(days=settings.reopen_window_days + 1)
    session.commit()
    page = client.get(url)
    assert 'data-testid="reply-form"' not in page.text
    refused = re.search(r'data-testid="reply-refused">([^<]*)<', page.text)
    assert refused is not None and "too long ago" in unescape(refused.group(1))


def test_staff_have_no_portal_list_of_requests(client: TestClient, session: Session) -> None:
    sign_in_agent(client, make_agent(session))
    assert client.get("/portal/fragments/tickets", headers=HTML).status_code == 403


def test_the_api_and_the_pages_count_against_one_rate_limit(
    client: TestClient, session: Session
) -> None:
    form = {"tracking_id": "HD-AAAA-AAAA", "email": "a@b.co"}
    for _ in range(10):
        assert client.post("/api/v1/guest/codes", json=form).status_code == 202
    token = csrf_of(client.get("/portal/track"))
    assert client.post("/portal/track", data={**form, "csrf_token": token}).status_code == 429

    agent = make_agent(session)
    wrong = {"email": agent.email, "password": "wrong"}
    for _ in range(10):
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    token = csrf_of(client.get("/console/login"))
    assert client.post("/console/login", data={**wrong, "csrf_token": token}).status_code == 429


def test_the_console_costs_the_same_few_queries_however_many_tickets_and_entries(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    from hashdesk.tickets.actions import check_agent_reply, check_trader_reply
    from tests.tickets.test_api import count_queries

    def queries_for(url: str) -> int:
        client.get(url)  # warm up: connections and caches
        with count_queries(runtime) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    agent = make_agent(session, Role.LEAD)
    sign_in_agent(client, agent)
    pages = ["/console", "/console/fragments/board", f"/console/tickets/{ticket.tracking_id}",
             f"/console/tickets/{ticket.tracking_id}/timeline"]  # fmt: skip
    before = [queries_for(url) for url in pages]

    for number in range(20):
        category = ("deposit", "security", "login_2fa", "api")[number % 4]
        fields = {"network": "tron", "asset": "USDT"} if category == "deposit" else None
        open_ticket(session, trader, category=category, fields=fields)
        check_trader_reply(session, trader_principal(trader), ticket, f"Update {number}", [])
        check_agent_reply(session, agent_principal(agent), ticket, f"Note {number}", internal=True)
    session.commit()

    assert [queries_for(url) for url in pages] == before
    board, fragment, ticket_page, timeline = before
    assert fragment <= 5 and board <= 5
    assert ticket_page <= 8 and timeline <= 5
