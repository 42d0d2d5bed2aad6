"""The agent desk around a chat: what the assistant learned before the hand-off, internal
notes, canned replies, turning the chat into a ticket (in a chosen department and category),
the context panel, the trader's satisfaction survey, the per-chat record and the transcript
by email.

These are plain HTTP actions next to the socket: none of them changes a chat's message
sequence except through ``actions`` (system notices), so the socket's delivery guarantees
stay where they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import AccountTransfer, Trader
from hashdesk.accounts.queries import trader_principal
from hashdesk.assistant.actions import Predictor
from hashdesk.assistant.actions import transcript as assistant_transcript
from hashdesk.assistant.models import AssistantConversation, Author, Outcome
from hashdesk.assistant.queries import Asker, access_conversation
from hashdesk.assistant.queries import list_messages as assistant_messages
from hashdesk.assistant.service import get_tools
from hashdesk.chat import actions, guard, guests
from hashdesk.chat.models import OPEN_STATUSES, Chat, ChatStatus, SenderKind
from hashdesk.chat.queries import list_messages_after
from hashdesk.chat.records import ChatAttachment, ChatHandoff, ChatNote, ChatOutcome
from hashdesk.core.auth import SYSTEM, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hashdesk.core.events import publish_on_commit
from hashdesk.core.i18n import N_, gettext_for
from hashdesk.notify.actions import do_enqueue_email
from hashdesk.runtime import Runtime
from hashdesk.tickets import actions as ticket_actions
from hashdesk.tickets.attachments import Upload, check_uploads, store
from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import FINISHED, Macro, Ticket
from hashdesk.tickets.queries import category_rules, list_macros
from hashdesk.tickets.schemas import TicketCreate, TicketFields

MAX_NOTE_CHARS = 4000
MAX_COMMENT_CHARS = 2000
HANDOFF_TRANSCRIPT_CHARS = 8000
RECENT_TRANSFERS = 10
OPEN_TICKETS_SHOWN = 10
FALLBACK_CATEGORY = "other"
ESCALATED_NOTICE = N_("{name} passed your question to our {department} team as ticket "
                      "{tracking_id}; the answer will come by email and on the ticket's page.")  # fmt: skip


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _outcome(session: Session, chat: Chat) -> ChatOutcome:
    row = session.get(ChatOutcome, chat.id)
    if row is None:
        row = ChatOutcome(chat_id=chat.id, comment="")
        session.add(row)
    return row


def _tell_workspaces(session: Session, chat: Chat, what: str) -> None:
    """Workspaces showing this chat reload its context panel (no content on the bus: notes
    stay between the database and the agents who ask for them)."""
    publish_on_commit(session, actions.CONSOLE_CHAT_CHANNEL,
                      {"type": "context", "chat": chat.id, "changed": what})  # fmt: skip


def require_agent(principal: Principal) -> None:
    if principal.kind is not PrincipalKind.AGENT:
        raise PermissionDenied("This needs a staff sign-in.")


# --- the assistant hand-off ---------------------------------------------------------------------


def _trader_text(session: Session, conversation: AssistantConversation) -> str:
    messages = assistant_messages(session, conversation)
    return " ".join(m.body for m in messages if m.author == Author.TRADER and not m.data)


def check_link_assistant(
    session: Session, chat: Chat, conversation: AssistantConversation, predict: Predictor
) -> ChatHandoff:
    """Attach the assistant conversation the trader just left to their new chat: its
    transcript, language and predicted triage category go to the agent. The caller checked
    that both belong to the same trader or guest browser."""
    if session.get(ChatHandoff, chat.id) is not None:
        raise Conflict("This chat already carries an assistant conversation.")
    if conversation.outcome == Outcome.HANDED_OFF:
        raise Conflict("This conversation was handed to our team already.")
    asked = _trader_text(session, conversation)
    prediction = predict(asked) if asked else None
    predicted, confidence = prediction if prediction else (None, None)
    now = utcnow()
    handoff = ChatHandoff(
        chat_id=chat.id, conversation_id=conversation.id, language=conversation.locale,
        predicted_category=predicted, predicted_confidence=confidence,
        transcript=assistant_transcript(session, conversation)[:HANDOFF_TRANSCRIPT_CHARS],
        created_at=now,
    )  # fmt: skip
    session.add(handoff)
    conversation.predicted_category, conversation.predicted_confidence = predicted, confidence
    conversation.reason = conversation.reason or (f"category:{predicted}" if predicted else None)
    conversation.outcome, conversation.outcome_at = Outcome.HANDED_OFF.value, now
    conversation.resolved_by, conversation.flow_state = None, {}
    if chat.guest_email and not conversation.guest_email:
        conversation.guest_email = chat.guest_email
    session.flush()
    _tell_workspaces(session, chat, "handoff")
    return handoff


def assistant_linker(
    runtime: Runtime, principal: Principal, guest_key: str | None, conversation_id: int
) -> Callable[[Session, Chat], None]:
    """For a ``start`` frame that names the assistant conversation it follows: attach it to
    the new chat before the chat is routed, so the first offer already goes by the predicted
    category. The conversation must be the trader's, or the guest's (the key the widget
    sends, else the one in the socket's session cookie), as for ``POST …/assistant``."""
    if principal.kind is PrincipalKind.TRADER:
        asker = Asker(trader_id=principal.id)
    else:
        asker = Asker(guest_key=guest_key or None)

    def link(session: Session, chat: Chat) -> None:
        conversation = access_conversation(session, asker, conversation_id)
        check_link_assistant(session, chat, conversation, get_tools(runtime).predict)

    return link


# --- notes and canned replies -------------------------------------------------------------------


def check_add_note(session: Session, agent: Principal, chat: Chat, body: str) -> ChatNote:
    """An internal note: stored apart from the chat's messages, shown to agents only."""
    require_agent(agent)
    text = body.strip()
    if not text:
        raise InvalidInput("Write the note first.", field="body")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput("A note holds at most {limit} characters.", field="body",
                           limit=MAX_NOTE_CHARS)  # fmt: skip
    # Notes get the secret guard too: an agent pasting what a trader sent must not store a key.
    note = ChatNote(chat_id=chat.id, agent_id=agent.id, body=guard.redact(text).text,
                    created_at=utcnow())  # fmt: skip
    session.add(note)
    session.flush()
    _tell_workspaces(session, chat, "note")
    return note


def list_notes(session: Session, chat_id: int) -> list[ChatNote]:
    query = select(ChatNote).where(ChatNote.chat_id == chat_id).order_by(ChatNote.id)
    return list(session.scalars(query))


def _fill(macro: Macro, trader_name: str, agent_name: str) -> str:
    text = macro.body
    for name, value in (("trader_name", trader_name), ("agent_name", agent_name)):
        text = text.replace("{" + name + "}", value)
    return text


def canned_replies(session: Session, chat: Chat, agent: Principal) -> list[dict[str, Any]]:
    """The tickets domain's macros in the chat's language (English ones when there are none),
    with the trader's and agent's names filled in; the agent edits before sending."""
    macros = list_macros(session, chat.language) or list_macros(session, "en")
    trader = session.get(Trader, chat.trader_id) if chat.trader_id else None
    name = (trader.name if trader else "") or "there"
    return [{"id": m.id, "name": m.name, "language": m.language,
             "body": _fill(m, name, agent.name)} for m in macros]  # fmt: skip


# --- turning the chat into a ticket, escalating ------------------------------------------------


def _chat_category(session: Session, chat: Chat, wanted: str | None) -> str:
    """The agent's choice, else the assistant's predicted category (when a ticket can be
    opened in it without more fields), else "other"."""
    rules = category_rules(session)
    if wanted:
        rule = rules.get(wanted)
        if rule is None or not rule.active:
            raise InvalidInput("No category {category}.", field="category", category=wanted)
        return rule.slug
    handoff = session.get(ChatHandoff, chat.id)
    predicted = rules.get(handoff.predicted_category or "") if handoff else None
    if predicted and predicted.active and not predicted.required_fields:
        return predicted.slug
    return FALLBACK_CATEGORY


def chat_transcript(session: Session, chat: Chat) -> str:
    messages = list_messages_after(session, chat.id, 0, limit=2000)
    return "\n".join(
        f"[{m.created_at:%H:%M}] {m.sender_name or m.sender_kind}: {m.body}" for m in messages
    )


def _ticket_description(session: Session, chat: Chat, reason: str) -> str:
    handoff = session.get(ChatHandoff, chat.id)
    lines = [reason] if reason else []
    lines += [f"Live chat {chat.id}, language: {chat.language}, region: {chat.region or '-'}"]
    if handoff is not None:
        lines += [f"Predicted category: {handoff.predicted_category or 'none'}", "",
                  "Conversation with the assistant:", handoff.transcript]  # fmt: skip
    lines += ["", "Live chat transcript:", chat_transcript(session, chat)]
    return "\n".join(lines)[: actions.MAX_TRANSCRIPT_CHARS]


def check_chat_ticket(
    session: Session, agent: Principal, chat: Chat, *, department: str | None = None,
    category: str | None = None, reason: str = "",
) -> Ticket:  # fmt: skip
    """The agent holding an active chat ends it as a ticket carrying the transcript (the
    assistant's too) and the category; with ``department`` it is an escalation there."""
    require_agent(agent)
    if chat.status != ChatStatus.ACTIVE or chat.agent_id != agent.id:
        raise Conflict("Only the agent holding an active chat can turn it into a ticket.")
    if department is not None and department not in {d.value for d in Department}:
        raise InvalidInput("No department {department}.", field="department",
                           department=department)  # fmt: skip
    slug = _chat_category(session, chat, category)
    rule = category_rules(session)[slug]
    if department is not None:
        rule = dataclasses.replace(rule, department=department)
    fields = ticket_actions.check_fields(rule, TicketFields())
    messages = list_messages_after(session, chat.id, 0, limit=50)
    first = next((m.body for m in messages if m.sender_kind != SenderKind.SYSTEM), "")
    subject = (" ".join(first.split())[:120] or f"Live chat {chat.id}").ljust(3, ".")
    data = TicketCreate(category=slug, subject=subject,
                        description=_ticket_description(session, chat, reason.strip()),
                        language=chat.language)  # fmt: skip
    trader = session.get(Trader, chat.trader_id) if chat.trader_id else None
    requester = trader_principal(trader) if trader else SYSTEM
    ticket = ticket_actions.do_create_ticket(
        session, requester, data, rule, fields, chat.language, trader, chat.guest_email, []
    )
    if department is not None:
        ticket.department = department  # the agent's choice wins over the VIP desk default
    handoff = session.get(ChatHandoff, chat.id)
    if handoff is not None:
        ticket.predicted_category = handoff.predicted_category
        ticket.predicted_confidence = handoff.predicted_confidence
    outcome = _outcome(session, chat)
    outcome.escalated_to, outcome.escalated_at = ticket.department, utcnow()
    notice = actions.AGENT_TICKET_NOTICE
    if department:
        # Translated here with the department in; ``{name}`` and ``{tracking_id}`` stay for
        # the notice (department names are plain words, never braces).
        notice = (
            gettext_for(chat.language)
            .gettext(ESCALATED_NOTICE)
            .format(name="{name}", department=department, tracking_id="{tracking_id}")
        )
    actions.finish_as_ticket(session, chat, agent, ticket.id, ticket.tracking_id, notice)
    return ticket


# --- the context panel --------------------------------------------------------------------------


def _profile(trader: Trader | None, chat: Chat) -> dict[str, Any]:
    if trader is None:
        return {"kind": "guest", "email": chat.guest_email, "vip_level": 0,
                "region": chat.region, "language": chat.language}  # fmt: skip
    return {"kind": "trader", "id": trader.id, "external_id": trader.external_id,
            "name": trader.name, "email": trader.email, "vip_level": trader.vip_level,
            "kyc_level": trader.kyc_level, "region": trader.region or chat.region,
            "language": trader.language, "since": trader.created_at.isoformat()}  # fmt: skip


def _open_tickets(session: Session, chat: Chat) -> list[dict[str, Any]]:
    if chat.trader_id is not None:
        whose = Ticket.trader_id == chat.trader_id
    elif chat.guest_email:
        whose = Ticket.guest_email == chat.guest_email
    else:
        return []
    query = (
        select(Ticket)
        .where(whose, Ticket.status.not_in(FINISHED), Ticket.merged_into_id.is_(None))
        .order_by(Ticket.created_at.desc())
        .limit(OPEN_TICKETS_SHOWN)
    )
    return [{"tracking_id": t.tracking_id, "subject": t.subject, "status": t.status,
             "category": t.category, "department": t.department,
             "created_at": t.created_at.isoformat()} for t in session.scalars(query)]  # fmt: skip


def _recent_transfers(session: Session, trader_id: int | None) -> list[dict[str, Any]]:
    if trader_id is None:
        return []
    query = (
        select(AccountTransfer)
        .where(AccountTransfer.trader_id == trader_id)
        .order_by(AccountTransfer.occurred_at.desc(), AccountTransfer.id.desc())
        .limit(RECENT_TRANSFERS)
    )
    return [{"kind": t.kind, "asset": t.asset, "network": t.network, "amount": str(t.amount),
             "status": t.status, "tx_hash": t.tx_hash,
             "occurred_at": t.occurred_at.isoformat()} for t in session.scalars(query)]  # fmt: skip


def chat_record(session: Session, chat: Chat) -> dict[str, Any]:
    """What is recorded per chat: wait, first response and handle time (seconds), transfers,
    escalation and satisfaction."""
    outcome = session.get(ChatOutcome, chat.id)
    return {
        "wait_seconds": _seconds(chat.created_at, chat.accepted_at),
        "first_response_seconds": _seconds(chat.created_at, chat.first_response_at),
        "handle_seconds": _seconds(chat.accepted_at, chat.closed_at),
        "transfers": chat.transfers,
        "escalated": chat.ticket_id is not None and chat.accepted_at is not None,
        "escalated_to": outcome.escalated_to if outcome else None,
        "satisfaction": outcome.satisfaction if outcome else None,
        "comment": outcome.comment if outcome else "",
    }


def chat_context(session: Session, chat: Chat) -> dict[str, Any]:
    """The workspace's context panel for one chat."""
    trader = session.get(Trader, chat.trader_id) if chat.trader_id else None
    handoff = session.get(ChatHandoff, chat.id)
    return {
        "chat": chat.id, "status": chat.status, "language": chat.language,
        "region": chat.region, "vip_level": chat.vip_level, "queue": chat.queue,
        "profile": _profile(trader, chat),
        "assistant": None if handoff is None else {
            "conversation": handoff.conversation_id, "language": handoff.language,
            "predicted_category": handoff.predicted_category,
            "predicted_confidence": handoff.predicted_confidence,
            "transcript": handoff.transcript},
        "open_tickets": _open_tickets(session, chat),
        "transfers": _recent_transfers(session, chat.trader_id),
        "notes": [{"id": n.id, "agent": n.agent_id, "body": n.body,
                   "at": n.created_at.isoformat()} for n in list_notes(session, chat.id)],
        "record": chat_record(session, chat),
    }  # fmt: skip


# --- the trader's side: survey and transcript ---------------------------------------------------


def check_survey(
    session: Session, who: Principal, chat: Chat, rating: int, comment: str
) -> ChatOutcome:
    """The trader's satisfaction (1-5) and comment, once, after the chat ended."""
    if who.kind not in (PrincipalKind.TRADER, PrincipalKind.GUEST):
        raise PermissionDenied("The survey is for the trader of the chat.")
    if chat.status != ChatStatus.CLOSED:
        raise Conflict("The survey opens when the chat has ended.")
    if not 1 <= rating <= 5:
        raise InvalidInput("Rate from 1 to 5.", field="rating")
    text = comment.strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput("A comment holds at most {limit} characters.", field="comment",
                           limit=MAX_COMMENT_CHARS)  # fmt: skip
    outcome = _outcome(session, chat)
    if outcome.satisfaction is not None:
        raise Conflict("This chat was rated already.")
    outcome.satisfaction, outcome.surveyed_at = rating, utcnow()
    outcome.comment = guard.redact(text).text
    session.flush()
    _tell_workspaces(session, chat, "survey")
    return outcome


def check_email_transcript(session: Session, who: Principal, chat: Chat) -> str:
    """Queue the chat's transcript to the trader's (or guest's, once proven: ``guests``)
    email, in the chat's language, through the notify outbox. Returns the address."""
    if who.kind not in (PrincipalKind.TRADER, PrincipalKind.GUEST):
        raise PermissionDenied("The transcript goes to the trader of the chat.")
    trader = session.get(Trader, chat.trader_id) if chat.trader_id else None
    address = trader.email if trader else chat.guest_email
    if not address:
        raise Conflict("This chat has no email address to send to.")
    if trader is None and not guests.is_verified(session, address):
        # Else anyone could have a chat's transcript sent to any address they typed.
        raise Conflict("Confirm your email address first: ask for a code and enter it.",
                       field="email")  # fmt: skip
    lines = list_messages_after(session, chat.id, 0, limit=2000)
    do_enqueue_email(
        session, to=address, template="chat_transcript", locale=chat.language,
        context={"chat": chat.id, "started": chat.created_at,
                 "lines": [(f"{m.created_at:%Y-%m-%d %H:%M}", m.sender_name or m.sender_kind,
                            m.body) for m in lines]},
        anti_phishing_code=trader.anti_phishing_code if trader else None,
    )  # fmt: skip
    return address


# --- attachments -------------------------------------------------------------------------------

ATTACHMENT_CLIENT_PREFIX = "file:"


def check_attach(
    session: Session, sender: Principal, chat: Chat, filename: str, data: bytes,
    *, upload_dir: Path, max_bytes: int,
) -> tuple[ChatAttachment, actions.Posted]:  # fmt: skip
    """A file in the chat: checked like a ticket attachment (type sniffed from its bytes,
    size limit), stored by content hash, and announced by a message naming it."""
    if chat.status not in OPEN_STATUSES:
        raise Conflict("This chat is {status}; start a new one.", status=chat.status)
    if sender.kind is PrincipalKind.AGENT and (
        chat.agent_id != sender.id or chat.status != ChatStatus.ACTIVE
    ):
        raise Conflict("Accept the chat before you reply.")
    (checked,) = check_uploads([Upload(filename, data)], max_bytes)
    attachment = ChatAttachment(
        chat_id=chat.id, sender_kind=SenderKind(sender.kind.value).value, sender_id=sender.id,
        filename=checked.filename, content_type=checked.content_type, size=len(checked.data),
        sha256=checked.sha256, storage_key=store(upload_dir, checked), created_at=utcnow(),
    )  # fmt: skip
    session.add(attachment)
    session.flush()
    posted = actions.check_post_message(session, chat, sender, f"📎 {checked.filename}",
                                        f"{ATTACHMENT_CLIENT_PREFIX}{attachment.id}")  # fmt: skip
    return attachment, posted


def get_attachment(session: Session, chat: Chat, attachment_id: int) -> ChatAttachment:
    attachment = session.get(ChatAttachment, attachment_id)
    if attachment is None or attachment.chat_id != chat.id:
        raise NotFound("No attachment {attachment_id}.", attachment_id=attachment_id)
    return attachment


# --- the console's figures ----------------------------------------------------------------------


def satisfaction_summary(session: Session, since: datetime) -> dict[str, float | int | None]:
    """Surveys answered for chats started since ``since`` and their average rating."""
    row = session.execute(
        select(func.count(ChatOutcome.satisfaction), func.avg(ChatOutcome.satisfaction))
        .join(Chat, Chat.id == ChatOutcome.chat_id)
        .where(Chat.created_at >= since, ChatOutcome.satisfaction.is_not(None))
    ).one()
    count, average = int(row[0] or 0), row[1]
    return {"surveys": count,
            "average_satisfaction": round(float(average), 2) if average is not None else None}  # fmt: skip
