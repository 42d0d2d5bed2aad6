"""Follow-the-sun schedules: queues with opening hours, and the chain a closed queue hands on to.

An admin edits the queues on ``/console/chats/schedules`` (kept in the database, see
``staffing``); before that, or for a first import, they come from a YAML file named by
``HASHDESK_CHAT_SCHEDULES_FILE`` (neither: every queue is always open). Each queue serves one language group, optionally only
some regions, has opening hours per weekday in its own time zone (no ``hours``: always open)
and names the queue that takes its chats while it is closed::

    queues:
      - name: apac              # letters, digits, "-" and "_"
        language: en
        regions: [SG, AU, JP, KR, HK, TW, IN]
        time_zone: Asia/Singapore
        hours: {mon-fri: "08:00-20:00", sat: "10:00-14:00"}
        next: emea
      - name: emea
        language: en
        regions: [GB, DE, FR, AE]
        time_zone: Europe/London
        hours: {mon-fri: "08:00-18:00"}
        next: amer
      - name: amer
        language: en
        regions: [US, CA, BR]
        time_zone: America/New_York
        hours: {mon-fri: "08:00-20:00"}
        next: english
      - name: english
        language: en          # no hours: always open, the end of the chain

A chat belongs to the first queue of its language group whose regions include the chat's
region, else to the first one without regions (it takes any region). While that queue is closed, the chat goes
to the next open queue of the chain, and the trader is told. The file is read again when it
changes, so an admin's edit needs no restart; a mistake in it is reported with the queue and
field that are wrong.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from hashdesk.core.i18n import N_

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[a-z0-9_-]{1,30}$")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
END_OF_DAY = time.max


class ScheduleError(ValueError):
    """A schedule is wrong; the message names the queue and the field (``field``, for the
    console's form). ``message`` is a translatable template filled with ``params``."""

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        self.message, self.field, self.params = message, field, params
        super().__init__(self.render())

    def render(self, gettext: Callable[[str], str] | None = None) -> str:
        translate = gettext or str
        params = {key: _render_param(value, translate) for key, value in self.params.items()}
        return translate(self.message).format(**params)


@dataclass(frozen=True)
class Where:
    """The queue a message is about: its name, or its number while it has no valid name."""

    name: str | None = None
    number: int = 0


def _render_param(value: Any, translate: Callable[[str], str]) -> str:
    if isinstance(value, Where):
        if value.name is None:
            return translate(N_("queue #{number}")).format(number=value.number)
        return translate(N_("queue {name}")).format(name=repr(value.name))
    return str(value)


Hours = tuple[tuple[time, time], ...]


@dataclass(frozen=True)
class ScheduledQueue:
    name: str
    language: str
    regions: frozenset[str] = frozenset()
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # weekday (0 = Monday) -> open ranges; None: always open.
    hours: Mapping[int, Hours] | None = None
    next: str | None = None

    def serves(self, language_group: str, region: str) -> bool:
        return self.language == language_group and (not self.regions or region in self.regions)

    def is_open(self, at: datetime) -> bool:
        if self.hours is None:
            return True
        local = at.astimezone(self.time_zone)
        moment = local.time().replace(tzinfo=None)
        ranges = self.hours.get(local.weekday(), ())
        return any(start <= moment < end or (end == END_OF_DAY and moment >= start)
                   for start, end in ranges)  # fmt: skip

    @property
    def queue_label(self) -> str:
        """The chat's ``queue`` while it sits here: language group, then the queue's name."""
        return f"{self.language}:{self.name}"


@dataclass(frozen=True)
class Placement:
    """Where a chat is served: the queue's label, language and regions. ``moved_from`` names
    the closed queue it left (the trader gets a notice), None when its own queue is open."""

    queue: ScheduledQueue
    moved_from: ScheduledQueue | None = None


@dataclass(frozen=True)
class Schedules:
    queues: tuple[ScheduledQueue, ...] = ()

    def by_name(self, name: str) -> ScheduledQueue | None:
        return next((queue for queue in self.queues if queue.name == name), None)

    def home_of(self, language_group: str, region: str) -> ScheduledQueue | None:
        """The first queue of the language group naming ``region``, else the first one
        without regions (whatever order the admin added them in)."""
        serving = [q for q in self.queues if q.serves(language_group, region)]
        return next((q for q in serving if q.regions), next(iter(serving), None))

    def place(self, language_group: str, region: str, at: datetime) -> Placement | None:
        """The open queue for a chat at ``at``, following the chain from its home queue;
        None when no queue is its home, or when every queue of the chain is closed (it then
        waits in its own queue, like a chat without schedules)."""
        home = self.home_of(language_group, region)
        if home is None:
            return None
        seen: set[str] = set()
        current: ScheduledQueue | None = home
        while current is not None and current.name not in seen:
            if current.is_open(at):
                return Placement(current, None if current is home else home)
            seen.add(current.name)
            current = self.by_name(current.next) if current.next else None
        return None


# --- reading the file ---------------------------------------------------------------------------


def parse_schedules(data: Any) -> Schedules:
    """The schedules described by ``data`` (the YAML document), checked."""
    if not isinstance(data, dict) or not isinstance(data.get("queues"), list):
        raise ScheduleError(N_("the file must hold a 'queues' list"))
    queues = tuple(_parse_queue(n, raw) for n, raw in enumerate(data["queues"], 1))
    names = [queue.name for queue in queues]
    for queue in queues:
        where = Where(queue.name)
        if names.count(queue.name) > 1:
            raise ScheduleError(N_("{where}: the name is used twice"), field="name", where=where)
        if queue.next is not None and queue.next not in names:
            raise ScheduleError(N_("{where}: next names no queue {next}"), field="next",
                                where=where, next=repr(queue.next))  # fmt: skip
    return Schedules(queues)


def _parse_queue(number: int, raw: Any) -> ScheduledQueue:
    if not isinstance(raw, dict):
        raise ScheduleError(N_("{where}: expected a mapping with name, language, ..."),
                            where=Where(None, number))  # fmt: skip
    name = str(raw.get("name", ""))
    if not _NAME.match(name):
        raise ScheduleError(N_("{where}: name {name} must be 1-30 of a-z, 0-9, - and _"),
                            field="name", where=Where(None, number), name=repr(name))  # fmt: skip
    where = Where(name)
    language = str(raw.get("language", "")).lower()
    if not re.fullmatch(r"[a-z]{2,3}", language):
        raise ScheduleError(N_("{where}: language {language} must be a language code like en"),
                            field="language", where=where, language=repr(language))  # fmt: skip
    regions = raw.get("regions") or []
    if not isinstance(regions, list) or not all(
        re.fullmatch(r"[A-Za-z]{2}", str(r)) for r in regions
    ):
        raise ScheduleError(N_("{where}: regions must be a list of country codes like [DE, FR]"),
                            field="regions", where=where)  # fmt: skip
    try:
        zone = ZoneInfo(str(raw.get("time_zone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(N_("{where}: unknown time_zone {zone}"), field="time_zone",
                            where=where, zone=repr(raw.get("time_zone"))) from None  # fmt: skip
    hours = None if raw.get("hours") is None else _parse_hours(where, raw["hours"])
    next_name = raw.get("next")
    if hours is not None and not any(hours.values()) and next_name is None:
        # Closed all week with no queue to hand on to: its chats would never reach anyone.
        raise ScheduleError(N_("{where}: no opening hours on any day and no next queue; give "
                               "hours, make it always open, or name the queue that takes its "
                               "chats"), field="hours", where=where)  # fmt: skip
    return ScheduledQueue(name, language, frozenset(str(r).upper() for r in regions), zone,
                          hours, None if next_name is None else str(next_name))  # fmt: skip


def _parse_hours(where: Where, raw: Any) -> dict[int, Hours]:
    if not isinstance(raw, dict):
        raise ScheduleError(N_('{where}: hours must map days (mon, mon-fri) to "08:00-18:00"'),
                            field="hours", where=where)  # fmt: skip
    hours: dict[int, list[tuple[time, time]]] = {}
    for days, ranges in raw.items():
        texts = ranges if isinstance(ranges, list) else [ranges]
        for day in _days(where, str(days)):
            hours.setdefault(day, []).extend(_range(where, str(t)) for t in texts)
    return {day: tuple(ranges) for day, ranges in hours.items()}


def _days(where: Where, text: str) -> range:
    first, _, last = text.lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise ScheduleError(N_("{where}: hours day {day} must be like mon or mon-fri"),
                            field="hours", where=where, day=repr(text))  # fmt: skip
    start = WEEKDAYS.index(first)
    end = WEEKDAYS.index(last) if last else start
    if end < start:
        raise ScheduleError(N_("{where}: hours days {days} run backwards"), field="hours",
                            where=where, days=repr(text))  # fmt: skip
    return range(start, end + 1)


def _range(where: Where, text: str) -> tuple[time, time]:
    match = _RANGE.match(text.strip())
    bad = ScheduleError(N_('{where}: hours {hours} must be like "08:00-18:00" (end up to 24:00)'),
                        field="hours", where=where, hours=repr(text))  # fmt: skip
    if not match:
        raise bad
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise bad
    start, end = time(h1, m1), END_OF_DAY if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ScheduleError(N_("{where}: hours {hours} end before they start (split at 24:00)"),
                            field="hours", where=where, hours=repr(text))  # fmt: skip
    return start, end


_cache_lock = threading.Lock()
_cache: dict[Path, tuple[float, Schedules]] = {}


def load_schedules(path: Path | None) -> Schedules:
    """The schedules in ``path`` (none: no schedules), read again when the file changed."""
    if path is None:
        return Schedules()
    try:
        changed = path.stat().st_mtime
    except OSError as error:
        raise ScheduleError(N_("cannot read the schedules file {path}: {problem}"),
                            path=path, problem=error.strerror) from None  # fmt: skip
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == changed:
            return cached[1]
    try:
        schedules = parse_schedules(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise ScheduleError(N_("{path} is not valid YAML: {problem}"), path=path,
                            problem=error) from None  # fmt: skip
    except ScheduleError as error:
        raise ScheduleError(N_("{path}: {problem}"), field=error.field, path=path,
                            problem=error) from None  # fmt: skip
    with _cache_lock:
        _cache[path] = (changed, schedules)
    return schedules


def describe_hours(queue: ScheduledQueue) -> dict[str, list[str]] | None:
    """``queue``'s opening hours as stored and edited: weekday name to ``"08:00-18:00"``
    ranges (an end of ``24:00`` for midnight); None when it is always open."""
    if queue.hours is None:
        return None
    return {WEEKDAYS[day]: [f"{start:%H:%M}-{'24:00' if end == END_OF_DAY else f'{end:%H:%M}'}"
                            for start, end in ranges]
            for day, ranges in sorted(queue.hours.items()) if ranges}  # fmt: skip


def describe_queue(queue: ScheduledQueue) -> dict[str, Any]:
    """``queue`` in the shape ``parse_schedules`` reads (and the database stores)."""
    return {"name": queue.name, "language": queue.language, "regions": sorted(queue.regions),
            "time_zone": queue.time_zone.key, "hours": describe_hours(queue),
            "next": queue.next}  # fmt: skip
