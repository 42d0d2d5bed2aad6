"""Follow-the-sun schedules: opening hours per weekday in each queue's time zone, the chain a
closed queue hands on to, the file's checks, and a chat moved with a notice (fixed clock)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import trader_principal
from hashdesk.chat import actions
from hashdesk.chat.actions import Opening, do_start_chat
from hashdesk.chat.models import AgentSkills, ChatMessage, SenderKind
from hashdesk.chat.presence import AgentPresence, MemoryPresence
from hashdesk.chat.schedules import ScheduleError, load_schedules, parse_schedules
from hashdesk.cli import main
from hashdesk.config import get_settings
from hashdesk.core.i18n import gettext_for
from hashdesk.runtime import Runtime
from tests.conftest import make_agent, make_trader

FOLLOW_THE_SUN = """
queues:
  - name: apac
    language: en
    regions: [SG, AU, JP]
    time_zone: Asia/Singapore
    hours: {mon-fri: "08:00-20:00", sat: "10:00-14:00"}
    next: emea
  - name: emea
    language: en
    regions: [GB, DE]
    time_zone: Europe/London
    hours: {mon-fri: "08:00-18:00"}
    next: amer
  - name: amer
    language: en
    regions: [US, CA]
    time_zone: America/New_York
    hours: {mon-fri: ["08:00-12:00", "13:00-20:00"]}
    next: english
  - name: english
    language: en
"""
SCHEDULE_NOTICE = (
    "Our team for your region is outside its opening hours, so the chat goes to the team on duty."
)
OVERFLOW_NOTICE = (
    "No agent who speaks your language is online right now, so an English-speaking agent will "
    "help you."
)
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # winter: Singapore +8, London +0, New York -5


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


@pytest.fixture
def schedules_file(tmp_path: Path) -> Path:
    path = tmp_path / "chat-schedules.yaml"
    path.write_text(FOLLOW_THE_SUN, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("moment", "served_by", "moved_from"),
    [
        (at(MONDAY, 3), "apac", None),  # 11:00 in Singapore
        (at(MONDAY, 12, 30), "emea", "apac"),  # 20:30 in Singapore: just closed
        (at(MONDAY, 17, 30), "emea", "apac"),  # 17:30 in London
        (at(MONDAY, 22), "amer", "apac"),  # 17:00 in New York
        (datetime(2026, 12, 5, 3, tzinfo=UTC), "apac", None),  # Saturday 11:00 in Singapore
        (datetime(2026, 12, 5, 18, tzinfo=UTC), "english", "apac"),  # Saturday: all shut
    ],
)
def test_a_chat_goes_down_the_chain_to_the_first_open_queue(
    schedules_file: Path, moment: datetime, served_by: str, moved_from: str | None
) -> None:
    placement = load_schedules(schedules_file).place("en", "SG", moment)
    assert placement is not None
    assert placement.queue.name == served_by
    assert (placement.moved_from.name if placement.moved_from else None) == moved_from


def test_hours_follow_each_time_zone_across_summer_time(schedules_file: Path) -> None:
    emea = load_schedules(schedules_file).by_name("emea")
    assert emea is not None
    summer_monday = datetime(2026, 7, 6, tzinfo=UTC)  # London is UTC+1
    assert emea.is_open(at(summer_monday, 7, 30)) and not emea.is_open(at(MONDAY, 7, 30))
    assert emea.is_open(at(MONDAY, 17, 59)) and not emea.is_open(at(MONDAY, 18))


def test_a_lunch_break_closes_the_queue_between_two_ranges(schedules_file: Path) -> None:
    amer = load_schedules(schedules_file).by_name("amer")
    assert amer is not None
    assert amer.is_open(at(MONDAY, 16, 59)) and not amer.is_open(at(MONDAY, 17, 30))


def test_the_home_queue_depends_on_language_group_and_region(schedules_file: Path) -> None:
    schedules = load_schedules(schedules_file)
    assert (home := schedules.home_of("en", "DE")) is not None and home.name == "emea"
    fallback = schedules.home_of("en", "BR")  # a queue without regions takes any region
    assert fallback is not None and fallback.name == "english"
    assert schedules.home_of("ko", "KR") is None  # no schedule: routed as before


def test_a_chain_that_is_closed_all_round_leaves_the_chat_in_its_queue() -> None:
    schedules = parse_schedules({"queues": [
        {"name": "a", "language": "de", "hours": {"mon": "09:00-10:00"}, "next": "b"},
        {"name": "b", "language": "de", "regions": ["AT"], "hours": {"tue": "09:00-10:00"},
         "next": "a"},
    ]})  # fmt: skip
    assert schedules.place("de", "DE", at(MONDAY, 9, 30)) is not None
    assert schedules.place("de", "DE", at(MONDAY, 12)) is None


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ({"name": "x", "language": "en", "time_zone": "Mars/Base"}, "unknown time_zone"),
        ({"name": "x", "language": "en", "next": "nowhere"}, "next names no queue 'nowhere'"),
        ({"name": "x", "language": "en", "hours": {"fri-mon": "09:00-10:00"}}, "backwards"),
        ({"name": "x", "language": "en", "hours": {"mon": "18:00-08:00"}}, "end before"),
        ({"name": "x", "language": "en", "hours": {"mon": "9-17"}}, "must be like"),
        ({"name": "x", "language": "en", "hours": {}}, "no opening hours on any day"),
        ({"name": "x", "language": "en", "hours": {"someday": "09:00-10:00"}}, "day 'someday'"),
        ({"name": "x", "language": "en", "regions": "EU"}, "regions must be a list"),
        ({"name": "X Y", "language": "en"}, "name 'X Y'"),
        ({"name": "x", "language": "english"}, "language 'english'"),
    ],
)
def test_a_wrong_schedule_is_refused_naming_the_queue_and_field(
    queue: dict[str, object], message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedules({"queues": [queue]})


def test_the_file_is_read_again_after_an_edit_and_bad_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text("queues:\n  - {name: a, language: en}\n", encoding="utf-8")
    assert [q.name for q in load_schedules(path).queues] == ["a"]
    path.write_text("queues:\n  - {name: b, language: en}\n", encoding="utf-8")
    os.utime(path, (1, 1))  # a different modification time, whatever the clock's resolution
    assert [q.name for q in load_schedules(path).queues] == ["b"]
    path.write_text("queues: [", encoding="utf-8")
    with pytest.raises(ScheduleError, match="not valid YAML"):
        load_schedules(path)
    with pytest.raises(ScheduleError, match="cannot read"):
        load_schedules(tmp_path / "missing.yaml")
    assert load_schedules(None).queues == ()


def test_a_chat_whose_queue_is_closed_goes_to_the_team_on_duty_with_a_notice(
    runtime: Runtime, session: Session, schedules_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.settings.chat_schedules_file = schedules_file
    monkeypatch.setattr(actions, "utcnow", lambda: at(MONDAY, 12, 30))  # APAC has closed
    singapore = make_agent(session, email="sg@desk.example.com")
    london = make_agent(session, email="uk@desk.example.com")
    session.add_all([AgentSkills(agent_id=singapore.id, categories=[], regions=["SG"]),
                     AgentSkills(agent_id=london.id, categories=[], regions=["GB"])])  # fmt: skip
    session.commit()
    presence = MemoryPresence()
    for agent_id in (singapore.id, london.id):  # both online: the schedule decides, not presence
        presence.put(AgentPresence(agent_id, "online", 2, ["en"]))
    trader = make_trader(session, region="SG")
    chat = do_start_chat(session, trader_principal(trader), trader, Opening(text="Hi there"),
                         presence, runtime.settings)  # fmt: skip
    session.commit()
    assert (chat.queue, chat.status, chat.agent_id) == ("en:emea", "offered", london.id)
    notices = session.scalars(select(ChatMessage.body).where(
        ChatMessage.chat_id == chat.id, ChatMessage.sender_kind == SenderKind.SYSTEM.value))  # fmt: skip
    assert list(notices) == [SCHEDULE_NOTICE]  # the trader's language: English

    # London lets the offer lapse: re-routed in the same queue, without a second notice (and
    # with no other EMEA agent online, the region falls back to whoever is online).
    actions.do_expire_offer(session, chat, presence, runtime.settings)
    session.commit()
    assert (chat.queue, chat.agent_id, chat.last_seq) == ("en:emea", singapore.id, 2)

    monkeypatch.setattr(actions, "utcnow", lambda: at(MONDAY, 3))  # APAC open: no notice
    second = make_trader(session, "u-2", region="SG")
    chat = do_start_chat(session, trader_principal(second), second, Opening(text="Hello"),
                         presence, runtime.settings)  # fmt: skip
    session.commit()
    assert (chat.queue, chat.agent_id, chat.last_seq) == ("en:apac", singapore.id, 1)


def test_a_chat_moved_then_overflowed_to_english_is_told_each_thing_once(
    runtime: Runtime, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "de.yaml"
    path.write_text(
        "queues:\n"
        "  - {name: dach, language: de, regions: [DE], time_zone: Europe/Berlin,\n"
        "     hours: {mon-fri: '09:00-17:00'}, next: de-late}\n"
        "  - {name: de-late, language: de}\n",
        encoding="utf-8",
    )
    runtime.settings.chat_schedules_file = path
    monkeypatch.setattr(actions, "utcnow", lambda: at(MONDAY, 20))  # 21:00 in Berlin
    english = make_agent(session, email="en@desk.example.com")
    presence = MemoryPresence()
    presence.put(AgentPresence(english.id, "online", 1, ["en"]))
    trader = make_trader(session, region="DE", language="de")
    chat = do_start_chat(session, trader_principal(trader), trader, Opening(text="Hallo"),
                         presence, runtime.settings)  # fmt: skip
    session.commit()
    assert (chat.queue, chat.agent_id) == ("en:DE", english.id)
    actions.do_expire_offer(session, chat, presence, runtime.settings)  # nobody else: a ticket
    session.commit()
    notices = list(session.scalars(select(ChatMessage.body).where(
        ChatMessage.chat_id == chat.id, ChatMessage.sender_kind == SenderKind.SYSTEM.value)))  # fmt: skip
    german = gettext_for("de").gettext
    assert notices[:2] == [german(SCHEDULE_NOTICE), german(OVERFLOW_NOTICE)]
    assert len(notices) == 3 and chat.status == "ticketed"


def test_the_schedules_command_shows_open_queues_and_reports_a_broken_file(
    cli: CliRunner, schedules_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHDESK_CHAT_SCHEDULES_FILE", str(schedules_file))
    get_settings.cache_clear()
    shown = cli.invoke(main, ["chat", "schedules", "--at", "2026-11-30T12:30"])
    assert shown.exit_code == 0, shown.output
    assert "apac (en, Asia/Singapore): closed, chats go to emea" in shown.output
    assert "emea (en, Europe/London): open" in shown.output
    schedules_file.write_text("queues:\n  - {name: a, language: en, next: b}\n", encoding="utf-8")
    os.utime(schedules_file, (2, 2))
    broken = cli.invoke(main, ["chat", "schedules"])
    assert broken.exit_code == 1 and "queue 'a': next names no queue 'b'" in broken.output
