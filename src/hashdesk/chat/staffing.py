"""What an admin sets up for chat routing in the console: each agent's languages, triage
categories, regions and capacity, and the follow-the-sun queue schedules.

Routing reads all of it from the database on every decision (``assignment``), so a change
counts from the next chat routed, on every node. Every change is audited with its before and
after. The schedules live in ``chat_queue_schedules``; while that table is empty,
``HASHDESK_CHAT_SCHEDULES_FILE`` (when set) is used, and ``do_import_schedules`` copies it in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent
from hashdesk.accounts.queries import list_agents
from hashdesk.chat.models import AgentSkills, ChatQueueSchedule
from hashdesk.chat.schedules import (
    WEEKDAYS,
    ScheduleError,
    Schedules,
    describe_queue,
    load_schedules,
    parse_schedules,
)
from hashdesk.config import Settings
from hashdesk.core import audit
from hashdesk.core.auth import Permission, Principal
from hashdesk.core.errors import Conflict, InvalidInput, NotFound
from hashdesk.core.i18n import LOCALES, N_, match_locale
from hashdesk.tickets.queries import category_rules

log = logging.getLogger(__name__)
MAX_CAPACITY = 20
_REGION = re.compile(r"^[A-Za-z]{2}$")


# --- agents: languages, categories, regions, capacity ------------------------------------------


@dataclass(frozen=True)
class AgentSetup:
    agent: Agent
    languages: list[str]
    categories: list[str]
    regions: list[str]
    capacity: int | None


def list_agent_setups(session: Session) -> list[AgentSetup]:
    """Every active agent with what routing knows of them (two queries, whatever the count)."""
    agents = list_agents(session)
    skills = {row.agent_id: row for row in session.scalars(select(AgentSkills))}
    return [_setup(agent, skills.get(agent.id)) for agent in agents]


def agent_setup(session: Session, agent: Agent) -> AgentSetup:
    """What routing knows of one agent."""
    return _setup(agent, session.get(AgentSkills, agent.id))


def _setup(agent: Agent, skills: AgentSkills | None) -> AgentSetup:
    return AgentSetup(agent, list(agent.languages or []),
                      list(skills.categories) if skills else [],
                      list(skills.regions) if skills else [],
                      skills.capacity if skills else None)  # fmt: skip


def _snapshot(setup: AgentSetup) -> dict[str, Any]:
    return {"languages": setup.languages, "categories": setup.categories,
            "regions": setup.regions, "capacity": setup.capacity}  # fmt: skip


def clean_languages(languages: Sequence[str]) -> list[str]:
    """The agent's languages as locale codes, in the order of ``LOCALES``; at least one."""
    chosen: set[str] = set()
    for language in languages:
        code = match_locale(language.strip())
        if code is None:
            raise InvalidInput("Unknown language {language}; known: {known}.", field="languages",
                               language=language, known=", ".join(LOCALES))  # fmt: skip
        chosen.add(code)
    if not chosen:
        raise InvalidInput("Give the agent at least one language.", field="languages")
    return [code for code in LOCALES if code in chosen]


def clean_categories(session: Session, categories: Sequence[str]) -> list[str]:
    known = category_rules(session)
    for category in categories:
        if category not in known:
            raise InvalidInput("No category {category}; known: {known}.", field="categories",
                               category=category, known=", ".join(known))  # fmt: skip
    return sorted(set(categories))


def clean_regions(regions: Sequence[str]) -> list[str]:
    for region in regions:
        if not _REGION.match(region):
            raise InvalidInput("Region {region} is not a two-letter country code.",
                               field="regions", region=region)  # fmt: skip
    return sorted({region.upper() for region in regions})


def clean_capacity(capacity: int | None) -> int | None:
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInput("Capacity must be between 1 and {most} chats (or empty: the agent's "
                           "own choice).", field="capacity", most=MAX_CAPACITY)  # fmt: skip
    return capacity


def check_set_agent_setup(
    session: Session,
    admin: Principal,
    agent_id: int,
    *,
    languages: Sequence[str],
    categories: Sequence[str],
    regions: Sequence[str],
    capacity: int | None,
) -> AgentSetup:
    """An admin sets what routing knows of an agent; audited with the before and after."""
    admin.require(Permission.MANAGE_STAFF)
    agent = session.get(Agent, agent_id)
    if agent is None or not agent.active:
        raise NotFound("No agent {agent}.", agent=agent_id)
    return set_agent_setup(session, admin, agent, languages=languages, categories=categories,
                           regions=regions, capacity=capacity)  # fmt: skip


def set_agent_setup(
    session: Session,
    actor: Principal,
    agent: Agent,
    *,
    languages: Sequence[str],
    categories: Sequence[str],
    regions: Sequence[str],
    capacity: int | None,
) -> AgentSetup:
    """Check the values and set them (the console's admin, or the operator's command line)."""
    clean = (clean_languages(languages), clean_categories(session, categories),
             clean_regions(regions), clean_capacity(capacity))  # fmt: skip
    return do_set_agent_setup(session, actor, agent, *clean)


def do_set_agent_setup(
    session: Session,
    actor: Principal,
    agent: Agent,
    languages: list[str],
    categories: list[str],
    regions: list[str],
    capacity: int | None,
) -> AgentSetup:
    skills = session.get(AgentSkills, agent.id)
    before = _snapshot(_setup(agent, skills))
    if skills is None:
        skills = AgentSkills(agent_id=agent.id)
        session.add(skills)
    agent.languages = languages
    skills.categories, skills.regions, skills.capacity = categories, regions, capacity
    session.flush()
    after = _setup(agent, skills)
    if _snapshot(after) != before:
        audit.record(session, actor, "chat.agent_routing_changed", "agent", agent.id,
                     before=before, after=_snapshot(after))  # fmt: skip
    return after


# --- queue schedules ---------------------------------------------------------------------------


def list_queue_rows(session: Session) -> list[ChatQueueSchedule]:
    query = select(ChatQueueSchedule).order_by(ChatQueueSchedule.position, ChatQueueSchedule.id)
    return list(session.scalars(query))


def _row_data(row: ChatQueueSchedule) -> dict[str, Any]:
    return {"name": row.name, "language": row.language, "regions": list(row.regions or []),
            "time_zone": row.time_zone, "hours": row.hours, "next": row.next}  # fmt: skip


def stored_schedules(session: Session) -> Schedules | None:
    """The schedules kept in the database; None while it holds none."""
    rows = list_queue_rows(session)
    if not rows:
        return None
    return parse_schedules({"queues": [_row_data(row) for row in rows]})


def schedules_for(session: Session, settings: Settings) -> Schedules:
    """The schedules routing follows: the database's, else the file's, else none. A broken
    one (a file edited by hand) must not stop chats: it is logged, naming what is wrong, and
    chats are routed without schedules."""
    try:
        stored = stored_schedules(session)
        return stored if stored is not None else load_schedules(settings.chat_schedules_file)
    except ScheduleError as error:
        log.error("chat schedules ignored: %s", error)
        return Schedules()


@dataclass(frozen=True)
class QueueForm:
    """A queue as the console's form sends it: ``hours`` per weekday as text such as
    ``"08:00-12:00, 13:00-18:00"`` (empty: closed that day), unless ``always_open``."""

    name: str
    language: str
    regions: str = ""
    time_zone: str = "UTC"
    always_open: bool = False
    hours: dict[str, str] | None = None
    next: str = ""

    def data(self) -> dict[str, Any]:
        regions = [part for part in re.split(r"[\s,]+", self.regions.strip()) if part]
        hours = None
        if not self.always_open:
            texts = self.hours or {}
            hours = {day: [part.strip() for part in texts.get(day, "").split(",") if part.strip()]
                     for day in WEEKDAYS}  # fmt: skip
            hours = {day: ranges for day, ranges in hours.items() if ranges}
        return {"name": self.name.strip().lower(), "language": self.language.strip().lower(),
                "regions": regions, "time_zone": self.time_zone.strip() or "UTC",
                "hours": hours, "next": self.next.strip() or None}  # fmt: skip


def _check_chain(queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check the whole set as it would be (names unique, every ``next`` a queue) and give
    each queue back, in order, in its stored shape; raises InvalidInput naming the field."""
    try:
        parsed = parse_schedules({"queues": queues})
    except ScheduleError as error:
        raise InvalidInput("{problem}", field=error.field or "form", problem=error) from None
    return [describe_queue(queue) for queue in parsed.queues]


def check_save_queue(
    session: Session, admin: Principal, form: QueueForm, *, original: str | None = None
) -> ChatQueueSchedule:
    """Add a queue (``original`` None) or change the one named ``original``; a renamed
    queue's name changes in the ``next`` of the queues that hand on to it."""
    admin.require(Permission.MANAGE_SETTINGS)
    rows: list[ChatQueueSchedule | None] = list(list_queue_rows(session))
    edited = next((r for r in rows if r is not None and r.name == original), None)
    if original and edited is None:
        raise NotFound("No queue {queue}.", queue=original)
    data = form.data()
    queues = []
    for row in rows:
        assert row is not None
        queue = data if row is edited else _row_data(row)
        if edited is not None and queue["next"] == original:
            queue = {**queue, "next": data["name"]}
        queues.append(queue)
    if edited is None:
        rows.append(None)
        queues.append(data)
    checked = _check_chain(queues)
    return do_save_queues(session, admin, list(zip(rows, checked, strict=True)), edited)


def do_save_queues(
    session: Session,
    actor: Principal,
    changes: list[tuple[ChatQueueSchedule | None, dict[str, Any]]],
    edited: ChatQueueSchedule | None,
) -> ChatQueueSchedule:
    """Store the checked queues (a None row is the new one); audit the queue the admin
    edited or added."""
    before = None if edited is None else _row_data(edited)
    saved = edited
    for row, data in changes:
        if row is None:
            top = session.scalar(select(func.max(ChatQueueSchedule.position))) or 0
            row = saved = ChatQueueSchedule(position=top + 1)
            session.add(row)
        _apply(row, data)
    assert saved is not None
    session.flush()
    audit.record(session, actor, "chat.queue_saved", "chat_queue", saved.id,
                 before=before, after=_row_data(saved))  # fmt: skip
    return saved


def _apply(row: ChatQueueSchedule, data: dict[str, Any]) -> None:
    row.name, row.language, row.regions = data["name"], data["language"], data["regions"]
    row.time_zone, row.hours, row.next = data["time_zone"], data["hours"], data["next"]


def check_delete_queue(session: Session, admin: Principal, name: str) -> None:
    """Remove a queue; refused while another queue hands its chats on to it."""
    admin.require(Permission.MANAGE_SETTINGS)
    rows = list_queue_rows(session)
    row = next((r for r in rows if r.name == name), None)
    if row is None:
        raise NotFound("No queue {queue}.", queue=name)
    feeding = [r.name for r in rows if r.next == name and r is not row]
    if feeding:
        raise Conflict("Queue {queue} takes the chats of {others} while they are closed; "
                       "change their next queue first.", queue=name,
                       others=", ".join(feeding))  # fmt: skip
    audit.record(session, admin, "chat.queue_deleted", "chat_queue", row.id,
                 before=_row_data(row))  # fmt: skip
    session.delete(row)
    session.flush()


def check_import_schedules(session: Session, actor: Principal, path: Path) -> int:
    """Replace the stored schedules with those of the YAML file at ``path``; the number of
    queues. The file's mistakes are reported as the file check reports them."""
    actor.require(Permission.MANAGE_SETTINGS)
    try:
        schedules = load_schedules(path)
    except ScheduleError as error:
        raise InvalidInput("{problem}", field="file", problem=error) from None
    return do_import_schedules(session, actor, schedules)


def do_import_schedules(session: Session, actor: Principal, schedules: Schedules) -> int:
    before = [_row_data(row) for row in list_queue_rows(session)]
    for row in list_queue_rows(session):
        session.delete(row)
    session.flush()
    for position, queue in enumerate(schedules.queues, 1):
        row = ChatQueueSchedule(position=position)
        _apply(row, describe_queue(queue))
        session.add(row)
    session.flush()
    audit.record(session, actor, "chat.schedules_imported", "chat_queue", 0,
                 before={"queues": before},
                 after={"queues": [describe_queue(q) for q in schedules.queues]})  # fmt: skip
    return len(schedules.queues)


SCHEDULE_FIELDS = {"name": N_("Name"), "language": N_("Language group"),
                   "regions": N_("Regions"), "time_zone": N_("Time zone"),
                   "hours": N_("Opening hours"), "next": N_("When closed, chats go to")}  # fmt: skip
