"""Agent skills in routing: the predicted triage category prefers agents with that skill, the
chat's region restricts the agents while any of that region is online; both fall back; and an
admin sets the skills from the command line."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.assistant.models import AssistantConversation
from hashdesk.chat.actions import route_chat
from hashdesk.chat.models import AgentSkills, Chat, ChatStatus
from hashdesk.chat.presence import AgentPresence, MemoryPresence
from hashdesk.chat.records import ChatHandoff
from hashdesk.chat.routing import ChatNeeds, Decision, Floor, decide
from hashdesk.cli import main
from hashdesk.runtime import Runtime
from tests.conftest import make_agent, make_trader


def agent(agent_id: int, *, categories: tuple[str, ...] = (), regions: tuple[str, ...] = (),
          languages: tuple[str, ...] = ("en",), status: str = "online") -> AgentPresence:  # fmt: skip
    return AgentPresence(agent_id, status, 2, list(languages), "frontline",
                         categories=list(categories), regions=list(regions))  # fmt: skip


# --- categories ---------------------------------------------------------------------------------


def test_a_predicted_category_goes_to_an_agent_with_that_skill_though_busier() -> None:
    floor = Floor([agent(1), agent(2, categories=("deposit",))], loads={1: 0, 2: 1})
    route = decide(ChatNeeds("en", category="deposit"), floor)
    assert (route.agent_id, route.reason) == (2, "category_skill")
    assert decide(ChatNeeds("en"), floor).agent_id == 1  # no prediction: least busy


def test_skilled_agents_all_full_fall_back_to_any_agent_of_the_language() -> None:
    floor = Floor([agent(1), agent(2, categories=("deposit",))], loads={2: 2})
    route = decide(ChatNeeds("en", category="deposit"), floor)
    assert (route.agent_id, route.reason) == (1, "least_busy")
    nobody_skilled = decide(ChatNeeds("en", category="withdrawal"), floor)
    assert (nobody_skilled.agent_id, nobody_skilled.reason) == (1, "least_busy")


def test_a_skill_in_another_language_does_not_count() -> None:
    floor = Floor([agent(1, languages=("es",)), agent(2, categories=("deposit",))])
    assert decide(ChatNeeds("es", category="deposit"), floor).agent_id == 1


# --- regions ------------------------------------------------------------------------------------


def test_agents_of_the_chats_region_are_the_only_ones_while_any_is_online() -> None:
    floor = Floor([agent(1), agent(2, regions=("BR", "PT"))], loads={2: 1})
    assert decide(ChatNeeds("en", regions=frozenset({"BR"})), floor).agent_id == 2
    floor.loads[2] = 2  # the region's agent is full: the chat waits for them
    route = decide(ChatNeeds("en", regions=frozenset({"BR"})), floor)
    assert (route.decision, route.reason) == (Decision.QUEUE, "all_busy")


def test_no_agent_of_the_region_online_falls_back_to_everyone() -> None:
    floor = Floor([agent(1), agent(2, regions=("BR",), status="away")])
    assert decide(ChatNeeds("en", regions=frozenset({"BR"})), floor).agent_id == 1


def test_region_first_then_category_within_it() -> None:
    floor = Floor([agent(1, categories=("deposit",)), agent(2, regions=("DE",)),
                   agent(3, regions=("DE",), categories=("deposit",))],
                  loads={2: 0, 3: 1})  # fmt: skip
    needs = ChatNeeds("en", category="deposit", regions=frozenset({"DE"}))
    assert decide(needs, floor).agent_id == 3


# --- through the database -----------------------------------------------------------------------


def _waiting_chat(session: Session, trader: Trader, region: str, category: str | None) -> Chat:
    chat = Chat(trader_id=trader.id, language="en", region=region, queue=f"en:{region}",
                status=ChatStatus.QUEUED.value, passed_over=[])  # fmt: skip
    session.add(chat)
    session.flush()
    if category is not None:
        conversation = AssistantConversation(trader_id=trader.id, locale="en")
        session.add(conversation)
        session.flush()
        session.add(ChatHandoff(chat_id=chat.id, conversation_id=conversation.id,
                                language="en", predicted_category=category))  # fmt: skip
    return chat


def test_the_handoffs_predicted_category_and_the_skills_table_steer_the_chat(
    runtime: Runtime, session: Session
) -> None:
    plain = make_agent(session, email="plain@desk.example.com")
    chain = make_agent(session, email="chain@desk.example.com")
    german = make_agent(session, email="de@desk.example.com")
    session.add_all([AgentSkills(agent_id=chain.id, categories=["deposit"], regions=[]),
                     AgentSkills(agent_id=german.id, categories=[], regions=["DE"])])  # fmt: skip
    session.commit()
    presence = MemoryPresence()
    for agent_id in (plain.id, chain.id, german.id):  # presence knows no skills: the table does
        presence.put(AgentPresence(agent_id, "online", 2, ["en"]))
    trader = make_trader(session)
    deposit = _waiting_chat(session, trader, "FR", "deposit")
    berlin = _waiting_chat(session, trader, "DE", None)
    paris = _waiting_chat(session, trader, "FR", None)
    routes = [route_chat(session, chat, presence, runtime.settings)
              for chat in (deposit, berlin, paris)]  # fmt: skip
    session.commit()
    assert [(r.agent_id, r.reason) for r in routes] == [
        (chain.id, "category_skill"),
        (german.id, "least_busy"),
        (plain.id, "least_busy"),
    ]


def test_the_skills_command_sets_clears_and_refuses_unknown_values(
    cli: CliRunner, session: Session
) -> None:
    agent_row = make_agent(session, email="skills@desk.example.com")
    done = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--category", "deposit",
                             "--category", "login_2fa", "--region", "de", "--region", "AT"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "categories deposit, login_2fa; regions AT, DE" in done.output
    session.expire_all()
    row = session.get(AgentSkills, agent_row.id)
    assert row is not None and (row.categories, row.regions) == (["deposit", "login_2fa"],
                                                                 ["AT", "DE"])  # fmt: skip
    unknown = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--category", "x"])
    assert unknown.exit_code == 1 and "No category x" in unknown.output
    bad_region = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--region", "EU1"])
    assert bad_region.exit_code == 1 and "EU1 is not a two-letter" in bad_region.output
    nobody = cli.invoke(main, ["chat", "skills", "nobody@desk.example.com"])
    assert nobody.exit_code == 1 and "No active agent" in nobody.output
    cleared = cli.invoke(main, ["chat", "skills", "skills@desk.example.com"])
    assert cleared.exit_code == 0 and "categories none; regions none" in cleared.output
    staffed = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--language", "de",
                                "--language", "en", "--capacity", "7"])  # fmt: skip
    assert staffed.exit_code == 0, staffed.output
    assert "languages en, de; capacity 7" in staffed.output
    kept = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--region", "DE"])
    assert "languages en, de; capacity 7" in kept.output  # not given: unchanged
    own = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--capacity", "0"])
    assert "capacity own choice" in own.output
    too_many = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--capacity", "99"])
    assert too_many.exit_code == 1 and "Capacity must be between 1 and 20" in too_many.output
    klingon = cli.invoke(main, ["chat", "skills", "skills@desk.example.com", "--language", "tlh"])
    assert klingon.exit_code == 1 and "Unknown language tlh" in klingon.output
