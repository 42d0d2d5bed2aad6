"""``load_demo``: staff, traders, macros and eight weeks of tickets, through the domain actions.

Deterministic for a given seed (tracking IDs aside: they come from ``secrets`` on purpose).
Work is committed in batches so that a large load keeps memory flat and shows progress.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import agent_principal
from hashdesk.assets.demo import load_demo_registry
from hashdesk.core.auth import Principal
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Database
from hashdesk.demo.content import MACROS, SCENARIOS, Scenario
from hashdesk.demo.deposits import load_demo_transfers
from hashdesk.demo.history import STATE_ORDER, Cast, DemoClock, Story, World, pick_final_state
from hashdesk.demo.people import create_staff, create_trader, trader_profiles
from hashdesk.helpcenter.transfer import do_import, read_folder
from hashdesk.tickets.actions import check_create_macro, do_seed_defaults
from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import Category, Macro, Status
from hashdesk.tickets.queries import list_categories, list_macros
from hashdesk.tickets.schemas import MacroCreate

HELP_CENTER = Path(__file__).resolve().parent / "helpcenter"
HISTORY = timedelta(weeks=8)
RECENT = timedelta(hours=48)
JUST_NOW = timedelta(hours=3)
TRADER_BATCH = 500
TICKET_BATCH = 50
DUPLICATE_SHARE = 0.03

Progress = Callable[[int], None]


@dataclass(frozen=True)
class DemoOptions:
    traders: int = 2000
    tickets: int = 1500
    seed: int = 7
    help_center: bool = True


@dataclass(frozen=True)
class DemoSummary:
    staff: int
    traders: int
    tickets: int
    macros: int
    seconds: float
    help_pages: int = 0


def has_traders(database: Database) -> bool:
    with database.session() as session:
        return bool(session.scalar(select(func.count(Trader.id))))


def load_demo(
    database: Database, options: DemoOptions, advance: Progress | None = None,
    now: datetime | None = None,
) -> DemoSummary:  # fmt: skip
    """Load the demo. ``advance(n)`` is told about every n traders and tickets written."""
    started, now = time.monotonic(), now or utcnow()
    rng, step = random.Random(options.seed), advance or (lambda _n: None)
    with database.transaction() as session:
        do_seed_defaults(session)
    with database.transaction() as session, DemoClock(now - timedelta(days=120)).installed(session):
        staff = create_staff(session)
        lead = next(a for a in staff if a.role == "lead")
        macros = _create_macros(session, lead)
        lead_principal = agent_principal(lead)
    pages = load_help_center(database, lead_principal) if options.help_center else 0
    load_demo_registry(database, lead_principal)  # the asset and network registry
    _load_traders(database, rng, options.traders, now, step)
    load_demo_transfers(database, random.Random(options.seed + 1), now)  # connector data
    tickets = _load_tickets(database, rng, options.tickets, now, step)
    return DemoSummary(len(staff), options.traders, tickets, macros, time.monotonic() - started,
                       pages)  # fmt: skip


def load_help_center(database: Database, editor: Principal, folder: Path = HELP_CENTER) -> int:
    """Import the demo help center (Markdown with front matter, one file per translation)
    the way an operator would, through ``transfer``: checked first, then written in one
    transaction, every article audited as the support lead's. Loading it again changes
    nothing that did not change. Returns the number of pages (translations) in the folder."""
    if not folder.is_dir() or not any(folder.rglob("*.md")):
        return 0
    files = read_folder(folder)
    with database.transaction() as session:
        do_import(session, editor, files)
    return len(files)


def _create_macros(session: Session, lead: Agent) -> int:
    known = {(m.name, m.language) for m in list_macros(session)}
    created = 0
    for name, department, status, bodies in MACROS:
        for language, body in bodies.items():
            if (name, language) in known:
                continue
            data = MacroCreate(name=name, body=body, language=language,
                               department=Department(department) if department else None,
                               set_status=Status(status) if status else None)  # fmt: skip
            check_create_macro(session, agent_principal(lead), data)
            created += 1
    return created


def _load_traders(
    database: Database, rng: random.Random, count: int, now: datetime, advance: Progress
) -> None:
    profiles = trader_profiles(rng, count)
    for start in range(0, count, TRADER_BATCH):
        batch = profiles[start : start + TRADER_BATCH]
        with database.transaction() as session, DemoClock(now).installed(session) as clock:
            for profile in batch:
                # Traders joined the exchange over the last two years.
                clock.now = now - timedelta(days=rng.uniform(60, 730))
                create_trader(session, profile)
        advance(len(batch))


def creation_times(rng: random.Random, count: int, now: datetime) -> list[datetime]:
    """Oldest first: most over eight weeks, a busier last two days, a few in the last hours
    (enough that a small demo still has brand-new tickets)."""
    just_now = min(count, max(3, round(count * 0.005)))
    recent = min(count - just_now, max(8, round(count * 0.04)))
    ages = [rng.uniform(60, JUST_NOW.total_seconds()) for _ in range(just_now)]
    ages += [rng.uniform(JUST_NOW.total_seconds(), RECENT.total_seconds()) for _ in range(recent)]
    ages += [
        rng.uniform(RECENT.total_seconds(), HISTORY.total_seconds())
        for _ in range(count - just_now - recent)
    ]
    return sorted(now - timedelta(seconds=age) for age in ages)


def final_states(rng: random.Random, times: list[datetime], now: datetime) -> list[Status]:
    """A state per ticket fitting its age; the newest and oldest few are pinned so that even a
    small demo shows every state and a backlog (a ticket stuck past 48 hours)."""
    states = [pick_final_state(rng, now - moment) for moment in times]
    if len(states) >= len(STATE_ORDER):
        states[-1] = Status.NEW
        states[-2], states[-3], states[-4] = Status.OPEN, Status.PENDING, Status.ESCALATED
        states[0], states[1] = Status.CLOSED, Status.RESOLVED
    stale = [index for index, moment in enumerate(times) if now - moment > RECENT]
    if stale and stale[-1] > 1:
        states[stale[-1]] = Status.ESCALATED
    return states


def scenario_sequence(rng: random.Random, count: int) -> list[Scenario]:
    """Every scenario at least once (so every category shows), the rest by weight."""
    chosen = list(SCENARIOS[:count])
    weights = [s.weight for s in SCENARIOS]
    chosen += rng.choices(SCENARIOS, weights, k=max(0, count - len(chosen)))
    rng.shuffle(chosen)
    return chosen


def _load_tickets(
    database: Database, rng: random.Random, count: int, now: datetime, advance: Progress
) -> int:
    times = creation_times(rng, count, now)
    states = final_states(rng, times, now)
    scenarios = scenario_sequence(rng, count)
    with database.session() as session:
        trader_ids = list(session.scalars(select(Trader.id).order_by(Trader.id)))
        vip_levels = list(session.scalars(select(Trader.vip_level).order_by(Trader.id)))
    if not trader_ids:
        return 0
    # VIPs trade more and so write more.
    requesters = rng.choices(trader_ids, [1 + level / 4 for level in vip_levels], k=count)
    for start in range(0, count, TICKET_BATCH):
        end = min(start + TICKET_BATCH, count)
        with database.transaction() as session, DemoClock(now).installed(session) as clock:
            world = _world(session, clock)
            for index in range(start, end):
                trader = session.get(Trader, requesters[index])
                assert trader is not None
                # The oldest ticket always has a duplicate, so even a small demo shows a merge.
                duplicated = index == 0 or rng.random() < DUPLICATE_SHARE
                story = Story(world, rng, trader, scenarios[index], times[index], states[index],
                              duplicated=duplicated)  # fmt: skip
                story.plan()
                story.play(now)
        advance(end - start)
    return count


def _world(session: Session, clock: DemoClock) -> World:
    agents = list(session.scalars(select(Agent).where(Agent.active.is_(True)).order_by(Agent.id)))
    categories: dict[str, Category] = {c.slug: c for c in list_categories(session)}
    macros: dict[tuple[str, str], Macro] = {(m.name, m.language): m for m in list_macros(session)}
    return World(session, clock, Cast(agents), categories, macros)
