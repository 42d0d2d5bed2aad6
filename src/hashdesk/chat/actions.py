"""Chat writes: open a chat, post, read, accept, transfer, close, route, turn into a ticket.

Every write publishes on commit (``publish_on_commit``): a message is stored, with its
sequence number, before any node hears of it, and a rolled-back write tells no one.
Channels: ``chats`` (messages, typing, read receipts and state of every chat, each event
naming its ``chat``),
``chat-agent:<id>`` (offers to one agent) and ``chat-console`` (queue changes for every
agent's workspace).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import trader_principal
from hashdesk.assistant.langid.detector import SURE_CONFIDENCE
from hashdesk.chat import assignment, guard, routing
from hashdesk.chat.hub import CHATS_CHANNEL
from hashdesk.chat.models import (
    OPEN_STATUSES,
    AccountManager,
    Chat,
    ChatMessage,
    ChatParticipant,
    ChatStatus,
    SenderKind,
)
from hashdesk.chat.presence import AgentPresence, PresenceStore
from hashdesk.chat.queries import (
    get_message_by_client_id,
    get_participant,
    last_offers_of_agents,
    list_messages_after,
    median_handle_seconds,
    open_chats_of_agents,
    queue_position,
)
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from hashdesk.core.events import publish_on_commit
from hashdesk.core.i18n import N_, gettext_for, match_locale, parse_accept_language
from hashdesk.tickets.actions import check_create_ticket
from hashdesk.tickets.schemas import TicketCreate

CONSOLE_CHAT_CHANNEL = "chat-console"
TICKET_CATEGORY = "other"
MAX_TRANSCRIPT_CHARS = 19_000


def chat_channel(chat_id: int) -> str:
    """The bus channel of a chat's events: one for all chats (see ``hub``), every event
    naming its ``chat``."""
    return CHATS_CHANNEL


def agent_channel(agent_id: int) -> str:
    return f"chat-agent:{agent_id}"


@dataclass(frozen=True)
class Opening:
    """What a trader or guest brings to a new chat."""

    region: str = ""
    language: str | None = None  # chosen in the widget (a guest's "setting")
    accept_language: str | None = None
    text: str | None = None
    client_id: str | None = None
    # Runs once the chat exists, before it is routed (the assistant hand-off, whose predicted
    # category routing reads).
    before_routing: Callable[[Session, Chat], None] | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message the group commit stored, as its row: the same fields as ``ChatMessage``
    without an ORM instance (building one per message was the writer's largest cost,
    bench/RESULTS.md "Live chat load")."""

    chat_id: int
    seq: int
    sender_kind: str
    sender_id: int
    sender_name: str
    client_id: str | None
    body: str
    redacted: list[str]
    created_at: datetime


@dataclass(frozen=True)
class Posted:
    message: ChatMessage | StoredMessage
    duplicate: bool  # the client resent a message already stored (same client_id)
    notice: ChatMessage | StoredMessage | None = None  # the secret guard's, when it redacted


# --- frames: how stored things look on the wire ------------------------------------------------


def message_frame(message: ChatMessage | StoredMessage) -> dict[str, Any]:
    return {
        "type": "message", "chat": message.chat_id, "seq": message.seq,
        "sender": {"kind": message.sender_kind, "id": message.sender_id,
                   "name": message.sender_name},
        "text": message.body, "client_id": message.client_id,
        "redacted": list(message.redacted), "at": message.created_at.isoformat(),
    }  # fmt: skip


def chat_frame(chat: Chat, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "chat", "chat": chat.id, "status": chat.status, "language": chat.language,
        "queue": chat.queue, "region": chat.region, "vip_level": chat.vip_level,
        "agent": chat.agent_id, "last_seq": chat.last_seq,
        "ticket": chat.ticket_id,
    }  # fmt: skip
    frame.update(extra)
    return frame


def _announce(session: Session, chat: Chat, **extra: Any) -> None:
    frame = chat_frame(chat, **extra)
    publish_on_commit(session, chat_channel(chat.id), frame)
    publish_on_commit(session, CONSOLE_CHAT_CHANNEL, frame)


def _translate(language: str, text: str, **params: Any) -> str:
    return gettext_for(language).gettext(text).format(**params)


# --- opening a chat -----------------------------------------------------------------------------


def choose_language(trader: Trader | None, opening: Opening, detect: Any = None) -> tuple[str, str]:
    """The chat's language and where it came from: the trader's setting (or the language a
    guest picked in the widget), then Accept-Language, then the first message's language."""
    for candidate, source in ((trader.language if trader else None, "trader"),
                              (opening.language, "widget")):  # fmt: skip
        matched = match_locale(candidate)
        if matched:
            return matched, source
    for tag in parse_accept_language(opening.accept_language):
        matched = match_locale(tag)
        if matched:
            return matched, "accept_language"
    if opening.text:
        if detect is None:
            from hashdesk.assistant.langid import detect
        detection = detect(opening.text)
        detected = match_locale(detection.lang)
        if detected and detection.confidence >= SURE_CONFIDENCE:
            return detected, "detected"
    return routing.OVERFLOW_LANGUAGE, "default"


def check_start_chat(
    session: Session,
    principal: Principal,
    opening: Opening,
    presence: PresenceStore,
    settings: Settings,
) -> Chat:
    if principal.kind not in (PrincipalKind.TRADER, PrincipalKind.GUEST):
        raise PermissionDenied("Chats are started by traders and guests.")
    if opening.language is not None and match_locale(opening.language) is None:
        raise InvalidInput("Unknown language {language}.", field="language",
                           language=opening.language)  # fmt: skip
    trader = session.get(Trader, principal.id) if principal.kind is PrincipalKind.TRADER else None
    return do_start_chat(session, principal, trader, opening, presence, settings)


def do_start_chat(
    session: Session,
    principal: Principal,
    trader: Trader | None,
    opening: Opening,
    presence: PresenceStore,
    settings: Settings,
) -> Chat:
    language, source = choose_language(trader, opening)
    region = opening.region or (trader.region.upper() if trader and trader.region else "")
    now = utcnow()
    chat = Chat(
        trader_id=trader.id if trader else None,
        guest_email=None if trader else str(principal.extra["email"]).lower(),
        language=language, language_source=source, region=region,
        vip_level=trader.vip_level if trader else 0,
        queue=routing.queue_name(language, region), status=ChatStatus.QUEUED.value,
        passed_over=[], created_at=now, queued_at=now,
    )  # fmt: skip
    session.add(chat)
    session.flush()
    kind = SenderKind.TRADER if trader else SenderKind.GUEST
    session.add(ChatParticipant(chat_id=chat.id, kind=kind.value, person_id=principal.id))
    if opening.text:
        do_post_message(session, chat, principal, opening.text, opening.client_id)
    if opening.before_routing is not None:
        opening.before_routing(session, chat)
    route_chat(session, chat, presence, settings)
    return chat


# --- messages -----------------------------------------------------------------------------------


def _sender_kind(principal: Principal) -> SenderKind:
    return {PrincipalKind.TRADER: SenderKind.TRADER, PrincipalKind.GUEST: SenderKind.GUEST,
            PrincipalKind.AGENT: SenderKind.AGENT}.get(principal.kind, SenderKind.SYSTEM)  # fmt: skip


def _append(
    session: Session,
    chat: Chat,
    kind: SenderKind,
    body: str,
    *,
    sender_id: int = 0,
    sender_name: str = "",
    client_id: str | None = None,
    redacted: tuple[str, ...] = (),
) -> ChatMessage:
    """Store one message under the chat's next sequence number and publish it on commit.

    The number comes from one ``UPDATE chats SET last_seq = last_seq + 1 ... RETURNING``: the
    row lock it takes makes concurrent writers of this chat (on any node) wait their turn
    until this transaction ends, so numbers are given in commit order, without gaps."""
    bumped = update(Chat).where(Chat.id == chat.id).values(last_seq=Chat.last_seq + 1)
    seq = int(session.execute(bumped.returning(Chat.last_seq)).scalar_one())
    set_committed_value(chat, "last_seq", seq)
    message = ChatMessage(chat_id=chat.id, seq=seq, sender_kind=kind.value, sender_id=sender_id,
                          sender_name=sender_name, client_id=client_id, body=body,
                          redacted=list(redacted), created_at=utcnow())  # fmt: skip
    session.add(message)
    session.flush()
    publish_on_commit(session, chat_channel(chat.id), message_frame(message))
    return message


def system_message(session: Session, chat: Chat, text: str, **params: Any) -> ChatMessage:
    """A notice in the chat's language (``text`` is an English msgid)."""
    return _append(session, chat, SenderKind.SYSTEM, _translate(chat.language, text, **params))


def do_post_message(
    session: Session, chat: Chat, sender: Principal, text: str, client_id: str | None
) -> Posted:
    """Store ``text`` from ``sender``, with secrets redacted first; a resend of a stored
    ``client_id`` returns the stored message and stores nothing."""
    if chat.status not in OPEN_STATUSES:
        raise Conflict("This chat is {status}; start a new one.", status=chat.status)
    if client_id is not None:
        earlier = get_message_by_client_id(session, chat.id, client_id)
        if earlier is not None:
            return Posted(earlier, duplicate=True)
    cleaned = guard.redact(text)
    kind = _sender_kind(sender)
    message = _append(session, chat, kind, cleaned.text, sender_id=sender.id,
                      sender_name=sender.name, client_id=client_id,
                      redacted=cleaned.kinds)  # fmt: skip
    notice = None
    if cleaned.changed and kind in (SenderKind.TRADER, SenderKind.GUEST):
        notice = system_message(session, chat, guard.NOTICE)
    if kind is SenderKind.AGENT and chat.first_response_at is None:
        chat.first_response_at = message.created_at
    return Posted(message, duplicate=False, notice=notice)


def check_post_message(
    session: Session, chat: Chat, sender: Principal, text: str, client_id: str | None
) -> Posted:
    if sender.kind is PrincipalKind.AGENT and (
        chat.agent_id != sender.id or chat.status != ChatStatus.ACTIVE
    ):
        raise Conflict("Accept the chat before you reply.")
    return do_post_message(session, chat, sender, text, client_id)


@dataclass(slots=True)
class ChatRow:
    """What posting reads of a chat: the writer locks and reads these columns of a batch's
    chats rather than ORM instances (loading those was a large share of its time,
    bench/RESULTS.md "Live chat load")."""

    id: int
    trader_id: int | None
    guest_email: str | None
    agent_id: int | None
    status: str
    language: str
    first_response_at: datetime | None


_CHAT_ROW_COLUMNS = [getattr(Chat, name) for name in ChatRow.__dataclass_fields__]


# Built once, the ids passed at execution: a statement built per batch leaves cycles of bind
# parameters for the garbage collector (see _stored_by_client_id).
_LOCK_CHATS = (
    select(*_CHAT_ROW_COLUMNS)
    .where(Chat.id.in_(bindparam("chat_ids", expanding=True)))
    .order_by(Chat.id)
    .with_for_update()
)


def lock_chats_for_posting(session: Session, chat_ids: set[int]) -> dict[int, ChatRow]:
    """The chats, locked in id order: what the numbering UPDATE would lock anyway, without
    two nodes' batches waiting on each other in a cycle."""
    rows = session.execute(_LOCK_CHATS, {"chat_ids": sorted(chat_ids)})
    return {row[0]: ChatRow(*row) for row in rows}


@dataclass(frozen=True)
class NewMessage:
    """One message of a group commit; ``chat`` was read (and access checked) in the session."""

    chat: Chat | ChatRow
    sender: Principal
    text: str
    client_id: str | None


def check_post_messages(
    session: Session, posts: Sequence[NewMessage]
) -> list[Posted | DomainError]:
    """``check_post_message`` for many messages in one transaction (the gateway's group
    commit), in few statements: one query for resent client ids, one ``UPDATE ... RETURNING``
    that takes every chat's numbers at once, one multi-row insert. (The caller locks the
    chats first, in id order, so two nodes' batches never wait on each other in a cycle.) A refused post
    gets its error and writes nothing; the others go on. Numbers follow the order of
    ``posts`` within each chat."""
    results: list[Posted | DomainError | None] = [None] * len(posts)
    stored = _stored_by_client_id(session, posts)
    planned: list[tuple[int, NewMessage, guard.Redaction]] = []
    first_of: dict[tuple[int, str], int] = {}  # a client id sent twice in this batch
    resent: list[tuple[int, int]] = []
    numbers: dict[int, int] = {}
    for index, post in enumerate(posts):
        try:
            _check_may_post(post.chat, post.sender)
        except DomainError as error:
            results[index] = error
            continue
        if post.client_id is not None:
            key = (post.chat.id, post.client_id)
            if key in stored:
                results[index] = Posted(stored[key], duplicate=True)
                continue
            if key in first_of:
                resent.append((index, first_of[key]))
                continue
            first_of[key] = index
        cleaned = guard.redact(post.text)
        notice = cleaned.changed and _sender_kind(post.sender) in (SenderKind.TRADER,
                                                                  SenderKind.GUEST)  # fmt: skip
        numbers[post.chat.id] = numbers.get(post.chat.id, 0) + 1 + int(notice)
        planned.append((index, post, cleaned))
    next_seq = _take_numbers(session, numbers, {post.chat.id: post.chat for post in posts})
    now = utcnow()  # one time for the batch: its messages are stored by one commit
    rows: list[StoredMessage] = []
    for index, post, cleaned in planned:
        results[index] = _new_message(session, post, cleaned, next_seq, now, rows)
    _insert_messages(session, rows)
    _note_first_responses(session, [post for _, post, _ in planned], now)
    for index, first in resent:
        earlier = results[first]
        assert isinstance(earlier, Posted)
        results[index] = Posted(earlier.message, duplicate=True)
    done = [result for result in results if result is not None]
    assert len(done) == len(posts)
    return done


def _check_may_post(chat: Chat | ChatRow, sender: Principal) -> None:
    if sender.kind is PrincipalKind.AGENT and (
        chat.agent_id != sender.id or chat.status != ChatStatus.ACTIVE
    ):
        raise Conflict("Accept the chat before you reply.")
    if chat.status not in OPEN_STATUSES:
        raise Conflict("This chat is {status}; start a new one.", status=chat.status)


_MESSAGE_FIELDS = tuple(StoredMessage.__dataclass_fields__)
_MESSAGES = ChatMessage.metadata.tables[ChatMessage.__tablename__]
_SENT_BEFORE = text(
    "(chat_messages.chat_id, chat_messages.client_id) IN (SELECT * FROM"
    " unnest(CAST(:chat_ids AS bigint[]), CAST(:client_ids AS varchar[])))"
)


_SENT_BEFORE_QUERY = select(*[_MESSAGES.c[name] for name in _MESSAGE_FIELDS]).where(_SENT_BEFORE)
# SQLite has no arrays: the pairs come as one JSON array of [chat_id, client_id].
_SENT_BEFORE_SQLITE = select(*[_MESSAGES.c[name] for name in _MESSAGE_FIELDS]).where(
    text(
        "(chat_messages.chat_id, chat_messages.client_id) IN (SELECT json_extract(value, '$[0]'),"
        " json_extract(value, '$[1]') FROM json_each(:pairs))"
    )
)


def _stored_by_client_id(
    session: Session, posts: Sequence[NewMessage]
) -> dict[tuple[int, str], StoredMessage]:
    pairs = sorted({(post.chat.id, post.client_id) for post in posts
                    if post.client_id is not None})  # fmt: skip
    if not pairs:
        return {}
    # One statement built once, its values passed at execution: an IN of N pairs is compiled
    # anew each time, and building a statement per batch leaves cycles of bind parameters for
    # the garbage collector, whose full passes stall the loop.
    if session.get_bind().dialect.name == "postgresql":
        values = {"chat_ids": [chat for chat, _ in pairs], "client_ids": [cid for _, cid in pairs]}
        rows = session.execute(_SENT_BEFORE_QUERY, values)
    else:
        rows = session.execute(_SENT_BEFORE_SQLITE, {"pairs": json.dumps(pairs)})
    found = (StoredMessage(*row) for row in rows)
    return {(m.chat_id, m.client_id or ""): m for m in found}


_TAKE_NUMBERS = text(
    "UPDATE chats SET last_seq = chats.last_seq + taken.n"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:ns AS bigint[])) AS taken(id, n)"
    " WHERE chats.id = taken.id RETURNING chats.id, chats.last_seq"
)
# The same on SQLite (UPDATE ... FROM needs 3.33, RETURNING 3.35): one JSON array of [id, n].
_TAKE_NUMBERS_SQLITE = text(
    "UPDATE chats SET last_seq = chats.last_seq + taken.n"
    " FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS n"
    " FROM json_each(:pairs)) AS taken"
    " WHERE chats.id = taken.id RETURNING chats.id, chats.last_seq"
)


_INSERT_MESSAGE_ROWS = insert(_MESSAGES)  # SQLite: an executemany of one row per message
_INSERT_MESSAGES = text(
    "INSERT INTO chat_messages (chat_id, seq, sender_kind, sender_id, sender_name, client_id,"
    " body, redacted, created_at) SELECT * FROM unnest(CAST(:chat_id AS integer[]),"
    " CAST(:seq AS integer[]), CAST(:sender_kind AS varchar[]), CAST(:sender_id AS integer[]),"
    " CAST(:sender_name AS varchar[]), CAST(:client_id AS varchar[]), CAST(:body AS text[]),"
    " CAST(:redacted AS json[]), CAST(:created_at AS timestamptz[]))"
)


def _insert_messages(session: Session, messages: list[StoredMessage]) -> None:
    """One statement for the batch, without the unit of work's per-object bookkeeping (the
    messages handed back are not attached to the session: nothing reads their id)."""
    if not messages:
        return
    if session.get_bind().dialect.name != "postgresql":
        rows = [{name: getattr(m, name) for name in _MESSAGE_FIELDS} for m in messages]
        session.execute(_INSERT_MESSAGE_ROWS, rows)
        return
    # One row of arrays: PostgreSQL runs one INSERT, rather than one per message (what an
    # executemany sends, even pipelined; the writer's largest cost once it built no ORM
    # objects, bench/RESULTS.md).
    columns: dict[str, list[Any]] = {name: [] for name in _MESSAGE_FIELDS}
    for message in messages:
        for name in _MESSAGE_FIELDS:
            columns[name].append(getattr(message, name))
    columns["redacted"] = [json.dumps(kinds) for kinds in columns["redacted"]]
    session.execute(_INSERT_MESSAGES, columns)


def _take_numbers(
    session: Session, numbers: dict[int, int], chats: dict[int, Chat | ChatRow]
) -> dict[int, int]:
    """The first new ``seq`` of each chat, after taking ``numbers[chat]`` of them."""
    if not numbers:
        return {}
    # The same statement text for any batch, built once (a CASE with one branch per chat is
    # compiled anew each time, measured as the largest cost of this function, and leaves
    # cycles of bind parameters for the garbage collector).
    if session.get_bind().dialect.name == "postgresql":
        taken = session.execute(_TAKE_NUMBERS, {"ids": list(numbers), "ns": list(numbers.values())})
    else:
        taken = session.execute(_TAKE_NUMBERS_SQLITE, {"pairs": json.dumps(list(numbers.items()))})
    first: dict[int, int] = {}
    for chat_id, last in taken.all():
        chat = chats.get(chat_id)
        if isinstance(chat, Chat):
            set_committed_value(chat, "last_seq", last)
        first[chat_id] = int(last) - numbers[chat_id] + 1
    return first


def _new_message(
    session: Session,
    post: NewMessage,
    cleaned: guard.Redaction,
    next_seq: dict[int, int],
    now: datetime,
    rows: list[StoredMessage],
) -> Posted:
    chat, kind = post.chat, _sender_kind(post.sender)

    def add(kind: SenderKind, body: str, sender_id: int, sender_name: str,
            client_id: str | None, redacted: list[str]) -> StoredMessage:  # fmt: skip
        message = StoredMessage(chat.id, next_seq[chat.id], kind.value, sender_id, sender_name,
                                client_id, body, redacted, now)  # fmt: skip
        next_seq[chat.id] += 1
        rows.append(message)
        publish_on_commit(session, chat_channel(chat.id), message_frame(message))
        return message

    message = add(kind, cleaned.text, post.sender.id, post.sender.name, post.client_id,
                  list(cleaned.kinds))  # fmt: skip
    notice = None
    if cleaned.changed and kind in (SenderKind.TRADER, SenderKind.GUEST):
        notice = add(SenderKind.SYSTEM, _translate(chat.language, guard.NOTICE), 0, "", None, [])
    return Posted(message, duplicate=False, notice=notice)


# Built once, like the writer's other statements (an expanding IN renders per execution but
# builds no new construct).
_NOTE_FIRST_RESPONSES = (
    update(Chat)
    .where(Chat.id.in_(bindparam("ids", expanding=True)), Chat.first_response_at.is_(None))
    .values(first_response_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)


def _note_first_responses(session: Session, posts: list[NewMessage], now: datetime) -> None:
    """An agent's first message in a chat is its first response (for the response times)."""
    first = {post.chat.id: post.chat for post in posts
             if post.sender.kind is PrincipalKind.AGENT and post.chat.first_response_at is None}  # fmt: skip
    rows = [chat.id for chat in first.values() if isinstance(chat, ChatRow)]
    for chat in first.values():
        chat.first_response_at = now
    if rows:
        session.execute(_NOTE_FIRST_RESPONSES, {"ids": rows, "at": now})


def do_mark_read(session: Session, chat: Chat, reader: Principal, seq: int) -> int:
    """Move the reader's receipt up to ``seq`` (never down, never past the last message)."""
    kind = _sender_kind(reader).value
    participant = get_participant(session, chat.id, kind, reader.id)
    if participant is None:
        participant = ChatParticipant(chat_id=chat.id, kind=kind, person_id=reader.id)
        session.add(participant)
    seq = min(seq, chat.last_seq)
    if seq > (participant.last_read_seq or 0):
        participant.last_read_seq = seq
        publish_on_commit(session, chat_channel(chat.id), {
            "type": "read", "chat": chat.id, "seq": seq,
            "by": {"kind": kind, "id": reader.id, "name": reader.name}})  # fmt: skip
    return participant.last_read_seq or 0


# --- routing ------------------------------------------------------------------------------------


def account_manager_of(session: Session, trader_id: int | None) -> int | None:
    if trader_id is None:
        return None
    row = session.get(AccountManager, trader_id)
    return row.agent_id if row else None


def read_floor(session: Session, presence: PresenceStore) -> routing.Floor:
    everyone = assignment.with_skills(session, presence.everyone())
    ids = [agent.agent_id for agent in everyone]
    return routing.Floor(everyone, open_chats_of_agents(session, ids),
                         last_offers_of_agents(session, ids))  # fmt: skip


def route_chat(
    session: Session, chat: Chat, presence: PresenceStore, settings: Settings
) -> routing.Route:
    """Offer the chat to an agent, keep it queued, or turn it into a ticket (see routing);
    a chat whose queue is closed moves to the next open one of its chain first."""
    wanted = assignment.needs_of(session, chat, settings, utcnow())
    if assignment.move_to_placement(chat, wanted.placement):
        system_message(session, chat, N_("Our team for your region is outside its opening "
                                         "hours, so the chat goes to the team on duty."))  # fmt: skip
    agents = read_floor(session, presence)
    route = assignment.decide_with_seat(session, chat, wanted.needs, agents, presence)
    if route.overflow_to and chat.queue.split(":")[0] != route.overflow_to:
        chat.queue = routing.queue_name(route.overflow_to, chat.region)
        system_message(session, chat, N_("No agent who speaks your language is online right "
                                         "now, so an English-speaking agent will help you."))  # fmt: skip
    if route.decision is routing.Decision.TICKET:
        do_chat_to_ticket(session, chat, SYSTEM)
    elif route.decision is routing.Decision.OFFER and route.agent_id is not None:
        _offer(session, chat, route.agent_id, route.reason)
    else:
        _queue(session, chat, agents, settings)
    return route


def _offer(session: Session, chat: Chat, agent_id: int, reason: str) -> None:
    chat.status = ChatStatus.OFFERED.value
    chat.agent_id = agent_id
    chat.offered_at = utcnow()
    session.flush()
    _announce(session, chat, reason=reason)
    preview = list_messages_after(session, chat.id, 0, limit=3)
    publish_on_commit(session, agent_channel(agent_id), chat_frame(
        chat, type="offer", reason=reason, preview=[message_frame(m) for m in preview]))  # fmt: skip


def _queue(session: Session, chat: Chat, floor: routing.Floor, settings: Settings) -> None:
    chat.status = ChatStatus.QUEUED.value
    chat.agent_id = None
    session.flush()
    requeue_notice(session, chat, floor, settings)


def requeue_notice(session: Session, chat: Chat, floor: routing.Floor, settings: Settings) -> None:
    """Tell the chat's trader (and the workspaces) its place in the queue and expected wait."""
    _announce(session, chat, **queue_standing(session, chat, floor, settings))


def queue_standing(
    session: Session, chat: Chat, floor: routing.Floor, settings: Settings
) -> dict[str, int]:
    """``position`` (1 = next) and ``wait_seconds`` of a queued chat; empty for others."""
    if chat.status != ChatStatus.QUEUED:
        return {}
    position = queue_position(session, chat)
    group = routing.language_group(chat.queue.split(":")[0])
    serving = [p for p in floor.presence if p.online and p.speaks(group)]
    handle = median_handle_seconds(session) or float(settings.chat_handle_seconds)
    return {"position": position,
            "wait_seconds": routing.expected_wait_seconds(position, len(serving), handle)}  # fmt: skip


def chat_state(
    session: Session, chat: Chat, presence: PresenceStore, settings: Settings, **extra: Any
) -> dict[str, Any]:
    """The chat frame a joining client gets: with its queue standing while it waits."""
    standing = queue_standing(session, chat, read_floor(session, presence), settings)
    return chat_frame(chat, **standing, **extra)


def do_expire_offer(
    session: Session, chat: Chat, presence: PresenceStore, settings: Settings
) -> None:
    """The agent let the offer lapse: skip them for this chat and route it again."""
    if chat.agent_id is not None:
        chat.passed_over = [*(chat.passed_over or []), chat.agent_id]
    chat.agent_id = None
    route_chat(session, chat, presence, settings)


def expired_offers(session: Session, offer_seconds: float) -> list[Chat]:
    """Offers older than ``offer_seconds``, locked so that one node handles each (other nodes
    skip the locked rows; SQLite, one node, ignores the lock clause)."""
    cutoff = utcnow() - timedelta(seconds=offer_seconds)
    query = (
        select(Chat)
        .where(Chat.status == ChatStatus.OFFERED.value, Chat.offered_at < cutoff)
        .order_by(Chat.offered_at)
        .limit(50)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def waiting_chats(session: Session) -> list[Chat]:
    query = (
        select(Chat)
        .where(Chat.status == ChatStatus.QUEUED.value)
        .order_by(Chat.vip_level.desc(), Chat.queued_at, Chat.id)
        .limit(50)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


# --- the agent's side ---------------------------------------------------------------------------


def check_accept(session: Session, agent: Principal, chat: Chat) -> Chat:
    if chat.status != ChatStatus.OFFERED or chat.agent_id != agent.id:
        raise Conflict("This chat is not offered to you (any more).")
    chat.status = ChatStatus.ACTIVE.value
    chat.accepted_at = utcnow()
    participant = get_participant(session, chat.id, SenderKind.AGENT.value, agent.id)
    if participant is None:
        session.add(ChatParticipant(chat_id=chat.id, kind=SenderKind.AGENT.value,
                                    person_id=agent.id))  # fmt: skip
    else:
        participant.active = True
    system_message(session, chat, N_("{name} joined the chat."), name=agent.name)
    _announce(session, chat)
    return chat


def check_transfer(
    session: Session, agent: Principal, chat: Chat, target_id: int, presence: PresenceStore
) -> Chat:
    if chat.status != ChatStatus.ACTIVE or chat.agent_id != agent.id:
        raise Conflict("Only the agent holding an active chat can transfer it.")
    target = session.get(Agent, target_id)
    if target is None or not target.active or target_id == agent.id:
        raise InvalidInput("No other active agent {agent}.", field="agent", agent=target_id)
    state: AgentPresence | None = presence.get(target_id)
    if state is None or not state.online:
        raise Conflict("{name} is not online.", name=target.name, field="agent")
    participant = get_participant(session, chat.id, SenderKind.AGENT.value, agent.id)
    if participant is not None:
        participant.active = False
    chat.transfers += 1
    system_message(session, chat, N_("{name} transferred the chat to {target}."),
                   name=agent.name, target=target.name)  # fmt: skip
    _offer(session, chat, target_id, "transfer")
    return chat


def check_close(session: Session, who: Principal, chat: Chat) -> Chat:
    if chat.status not in OPEN_STATUSES:
        raise Conflict("This chat is already {status}.", status=chat.status)
    if who.kind is PrincipalKind.AGENT and chat.agent_id != who.id:
        raise Conflict("Only the agent holding the chat can close it.")
    chat.status = ChatStatus.CLOSED.value
    chat.closed_at = utcnow()
    system_message(session, chat, N_("{name} ended the chat."), name=who.name)
    _announce(session, chat)
    return chat


NOBODY_ONLINE_NOTICE = N_("No agent is online right now, so your chat became ticket "
                          "{tracking_id}. We will answer you by email.")  # fmt: skip
AGENT_TICKET_NOTICE = N_("{name} turned this chat into ticket {tracking_id}; the answer will "
                         "come by email and on the ticket's page.")  # fmt: skip


def check_chat_to_ticket(session: Session, agent: Principal, chat: Chat) -> Chat:
    """The agent holding an active chat hands it on as a ticket (a longer investigation)."""
    if chat.status != ChatStatus.ACTIVE or chat.agent_id != agent.id:
        raise Conflict("Only the agent holding an active chat can turn it into a ticket.")
    return do_chat_to_ticket(session, chat, agent, notice=AGENT_TICKET_NOTICE)


def do_chat_to_ticket(
    session: Session, chat: Chat, actor: Principal, *, notice: str = NOBODY_ONLINE_NOTICE
) -> Chat:
    """Open a ticket carrying the chat's transcript (for the trader, or the guest's email)
    and end the chat with ``notice`` naming the ticket."""
    messages = list_messages_after(session, chat.id, 0, limit=1000)
    transcript = "\n".join(f"{m.sender_name or m.sender_kind}: {m.body}" for m in messages)
    first = next((m.body for m in messages if m.sender_kind != SenderKind.SYSTEM), "")
    subject = (first[:80] or _translate(chat.language, N_("Live chat"))).ljust(3, ".")
    data = TicketCreate(category=TICKET_CATEGORY, subject=subject,
                        description=transcript[:MAX_TRANSCRIPT_CHARS] or subject,
                        language=chat.language)  # fmt: skip
    trader = session.get(Trader, chat.trader_id) if chat.trader_id else None
    requester = trader_principal(trader) if trader else SYSTEM
    ticket = check_create_ticket(session, requester, data, guest_email=chat.guest_email)
    chat.status = ChatStatus.TICKETED.value
    chat.ticket_id = ticket.id
    chat.closed_at = utcnow()
    system_message(session, chat, notice, tracking_id=ticket.tracking_id, name=actor.name)
    _announce(session, chat, tracking_id=ticket.tracking_id)
    return chat


def do_set_account_manager(session: Session, trader: Trader, agent: Agent | None) -> None:
    """Give a VIP trader a dedicated account manager (None: take it away)."""
    row = session.get(AccountManager, trader.id)
    if agent is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(AccountManager(trader_id=trader.id, agent_id=agent.id))
    else:
        row.agent_id = agent.id


def finish_as_ticket(
    session: Session, chat: Chat, actor: Principal, ticket_id: int, tracking_id: str, notice: str
) -> Chat:
    """End ``chat`` as ticket ``ticket_id`` (made elsewhere, e.g. by the agent desk with a
    chosen category and department), telling the trader with ``notice``."""
    chat.status = ChatStatus.TICKETED.value
    chat.ticket_id = ticket_id
    chat.closed_at = utcnow()
    system_message(session, chat, notice, tracking_id=tracking_id, name=actor.name)
    _announce(session, chat, tracking_id=tracking_id)
    return chat
