"""Properties of a small demo loaded once through the real ``hashdesk demo load`` command.

Loading is the slow part (every staff password is hashed with argon2), so this module loads
once into the test database and its tests only read. They touch nothing else, and the next
test's ``runtime`` fixture empties the tables again.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.actions import check_agent_login
from hashdesk.accounts.models import Agent, Trader
from hashdesk.assets.queries import network_choices
from hashdesk.cli import main
from hashdesk.config import Settings, get_settings
from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import Role
from hashdesk.core.clock import utcnow
from hashdesk.core.i18n import LOCALES
from hashdesk.demo.content import CONTENT_LANGUAGES, MACROS, SCENARIOS
from hashdesk.demo.people import DEMO_PASSWORD, demo_logins
from hashdesk.notify.models import OutboxMessage
from hashdesk.runtime import Runtime
from hashdesk.tickets.actions import do_seed_defaults
from hashdesk.tickets.labels import DEFAULT_CATEGORIES
from hashdesk.tickets.models import EntryKind, Macro, Status, Ticket, TicketEntry
from tests.conftest import _empty_all_tables

SMALL = ["demo", "load", "--traders", "60", "--tickets", "80", "--seed", "11"]


@pytest.fixture(scope="module")
def loaded(database_url: str) -> Iterator[Session]:
    """The test database holding one small demo, loaded by the CLI."""
    runtime = Runtime(Settings(database_url=database_url, run_outbox_worker=False))
    _empty_all_tables(runtime)
    with runtime.database.transaction() as session:
        do_seed_defaults(session)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHDESK_DATABASE_URL", database_url)
        get_settings.cache_clear()
        result = CliRunner().invoke(main, SMALL, catch_exceptions=False)
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Loaded 20 staff, 60 traders, 80 tickets" in result.output
    with runtime.database.session() as session:
        yield session
    runtime.stop()


def tickets_of(session: Session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def entries_by_ticket(session: Session) -> dict[int, list[TicketEntry]]:
    grouped: dict[int, list[TicketEntry]] = defaultdict(list)
    for entry in session.scalars(select(TicketEntry).order_by(TicketEntry.id)):
        grouped[entry.ticket_id].append(entry)
    return grouped


def test_every_role_has_a_demo_login_that_works(loaded: Session) -> None:
    logins = demo_logins()
    assert set(logins) == set(Role)
    for role, email in logins.items():
        agent = check_agent_login(loaded, email, DEMO_PASSWORD)
        assert agent.role == role.value
    departments = {(a.role, a.department) for a in loaded.scalars(select(Agent))}
    assert {("technician", "blockchain"), ("technician", "engineering"),
            ("technician", "futures"), ("account_manager", "vip")} <= departments  # fmt: skip
    frontline_languages = {
        language
        for agent in loaded.scalars(select(Agent).where(Agent.role == "frontline"))
        for language in agent.languages
    }
    assert {"en", "zh-Hans", "ko", "ru", "tr", "vi", "es", "pt", "ja", "fr"} <= frontline_languages


def test_traders_spread_over_regions_languages_and_tiers(loaded: Session) -> None:
    traders = list(loaded.scalars(select(Trader)))
    assert len(traders) == 60
    assert {t.language for t in traders} <= set(LOCALES)
    assert len({t.language for t in traders}) >= 8
    assert all(re.fullmatch(r"[A-Z]{2}", t.region) for t in traders)
    assert len({t.region for t in traders}) >= 10
    assert all(0 <= t.vip_level <= 9 and 0 <= t.kyc_level <= 3 for t in traders)
    assert sum(t.vip_level == 0 for t in traders) > len(traders) / 2
    assert any(t.anti_phishing_code for t in traders)
    assert any(t.anti_phishing_code is None for t in traders)
    assert all(t.created_at < utcnow() - timedelta(days=59) for t in traders)


def test_tickets_cover_categories_states_and_eight_weeks(loaded: Session) -> None:
    tickets = tickets_of(loaded)
    assert len(tickets) >= 80  # a few more: duplicates that were merged
    assert {t.category for t in tickets} == {row[0] for row in DEFAULT_CATEGORIES}
    assert {t.status for t in tickets} == {s.value for s in Status}
    span = max(t.created_at for t in tickets) - min(t.created_at for t in tickets)
    assert span > timedelta(weeks=6)
    assert max(t.created_at for t in tickets) > utcnow() - timedelta(hours=3)
    finished = sum(t.status in ("resolved", "closed") for t in tickets)
    assert finished > len(tickets) * 0.7  # most of eight weeks of tickets are done
    assert len({t.language for t in tickets}) >= 5
    assert {t.language for t in tickets} <= set(CONTENT_LANGUAGES)


def test_structured_fields_pass_the_ticket_form_validators(loaded: Session) -> None:
    networks = network_choices(loaded)  # the registry's, as the ticket form offers them
    checked = 0
    for ticket in tickets_of(loaded):
        slug = ticket.fields.get("network")
        if slug is None:
            continue
        network = networks.by_slug[slug]
        if "tx_hash" in ticket.fields:
            assert network.tx_hash(ticket.fields["tx_hash"]) is None
            checked += 1
        if "address" in ticket.fields:
            assert network.address(ticket.fields["address"]) is None
            checked += 1
    assert checked > 10


def test_subjects_are_the_scenarios_in_the_ticket_language(loaded: Session) -> None:
    def pattern(template: str) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(template)))

    for ticket in tickets_of(loaded):
        subjects = [pattern(s.texts[ticket.language][0]) for s in SCENARIOS]
        assert any(p.fullmatch(ticket.subject) for p in subjects), ticket.subject


def test_timelines_are_consistent(loaded: Session) -> None:
    now = utcnow()
    entries = entries_by_ticket(loaded)
    for ticket in tickets_of(loaded):
        timeline = entries[ticket.id]
        assert timeline[0].kind == EntryKind.CREATED and timeline[0].created_at == ticket.created_at
        moments = [e.created_at for e in timeline]
        assert moments == sorted(moments), ticket.tracking_id
        assert moments[-1] <= now
        assert ticket.updated_at == moments[-1] or ticket.merged_into_id is not None
        replies = [e.created_at for e in timeline
                   if e.kind == EntryKind.MESSAGE and e.author_kind == "agent"]  # fmt: skip
        assert ticket.first_response_at == (replies[0] if replies else None)
        if ticket.first_response_at is not None:
            assert ticket.first_response_at >= ticket.created_at
        if ticket.status in ("resolved", "closed") and ticket.merged_into_id is None:
            assert ticket.resolved_at is not None and ticket.resolved_at >= ticket.created_at
        if ticket.status == "closed":
            assert ticket.closed_at is not None
            assert ticket.resolved_at is None or ticket.closed_at >= ticket.resolved_at
        assert (ticket.sla_paused_at is not None) == (ticket.status == "pending")


def test_conversations_have_notes_handoffs_merges_and_assignments(loaded: Session) -> None:
    kinds = {e.kind for e in loaded.scalars(select(TicketEntry))}
    assert {"message", "note", "handoff", "assignment", "status", "created", "merge"} <= kinds
    assigned = loaded.scalar(select(func.count(Ticket.id)).where(Ticket.assignee_id.is_not(None)))
    assert assigned
    for duplicate in loaded.scalars(select(Ticket).where(Ticket.merged_into_id.is_not(None))):
        original = loaded.get(Ticket, duplicate.merged_into_id)
        assert original is not None and duplicate.status == "closed"
        assert original.trader_id == duplicate.trader_id and original.subject == duplicate.subject
        assert original.created_at < duplicate.created_at
    handoffs = loaded.scalars(select(TicketEntry).where(TicketEntry.kind == "handoff")).all()
    assert any(h.data["from"] != h.data["to"] for h in handoffs)
    internal = loaded.scalars(select(TicketEntry).where(TicketEntry.kind == "note")).all()
    assert internal and all(not e.public for e in internal)


def test_the_audit_trail_is_real_and_dated_in_the_past(loaded: Session) -> None:
    tickets = {t.id: t for t in tickets_of(loaded)}
    created = loaded.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.created")).all()
    assert len(created) == len(tickets)
    for row in created:
        assert row.at == tickets[row.object_id].created_at


def test_backlog_and_sla_breaches_exist_but_stay_small(loaded: Session) -> None:
    now = utcnow()
    tickets = tickets_of(loaded)
    unfinished = [t for t in tickets if t.status not in ("resolved", "closed")]
    assert unfinished and len(unfinished) < len(tickets) * 0.25
    breached_ever = [t for t in tickets if t.first_response_at and t.first_response_due
                     and t.first_response_at > t.first_response_due]  # fmt: skip
    assert breached_ever and len(breached_ever) < len(tickets) / 2
    assert all(t.resolution_due and t.first_response_due for t in tickets)
    backlog = [t for t in unfinished if t.created_at < now - timedelta(hours=48)]
    assert backlog and len(backlog) < len(tickets) * 0.1
    assert any(
        t.resolution_due < now for t in backlog if t.resolution_due and t.status != "pending"
    )


def test_no_mail_is_queued_and_macros_carry_placeholders(loaded: Session) -> None:
    assert loaded.scalar(select(func.count(OutboxMessage.id))) == 0
    macros = loaded.scalars(select(Macro)).all()
    assert len(macros) == sum(len(bodies) for *_rest, bodies in MACROS)
    assert len({m.language for m in macros}) >= 6
    assert all("{tracking_id}" in m.body and "{agent_name}" in m.body for m in macros)
    assert any("{network}" in m.body for m in macros) and any("{asset}" in m.body for m in macros)
