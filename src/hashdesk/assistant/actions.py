"""Every assistant write: conversations, the assistant's replies, flows, feedback, hand-offs
and the outcomes job. ``check_*`` validate and call ``do_*``; ``do_*`` write.

A conversation ends with exactly one outcome: *resolved* (the trader said "this solved it",
or ``do_settle_outcomes`` found an answered conversation with no return for the same reason
within 72 hours), *handed off* (a ticket now carries it) or *abandoned* (idle, unanswered, or
answered but followed by a return for the same reason).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.assets.queries import asset_exists, network_choices
from hashdesk.assistant import diagnostics, queries
from hashdesk.assistant.diagnostics import Ask, Finish, Flow, OutcomeKind, Rejected, Terminal, Turn
from hashdesk.assistant.engine import Decision, Engine, Hit, Reply, extract
from hashdesk.assistant.models import (
    AssistantConversation,
    AssistantMessage,
    Author,
    Outcome,
    ResolvedBy,
)
from hashdesk.assistant.queries import Asker
from hashdesk.core.auth import SYSTEM, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, InvalidInput
from hashdesk.core.i18n import N_, gettext_for, match_locale
from hashdesk.helpcenter import actions as helpcenter_actions
from hashdesk.helpcenter import queries as helpcenter_queries
from hashdesk.tickets import actions as ticket_actions
from hashdesk.tickets.models import Ticket
from hashdesk.tickets.queries import CategoryRule, category_rules
from hashdesk.tickets.schemas import TicketCreate, TicketFields

# A conversation quiet this long is over: settled as abandoned, or (answered) as resolved
# once the return window has passed without a return.
IDLE_TIMEOUT = timedelta(minutes=30)
FALLBACK_CATEGORY = "other"
SUBJECT_CHARS = 120

Prediction = tuple[str | None, float]
Predictor = Callable[[str], Prediction | None]


def triage_prediction(text: str) -> Prediction | None:
    """The triage classifier's (label or None, confidence); None when no model is set up."""
    from hashdesk.assistant.triage import predict_category

    prediction = predict_category(text)
    return None if prediction is None else (prediction.label, float(prediction.confidence))


@dataclass(frozen=True)
class Tools:
    """What answering needs besides the database: the engine, the flows, the classifier."""

    engine: Engine
    flows: dict[str, Flow] = field(default_factory=diagnostics.shipped_flows)
    predict: Predictor = triage_prediction


def _translate(locale: str, message: str, **params: str) -> str:
    text = gettext_for(locale).gettext(message)
    return diagnostics.fill(text, params) if params else text


def _check_open(conversation: AssistantConversation) -> None:
    if conversation.outcome is not None:
        raise Conflict(
            "This conversation has ended ({outcome}); start a new one.",
            outcome=conversation.outcome,
        )


def _add(
    session: Session, conversation: AssistantConversation, author: Author, body: str,
    data: dict[str, Any] | None, now: datetime,
) -> AssistantMessage:  # fmt: skip
    message = AssistantMessage(conversation_id=conversation.id, author=author.value, body=body,
                               data=data or {}, created_at=now)  # fmt: skip
    session.add(message)
    conversation.last_activity_at = now
    return message


# --- starting -----------------------------------------------------------------------------------


def check_locale(locale: str | None) -> str | None:
    if locale is None:
        return None
    matched = match_locale(locale)
    if matched is None:
        raise InvalidInput("Unknown locale {locale}.", field="locale", locale=locale)
    return matched


def check_start_conversation(
    session: Session, asker: Asker, locale: str | None, fallback_locale: str,
    *, now: datetime | None = None,
) -> AssistantConversation:  # fmt: skip
    """A new conversation; ``locale`` pins the answer language, else each question's
    detected language decides (``fallback_locale`` when the detector is unsure)."""
    pinned = check_locale(locale)
    return do_start_conversation(session, asker, pinned or fallback_locale, pinned is not None,
                                 now or utcnow())  # fmt: skip


def do_start_conversation(
    session: Session, asker: Asker, locale: str, pinned: bool, now: datetime
) -> AssistantConversation:
    conversation = AssistantConversation(
        trader_id=asker.trader_id, guest_key=None if asker.trader_id else asker.guest_key,
        locale=locale, locale_pinned=pinned, started_at=now, last_activity_at=now,
    )  # fmt: skip
    session.add(conversation)
    session.flush()
    return conversation


# --- questions ----------------------------------------------------------------------------------


def check_ask(
    session: Session, tools: Tools, asker: Asker, conversation: AssistantConversation, text: str,
    *, now: datetime | None = None,
) -> AssistantMessage:  # fmt: skip
    """The trader writes; the assistant's reply. While a flow waits on a step the text is
    that step's answer; a question that names a flow's situation starts the flow; anything
    else goes to the engine."""
    _check_open(conversation)
    text = text.strip()
    if not text:
        raise InvalidInput("Write a question of up to 1,000 characters.", field="body")
    return do_ask(session, tools, asker, conversation, text, now or utcnow())


def do_ask(
    session: Session, tools: Tools, asker: Asker, conversation: AssistantConversation, text: str,
    now: datetime,
) -> AssistantMessage:  # fmt: skip
    in_flow = conversation.flow_id is not None and bool(conversation.flow_state)
    flow = None if in_flow else diagnostics.suggest(tools.flows, text)
    # Read before this request writes: a SELECT after ``_add`` flushes the message first, and
    # on SQLite that write lock would keep the flow's tracer (its own session) from writing.
    networks = network_choices(session) if in_flow or flow else None
    given = (
        diagnostics.given_in(text, networks, lambda symbol: asset_exists(session, symbol))
        if flow and networks
        else {}
    )
    _add(session, conversation, Author.TRADER, text, None, now)
    if in_flow and networks is not None:
        running = tools.flows[str(conversation.flow_id)]
        turn = diagnostics.advance(running, conversation.flow_state, text, networks)
        return _flow_turn(session, tools, asker, conversation, running, turn, now)
    pinned = conversation.locale if conversation.locale_pinned else None
    conversation.locale, _ = tools.engine.choose_locale(text, pinned, conversation.locale)
    if flow is not None and networks is not None:
        turn = diagnostics.start(flow, given, networks)
        return do_start_flow(session, tools, asker, conversation, flow, now, turn)
    reply = tools.engine.respond(text, locale=conversation.locale,
                                 include_internal=asker.include_internal)  # fmt: skip
    return _engine_turn(session, conversation, reply, text, now)


def _hit_data(hit: Hit) -> dict[str, Any]:
    return {"id": hit.article_id, "title": hit.title, "url": hit.url, "locale": hit.locale,
            "score": round(float(hit.score), 4)}  # fmt: skip


def _engine_turn(
    session: Session, conversation: AssistantConversation, reply: Reply, question: str,
    now: datetime,
) -> AssistantMessage:  # fmt: skip
    data: dict[str, Any] = {
        "decision": reply.decision.value, "confidence": reply.confidence,
        "candidates": [_hit_data(hit) for hit in reply.candidates],
    }  # fmt: skip
    locale = conversation.locale
    if reply.article is not None:
        return _answer_with(session, conversation, _hit_data(reply.article), question, data, now)
    if reply.decision is Decision.CLARIFY:
        first, second = reply.options
        data["options"] = [_hit_data(first), _hit_data(second)]
        body = _translate(locale, N_("Did you mean {first} or {second}?"), first=first.title,
                          second=second.title)  # fmt: skip
        return _add(session, conversation, Author.ASSISTANT, body, data, now)
    body = _translate(locale, N_("I am not sure I have the right answer to that. You can rephrase the question, or talk to a person from our team."))  # fmt: skip
    return _add(session, conversation, Author.ASSISTANT, body, data, now)


def _answer_with(
    session: Session, conversation: AssistantConversation, article: dict[str, Any],
    question: str, data: dict[str, Any], now: datetime,
) -> AssistantMessage:  # fmt: skip
    """Reply with ``article`` (an ``_hit_data`` dict) and a short extract from its body."""
    found = helpcenter_queries.get_article(session, int(article["id"]))
    translation = helpcenter_queries.pick_translation(found, article["locale"]) if found else None
    body = extract(translation.body, question) if translation else ""
    data = {**data, "decision": Decision.ANSWER.value, "article": article}
    conversation.answered = True
    conversation.reason = conversation.reason or f"article:{article['id']}"
    return _add(session, conversation, Author.ASSISTANT, body or article["title"], data, now)


def check_choose(
    session: Session, conversation: AssistantConversation, article_id: int,
    *, now: datetime | None = None,
) -> AssistantMessage:  # fmt: skip
    """The trader answers "Did you mean A or B?" by picking one of the two."""
    _check_open(conversation)
    last = _last_assistant_message(session, conversation)
    options = (last.data.get("options") or []) if last else []
    chosen = next((o for o in options if o["id"] == article_id), None)
    if chosen is None:
        raise InvalidInput("Choose one of the articles offered.", field="article_id")
    now = now or utcnow()
    _add(session, conversation, Author.TRADER, chosen["title"], {"chose": article_id}, now)
    question = next((m.body for m in reversed(queries.list_messages(session, conversation))
                     if m.author == Author.TRADER and not m.data), chosen["title"])  # fmt: skip
    return _answer_with(session, conversation, chosen, question, {"confidence": None}, now)


def _last_assistant_message(
    session: Session, conversation: AssistantConversation
) -> AssistantMessage | None:
    messages = queries.list_messages(session, conversation)
    return next((m for m in reversed(messages) if m.author == Author.ASSISTANT), None)


# --- guided diagnostics -------------------------------------------------------------------------


def check_start_flow(
    session: Session, tools: Tools, asker: Asker, conversation: AssistantConversation,
    flow_id: str, *, now: datetime | None = None,
) -> AssistantMessage:  # fmt: skip
    _check_open(conversation)
    flow = tools.flows.get(flow_id)
    if flow is None:
        raise InvalidInput("Unknown flow {flow_id}; choose one of: {known}.", field="flow_id",
                           flow_id=flow_id, known=", ".join(sorted(tools.flows)))  # fmt: skip
    return do_start_flow(session, tools, asker, conversation, flow, now or utcnow())


def do_start_flow(
    session: Session, tools: Tools, asker: Asker, conversation: AssistantConversation, flow: Flow,
    now: datetime, first: Turn | None = None,
) -> AssistantMessage:  # fmt: skip
    """Run ``flow`` from ``first`` (its start, with what the trader's message already said),
    or from its first question."""
    conversation.flow_id = flow.id
    conversation.reason = conversation.reason or f"flow:{flow.id}"
    turn = first if first is not None else diagnostics.start(flow)
    return _flow_turn(session, tools, asker, conversation, flow, turn, now)


def check_stop_flow(
    session: Session, conversation: AssistantConversation, *, now: datetime | None = None
) -> AssistantMessage:
    _check_open(conversation)
    if not conversation.flow_state:
        raise Conflict("No guided check is running in this conversation.")
    conversation.flow_state = {}
    body = _translate(
        conversation.locale, N_("Stopped. Ask me anything else, or talk to a person.")
    )
    return _add(
        session, conversation, Author.ASSISTANT, body, {"kind": "flow_stopped"}, now or utcnow()
    )


def _step_data(flow: Flow, step: diagnostics.Step, locale: str) -> dict[str, Any]:
    return {
        "kind": "flow_step", "flow_id": flow.id, "step": step.id, "input": step.input.value,
        "choices": [{"value": c.value, "label": _translate(locale, c.label)} for c in step.choices],
    }  # fmt: skip


def _flow_turn(
    session: Session, tools: Tools, asker: Asker, conversation: AssistantConversation,
    flow: Flow, turn: Turn, now: datetime,
) -> AssistantMessage:  # fmt: skip
    locale = conversation.locale
    if isinstance(turn, Rejected):
        body = _translate(locale, turn.message, **{k: str(v) for k, v in turn.params.items()})
        data = {**_step_data(flow, turn.step, locale), "kind": "flow_rejected"}
        return _add(session, conversation, Author.ASSISTANT, body, data, now)
    if isinstance(turn, Ask):
        conversation.flow_state = turn.state
        answers = {str(k): str(v) for k, v in turn.state["answers"].items()}
        body = _translate(locale, turn.step.question, **answers)
        return _add(session, conversation, Author.ASSISTANT, body,
                    _step_data(flow, turn.step, locale), now)  # fmt: skip
    conversation.flow_state = {}
    return _flow_outcome(session, tools, asker, conversation, flow, turn, now)


def _flow_outcome(
    session: Session, tools: Tools, asker: Asker, conversation: AssistantConversation,
    flow: Flow, finish: Finish, now: datetime,
) -> AssistantMessage:  # fmt: skip
    terminal, answers, locale = finish.terminal, finish.answers, conversation.locale
    data: dict[str, Any] = {"kind": f"flow_{terminal.kind.value}", "flow_id": flow.id,
                            "outcome": terminal.id}  # fmt: skip
    if terminal.kind is OutcomeKind.MESSAGE:
        conversation.answered = True
        body = _translate(locale, terminal.text, **answers)
        return _add(session, conversation, Author.ASSISTANT, body, data, now)
    if terminal.kind is OutcomeKind.ARTICLE:
        hits = tools.engine.searcher.search(terminal.query, locale, limit=1,
                                            include_internal=asker.include_internal)  # fmt: skip
        if hits:
            return _answer_with(
                session, conversation, _hit_data(hits[0]), terminal.query, data, now
            )
    else:
        conversation.handoff_draft = _ticket_draft(flow, terminal, answers)
        data["fields"] = conversation.handoff_draft["fields"]
    note = _translate(locale, terminal.note, **answers) if terminal.note else ""
    ask = _translate(locale, N_("A person from our team should look at this: choose \"Talk to a human\" and we will open a request with these details."))  # fmt: skip
    return _add(session, conversation, Author.ASSISTANT, f"{note} {ask}".strip(), data, now)


def _ticket_draft(flow: Flow, terminal: Terminal, answers: dict[str, str]) -> dict[str, Any]:
    fields = {name: diagnostics.fill(value, answers) for name, value in terminal.fields.items()}
    return {
        "category": terminal.category or flow.category,
        "department": terminal.department,
        "priority": terminal.priority,
        "subject": diagnostics.fill(terminal.subject, answers),
        "fields": {name: value for name, value in fields.items() if "{" not in value},
        "note": diagnostics.fill(terminal.note, answers),
        "flow_id": flow.id,
    }


# --- feedback -----------------------------------------------------------------------------------


def check_feedback(
    session: Session, principal: Principal | None, conversation: AssistantConversation,
    solved: bool, article_id: int | None, reason: str, *, now: datetime | None = None,
) -> AssistantMessage:  # fmt: skip
    """ "This solved it" (or not) on the article shown; it is also the article's vote."""
    if conversation.outcome == Outcome.HANDED_OFF:
        raise Conflict("This conversation was handed to our team already.")
    shown = _articles_shown(session, conversation)
    if article_id is None and shown:
        article_id = shown[-1][0]
    locale = dict(shown).get(article_id) if article_id is not None else None
    if article_id is None or locale is None:
        raise InvalidInput("Vote on an article the assistant showed you.", field="article_id")
    helpcenter_actions.check_vote(session, principal, article_id, locale,
                                  "yes" if solved else "no", reason)  # fmt: skip
    return do_feedback(session, conversation, solved, article_id, now or utcnow())


def _articles_shown(session: Session, conversation: AssistantConversation) -> list[tuple[int, str]]:
    """(article id, locale) of every article the assistant answered with, in order."""
    shown = []
    for message in queries.list_messages(session, conversation):
        article = message.data.get("article")
        if message.author == Author.ASSISTANT and article:
            shown.append((int(article["id"]), str(article["locale"])))
    return shown


def do_feedback(
    session: Session, conversation: AssistantConversation, solved: bool, article_id: int,
    now: datetime,
) -> AssistantMessage:  # fmt: skip
    data = {"kind": "feedback", "solved": solved, "article_id": article_id}
    if solved:
        _settle(conversation, Outcome.RESOLVED, now, ResolvedBy.TRADER)
        body = _translate(
            conversation.locale, N_("Glad that helped! Thank you for letting us know.")
        )
    else:
        body = _translate(conversation.locale, N_("Sorry that did not help. Rephrase your question, or talk to a person from our team."))  # fmt: skip
    return _add(session, conversation, Author.ASSISTANT, body, data, now)


def _settle(
    conversation: AssistantConversation, outcome: Outcome, now: datetime,
    resolved_by: ResolvedBy | None = None,
) -> None:  # fmt: skip
    conversation.outcome = outcome.value
    conversation.resolved_by = resolved_by.value if resolved_by else None
    conversation.outcome_at = now
    conversation.flow_state = {}


# --- talk to a human ----------------------------------------------------------------------------


def check_handoff(
    session: Session, tools: Tools, principal: Principal | None,
    conversation: AssistantConversation, email: str | None, note: str,
    *, now: datetime | None = None,
) -> Ticket:  # fmt: skip
    """Hand the conversation to a person: a ticket carrying the transcript, the language and
    the predicted category. A signed-in trader's ticket is theirs; a guest gives an email."""
    if conversation.outcome == Outcome.HANDED_OFF:
        raise Conflict("This conversation was handed to our team already.")
    trader_actor = principal if principal and principal.kind is PrincipalKind.TRADER else None
    if trader_actor is None and not email:
        raise InvalidInput("Give the email address our team should answer.", field="email")
    return do_handoff(session, tools, conversation, trader_actor, email, note, now or utcnow())


def transcript(session: Session, conversation: AssistantConversation) -> str:
    lines = []
    for message in queries.list_messages(session, conversation):
        who = "Trader" if message.author == Author.TRADER else "Assistant"
        article = message.data.get("article")
        suffix = f" [{article['title']}: {article['url']}]" if article else ""
        lines.append(f"{who}: {message.body}{suffix}")
    return "\n".join(lines)


def _trader_text(session: Session, conversation: AssistantConversation) -> str:
    messages = queries.list_messages(session, conversation)
    return " ".join(m.body for m in messages if m.author == Author.TRADER and not m.data)


def _category_for(session: Session, draft: dict[str, Any], predicted: str | None) -> str:
    """The flow's category; else the prediction when it names a category a ticket can be
    opened in without more fields; else "other" (triage in the console decides)."""
    rules = category_rules(session)
    wanted = draft.get("category") or predicted
    rule = rules.get(str(wanted)) if wanted else None
    if rule and rule.active and (draft.get("category") or not rule.required_fields):
        return rule.slug
    return FALLBACK_CATEGORY


def _fields_for_ticket(
    session: Session, rule: CategoryRule, fields: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The draft's fields as ``check_fields`` keeps them, and a line for each it refused.
    A refused optional field (a memo read on chain that is in no format the registry
    knows) is left out of the fields rather than keeping the trader from a person; the
    line keeps it for the agent."""
    left_out: list[str] = []
    while True:
        try:
            kept = ticket_actions.check_fields(rule, TicketFields(**fields), session)
            return kept, left_out
        except InvalidInput as refused:
            name = (refused.field or "").removeprefix("fields.")
            if name not in fields or name in rule.required_fields:
                raise
            left_out.append(f"Not kept as the {name} field: {fields.pop(name)} ({refused})")


def do_handoff(
    session: Session, tools: Tools, conversation: AssistantConversation,
    trader_actor: Principal | None, email: str | None, note: str, now: datetime,
) -> Ticket:  # fmt: skip
    asked = _trader_text(session, conversation)
    prediction = tools.predict(asked) if asked else None
    predicted, confidence = prediction if prediction else (None, None)
    draft = dict(conversation.handoff_draft or {})
    slug = _category_for(session, draft, predicted)
    rule = category_rules(session)[slug]
    if draft.get("department"):
        rule = dataclasses.replace(rule, department=str(draft["department"]))
    if draft.get("priority"):
        rule = dataclasses.replace(rule, default_priority=str(draft["priority"]))
    fields, left_out = _fields_for_ticket(session, rule, dict(draft.get("fields", {})))
    subject = draft.get("subject") or _subject(asked) or "Question from the assistant"
    lines = [note] if note else []
    lines += left_out
    lines += [f"Language: {conversation.locale}",
              f"Predicted category: {predicted or 'none'} ({confidence if confidence is not None else '-'})",
              "", "Conversation with the assistant:", transcript(session, conversation)]  # fmt: skip
    data = TicketCreate(category=slug, subject=subject[:200], description="\n".join(lines)[:20_000],
                        language=conversation.locale)  # fmt: skip
    trader = session.get(Trader, trader_actor.id) if trader_actor else None
    ticket = ticket_actions.do_create_ticket(
        session, trader_actor or SYSTEM, data, rule, fields, conversation.locale, trader,
        None if trader else email, [], now=now,
    )  # fmt: skip
    ticket.predicted_category, ticket.predicted_confidence = predicted, confidence
    conversation.predicted_category, conversation.predicted_confidence = predicted, confidence
    conversation.guest_email = None if trader else email
    conversation.ticket_id = ticket.id
    conversation.reason = conversation.reason or (f"category:{predicted}" if predicted else None)
    _settle(conversation, Outcome.HANDED_OFF, now)
    body = _translate(conversation.locale, N_("Thank you. Our team has your request {tracking_id} with this conversation, and will answer you by email and in your requests."), tracking_id=ticket.tracking_id)  # fmt: skip
    _add(
        session,
        conversation,
        Author.ASSISTANT,
        body,
        {"kind": "handoff", "tracking_id": ticket.tracking_id},
        now,
    )
    return ticket


def _subject(text: str) -> str:
    words = " ".join(text.split())
    if len(words) < 3:
        return ""
    return words if len(words) <= SUBJECT_CHARS else words[: SUBJECT_CHARS - 1].rstrip() + "…"


# --- the outcomes job ---------------------------------------------------------------------------


@dataclass
class Settled:
    resolved: int = 0
    abandoned: int = 0
    waiting: int = 0  # answered, idle, but the 72-hour window is still open


def do_settle_outcomes(session: Session, now: datetime | None = None) -> Settled:
    """Give every idle conversation its outcome. Unanswered ones are abandoned; answered
    ones are resolved once 72 hours pass with no return for the same reason, and abandoned
    as soon as such a return happens (the answer did not settle it)."""
    now = now or utcnow()
    idle = queries.unsettled_before(session, now - IDLE_TIMEOUT)
    others = queries.same_person_conversations(session, idle, now) if idle else {}
    summary = Settled()
    for conversation in idle:
        if not conversation.answered:
            _settle(conversation, Outcome.ABANDONED, now)
            summary.abandoned += 1
            continue
        if queries.came_back(conversation, others.get(queries.person_of(conversation), [])):
            _settle(conversation, Outcome.ABANDONED, now)
            summary.abandoned += 1
        elif now - conversation.last_activity_at >= queries.RETURN_WINDOW:
            _settle(conversation, Outcome.RESOLVED, now, ResolvedBy.NO_RETURN)
            summary.resolved += 1
        else:
            summary.waiting += 1
    session.flush()
    return summary
