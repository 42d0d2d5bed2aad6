"""Who hears what on the event stream: security tickets only reach staff who may see them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.core.auth import Role
from hashdesk.runtime import Runtime
from hashdesk.tickets import actions
from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import Ticket
from hashdesk.web.stream import channels_for
from tests.conftest import make_agent, make_trader, open_ticket
from tests.core.test_events import capture

CONSOLES = ["console", "console:security"]


def test_only_staff_who_may_see_security_tickets_subscribe_to_them(session: Session) -> None:
    trader = make_trader(session)
    assert channels_for(trader_principal(trader)) == [f"trader:{trader.id}"]
    for role in (Role.COMMUNITY, Role.FRONTLINE, Role.TECHNICIAN):
        assert channels_for(agent_principal(make_agent(session, role))) == ["console"]
    for role in (Role.SECURITY, Role.LEAD, Role.ADMIN):
        assert channels_for(agent_principal(make_agent(session, role))) == CONSOLES


def test_a_security_tickets_changes_stay_off_the_general_console(
    runtime: Runtime, session: Session
) -> None:
    ticket = open_ticket(session, make_trader(session), category="security",
                         subject="Someone changed my withdrawal address")  # fmt: skip
    assert ticket.department == Department.SECURITY
    agent = agent_principal(make_agent(session, Role.SECURITY))

    def note() -> None:
        with runtime.database.transaction() as work:
            actions.check_agent_reply(work, agent, work.get_one(Ticket, ticket.id),
                                      "Freeze the account.", internal=True)  # fmt: skip

    heard = capture(runtime.bus, CONSOLES, note)
    assert heard["console"] == []
    assert [m["ticket_id"] for m in heard["console:security"]] == [ticket.id]


def test_a_hand_off_to_security_tells_the_boards_that_listed_the_ticket(
    runtime: Runtime, session: Session
) -> None:
    ticket = open_ticket(session, make_trader(session))
    agent = agent_principal(make_agent(session, Role.FRONTLINE))

    def hand_off() -> None:
        with runtime.database.transaction() as work:
            actions.check_handoff(work, agent, work.get_one(Ticket, ticket.id),
                                  Department.SECURITY, "Looks like an account takeover.")  # fmt: skip

    heard = capture(runtime.bus, CONSOLES, hand_off)
    assert [m["type"] for m in heard["console"]] == ["ticket.handed_off"]
    assert [m["type"] for m in heard["console:security"]] == ["ticket.handed_off"]
