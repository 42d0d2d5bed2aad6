"""The event bus contract, run over both backends (in-process and Redis), and the rule that
events leave only after the database commit.

Redis comes from the ``redis_available`` fixture: skipped on a bare machine, a failure in CI.
Pub/sub channels are shared by every Redis database number, so each test gets its own prefix.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.accounts.queries import agent_principal
from hashdesk.core.events import EventBus, MemoryBus, Message, RedisBus, publish_on_commit
from hashdesk.runtime import Runtime
from hashdesk.tickets import actions
from hashdesk.tickets.models import Ticket
from tests.conftest import make_agent, make_trader, open_ticket

QUIET = 0.3  # how long "nothing arrives" is waited for


@pytest.fixture(params=["memory", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    backend: EventBus
    if request.param == "memory":
        backend = MemoryBus()
    else:
        url = request.getfixturevalue("redis_available")
        backend = RedisBus(url, prefix=f"hashdesk-test-{uuid.uuid4().hex}:")
    yield backend
    backend.close()


def publish_from_thread(bus: EventBus, channel: str, message: Message) -> None:
    worker = threading.Thread(target=bus.publish, args=(channel, message))
    worker.start()
    worker.join()


# --- the contract ------------------------------------------------------------------------------


def test_a_message_published_from_a_worker_thread_reaches_an_asyncio_subscriber(
    bus: EventBus,
) -> None:
    sent_at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    async def scenario() -> Message | None:
        async with bus.subscribe("ticket:7") as subscription:
            await asyncio.to_thread(
                publish_from_thread, bus, "ticket:7", {"type": "ticket.replied", "at": sent_at}
            )
            return await subscription.get(timeout=5)

    # Both backends hand subscribers JSON shapes: a datetime arrives as its string.
    assert asyncio.run(scenario()) == {"type": "ticket.replied", "at": str(sent_at)}


def test_subscribers_hear_only_their_channels(bus: EventBus) -> None:
    async def scenario() -> tuple[Message | None, Message | None]:
        async with bus.subscribe("trader:1") as mine, bus.subscribe("trader:2") as theirs:
            await asyncio.to_thread(bus.publish, "trader:2", {"type": "for-2"})
            return await mine.get(timeout=QUIET), await theirs.get(timeout=5)

    assert asyncio.run(scenario()) == (None, {"type": "for-2"})


def test_one_subscription_may_listen_to_several_channels(bus: EventBus) -> None:
    async def scenario() -> list[Message | None]:
        async with bus.subscribe("console", "ticket:1") as subscription:
            await asyncio.to_thread(bus.publish, "ticket:1", {"n": 1})
            await asyncio.to_thread(bus.publish, "console", {"n": 2})
            return [await subscription.get(timeout=5), await subscription.get(timeout=5)]

    assert asyncio.run(scenario()) == [{"n": 1}, {"n": 2}]


def test_every_subscriber_of_a_channel_gets_every_message_in_order(bus: EventBus) -> None:
    async def scenario() -> list[list[Message | None]]:
        async with AsyncExitStack() as stack:
            listeners = [await stack.enter_async_context(bus.subscribe("console")) for _ in "abc"]
            for number in range(3):
                await asyncio.to_thread(bus.publish, "console", {"n": number})
            return [[await s.get(timeout=5) for _ in range(3)] for s in listeners]

    assert asyncio.run(scenario()) == [[{"n": 0}, {"n": 1}, {"n": 2}]] * 3


def test_after_unsubscribing_nothing_is_kept_for_the_old_subscription(bus: EventBus) -> None:
    async def scenario() -> tuple[Message | None, Message | None, Message | None]:
        async with bus.subscribe("console") as staying:
            async with bus.subscribe("console") as leaving:
                await asyncio.to_thread(bus.publish, "console", {"n": 1})
                heard_before_leaving = await leaving.get(timeout=5)
            await asyncio.to_thread(bus.publish, "console", {"n": 2})  # nobody left is harmed
            await staying.get(timeout=5)
            heard_by_staying = await staying.get(timeout=5)
        async with bus.subscribe("console") as later:
            # A new subscriber starts from now: nothing published before is replayed.
            return heard_before_leaving, heard_by_staying, await later.get(timeout=QUIET)

    assert asyncio.run(scenario()) == ({"n": 1}, {"n": 2}, None)


def test_get_returns_none_when_the_timeout_passes(bus: EventBus) -> None:
    async def scenario() -> tuple[Message | None, float]:
        async with bus.subscribe("quiet") as subscription:
            started = time.monotonic()
            message = await subscription.get(timeout=0.2)
            return message, time.monotonic() - started

    message, waited = asyncio.run(scenario())
    assert message is None
    assert 0.15 <= waited < 2


def test_a_reader_cancelled_as_a_message_arrives_stays_cancelled() -> None:
    # A node shutting down cancels its readers while events still arrive; a reader that
    # swallowed the cancellation would keep the shutdown waiting for ever.
    bus = MemoryBus()

    async def scenario() -> None:
        async with bus.subscribe("busy") as subscription:
            reader = asyncio.create_task(subscription.get(timeout=30))
            await asyncio.sleep(0)  # the reader waits on the queue
            subscription.queue.put_nowait({"n": 1})  # wakes it in the same turn as the cancel
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader

    asyncio.run(scenario())


def test_ping_says_the_backend_is_reachable(bus: EventBus) -> None:
    assert bus.ping() is True


def test_a_redis_bus_that_cannot_reach_redis_says_so() -> None:
    from tests.conftest import free_port

    unreachable = RedisBus(f"redis://127.0.0.1:{free_port()}/0")
    assert unreachable.ping() is False


# --- events leave only after the commit --------------------------------------------------------


def capture(
    bus: EventBus, channels: list[str], action: Callable[[], None]
) -> dict[str, list[Message]]:
    """Run ``action`` in a worker thread while subscribed to ``channels``; what each heard."""

    async def scenario() -> dict[str, list[Message]]:
        heard: dict[str, list[Message]] = {channel: [] for channel in channels}
        async with AsyncExitStack() as stack:
            subscriptions = {c: await stack.enter_async_context(bus.subscribe(c)) for c in channels}
            await asyncio.to_thread(action)
            for channel, subscription in subscriptions.items():
                while (message := await subscription.get(timeout=QUIET)) is not None:
                    heard[channel].append(message)
        return heard

    return asyncio.run(scenario())


def _channels(ticket: Ticket) -> list[str]:
    return ["console", f"ticket:{ticket.id}", f"trader:{ticket.trader_id}"]


def test_a_rolled_back_action_publishes_nothing(runtime: Runtime, session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    agent = agent_principal(make_agent(session))

    def reply_then_fail() -> None:
        with runtime.database.session() as work:
            actions.check_agent_reply(work, agent, work.get_one(Ticket, ticket.id), "Hello")
            work.flush()
            work.rollback()
            work.commit()  # a later commit must not send what the rollback discarded

    assert capture(runtime.bus, _channels(ticket), reply_then_fail) == {
        channel: [] for channel in _channels(ticket)
    }


def test_a_committed_reply_reaches_the_console_the_ticket_and_the_trader(
    runtime: Runtime, session: Session
) -> None:
    ticket = open_ticket(session, make_trader(session))
    agent = agent_principal(make_agent(session))

    def reply() -> None:
        with runtime.database.transaction() as work:
            actions.check_agent_reply(work, agent, work.get_one(Ticket, ticket.id), "Hello")

    heard = capture(runtime.bus, _channels(ticket), reply)

    expected = {"type": "ticket.replied", "ticket_id": ticket.id, "tracking_id": ticket.tracking_id,
                "status": "open", "department": "frontline"}  # fmt: skip
    assert heard == {channel: [expected] for channel in _channels(ticket)}


def test_an_internal_note_reaches_staff_only(runtime: Runtime, session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    agent = agent_principal(make_agent(session))

    def note() -> None:
        with runtime.database.transaction() as work:
            actions.check_agent_reply(work, agent, work.get_one(Ticket, ticket.id),
                                      "The trader sounds like a phisher.", internal=True)  # fmt: skip

    heard = capture(runtime.bus, _channels(ticket), note)

    assert [m["type"] for m in heard["console"]] == ["ticket.noted"]
    assert heard[f"ticket:{ticket.id}"] == heard[f"trader:{ticket.trader_id}"] == []


def test_a_trader_opening_a_ticket_hears_about_it_on_their_channel(
    runtime: Runtime, session: Session
) -> None:
    trader = make_trader(session)
    created: list[Ticket] = []

    def open_one() -> None:
        with runtime.database.session() as work:
            created.append(open_ticket(work, work.get_one(Trader, trader.id)))

    heard = capture(runtime.bus, [f"trader:{trader.id}", "console"], open_one)
    assert [m["tracking_id"] for m in heard[f"trader:{trader.id}"]] == [created[0].tracking_id]
    assert [m["type"] for m in heard["console"]] == ["ticket.created"]


def test_publish_on_commit_without_a_bus_is_a_no_op(runtime: Runtime) -> None:
    with runtime.database.sessionmaker() as bare, bare.begin():
        publish_on_commit(bare, "console", {"type": "ignored"})  # a CLI session has no bus
    assert "on_commit" not in bare.info
