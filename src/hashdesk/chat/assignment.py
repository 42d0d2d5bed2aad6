"""What routing reads before it decides, and the seat it takes after: the database and the
presence store on one side, the pure rules of ``routing`` on the other.

- ``with_skills``: the online agents' languages, category and region skills and the
  capacity an admin set (``agents``, ``chat_agent_skills``), put over their presence
  entries, so what an admin changes in the console counts from the next decision.
- ``needs_of``: what a chat asks for: its language and regions (or, when its queue is closed,
  those of the next open queue of its follow-the-sun chain), its VIP tier, account manager,
  the agents who passed it over, and the assistant's predicted category.
- ``decide_with_seat``: the decision, made good under a claim on the chosen agent (a Redis
  key taken by a Lua script, or a lock in memory for one process), so two nodes routing at
  the same moment never put one agent over capacity.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from hashdesk.accounts.models import Agent
from hashdesk.chat import routing, staffing
from hashdesk.chat.models import AccountManager, AgentSkills, Chat, ChatStatus
from hashdesk.chat.presence import AgentPresence, PresenceStore
from hashdesk.chat.records import ChatHandoff
from hashdesk.chat.schedules import Placement
from hashdesk.config import Settings

log = logging.getLogger(__name__)
HOLDING = (ChatStatus.OFFERED.value, ChatStatus.ACTIVE.value)


def with_skills(session: Session, agents: list[AgentPresence]) -> list[AgentPresence]:
    """``agents`` as the database describes them now (one query): the presence entry keeps
    what the agent's console said when it went online, an admin may have changed it since."""
    ids = [agent.agent_id for agent in agents]
    if not ids:
        return agents
    query = (select(Agent.id, Agent.languages, AgentSkills)
             .outerjoin(AgentSkills, AgentSkills.agent_id == Agent.id).where(Agent.id.in_(ids)))  # fmt: skip
    rows = {agent_id: (languages, skills) for agent_id, languages, skills in session.execute(query)}
    return [_as_stored(agent, *rows[agent.agent_id]) if agent.agent_id in rows else agent
            for agent in agents]  # fmt: skip


def _as_stored(
    agent: AgentPresence, languages: list[str] | None, skills: AgentSkills | None
) -> AgentPresence:
    if skills is None:
        return replace(agent, languages=list(languages or agent.languages))
    return replace(agent, languages=list(languages or agent.languages),
                   categories=list(skills.categories), regions=list(skills.regions),
                   capacity=skills.capacity or agent.capacity)  # fmt: skip


@dataclass(frozen=True)
class Needs:
    """A chat's needs, and the schedule placement they came from (None: no schedule)."""

    needs: routing.ChatNeeds
    placement: Placement | None


def placement_of(
    session: Session, chat: Chat, settings: Settings, at: datetime
) -> Placement | None:
    """The chat's follow-the-sun queue at ``at`` (schedules: ``staffing.schedules_for``)."""
    schedules = staffing.schedules_for(session, settings)
    return schedules.place(routing.language_group(chat.language), chat.region, at)


def needs_of(session: Session, chat: Chat, settings: Settings, at: datetime) -> Needs:
    placement = placement_of(session, chat, settings, at)
    language, regions = chat.language, frozenset({chat.region} if chat.region else ())
    if placement is not None and placement.moved_from is not None:
        language, regions = placement.queue.language, placement.queue.regions
    manager = session.get(AccountManager, chat.trader_id) if chat.trader_id else None
    handoff = session.get(ChatHandoff, chat.id)
    needs = routing.ChatNeeds(
        language, chat.vip_level, manager.agent_id if manager else None,
        frozenset(chat.passed_over or []),
        category=handoff.predicted_category if handoff else None, regions=regions,
    )  # fmt: skip
    return Needs(needs, placement)


def move_to_placement(chat: Chat, placement: Placement | None) -> bool:
    """Put ``chat`` in its follow-the-sun queue; True when it has just left its closed home
    queue, so the trader is told once (not again at each re-routing). A chat that overflowed
    to English earlier stays with the English agents."""
    if placement is None or chat.queue == placement.queue.queue_label:
        return False
    if chat.queue.split(":")[0] == routing.OVERFLOW_LANGUAGE != placement.queue.language:
        return False
    before, chat.queue = chat.queue, placement.queue.queue_label
    home = placement.moved_from
    first_queues = (routing.queue_name(chat.language, chat.region), home and home.queue_label)
    return home is not None and before in first_queues


def held_chats(session: Session, agent_id: int) -> int:
    """How many chats the database shows ``agent_id`` holding (offered or active)."""
    query = select(func.count()).where(Chat.agent_id == agent_id, Chat.status.in_(HOLDING))
    return int(session.scalar(query) or 0)


def decide_with_seat(
    session: Session,
    chat: Chat,
    needs: routing.ChatNeeds,
    floor: routing.Floor,
    presence: PresenceStore,
) -> routing.Route:
    """``routing.decide``, then a claim on the chosen agent and a fresh count of their chats.
    The loads in ``floor`` miss what another node is routing right now; under the claim, the
    count includes every offer committed before it (a claim is given back only after its
    transaction ended). Agent full, or claimed elsewhere past ``CLAIM_WAIT_SECONDS``: that
    agent is full for this decision and the next one is tried."""
    for _ in range(len(floor.presence) + 1):
        route = routing.decide(needs, floor)
        if route.decision is not routing.Decision.OFFER or route.agent_id is None:
            return route
        agent = next(p for p in floor.presence if p.agent_id == route.agent_id)
        if not _claim(session, presence, agent.agent_id):
            floor.loads[agent.agent_id] = agent.capacity
            continue
        load = held_chats(session, agent.agent_id)
        if load < agent.capacity:
            return route
        floor.loads[agent.agent_id] = load
    return routing.Route(routing.Decision.QUEUE, reason="all_busy")


# --- claims on agents, held until the routing transaction ends ---------------------------------

CLAIM_WAIT_SECONDS = 0.5
_CLAIMS = "chat_agent_claims"


@dataclass
class _Claims:
    presence: PresenceStore
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    agents: set[int] = field(default_factory=set)


def _claim(session: Session, presence: PresenceStore, agent_id: int) -> bool:
    claims: _Claims = session.info.setdefault(_CLAIMS, _Claims(presence))
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while not claims.presence.claim_agent(agent_id, claims.token):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # the holder's transaction is short: wait for it, briefly
    claims.agents.add(agent_id)
    return True


@event.listens_for(Session, "after_transaction_end")
def _release_claims(session: Session, transaction: SessionTransaction) -> None:
    """The routing transaction ended (commit, rollback or close): its offers are committed
    or gone, so other routers may count this agent again."""
    if transaction.parent is not None:  # a savepoint: the transaction goes on
        return
    claims: _Claims | None = session.info.pop(_CLAIMS, None)
    if claims is None:
        return
    for agent_id in claims.agents:
        try:
            claims.presence.release_agent(agent_id, claims.token)
        except Exception:
            # Redis gone: the claim ends with its time to live.
            log.exception("could not give back the routing claim on agent %s", agent_id)
