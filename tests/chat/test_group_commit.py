"""Group commit: many messages stored in one transaction keep each chat's numbers in arrival
order, without gaps; resends and refused posts are answered one by one; the per-address
limit counts a batch in one go."""

from __future__ import annotations

import gc
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.chat.actions import NewMessage, Posted, check_post_messages, lock_chats_for_posting
from hashdesk.chat.guard import NOTICE
from hashdesk.chat.models import Chat, ChatMessage, ChatStatus
from hashdesk.chat.queries import may_see
from hashdesk.core.errors import Conflict, DomainError
from hashdesk.core.ratelimit import Limit, MemoryRateLimiter, RedisRateLimiter, hit_limit_many
from tests.conftest import make_agent, make_trader

pytestmark = pytest.mark.timeout(60)
SEED = "abandon ability able about above absent absorb abstract absurd abuse access accident"


def _chat(session: Session, trader_id: int, status: ChatStatus = ChatStatus.ACTIVE) -> Chat:
    chat = Chat(trader_id=trader_id, status=status.value, passed_over=[])
    session.add(chat)
    session.flush()
    return chat


def test_a_batch_numbers_each_chat_in_arrival_order_and_answers_each_post(
    session: Session,
) -> None:
    trader = make_trader(session)
    who = trader_principal(trader)
    first, second = _chat(session, trader.id), _chat(session, trader.id)
    closed = _chat(session, trader.id, ChatStatus.CLOSED)
    [earlier] = check_post_messages(session, [NewMessage(first, who, "before", "m0")])
    session.commit()
    assert isinstance(earlier, Posted) and earlier.message.seq == 1

    posts = [
        NewMessage(second, who, "a", "m1"),
        NewMessage(first, who, "b", "m2"),
        NewMessage(first, who, "resent", "m0"),  # stored in an earlier transaction
        NewMessage(closed, who, "too late", "m3"),
        NewMessage(second, who, f"my words: {SEED}", "m4"),  # redacted, then a notice
        NewMessage(first, who, "b again", "m2"),  # the same client id twice in one batch
        NewMessage(second, who, "c", None),
    ]
    results = check_post_messages(session, posts)
    session.commit()

    assert [r.message.seq if isinstance(r, Posted) else None for r in results] == [
        1, 2, 1, None, 2, 2, 4,
    ]  # fmt: skip
    assert [r.duplicate for r in results if isinstance(r, Posted)] == [
        False, False, True, False, True, False,
    ]  # fmt: skip
    refused = results[3]
    assert isinstance(refused, DomainError) and isinstance(refused, Conflict)
    redacted = results[4]
    assert isinstance(redacted, Posted) and redacted.notice is not None
    assert redacted.notice.seq == 3 and redacted.message.redacted == ["seed_phrase"]
    assert SEED not in redacted.message.body

    stored = session.scalars(select(ChatMessage).order_by(ChatMessage.chat_id, ChatMessage.seq))
    rows = [(m.chat_id, m.seq, m.client_id) for m in stored]
    assert rows == [(first.id, 1, "m0"), (first.id, 2, "m2"),
                    (second.id, 1, "m1"), (second.id, 2, "m4"), (second.id, 3, None),
                    (second.id, 4, None)]  # fmt: skip
    session.expire_all()
    assert (session.get(Chat, first.id).last_seq, session.get(Chat, second.id).last_seq) == (2, 4)  # type: ignore[union-attr]
    assert session.get(Chat, closed.id).last_seq == 0  # type: ignore[union-attr]
    notice = session.scalars(select(ChatMessage).where(ChatMessage.seq == 3)).one()
    assert notice.sender_kind == "system" and notice.body == NOTICE


def test_a_resend_is_matched_by_chat_and_client_id_together(session: Session) -> None:
    """A client id seen in another chat is not a resend here; other chats keep their numbers."""
    trader = make_trader(session)
    who = trader_principal(trader)
    first, second, idle = (_chat(session, trader.id) for _ in range(3))
    check_post_messages(session, [NewMessage(first, who, "a", "x1"),
                                  NewMessage(second, who, "b", "x2")])  # fmt: skip
    session.commit()
    results = check_post_messages(session, [NewMessage(second, who, "c", "x1"),
                                            NewMessage(first, who, "a", "x1")])  # fmt: skip
    session.commit()
    fresh, resent = results
    assert isinstance(fresh, Posted) and isinstance(resent, Posted)
    assert (fresh.duplicate, fresh.message.chat_id, fresh.message.seq) == (False, second.id, 2)
    assert (resent.duplicate, resent.message.chat_id, resent.message.seq) == (True, first.id, 1)
    assert resent.message.client_id == "x1" and type(resent.message.seq) is int
    last = {id_: seq for id_, seq in session.execute(select(Chat.id, Chat.last_seq))}
    assert last == {first.id: 1, second.id: 2, idle.id: 0}


def test_the_writers_rows_of_chats_check_access_and_record_an_agents_first_response(
    session: Session,
) -> None:
    """The gateway's writer reads locked rows, not ORM chats: an agent's first message in a
    chat still stamps its first response (once), and a trader passes only on its own chat."""
    trader, stranger = make_trader(session), make_trader(session, "u-2002")
    agent = make_agent(session)
    chat = _chat(session, trader.id)
    chat.agent_id = agent.id
    session.commit()
    rows = lock_chats_for_posting(session, {chat.id})
    row = rows[chat.id]
    assert (row.trader_id, row.agent_id, row.first_response_at) == (trader.id, agent.id, None)
    secret = "k" * 32
    assert may_see(trader_principal(trader), row, key=None, secret=secret)
    assert not may_see(trader_principal(stranger), row, key=None, secret=secret)
    as_agent = agent_principal(agent)
    check_post_messages(session, [NewMessage(row, trader_principal(trader), "hi", "t1"),
                                  NewMessage(row, as_agent, "hello", "a1")])  # fmt: skip
    session.commit()
    first = session.scalar(select(Chat.first_response_at).where(Chat.id == chat.id))
    assert first is not None
    again = lock_chats_for_posting(session, {chat.id})[chat.id]
    check_post_messages(session, [NewMessage(again, as_agent, "more", "a2")])
    session.commit()
    assert session.scalar(select(Chat.first_response_at).where(Chat.id == chat.id)) == first
    assert session.scalar(select(Chat.last_seq).where(Chat.id == chat.id)) == 3


def _limit_many_checks(limiter: MemoryRateLimiter | RedisRateLimiter) -> None:
    limit = Limit(f"test-many-{uuid.uuid4().hex[:8]}", 3, 60)
    assert hit_limit_many(limiter, limit, ["a", "a", "b", "a", "a", "b"]) == [
        True, True, True, True, False, True,
    ]  # fmt: skip
    assert hit_limit_many(limiter, limit, ["b", "b"]) == [True, False]


def test_a_batch_of_attempts_counts_like_one_by_one_in_memory() -> None:
    _limit_many_checks(MemoryRateLimiter())


def test_a_batch_of_attempts_counts_like_one_by_one_on_redis(redis_available: str) -> None:
    _limit_many_checks(RedisRateLimiter(redis_available, prefix="test-many:"))


def test_a_batch_builds_no_statements_for_the_garbage_collector(session: Session) -> None:
    """The writer's statements are built once and get their values at execution: statements
    built per batch (a ``TextClause.bindparams`` clone, an ``IN`` of a list) leave cycles of
    bind parameters, and the collector's passes that find them stalled the event loop for
    100-200 ms under load (bench/RESULTS.md, "Live chat load")."""
    trader = make_trader(session)
    who = trader_principal(trader)
    chats = [_chat(session, trader.id) for _ in range(3)]
    session.commit()

    def batch(n: int) -> None:
        rows = lock_chats_for_posting(session, {chat.id for chat in chats})
        posts = [NewMessage(rows[chat.id], who, "hi", f"g{n}-{chat.id}") for chat in chats]
        assert all(isinstance(r, Posted) for r in check_post_messages(session, posts))
        session.commit()

    batch(0)  # the first batch compiles and caches the statements
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a pass finds unreachable is kept, to be looked at
    try:
        for n in range(1, 4):
            batch(n)
        gc.collect()
        left = {type(thing).__name__ for thing in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert "BindParameter" not in left
