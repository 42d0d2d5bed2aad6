"""The live search index follows changes its bus never carried: ``hashdesk helpcenter import``
run beside a server, or a writer whose bus stays in its own process, reaches the index
through the worker's periodic database check, and a change heard through both the bus and
the check is indexed once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.cli import main
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.events import MemoryBus, RedisBus
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.models import ArticleStatus
from hashdesk.helpcenter.schemas import ArticleCreate, TranslationSave
from hashdesk.helpcenter.search import SearchDocument, get_search_index, live
from hashdesk.helpcenter.search.live import LiveIndex, check_seconds_for, live_index
from hashdesk.runtime import Runtime
from tests.helpcenter.test_search_api import EVENT_SECONDS, eventually

CHECK = 0.1  # seconds between database checks here (the real ones are seconds apart)
SECTION = "funds/withdrawals"


@pytest.fixture
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Checks every ``CHECK`` seconds on either bus; counts them (one entry per check)."""
    monkeypatch.setattr(live, "CHECK_SECONDS", CHECK)
    monkeypatch.setattr(live, "CHECK_SECONDS_SHARED_BUS", CHECK)
    checks: list[int] = []
    real = live.fingerprint

    def counted(session: Session) -> tuple[object, ...]:
        checks.append(1)
        return real(session)

    monkeypatch.setattr(live, "fingerprint", counted)
    return checks


def after_two_more_checks(checks: list[int]) -> None:
    """Return once a whole check (and the re-reading it led to) ran after this call."""
    seen = len(checks)
    assert eventually(lambda: len(checks) >= seen + 2)


# --- the reported case: an import on the command line while the server runs ----------------


def write_page(folder: Path, status: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "payout.md").write_text(
        f"---\nid: 901\nlocale: en\ntitle: Payout calendar for affiliates\nsection: {SECTION}\n"
        f"status: {status}\n---\nAffiliate payouts settle every Tuesday.\n",
        encoding="utf-8",
    )


def found_ids(client: TestClient, query: str) -> list[int]:
    response = client.get("/api/v1/helpcenter/search", params={"q": query, "locale": "en"})
    assert response.status_code == 200, response.text
    return [hit["article_id"] for hit in response.json()["hits"]]


def test_an_import_on_the_command_line_reaches_the_running_servers_search(
    runtime: Runtime, client: TestClient, cli: CliRunner, tmp_path: Path, fast_checks: list[int]
) -> None:
    assert found_ids(client, "affiliate payouts") == []  # the index is built and running
    index = get_search_index(runtime)  # waited on directly: the API is rate-limited

    def indexed() -> list[int]:
        return [hit.article_id for hit in index.search("affiliate payouts", "en")]

    write_page(tmp_path / "published", "published")

    result = cli.invoke(main, ["helpcenter", "import", str(tmp_path / "published")])

    assert result.exit_code == 0, result.output
    assert eventually(lambda: indexed() == [901])
    assert found_ids(client, "affiliate payouts") == [901]
    write_page(tmp_path / "draft", "draft")
    assert cli.invoke(main, ["helpcenter", "import", str(tmp_path / "draft")]).exit_code == 0
    assert eventually(lambda: indexed() == [])
    assert found_ids(client, "affiliate payouts") == []


# --- every kind of change, on either bus, each indexed once ----------------------------------


@dataclass
class Nodes:
    reader: Runtime  # the server whose index is watched
    peer: Runtime  # a writer on the reader's bus (the reader itself with the in-process bus)
    outsider: Runtime  # a writer on a bus of its own: the reader hears nothing from it
    index: LiveIndex
    reindexed: list[set[int]] = field(default_factory=list)  # article ids, one set per re-read

    def times_reindexed(self, article_id: int) -> int:
        return sum(article_id in ids for ids in self.reindexed)


@pytest.fixture(params=["memory", "redis"])
def nodes(
    request: pytest.FixtureRequest, runtime: Runtime, settings: Settings, fast_checks: list[int]
) -> Iterator[Nodes]:
    alone = settings.model_copy(update={"redis_url": None})
    if request.param == "redis":
        # Channels are server-wide: a prefix of the test's own keeps other runs out.
        prefix = f"hashdesk-follow-{uuid.uuid4().hex[:8]}:"
        shared = settings.model_copy(
            update={"redis_url": request.getfixturevalue("redis_available"), "redis_prefix": prefix}
        )
        reader, peer = Runtime(shared), Runtime(shared)
    else:
        reader = Runtime(alone)
        peer = reader
    outsider = Runtime(alone)
    index = live_index(reader)
    found = Nodes(reader, peer, outsider, index)
    replace = index.index.replace_articles

    def recorded(
        article_ids: Iterable[int], documents: Iterable[SearchDocument], *, embed: bool = True
    ) -> None:
        ids = list(article_ids)
        found.reindexed.append(set(ids))
        replace(ids, documents, embed=embed)

    index.index.replace_articles = recorded  # type: ignore[method-assign]
    try:
        yield found
    finally:
        index.stop(wait_seconds=5.0)
        for node in {id(n): n for n in (reader, peer, outsider)}.values():
            node.stop()


def create(node: Runtime, title: str, body: str) -> int:
    with node.database.session() as session:
        data = ArticleCreate(title=title, body=body, section=SECTION, locale="en",
                             status=ArticleStatus.PUBLISHED)  # fmt: skip
        article = actions.check_create_article(session, SYSTEM, data)
        session.commit()
        return article.id


def edit(node: Runtime, article_id: int, title: str, body: str) -> None:
    with node.database.session() as session:
        save = TranslationSave(title=title, body=body, status=ArticleStatus.PUBLISHED)
        actions.check_save_translation(session, SYSTEM, article_id, "en", save)
        session.commit()


def make_internal(node: Runtime, article_id: int) -> None:
    with node.database.session() as session:
        article = queries.get_article(session, article_id)
        assert article is not None
        actions.do_update_article(session, SYSTEM, article, SECTION, internal=True)
        session.commit()


def unpublish(node: Runtime, article_id: int) -> None:
    with node.database.session() as session:
        actions.check_set_status(session, SYSTEM, article_id, "en", ArticleStatus.DRAFT)
        session.commit()


def found(nodes: Nodes, query: str, *, internal: bool = False) -> list[int]:
    hits = nodes.index.index.search(query, "en", include_internal=internal)
    return [hit.article_id for hit in hits]


def test_changes_from_another_process_are_found_and_each_indexed_once(
    nodes: Nodes, fast_checks: list[int]
) -> None:
    assert found(nodes, "liquidation") == []
    article_id = create(nodes.outsider, "Liquidation price explained",
                        "Your position is liquidated when the margin ratio reaches 100%.")  # fmt: skip
    assert eventually(lambda: found(nodes, "liquidation") == [article_id])

    edit(nodes.outsider, article_id, "Staking rewards calendar",
         "Staking rewards are paid every Monday.")  # fmt: skip
    assert eventually(lambda: found(nodes, "staking rewards") == [article_id])
    assert found(nodes, "liquidation") == []  # the old text is gone

    make_internal(nodes.outsider, article_id)
    assert eventually(lambda: found(nodes, "staking rewards") == [])
    assert found(nodes, "staking rewards", internal=True) == [article_id]

    unpublish(nodes.outsider, article_id)
    assert eventually(lambda: found(nodes, "staking rewards", internal=True) == [])

    # Heard twice (the bus and the database check), re-read once.
    heard_id = create(nodes.peer, "Funding fee schedule", "Funding is exchanged every 8 hours.")
    assert eventually(lambda: found(nodes, "funding fee") == [heard_id])
    after_two_more_checks(fast_checks)
    assert nodes.index.wait_idle(EVENT_SECONDS)

    assert nodes.times_reindexed(article_id) == 4  # published, edited, internal, unpublished
    assert nodes.times_reindexed(heard_id) == 1


def test_a_quiet_database_costs_one_check_and_no_reading(
    nodes: Nodes, fast_checks: list[int]
) -> None:
    create(nodes.peer, "Sub-account transfers", "Move funds between sub-accounts for free.")
    assert eventually(lambda: found(nodes, "sub-account") != [])
    after_two_more_checks(fast_checks)
    before = len(nodes.reindexed)

    after_two_more_checks(fast_checks)

    assert len(nodes.reindexed) == before


class SlowToSubscribeBus(MemoryBus):
    """A bus whose subscriptions wait until ``opened`` is set (a busy or distant Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = threading.Event()

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[object]:
        while not self.opened.is_set():
            await asyncio.sleep(0.01)
        async with super().subscribe(*channels) as subscription:
            yield subscription


def test_the_first_search_does_not_wait_for_the_subscription_and_misses_nothing(
    runtime: Runtime,
) -> None:
    bus = SlowToSubscribeBus()
    index = LiveIndex(runtime.database, bus, check_seconds=3600.0)  # no periodic check here
    index.start()  # returns with the bus still subscribing: searches can begin
    try:
        assert index.index.search("margin call", "en") == []
        # Announced on the bus before anyone listens: only the comparison on subscribing
        # can find it.
        article_id = create(runtime, "Margin call alerts", "We email you at 80% margin ratio.")
        assert not index.wait_idle(0.2)  # still not subscribed
        bus.opened.set()
        assert index.wait_idle(EVENT_SECONDS)
        assert [hit.article_id for hit in index.index.search("margin call", "en")] == [article_id]
    finally:
        bus.opened.set()
        index.stop(wait_seconds=5.0)


def test_the_check_is_frequent_only_where_the_bus_stays_in_the_process() -> None:
    assert check_seconds_for(MemoryBus()) == live.CHECK_SECONDS
    shared = RedisBus("redis://127.0.0.1:1/0")  # never connected: the kind alone decides
    assert check_seconds_for(shared) == live.CHECK_SECONDS_SHARED_BUS > live.CHECK_SECONDS
