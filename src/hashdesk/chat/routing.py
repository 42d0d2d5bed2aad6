"""Routing rules: which agent a chat goes to, or why it waits, overflows or becomes a ticket.

Pure functions over what the caller read (presence, loads, last offers), so each rule is
tested on its own; ``actions.route_chat`` reads that state and applies the decision.

1. VIP traders (``vip_level >= 1``) skip the queue: their dedicated account manager when
   online with room, else the least busy agent of the VIP desk.
2. Otherwise the agents who are online and speak the chat's language (primary subtag:
   ``zh-Hant`` is served by a ``zh`` speaker). None online: overflow to English (the
   trader gets a notice). Nobody online at all: the chat becomes a ticket. (Before this,
   ``schedules`` may have moved a chat whose queue is closed to the next queue of its
   follow-the-sun chain: that queue's language and regions are the ones asked for.)
3. Region: when any of those agents serves one of the chat's regions, only they are
   eligible (the chat waits for them if they are busy); when none is online, any of them.
4. Category skill (the assistant's predicted triage category): agents with the skill and
   room are preferred; when none has room, any eligible agent.
5. Among those with room (open chats < capacity): least busy first, then whoever was last
   offered a chat longest ago (round robin), then the lowest id. None with room: the chat
   waits in its queue (VIP first, then first come, first served).

The load read from the database can be stale when two nodes route at once, so the caller
claims the chosen agent (``PresenceStore.claim_agent``), counts their chats again under the
claim and, when they are full, marks them so and decides again (``assignment``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hashdesk.chat.presence import AgentPresence

OVERFLOW_LANGUAGE = "en"
VIP_DESK = "vip"
_NEVER = datetime.min.replace(tzinfo=UTC)


class Decision(enum.StrEnum):
    OFFER = "offer"
    QUEUE = "queue"
    TICKET = "ticket"


@dataclass(frozen=True)
class ChatNeeds:
    language: str
    vip_level: int = 0
    account_manager_id: int | None = None
    passed_over: frozenset[int] = frozenset()
    # The predicted triage category (from the assistant's hand-off), when there is one.
    category: str | None = None
    # Regions whose agents are preferred: the chat's own, or its schedule queue's.
    regions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Route:
    decision: Decision
    agent_id: int | None = None
    # Set when no agent speaks the chat's language and it moves to this one.
    overflow_to: str | None = None
    reason: str = ""


@dataclass
class Floor:
    """What routing needs to know about the agents right now."""

    presence: list[AgentPresence]
    loads: dict[int, int] = field(default_factory=dict)
    last_offers: dict[int, datetime] = field(default_factory=dict)

    def has_room(self, agent: AgentPresence) -> bool:
        return self.loads.get(agent.agent_id, 0) < agent.capacity

    def least_busy(self, agents: list[AgentPresence]) -> AgentPresence | None:
        with_room = [agent for agent in agents if self.has_room(agent)]
        if not with_room:
            return None
        return min(with_room, key=lambda agent: (self.loads.get(agent.agent_id, 0),
                                                  self.last_offers.get(agent.agent_id, _NEVER),
                                                  agent.agent_id))  # fmt: skip


def queue_name(language: str, region: str) -> str:
    """Queues are per language group and region: ``es:AR``, ``zh:TW``, ``en:ZZ`` (unknown)."""
    return f"{language_group(language)}:{region or 'ZZ'}"


def language_group(language: str) -> str:
    return language.split("-")[0].lower() or OVERFLOW_LANGUAGE


def decide(needs: ChatNeeds, floor: Floor) -> Route:
    online = [p for p in floor.presence if p.online and p.agent_id not in needs.passed_over]
    if not online:
        return Route(Decision.TICKET, reason="nobody_online")
    vip = _vip_route(needs, online, floor) if needs.vip_level >= 1 else None
    if vip is not None:
        return vip
    speakers = [agent for agent in online if agent.speaks(needs.language)]
    overflow_to = None
    if not speakers and language_group(needs.language) != OVERFLOW_LANGUAGE:
        speakers = [agent for agent in online if agent.speaks(OVERFLOW_LANGUAGE)]
        overflow_to = OVERFLOW_LANGUAGE
    if not speakers:
        return Route(Decision.TICKET, reason="no_speaker")
    eligible = in_region(speakers, needs.regions)
    skilled = [agent for agent in eligible if needs.category in agent.categories]
    chosen = floor.least_busy(skilled) if needs.category else None
    reason = "category_skill"
    if chosen is None:
        chosen, reason = floor.least_busy(eligible), "least_busy"
    if chosen is None:
        return Route(Decision.QUEUE, overflow_to=overflow_to, reason="all_busy")
    return Route(Decision.OFFER, chosen.agent_id, overflow_to=overflow_to, reason=reason)


def in_region(agents: list[AgentPresence], regions: frozenset[str]) -> list[AgentPresence]:
    """The agents serving one of ``regions``, when any is online; else all of ``agents``
    (a region with nobody on duty must not leave the chat waiting while others could help)."""
    serving = [agent for agent in agents if regions.intersection(agent.regions)]
    return serving or agents


def _vip_route(needs: ChatNeeds, online: list[AgentPresence], floor: Floor) -> Route | None:
    manager = next((p for p in online if p.agent_id == needs.account_manager_id), None)
    if manager is not None and floor.has_room(manager):
        return Route(Decision.OFFER, manager.agent_id, reason="account_manager")
    desk = floor.least_busy([p for p in online if p.department == VIP_DESK])
    if desk is not None:
        return Route(Decision.OFFER, desk.agent_id, reason="vip_desk")
    return None


def expected_wait_seconds(position: int, agents_serving: int, handle_seconds: float) -> int:
    """Each agent frees a place about every ``handle_seconds``; ``position`` chats (this one
    included) must each find one."""
    if position <= 0:
        return 0
    return round(position * handle_seconds / max(agents_serving, 1))
