"""Follow-the-sun schedules: queues with opening hours, and the chain a closed queue hands on to.

The operator describes the queues in a YAML file named by ``HASHDESK_CHAT_SCHEDULES_FILE``
(no file: every queue is always open). Each queue serves one language group, optionally only
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
region (a queue without regions takes any region). While that queue is closed, the chat goes
to the next open queue of the chain, and the trader is told. The file is read again when it
changes, so an admin's edit needs no restart; a mistake in it is reported with the queue and
field that are wrong.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[a-z0-9_-]{1,30}$")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
END_OF_DAY = time.max


class ScheduleError(ValueError):
    """The schedules file is wrong; the message names the queue and the field."""


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
        return next((q for q in self.queues if q.serves(language_group, region)), None)

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
        raise ScheduleError("the file must hold a 'queues' list")
    queues = tuple(_parse_queue(n, raw) for n, raw in enumerate(data["queues"], 1))
    names = [queue.name for queue in queues]
    for queue in queues:
        if names.count(queue.name) > 1:
            raise ScheduleError(f"queue {queue.name!r}: the name is used twice")
        if queue.next is not None and queue.next not in names:
            raise ScheduleError(f"queue {queue.name!r}: next names no queue {queue.next!r}")
    return Schedules(queues)


def _parse_queue(number: int, raw: Any) -> ScheduledQueue:
    if not isinstance(raw, dict):
        raise ScheduleError(f"queue #{number}: expected a mapping with name, language, ...")
    name = str(raw.get("name", ""))
    if not _NAME.match(name):
        raise ScheduleError(f"queue #{number}: name {name!r} must be 1-30 of a-z, 0-9, - and _")
    where = f"queue {name!r}"
    language = str(raw.get("language", "")).lower()
    if not re.fullmatch(r"[a-z]{2,3}", language):
        raise ScheduleError(f"{where}: language {language!r} must be a language code like en")
    regions = raw.get("regions") or []
    if not isinstance(regions, list) or not all(
        re.fullmatch(r"[A-Za-z]{2}", str(r)) for r in regions
    ):
        raise ScheduleError(f"{where}: regions must be a list of country codes like [DE, FR]")
    try:
        zone = ZoneInfo(str(raw.get("time_zone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{where}: unknown time_zone {raw.get('time_zone')!r}") from None
    hours = None if raw.get("hours") is None else _parse_hours(where, raw["hours"])
    next_name = raw.get("next")
    return ScheduledQueue(name, language, frozenset(str(r).upper() for r in regions), zone,
                          hours, None if next_name is None else str(next_name))  # fmt: skip


def _parse_hours(where: str, raw: Any) -> dict[int, Hours]:
    if not isinstance(raw, dict):
        raise ScheduleError(f'{where}: hours must map days (mon, mon-fri) to "08:00-18:00"')
    hours: dict[int, list[tuple[time, time]]] = {}
    for days, ranges in raw.items():
        texts = ranges if isinstance(ranges, list) else [ranges]
        for day in _days(where, str(days)):
            hours.setdefault(day, []).extend(_range(where, str(t)) for t in texts)
    return {day: tuple(ranges) for day, ranges in hours.items()}


def _days(where: str, text: str) -> range:
    first, _, last = text.lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise ScheduleError(f"{where}: hours day {text!r} must be like mon or mon-fri")
    start = WEEKDAYS.index(first)
    end = WEEKDAYS.index(last) if last else start
    if end < start:
        raise ScheduleError(f"{where}: hours days {text!r} run backwards")
    return range(start, end + 1)


def _range(where: str, text: str) -> tuple[time, time]:
    match = _RANGE.match(text.strip())
    bad = ScheduleError(f'{where}: hours {text!r} must be like "08:00-18:00" (end up to 24:00)')
    if not match:
        raise bad
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise bad
    start, end = time(h1, m1), END_OF_DAY if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ScheduleError(f"{where}: hours {text!r} end before they start (split at 24:00)")
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
        raise ScheduleError(f"cannot read the schedules file {path}: {error.strerror}") from None
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == changed:
            return cached[1]
    try:
        schedules = parse_schedules(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise ScheduleError(f"{path} is not valid YAML: {error}") from None
    except ScheduleError as error:
        raise ScheduleError(f"{path}: {error}") from None
    with _cache_lock:
        _cache[path] = (changed, schedules)
    return schedules
