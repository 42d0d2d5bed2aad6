"""The admin pages of chat routing: each agent's languages, categories, regions and capacity
(``/console/chats/agents``) and the follow-the-sun queue schedules kept in the database
(``/console/chats/schedules``). Changes are checked, audited and count for routing at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent
from hashdesk.accounts.queries import trader_principal
from hashdesk.chat import actions
from hashdesk.chat.actions import Opening, do_start_chat
from hashdesk.chat.models import AgentSkills, ChatQueueSchedule
from hashdesk.chat.presence import AgentPresence, MemoryPresence
from hashdesk.cli import main
from hashdesk.config import get_settings
from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import Role
from hashdesk.runtime import Runtime
from tests.chat.conftest import agent_socket
from tests.conftest import login_agent, make_agent, make_trader

MONDAY_NOON = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)  # 20:30 in Singapore, 12:30 London


def week(hours: str = "", **days: str) -> dict[str, str]:
    """The form's seven weekday fields: ``hours`` on Monday to Friday, ``days`` overrides."""
    fields = {f"hours-{day}": hours for day in ("mon", "tue", "wed", "thu", "fri")}
    fields |= {f"hours-{day}": "" for day in ("sat", "sun")}
    return fields | {f"hours-{day}": text for day, text in days.items()}


def queue(name: str, regions: str = "", zone: str = "UTC", next_queue: str = "",
          hours: str = "", original: str = "", always: bool = False) -> dict[str, str]:  # fmt: skip
    form = {"name": name, "language": "en", "regions": regions, "time_zone": zone,
            "next": next_queue, **week(hours)}  # fmt: skip
    if original:
        form["original"] = original
    if always:
        form["always_open"] = "1"
    return form


def audit_actions(session: Session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.fixture
def admin_client(client: TestClient, session: Session) -> TestClient:
    login_agent(client, make_agent(session, Role.ADMIN, email="admin@desk.example.com"))
    return client


# --- agents --------------------------------------------------------------------------------------


def test_only_an_admin_sees_the_routing_pages(client: TestClient, session: Session) -> None:
    assert client.get("/console/chats/agents", follow_redirects=False).status_code == 303
    login_agent(client, make_agent(session, Role.LEAD, email="lead@desk.example.com"))
    assert 'data-testid="chat-admin-agents"' not in client.get("/console/chats").text
    for page in ("/console/chats/agents", "/console/chats/schedules"):
        refused = client.get(page)
        assert refused.status_code == 403
        assert "Only an admin can change how chats are routed." in refused.text
    refused = client.post("/console/chats/schedules", data=queue("x", always=True))
    assert refused.status_code == 403
    assert session.scalars(select(ChatQueueSchedule)).first() is None


def test_an_admin_sets_an_agents_routing_and_the_next_chat_follows_it(
    admin_client: TestClient, session: Session, runtime: Runtime
) -> None:
    agent = make_agent(session, email="sam@desk.example.com")
    assert 'data-testid="chat-admin-agents"' in admin_client.get("/console/chats").text
    page = admin_client.get("/console/chats/agents")
    assert page.status_code == 200 and "sam@desk.example.com" in page.text
    saved = admin_client.post(f"/console/chats/agents/{agent.id}", follow_redirects=False, data={
        "language-de": "1", "language-en": "1", "category-login_2fa": "1",
        "regions": "de, at", "capacity": "1"})  # fmt: skip
    assert saved.status_code == 303
    session.expire_all()
    skills = session.get(AgentSkills, agent.id)
    stored = session.get(Agent, agent.id)
    assert stored is not None and skills is not None
    assert (stored.languages, skills.categories, skills.regions, skills.capacity) == (
        ["en", "de"], ["login_2fa"], ["AT", "DE"], 1)  # fmt: skip
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "chat.agent_routing_changed")).one()  # fmt: skip
    assert entry.object_id == agent.id and entry.before is not None and entry.after is not None
    assert (entry.before["capacity"], entry.after["capacity"]) == (None, 1)

    # The agent's console went online saying English and three chats; the admin's word counts.
    presence = MemoryPresence()
    presence.put(AgentPresence(agent.id, "online", 3, ["en"]))
    german = make_trader(session, "u-de", region="DE", language="de")
    first = do_start_chat(session, trader_principal(german), german, Opening(text="Hallo"),
                          presence, runtime.settings)  # fmt: skip
    second_trader = make_trader(session, "u-de2", region="DE", language="de")
    second = do_start_chat(session, trader_principal(second_trader), second_trader,
                           Opening(text="Guten Tag"), presence, runtime.settings)  # fmt: skip
    session.commit()
    assert (first.status, first.agent_id, first.queue) == ("offered", agent.id, "de:DE")
    assert second.status == "queued"  # capacity 1, set by the admin


def test_the_agents_console_is_told_the_capacity_an_admin_set(
    another_client: TestClient, session: Session
) -> None:
    agent = make_agent(session, email="sam@desk.example.com")
    session.add(AgentSkills(agent_id=agent.id, categories=[], regions=[], capacity=2))
    session.commit()
    with agent_socket(another_client, agent) as desk:
        desk.send(type="presence", status="online", capacity=5)
        assert desk.expect("presence")["capacity"] == 2  # what routing will use


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"language-en": "1", "capacity": "50"}, "Capacity must be between 1 and 20"),
        ({"language-en": "1", "capacity": "two"}, "Capacity must be between 1 and 20"),
        ({"language-en": "1", "regions": "Germany"}, "Region Germany is not a two-letter"),
        ({"regions": "DE"}, "Give the agent at least one language."),
    ],
)
def test_a_wrong_agent_setting_is_refused_with_a_clear_message(
    admin_client: TestClient, session: Session, form: dict[str, str], message: str
) -> None:
    agent = make_agent(session, email="sam@desk.example.com")
    refused = admin_client.post(f"/console/chats/agents/{agent.id}", data=form)
    assert refused.status_code == 422
    assert message in refused.text
    session.expire_all()
    assert session.get(AgentSkills, agent.id) is None
    assert "chat.agent_routing_changed" not in audit_actions(session)


# --- schedules -----------------------------------------------------------------------------------


def test_an_admin_builds_a_chain_and_routing_follows_it_at_once(
    admin_client: TestClient, session: Session, runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    post = admin_client.post
    assert post("/console/chats/schedules", data=queue("english", always=True)).status_code == 200
    assert post("/console/chats/schedules", data=queue(
        "emea", "GB DE", "Europe/London", "english", "08:00-18:00")).status_code == 200  # fmt: skip
    created = post("/console/chats/schedules", follow_redirects=False, data=queue(
        "apac", "SG AU", "Asia/Singapore", "emea", "08:00-12:00, 13:00-20:00"))  # fmt: skip
    assert created.status_code == 303
    rows = {row.name: row for row in session.scalars(select(ChatQueueSchedule))}
    assert rows["apac"].hours == {day: ["08:00-12:00", "13:00-20:00"]
                                  for day in ("mon", "tue", "wed", "thu", "fri")}  # fmt: skip
    assert rows["english"].hours is None and rows["apac"].regions == ["AU", "SG"]
    page = admin_client.get("/console/chats/schedules")
    assert 'data-testid="queue-apac"' in page.text

    monkeypatch.setattr(actions, "utcnow", lambda: MONDAY_NOON)  # APAC closed, EMEA open
    london = make_agent(session, email="uk@desk.example.com")
    presence = MemoryPresence()
    presence.put(AgentPresence(london.id, "online", 2, ["en"]))
    trader = make_trader(session, region="SG")
    chat = do_start_chat(session, trader_principal(trader), trader, Opening(text="Hi"),
                         presence, runtime.settings)  # fmt: skip
    session.commit()
    assert (chat.queue, chat.agent_id) == ("en:emea", london.id)

    # Renamed: the queue handing on to it follows; APAC open all week now: chats stay there.
    renamed = post("/console/chats/schedules", data=queue(
        "europe", "GB DE", "Europe/London", "english", "08:00-18:00", original="emea"))  # fmt: skip
    assert renamed.status_code == 200
    post("/console/chats/schedules", data=queue("apac", "SG AU", "Asia/Singapore", "europe",
                                                always=True, original="apac"))  # fmt: skip
    session.expire_all()
    rows = {row.name: row for row in session.scalars(select(ChatQueueSchedule))}
    assert set(rows) == {"english", "europe", "apac"} and rows["apac"].next == "europe"
    second = make_trader(session, "u-2", region="SG")
    chat = do_start_chat(session, trader_principal(second), second, Opening(text="Hello"),
                         presence, runtime.settings)  # fmt: skip
    session.commit()
    assert chat.queue == "en:apac"
    assert audit_actions(session).count("chat.queue_saved") == 5


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (queue("x", hours="9-17"), "hours &#39;9-17&#39; must be like"),
        (queue("x", hours="18:00-08:00"), "end before they start"),
        (queue("x"), "no opening hours on any day and no next queue"),
        (queue("x", zone="Mars/Base", always=True), "unknown time_zone &#39;Mars/Base&#39;"),
        (queue("X Y", always=True), "name &#39;x y&#39; must be 1-30"),
        (queue("x", regions="Europe", always=True), "regions must be a list of country codes"),
        (queue("x", next_queue="nowhere", always=True), "next names no queue &#39;nowhere&#39;"),
    ],
)
def test_a_wrong_queue_is_refused_naming_the_field(
    admin_client: TestClient, session: Session, form: dict[str, str], message: str
) -> None:
    refused = admin_client.post("/console/chats/schedules", data=form)
    assert refused.status_code == 422
    assert message in refused.text
    assert 'data-testid="queue-error"' in refused.text
    assert session.scalars(select(ChatQueueSchedule)).first() is None


def test_a_queue_others_hand_on_to_cannot_be_deleted_first(
    admin_client: TestClient, session: Session
) -> None:
    admin_client.post("/console/chats/schedules", data=queue("late", always=True))
    admin_client.post("/console/chats/schedules", data=queue("day", next_queue="late",
                                                             hours="09:00-17:00"))  # fmt: skip
    refused = admin_client.post("/console/chats/schedules/late/delete")
    assert refused.status_code == 409 and "change their next queue first" in refused.text
    assert admin_client.post("/console/chats/schedules/day/delete").status_code == 200
    assert admin_client.post("/console/chats/schedules/late/delete").status_code == 200
    assert session.scalars(select(ChatQueueSchedule)).first() is None
    assert audit_actions(session).count("chat.queue_deleted") == 2


SCHEDULES_FILE = """
queues:
  - {name: apac, language: en, regions: [SG], time_zone: Asia/Singapore,
     hours: {mon-fri: "08:00-20:00"}, next: rest}
  - {name: rest, language: en}
"""


def test_the_file_seeds_routing_until_imported_then_the_database_wins(
    admin_client: TestClient, session: Session, runtime: Runtime, tmp_path: Path,
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = tmp_path / "schedules.yaml"
    path.write_text(SCHEDULES_FILE, encoding="utf-8")
    runtime.settings.chat_schedules_file = path
    page = admin_client.get("/console/chats/schedules")
    assert 'data-testid="schedules-from-file"' in page.text
    assert admin_client.post("/console/chats/schedules/import").status_code == 200
    rows = list(session.scalars(select(ChatQueueSchedule).order_by(ChatQueueSchedule.position)))
    assert [(r.name, r.next) for r in rows] == [("apac", "rest"), ("rest", None)]
    assert rows[0].hours is not None and rows[0].hours["fri"] == ["08:00-20:00"]
    assert "sat" not in rows[0].hours

    monkeypatch.setenv("HASHDESK_CHAT_SCHEDULES_FILE", str(path))
    get_settings.cache_clear()
    admin_client.post("/console/chats/schedules", data=queue("rest", hours="00:00-24:00",
                                                             original="rest"))  # fmt: skip
    shown = cli.invoke(main, ["chat", "schedules", "--at", "2026-11-30T12:30"])
    assert shown.exit_code == 0, shown.output
    assert "from the database" in shown.output
    assert "apac (en, Asia/Singapore): closed, chats go to rest" in shown.output
    reimported = cli.invoke(main, ["chat", "schedules", "--import"])
    assert reimported.exit_code == 0 and "Imported 2 queues" in reimported.output
    session.expire_all()
    rest = session.scalars(select(ChatQueueSchedule).where(ChatQueueSchedule.name == "rest")).one()
    assert rest.hours is None  # the file's again
