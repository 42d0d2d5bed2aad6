"""The routing sweep, run by every node about once a second: offers that lapsed go to the next
agent, and waiting chats go to agents who now have room. Rows are locked with SKIP LOCKED, so
on PostgreSQL two nodes never route the same chat at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session

from hashdesk.chat import actions, assignment, routing
from hashdesk.chat.hub import ChatHub
from hashdesk.chat.models import ChatStatus
from hashdesk.chat.services import services_for
from hashdesk.core.clock import utcnow
from hashdesk.core.db import Database
from hashdesk.runtime import Runtime

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0


def sweep(runtime: Runtime, database: Database | None = None) -> int:
    """One pass; returns how many chats changed hands or state."""
    presence = services_for(runtime).presence
    settings = runtime.settings
    with (database or runtime.database).transaction() as session:
        moved = 0
        for chat in actions.expired_offers(session, settings.chat_offer_seconds):
            actions.do_expire_offer(session, chat, presence, settings)
            moved += 1
        moved += _drain_queue(session, runtime)
        return moved


def _drain_queue(session: Session, runtime: Runtime) -> int:
    presence = services_for(runtime).presence
    waiting = actions.waiting_chats(session)
    if not waiting:
        return 0
    moved = 0
    for chat in waiting:
        floor = actions.read_floor(session, presence)
        needs = assignment.needs_of(session, chat, runtime.settings, utcnow()).needs
        if routing.decide(needs, floor).decision is not routing.Decision.QUEUE:
            actions.route_chat(session, chat, presence, runtime.settings)
            moved += 1
    if moved:
        # The chats still waiting moved up: tell them their new place and wait.
        floor = actions.read_floor(session, presence)
        for chat in waiting:
            if chat.status == ChatStatus.QUEUED:
                actions.requeue_notice(session, chat, floor, runtime.settings)
    return moved


def sweeper_database(runtime: Runtime) -> Database:
    """The sweep's own engine (one connection at a time) on the node's database, with the same
    session info (bus, settings, outbox wake-up): a background query every second must not
    take a request's pooled connection, nor show up in what a request's engine executes."""
    with runtime.database.session() as probe:  # no I/O: only the info is read
        info = dict(probe.info)
    return Database(runtime.settings.database_url, session_info=info)


async def _sweep_forever(runtime: Runtime) -> None:
    database = sweeper_database(runtime)
    try:
        while True:
            try:
                await to_thread.run_sync(sweep, runtime, database)
            except Exception:
                # A database or Redis hiccup must not end routing for the life of the node.
                log.exception("chat routing sweep failed")
            await asyncio.sleep(min(SWEEP_SECONDS, runtime.settings.chat_offer_seconds / 4))
    finally:
        database.dispose()


@asynccontextmanager
async def routing_sweeper(app: FastAPI) -> AsyncIterator[None]:
    """The chat router's lifespan: the sweep and the node's chat hub run while it serves."""
    task = asyncio.create_task(_sweep_forever(app.state.runtime))
    hub = app.state.chat_hub = ChatHub(app.state.runtime.bus)
    hub.start()
    try:
        yield
    finally:
        await hub.stop()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
