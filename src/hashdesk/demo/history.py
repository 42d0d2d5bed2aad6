"""Eight weeks of ticket history, played through the real ticket actions.

Each ticket's life is planned first (a ``Story``: timed steps ending in a chosen state that fits
the ticket's age), then played step by step through ``check_*``/``do_*`` so the audit trail,
SLA clocks, hand-offs and merges are the real thing. The actions stamp "now"; ``DemoClock``
moves every row they add to the step's past moment, and ``_settle`` redoes the ticket's clock
arithmetic at that moment, so timelines, first-response and resolution times stay consistent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.assets.formats import NETWORKS
from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import SYSTEM, Permission, Principal, PrincipalKind, Role
from hashdesk.demo import onchain
from hashdesk.demo.content import CONTENT_LANGUAGES, GENERAL_NOTES, PHRASES, Scenario
from hashdesk.tickets import sla
from hashdesk.tickets.actions import (
    check_agent_reply,
    check_apply_macro,
    check_assign,
    check_change_status,
    check_fields,
    check_handoff,
    check_merge,
    check_trader_reply,
    do_create_ticket,
    first_department,
)
from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import Category, Macro, Status, Ticket, TicketEntry
from hashdesk.tickets.schemas import TicketCreate, TicketFields

HOUR = 60.0  # steps are planned in minutes
DAY = 24 * HOUR
FUTURES_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "BNBUSDT")
# Which final states a ticket of a given age ends in: (max age in hours, state weights).
# Older tickets are mostly closed; a few stay open past 48 hours (the backlog).
STATE_ORDER = (Status.NEW, Status.OPEN, Status.PENDING, Status.ESCALATED, Status.RESOLVED,
               Status.CLOSED)  # fmt: skip
STATE_MIX: tuple[tuple[float, tuple[float, ...]], ...] = (
    (3, (45, 30, 10, 15, 0, 0)),
    (48, (4, 20, 20, 20, 33, 3)),
    (7 * 24, (0, 2, 2, 2, 44, 50)),
    (math.inf, (0, 0.1, 0.1, 0.1, 6, 93.7)),
)
GUEST_SHARE = 0.4  # of account-recovery tickets: the trader cannot sign in, so writes as a guest


class DemoClock:
    """While installed on a session, rows the actions add are stamped with ``now`` (a past
    moment) instead of the wall clock. Audit rows are append-only, so they must be stamped
    before their first flush: a ``before_flush`` hook does exactly that."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    @contextmanager
    def installed(self, session: Session) -> Iterator[DemoClock]:
        event.listen(session, "before_flush", self._stamp)
        try:
            yield self
        finally:
            event.remove(session, "before_flush", self._stamp)

    def _stamp(self, session: Session, _context: Any, _instances: Any) -> None:
        for instance in session.new:
            if isinstance(instance, AuditEntry):
                instance.at = self.now
            elif isinstance(instance, TicketEntry | Agent):
                instance.created_at = self.now
            elif isinstance(instance, Trader):
                instance.created_at = instance.updated_at = self.now


@dataclass
class Cast:
    """The staff, and who picks up a ticket in a department and language."""

    agents: list[Agent]
    lead: Agent = field(init=False)

    def __post_init__(self) -> None:
        self.lead = next(a for a in self.agents if a.role == Role.LEAD)

    def responder(self, rng: random.Random, department: str, language: str) -> Agent:
        workers = [
            a for a in self.agents
            if a.department == department and a.role not in (Role.COMMUNITY, Role.LEAD, Role.ADMIN)
        ]  # fmt: skip
        speakers = [a for a in workers if language in a.languages]
        return rng.choice(speakers or workers or [self.lead])


@dataclass
class World:
    """What every story needs: the session, the staff, categories and macros."""

    session: Session
    clock: DemoClock
    cast: Cast
    categories: dict[str, Category]
    macros: dict[tuple[str, str], Macro]


def pick_final_state(rng: random.Random, age: timedelta) -> Status:
    hours = age.total_seconds() / 3600
    weights = next(w for limit, w in STATE_MIX if hours < limit)
    return rng.choices(STATE_ORDER, weights)[0]


def _values(rng: random.Random, scenario: Scenario) -> tuple[dict[str, str], dict[str, str]]:
    """(the ticket's structured fields, the values its texts quote)."""
    if scenario.fields in ("transfer", "transfer_memo", "phishing"):
        move = onchain.transfer(rng, "xrp" if scenario.fields == "transfer_memo" else None)
        text = {"asset": move.asset, "network": NETWORKS[move.network].name, "amount": move.amount,
                "tx_hash": move.tx_hash, "address": move.address, "memo": move.memo}  # fmt: skip
        fields = {"network": move.network, "address": move.address}
        if scenario.fields != "phishing":
            fields["asset"] = move.asset
        if scenario.category == "deposit":
            fields["tx_hash"] = move.tx_hash
        if move.memo:
            fields["memo"] = move.memo
        return fields, text
    if scenario.fields == "order":
        symbol = rng.choice(FUTURES_SYMBOLS)
        order_id = str(rng.randrange(10**11, 10**12))
        fields = {"asset": symbol.removesuffix("USDT"), "order_id": order_id}
        return fields, {"symbol": symbol, "order_id": order_id, **fields}
    if scenario.fields == "api":
        order_id = str(rng.randrange(10**11, 10**12))
        return {"order_id": order_id}, {"order_id": order_id}
    return {}, {}


class _Quoted(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: dict[str, str]) -> str:
    return template.format_map(_Quoted(values))


class Story:
    """One ticket's life: planned as timed steps, then played through the actions."""

    def __init__(self, world: World, rng: random.Random, trader: Trader, scenario: Scenario,
                 created_at: datetime, final: Status, *, duplicated: bool = False) -> None:  # fmt: skip
        self.world, self.rng, self.trader, self.scenario = world, rng, trader, scenario
        self.created_at, self.final = created_at, final
        # The trader writes the same request twice before anyone answers; the lead merges.
        self.duplicated = duplicated and final is not Status.NEW
        self.language = trader.language if trader.language in CONTENT_LANGUAGES else "en"
        self.phrases = PHRASES[self.language]
        self.guest = scenario.key == "account_recovery" and rng.random() < GUEST_SHARE
        category = world.categories[scenario.category]
        fields, self.values = _values(rng, scenario)
        self.fields = {name: value for name, value in fields.items() if name in category.fields}
        subject, description, self.answer = scenario.texts[self.language]
        self.subject, self.description = fill(subject, self.values), fill(description, self.values)
        vip_level = 0 if self.guest else trader.vip_level
        self.department = first_department(category.department, vip_level)
        self.ticket: Ticket | None = None
        self.duplicate: Ticket | None = None
        self.steps: list[tuple[float, Callable[[], object]]] = []
        self.minute = 0.0

    # --- planning -----------------------------------------------------------------------

    def _then(self, gap: float, action: Callable[[], object]) -> None:
        self.minute += gap
        self.steps.append((self.minute, action))

    def _between(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def _first_response_minutes(self) -> float:
        median = 6.0 if self.trader.vip_level else 25.0
        return min(self.rng.lognormvariate(math.log(median), 0.8), 8 * HOUR)

    def plan(self) -> None:
        if self.final is Status.NEW:
            return
        owner = self.world.cast.responder(self.rng, self.department, self.language)
        response_at = self._first_response_minutes()
        self._then(min(self._between(1, 20), response_at * 0.6), lambda: self._assign(owner))
        if self.duplicated:
            self._then((response_at - self.minute) * 0.5, self._open_duplicate)
            self._then((response_at - self.minute) * 0.8, self._merge_duplicate)
        self._then(max(response_at - self.minute, 0.5), lambda: self._acknowledge(owner))
        {
            Status.OPEN: self._plan_open,
            Status.PENDING: self._plan_pending,
            Status.ESCALATED: self._plan_escalated,
        }.get(self.final, self._plan_finished)(owner)

    def _plan_open(self, owner: Agent) -> None:
        if self.rng.random() < 0.4:
            self._then(
                self._between(2 * HOUR, 20 * HOUR), lambda: self._trader(self.phrases.followup)
            )

    def _plan_pending(self, owner: Agent) -> None:
        self._then(
            self._between(5, 90), lambda: self._reply(owner, self.phrases.ask, Status.PENDING)
        )

    def _plan_escalated(self, owner: Agent) -> None:
        if self.rng.random() < 0.3:
            self._plan_question_round(owner)
        self._escalate(owner)

    def _plan_finished(self, owner: Agent) -> None:
        if self.rng.random() < 0.35:
            self._plan_question_round(owner)
        technical = self.scenario.category in ("deposit", "withdrawal", "api", "trading_futures")
        if self.rng.random() < (0.35 if technical else 0.15):
            owner = self._escalate(owner)
        if self.rng.random() < 0.2:
            self._then(
                self._between(6 * HOUR, 30 * HOUR), lambda: self._trader(self.phrases.followup)
            )
        solver = owner
        if self.rng.random() < 0.3:
            self._then(self._between(30, 12 * HOUR), lambda: self._reply(solver, self.answer))
            self._then(self._between(10, 6 * HOUR), lambda: self._trader(self.phrases.thanks))
            self._then(self._between(5, 2 * HOUR), lambda: self._resolve_quietly(solver))
        else:
            self._then(self._between(30, 24 * HOUR),
                       lambda: self._reply(solver, self.answer, Status.RESOLVED))  # fmt: skip
        if self.final is Status.CLOSED:
            lead = self.world.cast.lead
            self._then(self._between(2 * DAY, 5 * DAY),
                       lambda: self._status(lead, Status.CLOSED))  # fmt: skip

    def _plan_question_round(self, owner: Agent) -> None:
        self._then(
            self._between(5, 60), lambda: self._reply(owner, self.phrases.ask, Status.PENDING)
        )
        self._then(self._between(HOUR, 20 * HOUR), lambda: self._trader(self.phrases.info))

    def _escalate(self, owner: Agent) -> Agent:
        """Plan a hand-off to the scenario's specialists; returns who owns the ticket next."""
        target = self.scenario.escalate_to
        note = fill(self.rng.choice(self.scenario.notes), self.values)
        if target.value == self.department:
            self._then(self._between(10, 3 * HOUR), lambda: self._note(owner, note))
            self._then(self._between(1, 10), lambda: self._status(owner, Status.ESCALATED))
            return owner
        handoff_note = fill(self.scenario.handoff_note, self.values)
        self._then(self._between(10, 3 * HOUR), lambda: self._handoff(owner, target, handoff_note))
        specialist = self.world.cast.responder(self.rng, target.value, self.language)
        self._then(self._between(10, 8 * HOUR), lambda: self._assign(specialist))
        self._then(self._between(5, 4 * HOUR), lambda: self._note(specialist, note))
        if self.rng.random() < 0.3:
            general = self.rng.choice(GENERAL_NOTES)
            self._then(self._between(30, 6 * HOUR), lambda: self._note(specialist, general))
        return specialist

    # --- the steps (each one call of a domain action) -----------------------------------------

    @property
    def _ticket(self) -> Ticket:
        assert self.ticket is not None, "the ticket is created before any later step"
        return self.ticket

    @property
    def requester(self) -> Principal:
        if self.guest:
            return Principal(kind=PrincipalKind.GUEST, id=0, name=self.trader.email,
                             ticket_id=self._ticket.id, locale=self.language)  # fmt: skip
        return trader_principal(self.trader)

    def _letter(self, agent: Agent, body: str) -> str:
        name = self.trader.name or self.trader.email
        greeting = self.phrases.greeting.format(name=name)
        signoff = self.phrases.signoff.format(agent=agent.name)
        return f"{greeting}\n\n{fill(body, {'tracking_id': self._ticket.tracking_id, **self.values})}\n\n{signoff}"

    def _create(self) -> Ticket:
        session, category = self.world.session, self.world.categories[self.scenario.category]
        data = TicketCreate(category=category.slug, subject=self.subject,
                            description=self.description, fields=TicketFields(**self.fields))  # fmt: skip
        fields = check_fields(category, data.fields, session)
        actor = SYSTEM if self.guest else trader_principal(self.trader)
        ticket = do_create_ticket(
            session, actor, data, category, fields, self.language,
            None if self.guest else self.trader, self.trader.email if self.guest else None, [],
            now=self.world.clock.now,
        )  # fmt: skip
        ticket.updated_at = ticket.created_at  # the first entry stamped the wall clock
        return ticket

    def _assign(self, agent: Agent) -> None:
        # Specialists pick up their own tickets; the lead hands some out from the queue.
        by = agent if self.rng.random() < 0.7 else self.world.cast.lead
        check_assign(self.world.session, agent_principal(by), self._ticket, agent.id)

    def _acknowledge(self, agent: Agent) -> None:
        macro = self._macro_for_acknowledgement()
        if macro is not None:
            check_apply_macro(self.world.session, agent_principal(agent), self._ticket, macro.id)
        else:
            self._reply(agent, self.phrases.ack)

    def _macro_for_acknowledgement(self) -> Macro | None:
        name = {"twofa_reset": "2FA reset started", "phishing": "Never share your codes"}.get(
            self.scenario.key
        )
        if name is None or self.rng.random() < 0.4:
            return None
        return self.world.macros.get((name, self.language))

    def _reply(self, agent: Agent, body: str, status: Status | None = None) -> None:
        check_agent_reply(self.world.session, agent_principal(agent), self._ticket,
                          self._letter(agent, body), set_status=status)  # fmt: skip

    def _note(self, agent: Agent, body: str) -> None:
        check_agent_reply(self.world.session, agent_principal(agent), self._ticket, body,
                          internal=True)  # fmt: skip

    def _trader(self, body: str) -> None:
        check_trader_reply(self.world.session, self.requester, self._ticket, body, [])

    def _handoff(self, agent: Agent, target: Department, note: str) -> None:
        check_handoff(self.world.session, agent_principal(agent), self._ticket, target, note)

    def _status(self, agent: Agent, status: Status) -> None:
        check_change_status(self.world.session, agent_principal(agent), self._ticket, status)

    def _resolve_quietly(self, agent: Agent) -> None:
        macro = self.world.macros.get(("Resolved: anything else?", self.language))
        if macro is not None:
            check_apply_macro(self.world.session, agent_principal(agent), self._ticket, macro.id)
        else:
            self._status(agent, Status.RESOLVED)

    def _open_duplicate(self) -> None:
        """The trader, hearing nothing yet, writes the same request again."""
        self.duplicate = self._create()

    def _merge_duplicate(self) -> None:
        assert self.duplicate is not None
        lead = self.world.cast.lead
        assert agent_principal(lead).can(Permission.MERGE)
        check_merge(self.world.session, agent_principal(lead), self.duplicate,
                    self._ticket.tracking_id)  # fmt: skip
        moment = self.world.clock.now
        self.duplicate.closed_at = self.duplicate.updated_at = moment

    # --- playing ------------------------------------------------------------------------

    def play(self, now: datetime) -> Ticket:
        """Run the planned steps; a plan longer than the ticket's age is squeezed into it so
        that nothing happens in the future."""
        clock = self.world.clock
        clock.now = self.created_at
        self.ticket = self._create()
        self.world.session.flush()
        room = (now - self.created_at).total_seconds() / 60 * 0.95
        squeeze = min(1.0, room / self.minute) if self.minute else 1.0
        for minute, action in self.steps:
            moment = self.created_at + timedelta(minutes=minute * squeeze)
            self._run(moment, action)
        return self.ticket

    def _run(self, moment: datetime, action: Callable[[], object]) -> None:
        ticket = self._ticket
        self.world.clock.now = moment
        before = _Clocks.of(ticket)
        action()
        self.world.session.flush()
        before.settle(ticket, moment)


@dataclass(frozen=True)
class _Clocks:
    """A ticket's status and SLA clocks just before a step."""

    status: str
    first_response_due: datetime | None
    resolution_due: datetime | None
    paused_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> _Clocks:
        return cls(ticket.status, ticket.first_response_due, ticket.resolution_due,
                   ticket.sla_paused_at)  # fmt: skip

    def settle(self, ticket: Ticket, moment: datetime) -> None:
        """Redo, at ``moment``, the clock arithmetic the action did at the wall-clock time."""
        ticket.updated_at = moment
        if ticket.status == self.status:
            return
        ticket.first_response_due, ticket.resolution_due = (
            self.first_response_due,
            self.resolution_due,
        )
        ticket.sla_paused_at = self.paused_at
        if ticket.status == Status.PENDING:
            sla.pause(ticket, moment)
        elif self.status == Status.PENDING:
            sla.resume(ticket, moment)
        if ticket.status == Status.RESOLVED:
            ticket.resolved_at = moment
        elif ticket.status == Status.CLOSED:
            ticket.closed_at = moment
