"""One chat WebSocket: sign-in, frames in, frames out (docs/chat-protocol.md).

The reader loop handles the client's frames one at a time; each chat the socket joined has a
follower task that listens to the chat on the node's hub (``hub.ChatHub``) *before* it
replays the stored messages after the client's ``last_seq``, then forwards live ones. ``delivered[chat]`` is the
highest ``seq`` sent on this socket: a live message at or below it is dropped (no duplicates),
one above the next expected fills the gap from the database first (nothing lost, even when
pub/sub drops or reorders), and an idle follower checks the database every
``CATCH_UP_SECONDS`` in case the last message's event never came.

Database and Redis calls are blocking; they run in worker threads, never on the loop
(except the hub's publishing, which uses redis.asyncio). Messages go through the node's ``MessageWriter`` (group commit): the messages that arrive
while one batch is being stored are stored together in the next transaction, in arrival
order, then published in one pipeline after the commit (stored before anyone hears of
them), then acknowledged. The sender's socket gets no echo of its message: its follower sends
the ack where the message stands in the chat (``own_acks``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from anyio import to_thread
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from hashdesk.accounts.actions import check_trader_token
from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.assistant.routes import GUEST_KEY as ASSISTANT_GUEST_KEY
from hashdesk.chat import actions, desk, guests, protocol
from hashdesk.chat.geo import client_ip, region_of
from hashdesk.chat.hub import ChatHub, Delivery, dumps
from hashdesk.chat.models import AgentSkills, Chat
from hashdesk.chat.origins import check_socket_origin
from hashdesk.chat.presence import PRESENCE_REFRESH_SECONDS, AgentPresence
from hashdesk.chat.queries import (
    REPLAY_LIMIT,
    access_chat,
    guest_chat_key,
    list_messages_after,
    list_open_chats_of_agent,
    list_open_chats_of_trader,
    may_see,
)
from hashdesk.chat.services import (
    CONNECT_BY_ADDRESS,
    MESSAGE_BY_ADDRESS,
    START_BY_ADDRESS,
    services_for,
)
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.db import Database
from hashdesk.core.errors import (
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from hashdesk.core.ratelimit import TRADER_TOKEN, hit_limit, hit_limit_many
from hashdesk.runtime import Runtime

log = logging.getLogger(__name__)
CATCH_UP_SECONDS = 10.0
POLICY_VIOLATION = 1008
Result = TypeVar("Result")


_write_locks: WeakKeyDictionary[Database, threading.Lock] = WeakKeyDictionary()
_write_locks_guard = threading.Lock()


def _sqlite_write_lock(database: Database) -> threading.Lock | None:
    if not database.url.startswith("sqlite"):
        return None
    with _write_locks_guard:
        return _write_locks.setdefault(database, threading.Lock())


@dataclass
class _Post:
    """A message waiting for the writer, with what its access check needs."""

    principal: Principal
    chat_id: int
    text: str
    client_id: str | None
    key: str | None
    address: str
    done: asyncio.Future[actions.Posted]
    # Called on the loop once the message is stored, before anyone hears of it: the sender's
    # socket places its ack where the message stands in the chat (``ChatConnection.message``).
    on_stored: Callable[[actions.Posted], None] | None = None


class _Collector:
    """Stands in for the bus in a writer's session: after commit, the events are kept (for the
    hub to publish on the loop) instead of being published from the worker thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.events.append((channel, message))


class MessageWriter:
    """One per node: stores chat messages in batches (group commit), one batch at a time, so a
    chat's numbers follow the order its messages arrived in; batches grow with the load by
    themselves (whatever arrived while the last one was stored), so a lone message waits for
    no timer."""

    MAX_BATCH = 200

    def __init__(self, runtime: Runtime, hub: ChatHub) -> None:
        self.runtime, self.hub = runtime, hub
        self.queue: asyncio.Queue[_Post] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())
        if hub.on_its_loop():  # else it ends with its own loop
            hub.on_stop.append(self.stop)

    @classmethod
    def of(cls, websocket: WebSocket, runtime: Runtime) -> MessageWriter:
        """The writer of this node (of this event loop: tests may serve one app on two)."""
        state = websocket.app.state
        loop = asyncio.get_running_loop()
        writers: dict[asyncio.AbstractEventLoop, MessageWriter] | None = getattr(
            state, "chat_writers", None
        )
        if writers is None:
            writers = state.chat_writers = {}
        writer = writers.get(loop)
        if writer is None or writer.task.done():
            for closed in [other for other in writers if other.is_closed()]:
                del writers[closed]
            writer = writers[loop] = cls(runtime, state.chat_hub)
        return writer

    async def stop(self) -> None:
        self.task.cancel()
        with suppress(asyncio.CancelledError):
            await self.task

    async def post(self, principal: Principal, chat_id: int, text: str, client_id: str | None,
                   key: str | None, address: str,
                   on_stored: Callable[[actions.Posted], None] | None = None,
                   ) -> actions.Posted:  # fmt: skip
        done: asyncio.Future[actions.Posted] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Post(principal, chat_id, text, client_id, key, address, done,
                                    on_stored))  # fmt: skip
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                outcomes, events = await self._store(batch)
            except Exception as error:  # handed to each waiting socket
                outcomes, events = [error] * len(batch), []
            for post, outcome in zip(batch, outcomes, strict=True):
                if post.on_stored is not None and isinstance(outcome, actions.Posted):
                    post.on_stored(outcome)
            # Published before the acks go out: a sender never sees its ack before its peer
            # could have the message. A Redis failure loses only the live event (followers
            # catch up from the database), never the stored message.
            try:
                await self.hub.publish(events)
            except Exception:
                log.exception("publishing chat messages failed; followers will catch up")
            for post, outcome in zip(batch, outcomes, strict=True):
                if post.done.done():
                    continue
                if isinstance(outcome, BaseException):
                    post.done.set_exception(outcome)
                else:
                    post.done.set_result(outcome)

    async def _store(
        self, batch: list[_Post]
    ) -> tuple[list[actions.Posted | Exception], list[tuple[str, dict[str, Any]]]]:
        try:
            return await to_thread.run_sync(self._store_batch, batch)
        except (IntegrityError, OperationalError):
            if len(batch) == 1:
                raise
        # Another node stored one of these client ids (or a lock wait went wrong) meanwhile:
        # store them one by one, so one message's conflict does not fail the others.
        outcomes: list[actions.Posted | Exception] = []
        events: list[tuple[str, dict[str, Any]]] = []
        for post in batch:
            try:
                alone, published = await to_thread.run_sync(self._store_batch, [post])
            except (IntegrityError, OperationalError):
                # The same client_id sent twice at once: the loser finds the winner's message.
                alone, published = await to_thread.run_sync(self._store_batch, [post])
            outcomes.extend(alone)
            events.extend(published)
        return outcomes, events

    def _store_batch(
        self, batch: list[_Post]
    ) -> tuple[list[actions.Posted | Exception], list[tuple[str, dict[str, Any]]]]:
        """One transaction for the batch; a post refused (rate limit, access, state) gets its
        error and the others are stored."""
        database, settings = self.runtime.database, self.runtime.settings
        collector = _Collector()
        outcomes: list[actions.Posted | Exception | None] = [None] * len(batch)
        with _sqlite_write_lock(database) or nullcontext(), database.transaction() as session:
            session.info["bus"] = collector
            chats = actions.lock_chats_for_posting(session, {post.chat_id for post in batch})
            allowed = hit_limit_many(self.runtime.rate_limiter, MESSAGE_BY_ADDRESS,
                                     [post.address for post in batch])  # fmt: skip
            admitted: list[tuple[int, actions.NewMessage]] = []
            for index, post in enumerate(batch):
                try:
                    if not allowed[index]:
                        window = MESSAGE_BY_ADDRESS.window_seconds
                        raise RateLimited("Too many attempts; try again in {retry_after} seconds.",
                                          retry_after=window - int(time.time()) % window)  # fmt: skip
                    chat = chats.get(post.chat_id)
                    if chat is None or not may_see(post.principal, chat, key=post.key,
                                                   secret=settings.secret_key):  # fmt: skip
                        raise NotFound("No chat {chat}.", chat=post.chat_id)
                except DomainError as error:
                    outcomes[index] = error
                    continue
                admitted.append((index, actions.NewMessage(chat, post.principal, post.text,
                                                           post.client_id)))  # fmt: skip
            stored = actions.check_post_messages(session, [new for _, new in admitted])
            for (index, _), outcome in zip(admitted, stored, strict=True):
                outcomes[index] = outcome
        results = [outcome for outcome in outcomes if outcome is not None]
        return results, collector.events


def _ack_frame(chat_id: int, posted: actions.Posted) -> dict[str, Any]:
    """What the sender gets for a message: its ``seq`` and time, and its text only when the
    server changed it (the secret guard); the message itself is not echoed back."""
    message = posted.message
    ack: dict[str, Any] = {"type": "ack", "chat": chat_id, "client_id": message.client_id,
                           "seq": message.seq, "duplicate": posted.duplicate,
                           "redacted": list(message.redacted),
                           "at": message.created_at.isoformat()}  # fmt: skip
    if message.redacted:
        ack["text"] = message.body
    return ack


class TokenBucket:
    """``burst`` frames at once, then ``rate`` per second: the per-connection limit."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when a frame may pass, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class ChatConnection:
    def __init__(self, websocket: WebSocket, runtime: Runtime) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.settings = runtime.settings
        self.presence = services_for(runtime).presence
        self.principal: Principal | None = None
        self.address = client_ip(websocket.client.host if websocket.client else None,
                                 websocket.headers, self.settings.chat_trusted_proxy_header)  # fmt: skip
        self.followers: dict[int, asyncio.Task[None]] = {}
        self.delivered: dict[int, int] = {}
        # Acks of this socket's own messages, by chat and seq, each sent where its message
        # stands in the chat instead of the message itself (docs/chat-protocol.md).
        self.own_acks: dict[int, dict[int, dict[str, Any]]] = {}
        self.background: set[asyncio.Task[None]] = set()
        self.bucket = TokenBucket(protocol.FRAME_BURST, protocol.FRAMES_PER_SECOND)
        self.send_lock = asyncio.Lock()
        self.agent_state: AgentPresence | None = None
        # The presence store and ``agent_state`` change together: a heartbeat that read the
        # old state must not put an agent back online after they went offline.
        self.presence_lock = threading.Lock()
        self.hub: ChatHub = websocket.app.state.chat_hub

    # --- plumbing ------------------------------------------------------------------------------

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(dumps(frame))

    async def send_text(self, text: str) -> None:
        async with self.send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.send_text(text)

    async def in_thread(self, work: Callable[[], Result]) -> Result:
        return await to_thread.run_sync(work)

    async def in_transaction(
        self, work: Callable[[Session], Result], *, writes: bool = True
    ) -> Result:
        """``work`` in one transaction, in a worker thread. SQLite takes one writer at a time
        and makes the others wait by sleeping and retrying (its busy handler), which under
        load costs far more than the writes: chat writes of one process queue on a lock
        instead (measured in bench/RESULTS.md, "Live chat load")."""
        database = self.runtime.database
        lock = _sqlite_write_lock(database) if writes else None

        def run() -> Result:
            with lock or nullcontext(), database.transaction() as session:
                return work(session)

        return await to_thread.run_sync(run)

    def spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    # --- the connection ------------------------------------------------------------------------

    async def run(self) -> None:
        await self.ws.accept()
        try:
            await self.in_thread(lambda: hit_limit(self.runtime.rate_limiter, CONNECT_BY_ADDRESS,
                                                   self.address))  # fmt: skip
        except DomainError as error:
            await self.send(protocol.domain_error_frame(error, ref="connect"))
            await self.ws.close(POLICY_VIOLATION)
            return
        try:
            while True:
                event = await self.ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                await self.on_event(event)
        except WebSocketDisconnect:
            pass
        finally:
            await self.shut_down()

    async def shut_down(self) -> None:
        if self.agent_state is not None and self.principal is not None:
            # Offline at once rather than when the entry expires, so no chat is offered to a
            # closed console; another open console of the agent puts them back within
            # PRESENCE_REFRESH_SECONDS.
            agent_id = self.principal.id
            with suppress(Exception):
                await self.in_thread(lambda: self._go_offline(agent_id))
        tasks = [*self.followers.values(), *self.background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    async def on_event(self, event: MutableMapping[str, Any]) -> None:
        if event.get("text") is None:
            await self.send(protocol.error_frame("binary_frame", "Send JSON text frames."))
            return
        wait = self.bucket.take()
        if wait:
            await self.send(protocol.error_frame("rate_limited", "Too many frames; slow down.",
                                                 retry_after=round(wait, 2)))  # fmt: skip
            return
        ref: str | None = None
        try:
            frame = protocol.parse_frame(event["text"])
            ref = getattr(frame, "client_id", None) or frame.type
            await self.dispatch(frame)
        except protocol.FrameError as error:
            await self.send(protocol.error_frame(error.code, error.message, field=error.field))
        except DomainError as error:
            await self.send(protocol.domain_error_frame(error, ref=ref))
        except Exception:
            log.exception("chat frame failed")
            await self.send(protocol.error_frame("internal_error", "The server failed on this "
                                                 "frame; it was not applied.", ref=ref))  # fmt: skip

    async def dispatch(self, frame: protocol.ClientFrame) -> None:
        if isinstance(frame, protocol.Ping):
            await self.send({"type": "pong"})
            return
        if isinstance(frame, protocol.Hello):
            await self.hello(frame)
            return
        if self.principal is None:
            raise NotAuthenticated("Send hello first.")
        handler = {
            protocol.Start: self.start, protocol.Resume: self.resume,
            protocol.Message: self.message, protocol.Typing: self.typing,
            protocol.Read: self.read, protocol.Accept: self.accept,
            protocol.Transfer: self.transfer,
            protocol.ToTicket: self.to_ticket, protocol.Close: self.close,
            protocol.Presence: self.set_presence,
        }[type(frame)]  # fmt: skip
        await handler(frame)  # type: ignore[operator]

    # --- sign-in -------------------------------------------------------------------------------

    async def hello(self, frame: protocol.Hello) -> None:
        if self.principal is not None:
            raise protocol.FrameError("already_authenticated", "This socket is signed in.")
        check_socket_origin(self.ws.headers, self.settings)  # another site embedding the widget
        if frame.token:
            self.principal = await self.in_transaction(lambda s: self._token_principal(s, frame))
        elif frame.guest_email:
            email = str(frame.guest_email).lower()
            # A proven address (chat.guests) comes back as that guest: welcome lists its chats.
            proven = bool(frame.guest_token) and guests.token_is_valid(
                self.settings.secret_key, email, frame.guest_token or ""
            )
            self.principal = Principal(kind=PrincipalKind.GUEST, id=0,
                                       name=frame.guest_name or email,
                                       extra={"email": email, "verified": proven},
                                       locale=frame.language or "en")  # fmt: skip
        else:
            self._check_origin()
            self.principal = await self.in_transaction(self._cookie_principal, writes=False)
        if self.principal.kind is PrincipalKind.AGENT:
            self.spawn(self.follow_agent_channels(self.principal.id))
        chats = await self.in_transaction(self._open_chats, writes=False)
        await self.send({"type": "welcome", "who": {"kind": self.principal.kind.value,
                         "id": self.principal.id, "name": self.principal.name},
                         "chats": chats, "limits": {"frame_bytes": protocol.MAX_FRAME_BYTES,
                         "text_chars": protocol.MAX_TEXT_CHARS,
                         "frames_per_second": protocol.FRAMES_PER_SECOND}})  # fmt: skip

    def _token_principal(self, session: Session, frame: protocol.Hello) -> Principal:
        hit_limit(self.runtime.rate_limiter, TRADER_TOKEN, self.address)
        trader = check_trader_token(session, frame.token or "", self.settings.exchange_jwt_key,
                                    self.settings.exchange_jwt_issuer)  # fmt: skip
        return trader_principal(trader)

    def _check_origin(self) -> None:
        """A cookie sign-in is ambient: a page on another site could open a socket with it
        (cross-site WebSocket hijacking), so the Origin must be this host."""
        origin = self.ws.headers.get("origin")
        host = self.ws.headers.get("host", "")
        if origin and urlsplit(origin).netloc not in (
            host,
            urlsplit(self.settings.public_url).netloc,
        ):
            raise PermissionDenied("A session sign-in must come from this site's pages.")

    def _cookie_principal(self, session: Session) -> Principal:
        who = dict(self.ws.scope.get("session", {}).get("who") or {})
        kind, identifier = who.get("kind"), who.get("id")
        if kind == PrincipalKind.AGENT and isinstance(identifier, int):
            agent = session.get(Agent, identifier)
            if agent is not None and agent.active:
                return agent_principal(agent)
        if kind == PrincipalKind.TRADER and isinstance(identifier, int):
            trader = session.get(Trader, identifier)
            if trader is not None:
                return trader_principal(trader)
        raise NotAuthenticated("Send a token or a guest email, or sign in to the console first.")

    def _open_chats(self, session: Session) -> list[dict[str, Any]]:
        assert self.principal is not None
        if self.principal.kind is PrincipalKind.AGENT:
            chats = list_open_chats_of_agent(session, self.principal.id)
        elif self.principal.extra.get("verified"):
            email = str(self.principal.extra["email"])
            return guests.open_chat_frames(session, email, self.settings.secret_key)
        else:
            chats = list_open_chats_of_trader(session, self.principal)
        return [actions.chat_frame(chat) for chat in chats]

    # --- a trader's or guest's chat --------------------------------------------------------------

    async def start(self, frame: protocol.Start) -> None:
        principal = self.require_principal()

        def work(session: Session) -> dict[str, Any]:
            hit_limit(self.runtime.rate_limiter, START_BY_ADDRESS, self.address)
            link = (
                None
                if frame.assistant is None
                else desk.assistant_linker(
                    self.runtime, principal, self._guest_assistant_key(frame), frame.assistant
                )
            )
            opening = actions.Opening(region=region_of(self.address), language=frame.language,
                                      accept_language=self.ws.headers.get("accept-language"),
                                      text=frame.text, client_id=frame.client_id,
                                      before_routing=link)  # fmt: skip
            chat = actions.check_start_chat(session, principal, opening, self.presence,
                                            self.settings)  # fmt: skip
            return actions.chat_state(
                session, chat, self.presence, self.settings, key=self._key(chat)
            )

        state = await self.in_transaction(work)
        await self.send(state)
        self.join(int(state["chat"]), 0)

    def _guest_assistant_key(self, frame: protocol.Start) -> str | None:
        """The frame's assistant key, else this browser's (the socket's session cookie)."""
        browser_session = self.ws.scope.get("session") or {}
        return frame.assistant_key or browser_session.get(ASSISTANT_GUEST_KEY)

    def _key(self, chat: Chat) -> str | None:
        if chat.guest_email is None:
            return None
        return guest_chat_key(self.settings.secret_key, chat.id, chat.guest_email)

    async def resume(self, frame: protocol.Resume) -> None:
        principal = self.require_principal()
        await self.in_transaction(writes=False, work=lambda session: access_chat(
            session, principal, frame.chat, secret=self.settings.secret_key, key=frame.key))  # fmt: skip
        self.join(frame.chat, frame.last_seq)

    def join(self, chat_id: int, last_seq: int) -> None:
        old = self.followers.pop(chat_id, None)
        if old is not None:
            old.cancel()
        self.followers[chat_id] = asyncio.create_task(self.follow(chat_id, last_seq))

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise NotAuthenticated("Send hello first.")
        return self.principal

    def require_joined(self, chat_id: int) -> None:
        if chat_id not in self.followers:
            raise NotFound("No chat {chat} on this socket; resume it first.", chat=chat_id)

    async def message(self, frame: protocol.Message) -> None:
        self.require_joined(frame.chat)
        principal = self.require_principal()

        chat_id = frame.chat
        placed = False

        def place(posted: actions.Posted) -> None:
            """Stored, not yet published: the follower will send the ack in the message's
            place, unless this socket already has the message (a replay got there first)."""
            nonlocal placed
            seq = posted.message.seq
            if (
                not posted.duplicate
                and chat_id in self.followers
                and (seq > self.delivered.get(chat_id, seq))
            ):
                self.own_acks.setdefault(chat_id, {})[seq] = _ack_frame(chat_id, posted)
                placed = True

        writer = MessageWriter.of(self.ws, self.runtime)
        posted = await writer.post(principal, chat_id, frame.text, frame.client_id,
                                   self._guest_key(chat_id), self.address, place)  # fmt: skip
        if not placed:  # a resend, or a message this socket was already given
            await self.send(_ack_frame(chat_id, posted))

    def _chat(self, session: Session, chat_id: int) -> Chat:
        assert self.principal is not None
        return access_chat(session, self.principal, chat_id, secret=self.settings.secret_key,
                           key=self._guest_key(chat_id))  # fmt: skip

    def _guest_key(self, chat_id: int) -> str | None:
        if self.principal is None or self.principal.kind is not PrincipalKind.GUEST:
            return None
        email = str(self.principal.extra.get("email", ""))
        return guest_chat_key(self.settings.secret_key, chat_id, email)

    async def typing(self, frame: protocol.Typing) -> None:
        self.require_joined(frame.chat)
        principal = self.require_principal()
        event = {"type": "typing", "chat": frame.chat,
                 "by": {"kind": principal.kind.value, "id": principal.id, "name": principal.name}}  # fmt: skip
        await self.hub.publish([(actions.chat_channel(frame.chat), event)])

    async def read(self, frame: protocol.Read) -> None:
        self.require_joined(frame.chat)
        principal = self.require_principal()
        await self.in_transaction(lambda session: actions.do_mark_read(
            session, self._chat(session, frame.chat), principal, frame.seq))  # fmt: skip

    async def close(self, frame: protocol.Close) -> None:
        principal = self.require_principal()
        await self.in_transaction(lambda session: actions.check_close(
            session, principal, self._chat(session, frame.chat)))  # fmt: skip

    # --- the agent's side ----------------------------------------------------------------------

    def require_agent(self) -> Principal:
        principal = self.require_principal()
        if principal.kind is not PrincipalKind.AGENT:
            raise PermissionDenied("This needs a staff sign-in.")
        return principal

    async def accept(self, frame: protocol.Accept) -> None:
        agent = self.require_agent()
        await self.in_transaction(lambda session: actions.check_accept(
            session, agent, self._chat(session, frame.chat)))  # fmt: skip
        if frame.chat not in self.followers:
            self.join(frame.chat, 0)

    async def transfer(self, frame: protocol.Transfer) -> None:
        agent = self.require_agent()
        await self.in_transaction(lambda session: actions.check_transfer(
            session, agent, self._chat(session, frame.chat), frame.agent, self.presence))  # fmt: skip

    async def to_ticket(self, frame: protocol.ToTicket) -> None:
        agent = self.require_agent()
        await self.in_transaction(lambda session: actions.check_chat_to_ticket(
            session, agent, self._chat(session, frame.chat)))  # fmt: skip

    async def set_presence(self, frame: protocol.Presence) -> None:
        agent = self.require_agent()

        def work(session: Session) -> int:
            row = session.get(Agent, agent.id)
            assert row is not None
            state = AgentPresence(agent.id, frame.status,
                                  frame.capacity or self.settings.chat_agent_capacity,
                                  list(row.languages or ["en"]), row.department, row.name)  # fmt: skip
            with self.presence_lock:
                if frame.status == "offline":
                    self.presence.remove(agent.id)
                else:
                    self.presence.put(state)
                self.agent_state = state
            skills = session.get(AgentSkills, agent.id)
            return skills.capacity if skills and skills.capacity else state.capacity

        capacity = await self.in_transaction(work)  # an admin's setting counts over the console's
        await self.send({"type": "presence", "status": frame.status, "capacity": capacity})

    async def follow_agent_channels(self, agent_id: int) -> None:
        """Offers to this agent and queue changes, plus the presence heartbeat."""
        channels = (actions.agent_channel(agent_id), actions.CONSOLE_CHAT_CHANNEL)
        async with self.runtime.bus.subscribe(*channels) as subscription:
            while True:
                event = await subscription.get(timeout=PRESENCE_REFRESH_SECONDS)
                if event is not None:
                    await self.send(event)
                state = self.agent_state
                if state is not None and state.status != "offline":
                    await self.in_thread(lambda s=state: self._refresh_presence(s))  # type: ignore[misc]

    def _go_offline(self, agent_id: int) -> None:
        with self.presence_lock:
            self.agent_state = None
            self.presence.remove(agent_id)

    def _refresh_presence(self, state: AgentPresence) -> None:
        with self.presence_lock:
            if self.agent_state is state:  # not changed (or gone offline) since it was read
                self.presence.put(state)

    # --- following a chat ----------------------------------------------------------------------

    async def follow(self, chat_id: int, last_seq: int) -> None:
        queue = await self.hub.listen(chat_id)  # first listen, then replay: nothing slips by
        try:
            self.delivered[chat_id] = last_seq
            await self.catch_up(chat_id, with_state=True)
            while True:
                try:
                    # asyncio.timeout, not wait_for: no task per event (bench/RESULTS.md)
                    async with asyncio.timeout(CATCH_UP_SECONDS):
                        event = await queue.get()
                except TimeoutError:
                    await self.catch_up(chat_id)
                    continue
                if not await self.forward(chat_id, event):
                    await self._flush_own_acks(chat_id)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("chat follower of %s failed", chat_id)
            await self.send(protocol.error_frame("internal_error", "Live updates of this chat "
                            "stopped; resume it.", ref=str(chat_id)))  # fmt: skip
        finally:
            self.hub.forget(chat_id, queue)
            if self.followers.get(chat_id) is asyncio.current_task():
                del self.followers[chat_id]

    async def forward(self, chat_id: int, delivery: Delivery) -> bool:
        """Send one live event; False once this socket may no longer follow the chat."""
        event = delivery.event
        kind = event.get("type")
        if kind == "message":
            seq = int(event["seq"])
            if seq == self.delivered[chat_id] + 1:
                ack = self._own_ack(chat_id, seq)
                await (self.send(ack) if ack is not None else self.send_text(delivery.text))
                self.delivered[chat_id] = seq
            elif seq > self.delivered[chat_id]:
                await self.catch_up(chat_id)
            return True
        principal = self.principal
        if kind == "typing" and principal is not None:
            by = event.get("by", {})
            if by.get("kind") == principal.kind.value and by.get("id") == principal.id:
                return True
        await self.send_text(delivery.text)
        return not (kind == "chat" and self._lost_access(event))

    def _lost_access(self, event: dict[str, Any]) -> bool:
        """An agent who passed the chat on stops following it (leads keep watching)."""
        principal = self.principal
        return (principal is not None and principal.kind is PrincipalKind.AGENT
                and event.get("agent") != principal.id
                and not principal.can(Permission.VIEW_REPORTS))  # fmt: skip

    async def catch_up(self, chat_id: int, *, with_state: bool = False) -> None:
        """Send what is stored after ``delivered[chat_id]``, in order, page by page (the chat's
        state first when ``with_state``, so a joining client knows where it stands)."""
        if with_state:
            state = await self.in_transaction(
                lambda session: self._state(session, chat_id), writes=False
            )
            if state is not None:
                await self.send(state)
        while True:
            after = self.delivered[chat_id]
            frames = await self.in_transaction(
                lambda session, after=after: [  # type: ignore[misc]
                    actions.message_frame(m) for m in list_messages_after(session, chat_id, after)
                ],
                writes=False,
            )
            for frame in frames:
                if frame["seq"] > self.delivered[chat_id]:
                    await self.send(self._own_ack(chat_id, frame["seq"]) or frame)
                    self.delivered[chat_id] = frame["seq"]
            if len(frames) < REPLAY_LIMIT:
                return

    def _own_ack(self, chat_id: int, seq: int) -> dict[str, Any] | None:
        """The ack to send instead of message ``seq``, when this socket sent it."""
        acks = self.own_acks.get(chat_id)
        return acks.pop(seq, None) if acks else None

    async def _flush_own_acks(self, chat_id: int) -> None:
        """The follower stops: acks still waiting for their place go out now."""
        for _, ack in sorted(self.own_acks.pop(chat_id, {}).items()):
            await self.send(ack)

    def _state(self, session: Session, chat_id: int) -> dict[str, Any] | None:
        chat = session.get(Chat, chat_id)
        return actions.chat_state(session, chat, self.presence, self.settings) if chat else None
