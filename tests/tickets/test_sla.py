"""SLA clocks: which policy applies, pausing while pending on the trader, breaches, the
console's breaching view and the backlog figure."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.core.audit import list_entries as list_audit
from hashdesk.core.auth import Role
from hashdesk.core.clock import utcnow
from hashdesk.tickets import actions, queries, sla
from hashdesk.tickets.models import Priority, SlaPolicy, Status, Ticket
from hashdesk.tickets.schemas import TicketCreate, TicketFilter
from tests.conftest import login_agent, make_agent, make_trader, open_ticket


def open_ticket_at(session: Session, trader: Trader, created_at: datetime) -> Ticket:
    """A ticket opened in the past: the demo loader's way of writing history."""
    data = TicketCreate(category="login_2fa", subject="Locked out of my account",
                        description="My 2FA codes are rejected.")  # fmt: skip
    category = queries.get_category(session, data.category)
    assert category is not None
    ticket = actions.do_create_ticket(session, trader_principal(trader), data, category, {}, "en",
                                      trader, None, [], now=created_at)  # fmt: skip
    session.commit()
    return ticket


@pytest.mark.parametrize(
    ("priority", "vip_level", "policy", "first_minutes", "resolution_hours"),
    [
        ("normal", 0, "Standard", 60, 48),
        ("low", 0, "Standard", 60, 48),
        ("high", 0, "High priority", 30, 24),
        ("urgent", 0, "Urgent", 15, 8),
        ("normal", 1, "VIP", 15, 24),
        ("urgent", 4, "VIP urgent", 5, 4),
    ],
)
def test_the_most_specific_policy_applies(
    session: Session, priority: str, vip_level: int, policy: str, first_minutes: int,
    resolution_hours: int,
) -> None:  # fmt: skip
    chosen = sla.pick_policy(list(session.scalars(select(SlaPolicy))), priority, vip_level)
    assert chosen is not None
    assert (chosen.name, chosen.first_response_minutes, chosen.resolution_minutes) == (
        policy, first_minutes, resolution_hours * 60)  # fmt: skip


def test_a_standard_ticket_gets_one_hour_and_48_hours(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    assert ticket.first_response_due == ticket.created_at + timedelta(hours=1)
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=48)


def test_a_vip_ticket_gets_the_vip_policy(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session, vip_level=1))
    assert ticket.first_response_due == ticket.created_at + timedelta(minutes=15)
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=24)


def test_pending_pauses_the_clocks_and_due_times_shift_by_the_paused_time(session: Session) -> None:
    start = utcnow() - timedelta(hours=5)
    ticket = open_ticket_at(session, make_trader(session), start)

    sla.pause(ticket, start + timedelta(minutes=30))
    # Four hours later the first response is long overdue on the wall clock, but not on the
    # SLA clock: it stopped when the ticket started waiting on the trader.
    frozen = sla.state(ticket, start + timedelta(hours=4, minutes=30))
    assert frozen.paused and not frozen.breached

    sla.resume(ticket, start + timedelta(hours=4, minutes=30))
    assert ticket.first_response_due == start + timedelta(hours=5)
    assert ticket.resolution_due == start + timedelta(hours=52)
    assert ticket.sla_paused_at is None
    assert not sla.state(ticket, start + timedelta(hours=4, minutes=45)).breached
    assert sla.state(ticket, start + timedelta(hours=5, minutes=1)).first_response_breached


def test_pending_through_the_actions_shifts_due_times_by_the_time_spent_waiting(
    session: Session,
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    due_before = (ticket.first_response_due, ticket.resolution_due)
    actions.check_change_status(session, agent_principal(make_agent(session)), ticket,
                                Status.PENDING)  # fmt: skip
    session.commit()
    assert ticket.sla_paused_at is not None
    ticket.sla_paused_at -= timedelta(hours=3)  # the trader took three hours to answer
    session.commit()

    actions.check_trader_reply(session, trader_principal(trader), ticket, "Here it is.", [])
    session.commit()

    assert ticket.status == Status.OPEN and ticket.sla_paused_at is None
    assert due_before[0] is not None and due_before[1] is not None
    for before, after in zip(due_before, (ticket.first_response_due, ticket.resolution_due),
                             strict=True):  # fmt: skip
        assert after is not None
        assert timedelta(hours=3) <= after - before < timedelta(hours=3, minutes=1)


def test_breach_warning_and_finished_states(session: Session) -> None:
    trader = make_trader(session)
    now = utcnow()
    late = open_ticket_at(session, trader, now - timedelta(hours=2))
    close_to_due = open_ticket_at(session, trader, now - timedelta(minutes=50))
    fresh = open_ticket(session, trader)

    assert sla.state(late, now).first_response_breached
    assert not sla.state(late, now).resolution_breached
    assert sla.state(close_to_due, now).warning and not sla.state(close_to_due, now).breached
    assert not sla.state(fresh, now).breached and not sla.state(fresh, now).warning

    actions.check_change_status(session, agent_principal(make_agent(session)), late,
                                Status.RESOLVED)  # fmt: skip
    assert not sla.state(late, now).breached  # a finished ticket breaches nothing any more


def test_the_console_breaching_view_lists_exactly_the_breaching_tickets(session: Session) -> None:
    trader = make_trader(session)
    agent = agent_principal(make_agent(session, Role.LEAD))
    now = utcnow()
    no_answer = open_ticket_at(session, trader, now - timedelta(hours=2))
    overdue = open_ticket_at(session, trader, now - timedelta(hours=50))
    actions.check_agent_reply(session, agent, overdue, "Answered, but never solved.")
    answered_in_time = open_ticket_at(session, trader, now - timedelta(hours=2))
    answered_in_time.first_response_at = answered_in_time.created_at + timedelta(minutes=10)
    waiting_in_time = open_ticket_at(session, trader, now - timedelta(minutes=30))
    actions.check_change_status(session, agent, waiting_in_time, Status.PENDING)
    # Late first, then pending: pausing stops the clock, it does not undo the breach.
    late_then_waiting = open_ticket_at(session, trader, now - timedelta(hours=3))
    actions.check_change_status(session, agent, late_then_waiting, Status.PENDING)
    solved = open_ticket_at(session, trader, now - timedelta(hours=3))
    actions.check_change_status(session, agent, solved, Status.RESOLVED)
    open_ticket(session, trader)
    session.commit()

    page = queries.list_tickets(session, agent, TicketFilter(view="breaching"), limit=50)

    assert {t.id for t in page.items} == {no_answer.id, overdue.id, late_then_waiting.id}
    assert all(sla.state(t, utcnow()).breached for t in page.items)
    assert not sla.state(waiting_in_time, utcnow()).breached
    assert queries.count_views(session, agent)["breaching"] == 3


def test_the_backlog_figure_is_old_open_tickets_over_the_weeks_volume(
    session: Session, client: TestClient
) -> None:
    trader = make_trader(session)
    agent = make_agent(session, Role.LEAD)
    now = utcnow()
    open_ticket_at(session, trader, now - timedelta(days=3))  # old and open: backlog
    old_solved = open_ticket_at(session, trader, now - timedelta(days=3))
    actions.check_change_status(session, agent_principal(agent), old_solved, Status.RESOLVED)
    open_ticket_at(session, trader, now - timedelta(days=10))  # backlog, outside the week
    open_ticket(session, trader)  # this week, young
    session.commit()

    assert queries.backlog_figure(session) == (2, 3)
    login_agent(client, agent)
    figure = client.get("/api/v1/stats/backlog").json()
    assert figure == {"open_older_than_48h": 2, "created_last_7_days": 3, "share": 0.6667}


def test_raising_the_priority_brings_the_tighter_targets_of_its_policy(session: Session) -> None:
    trader = make_trader(session)
    lead = agent_principal(make_agent(session, Role.LEAD))
    ticket = open_ticket(session, trader)
    created = ticket.created_at
    assert ticket.resolution_due == created + timedelta(hours=48)

    actions.check_change_priority(session, lead, ticket, Priority.URGENT)
    session.commit()

    assert ticket.first_response_due == created + timedelta(minutes=15)
    assert ticket.resolution_due == created + timedelta(hours=8)
    audit_actions = [e.action for e in list_audit(session, "ticket", ticket.id)]
    assert "ticket.priority_changed" in audit_actions
