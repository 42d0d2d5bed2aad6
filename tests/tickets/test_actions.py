"""Ticket domain actions, used the way the API and console use them: lifecycle, replies,
hand-offs, merges, assignment, priority, macros, field validation and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import agent_principal, trader_principal
from hashdesk.core import audit
from hashdesk.core.auth import Principal, Role
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hashdesk.tickets import actions, queries
from hashdesk.tickets.departments import Department
from hashdesk.tickets.models import EntryKind, Macro, Priority, Status, Ticket
from hashdesk.tickets.schemas import MacroCreate, TicketCreate, TicketFields
from tests.conftest import make_agent, make_trader, open_ticket

# Real, well-known public values: Vitalik Buterin's address (EIP-55 checksummed), the first
# Ethereum transaction, the genesis block's address and coinbase, BIP-173's example address,
# the USDT contract on TRON, the USDC mint on Solana and a signature from Solana's RPC docs.
ETH_ADDRESS = "0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045"
ETH_TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
BTC_GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BTC_GENESIS_TX = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
BTC_BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
TRON_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
SOLANA_USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
SOLANA_SIGNATURE = (
    "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
)


def _agent(session: Session, role: Role = Role.FRONTLINE, email: str | None = None) -> Principal:
    return agent_principal(make_agent(session, role, email=email))


def _kinds(session: Session, ticket: Ticket, *, include_internal: bool = True) -> list[str]:
    return [
        e.kind for e in queries.list_entries(session, ticket, include_internal=include_internal)
    ]


def _audit_actions(session: Session, ticket: Ticket) -> list[str]:
    return [entry.action for entry in audit.list_entries(session, "ticket", ticket.id)]


# --- opening a ticket -------------------------------------------------------------------------


def test_a_new_ticket_is_routed_by_category_and_starts_its_sla_clocks(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session), category="deposit",
                         fields={"network": "Ethereum", "asset": "USDT", "tx_hash": ETH_TX})  # fmt: skip

    assert ticket.status == Status.NEW
    assert ticket.department == Department.BLOCKCHAIN
    assert ticket.fields == {"network": "ethereum", "asset": "USDT", "tx_hash": ETH_TX}
    assert ticket.first_response_due == ticket.created_at + timedelta(hours=1)
    assert ticket.resolution_due == ticket.created_at + timedelta(hours=48)
    assert _kinds(session, ticket) == [EntryKind.CREATED]
    assert _audit_actions(session, ticket) == ["ticket.created"]


def test_a_vip_trader_goes_straight_to_the_vip_desk_with_high_priority(session: Session) -> None:
    whale = make_trader(session, "u-whale", vip_level=5)
    ticket = open_ticket(session, whale, category="api")
    assert (ticket.department, ticket.priority, ticket.vip_level) == ("vip", "high", 5)


@pytest.mark.parametrize(
    ("category", "fields", "field", "why"),
    [
        ("deposit", {"network": "ethereum", "asset": "ETH", "address": ETH_ADDRESS.replace("dA6", "da6")},
         "fields.address", "EIP-55 checksum"),
        ("deposit", {"network": "ethereum", "asset": "ETH", "address": ETH_ADDRESS[:-1]},
         "fields.address", "40 hexadecimal characters"),
        ("deposit", {"network": "ethereum", "asset": "ETH", "tx_hash": ETH_TX[2:]},
         "fields.tx_hash", "starts with 0x"),
        ("deposit", {"network": "ethereum", "asset": "ETH", "tx_hash": ETH_TX[:-1] + "g"},
         "fields.tx_hash", "only 0-9 and a-f"),
        ("deposit", {"network": "bitcoin", "asset": "BTC", "address": BTC_GENESIS_ADDRESS[:-1] + "b"},
         "fields.address", "checksum does not match"),
        ("deposit", {"network": "bitcoin", "asset": "BTC", "address": BTC_BECH32[:-1] + "5"},
         "fields.address", "checksum does not match"),
        ("deposit", {"network": "bitcoin", "asset": "BTC", "address": BTC_BECH32.replace("w508", "W508")},
         "fields.address", "never mixed"),
        ("deposit", {"network": "bitcoin", "asset": "BTC", "tx_hash": "0x" + BTC_GENESIS_TX},
         "fields.tx_hash", "no 0x prefix"),
        ("withdrawal", {"network": "tron", "asset": "USDT", "address": TRON_USDT[:-1] + "u"},
         "fields.address", "TRON address's checksum"),
        ("withdrawal", {"network": "tron", "asset": "USDT", "address": ETH_ADDRESS},
         "fields.address", "starts with T"),
        ("withdrawal", {"network": "solana", "asset": "USDC", "address": SOLANA_USDC[:-1] + "0"},
         "fields.address", "base58"),
        ("withdrawal", {"network": "solana", "asset": "USDC", "tx_hash": SOLANA_SIGNATURE[:40]},
         "fields.tx_hash", "86 to 88 characters"),
        ("deposit", {"network": "dogechain", "asset": "DOGE"}, "fields.network", "Unknown network"),
        ("deposit", {"asset": "ETH"}, "fields.network", "required"),
        ("login_2fa", {"order_id": "12345"}, "fields.order_id", "has no order_id field"),
    ],
)  # fmt: skip
def test_malformed_fields_are_refused_naming_the_field_and_why(
    session: Session, category: str, fields: dict[str, str], field: str, why: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_ticket(session, make_trader(session), category=category, fields=fields)
    assert refused.value.field == field
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"network": "ethereum", "asset": "ETH", "address": ETH_ADDRESS, "tx_hash": ETH_TX},
        {"network": "ethereum", "asset": "ETH", "address": ETH_ADDRESS.lower()},
        {"network": "bitcoin", "asset": "BTC", "address": BTC_GENESIS_ADDRESS, "tx_hash": BTC_GENESIS_TX},
        {"network": "bitcoin", "asset": "BTC", "address": BTC_BECH32.upper()},
        {"network": "tron", "asset": "USDT", "address": TRON_USDT},
        {"network": "solana", "asset": "USDC", "address": SOLANA_USDC, "tx_hash": SOLANA_SIGNATURE},
    ],
)  # fmt: skip
def test_real_addresses_and_hashes_are_accepted(session: Session, fields: dict[str, str]) -> None:
    ticket = open_ticket(session, make_trader(session), category="deposit", fields=fields)
    assert ticket.fields == fields


def test_unknown_category_and_language_are_refused(session: Session) -> None:
    trader = trader_principal(make_trader(session))
    data = TicketCreate(category="lottery", subject="Where is my prize",
                        description="I won the lottery.", fields=TicketFields())  # fmt: skip
    with pytest.raises(InvalidInput) as unknown_category:
        actions.check_create_ticket(session, trader, data)
    assert unknown_category.value.field == "category"

    data = data.model_copy(update={"category": "other", "language": "klingon"})
    with pytest.raises(InvalidInput) as unknown_language:
        actions.check_create_ticket(session, trader, data)
    assert unknown_language.value.field == "language"


def test_agents_do_not_open_tickets_for_themselves(session: Session) -> None:
    data = TicketCreate(category="other", subject="Test ticket", description="Just testing.")
    # Refused for who asks (403), not for what was sent: the review's deliberate change.
    with pytest.raises(PermissionDenied):
        actions.check_create_ticket(session, _agent(session), data)


# --- lifecycle ----------------------------------------------------------------------------------


def test_the_whole_lifecycle_new_open_pending_escalated_resolved_closed(session: Session) -> None:
    agent = _agent(session)
    ticket = open_ticket(session, make_trader(session))
    for target in (Status.OPEN, Status.PENDING, Status.ESCALATED, Status.RESOLVED, Status.CLOSED):
        actions.check_change_status(session, agent, ticket, target)
        session.commit()
        assert ticket.status == target

    assert ticket.resolved_at is not None and ticket.closed_at is not None
    changes = [e for e in audit.list_entries(session, "ticket", ticket.id)
               if e.action == "ticket.status_changed"]  # fmt: skip
    assert [(e.before, e.after) for e in changes][:2] == [
        ({"status": "new"}, {"status": "open"}),
        ({"status": "open"}, {"status": "pending"}),
    ]
    assert len(changes) == 5


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([Status.RESOLVED], Status.PENDING),
        ([Status.RESOLVED], Status.ESCALATED),
        ([Status.CLOSED], Status.OPEN),
        ([Status.CLOSED], Status.RESOLVED),
    ],
)
def test_refused_transitions_say_from_where_to_where(
    session: Session, path: list[Status], refused: Status
) -> None:
    agent = _agent(session)
    ticket = open_ticket(session, make_trader(session))
    for target in path:
        actions.check_change_status(session, agent, ticket, target)
    with pytest.raises(Conflict) as conflict:
        actions.check_change_status(session, agent, ticket, refused)
    assert f"from {path[-1].value} to {refused.value}" in str(conflict.value)


def test_the_first_agent_reply_opens_a_new_ticket_and_stops_the_first_response_clock(
    session: Session,
) -> None:
    ticket = open_ticket(session, make_trader(session))
    actions.check_agent_reply(session, _agent(session), ticket, "Hello, looking into it.")
    session.commit()
    assert ticket.status == Status.OPEN
    assert ticket.first_response_at is not None
    assert _kinds(session, ticket) == ["created", "message", "status"]


def test_a_trader_reply_reopens_a_ticket_pending_on_them(session: Session) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    actions.check_agent_reply(session, _agent(session), ticket, "Which phone model?",
                              set_status=Status.PENDING)  # fmt: skip
    actions.check_trader_reply(session, trader_principal(trader), ticket, "An iPhone 15.", [])
    session.commit()
    assert ticket.status == Status.OPEN
    assert ticket.sla_paused_at is None


def test_a_trader_reply_within_the_window_reopens_a_resolved_ticket(session: Session) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    actions.check_change_status(session, _agent(session), ticket, Status.RESOLVED)
    actions.check_trader_reply(session, trader_principal(trader), ticket, "Still broken!", [])
    session.commit()
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None


def test_a_reply_after_the_window_to_a_resolved_ticket_is_refused(session: Session) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    actions.check_change_status(session, _agent(session), ticket, Status.RESOLVED)
    ticket.resolved_at = utcnow() - timedelta(days=8)  # resolved eight days ago (window: 7)
    with pytest.raises(Conflict, match="too long ago"):
        actions.check_trader_reply(session, trader_principal(trader), ticket, "Hello?", [])


def test_a_closed_ticket_refuses_replies_from_both_sides(session: Session) -> None:
    trader = make_trader(session)
    agent = _agent(session)
    ticket = open_ticket(session, trader)
    actions.check_change_status(session, agent, ticket, Status.CLOSED)
    with pytest.raises(Conflict, match="closed"):
        actions.check_trader_reply(session, trader_principal(trader), ticket, "Hello?", [])
    with pytest.raises(Conflict, match="closed"):
        actions.check_agent_reply(session, agent, ticket, "Hello?")
    # An internal note on a closed ticket is still fine: staff keep records.
    actions.check_agent_reply(session, agent, ticket, "Closed as duplicate.", internal=True)


# --- hand-off, notes, roles ---------------------------------------------------------------------


def test_hand_off_moves_department_escalates_and_keeps_the_note_internal(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session), category="deposit",
                         fields={"network": "tron", "asset": "USDT"})  # fmt: skip
    actions.check_handoff(session, _agent(session), ticket, Department.ENGINEERING,
                          "Node lagging; please check the TRON indexer.")  # fmt: skip
    session.commit()

    assert (ticket.department, ticket.status) == ("engineering", "escalated")
    seen_by_trader = queries.list_entries(session, ticket, include_internal=False)
    assert [e.kind for e in seen_by_trader] == ["created", "handoff", "status"]
    assert all("indexer" not in e.body for e in seen_by_trader)
    note = [e for e in queries.list_entries(session, ticket, include_internal=True)
            if e.kind == EntryKind.NOTE]  # fmt: skip
    assert note[0].body == "Node lagging; please check the TRON indexer."
    handed = next(e for e in audit.list_entries(session, "ticket", ticket.id)
              if e.action == "ticket.handed_off")  # fmt: skip
    assert handed.before is not None and handed.after is not None
    assert (handed.before["department"], handed.after["department"]) == (
        "blockchain",
        "engineering",
    )


def test_hand_off_to_the_same_department_or_of_a_closed_ticket_is_refused(
    session: Session,
) -> None:
    agent = _agent(session)
    ticket = open_ticket(session, make_trader(session))
    with pytest.raises(Conflict, match="already with frontline"):
        actions.check_handoff(session, agent, ticket, Department.FRONTLINE, "Same team.")
    actions.check_change_status(session, agent, ticket, Status.CLOSED)
    with pytest.raises(Conflict, match="Reopen"):
        actions.check_handoff(session, agent, ticket, Department.SECURITY, "Too late.")


def test_community_staff_may_leave_notes_but_not_answer_traders(session: Session) -> None:
    community = _agent(session, Role.COMMUNITY)
    ticket = open_ticket(session, make_trader(session))
    with pytest.raises(PermissionDenied, match="reply"):
        actions.check_agent_reply(session, community, ticket, "Hi from Discord mods.")
    with pytest.raises(PermissionDenied):
        actions.check_handoff(session, community, ticket, Department.SECURITY, "Phishing?")
    actions.check_agent_reply(session, community, ticket, "Seen in Telegram too.", internal=True)


def test_security_tickets_are_invisible_to_frontline_but_not_to_security(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session), category="security")
    frontline = _agent(session, Role.FRONTLINE)
    security = _agent(session, Role.SECURITY)
    with pytest.raises(NotFound):
        queries.access_ticket(session, frontline, ticket.id)
    assert queries.access_ticket(session, security, ticket.id) is ticket


# --- assignment, priority, merge, macros ------------------------------------------------------


def test_assignment_is_recorded_with_before_and_after(session: Session) -> None:
    lead = _agent(session, Role.LEAD)
    technician = make_agent(session, Role.TECHNICIAN)
    ticket = open_ticket(session, make_trader(session))

    actions.check_assign(session, lead, ticket, technician.id)
    actions.check_assign(session, lead, ticket, None)
    session.commit()

    assigned = [(e.before, e.after) for e in audit.list_entries(session, "ticket", ticket.id)
                if e.action == "ticket.assigned"]  # fmt: skip
    assert assigned == [({"assignee_id": None}, {"assignee_id": technician.id}),
                        ({"assignee_id": technician.id}, {"assignee_id": None})]  # fmt: skip
    assert "assignment" not in _kinds(session, ticket, include_internal=False)
    with pytest.raises(InvalidInput) as unknown:
        actions.check_assign(session, lead, ticket, 999_999)
    assert unknown.value.field == "assignee_id"


def test_a_priority_change_is_audited_and_stays_internal(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    actions.check_change_priority(session, _agent(session), ticket, Priority.URGENT)
    session.commit()
    changed = [e for e in audit.list_entries(session, "ticket", ticket.id)
               if e.action == "ticket.priority_changed"]  # fmt: skip
    assert [(e.before, e.after) for e in changed] == [
        ({"priority": "normal"}, {"priority": "urgent"})
    ]
    assert "priority" not in _kinds(session, ticket, include_internal=False)


def test_duplicates_of_one_trader_merge_into_the_open_ticket(session: Session) -> None:
    trader = make_trader(session)
    first = open_ticket(session, trader, subject="Withdrawal stuck")
    duplicate = open_ticket(session, trader, subject="Withdrawal STILL stuck")
    technician = _agent(session, Role.TECHNICIAN)

    target = actions.check_merge(session, technician, duplicate, first.tracking_id.lower())
    session.commit()

    assert target is first
    assert (duplicate.merged_into_id, duplicate.status) == (first.id, "closed")
    merged_in = [e for e in queries.list_entries(session, first, include_internal=False)
                 if e.kind == EntryKind.MERGE]  # fmt: skip
    assert "Withdrawal STILL stuck" in merged_in[0].body
    assert "ticket.merged" in _audit_actions(session, duplicate)
    # The merged ticket leaves the lists; replies go to the surviving ticket.
    with pytest.raises(Conflict, match="merged"):
        actions.check_trader_reply(session, trader_principal(trader), duplicate, "Hi", [])


def test_tickets_of_different_traders_never_merge(session: Session) -> None:
    mine = open_ticket(session, make_trader(session, "u-1"))
    theirs = open_ticket(session, make_trader(session, "u-2"))
    technician = _agent(session, Role.TECHNICIAN)
    with pytest.raises(Conflict, match="same trader"):
        actions.check_merge(session, technician, mine, theirs.tracking_id)
    with pytest.raises(Conflict, match="itself"):
        actions.check_merge(session, technician, mine, mine.tracking_id)
    with pytest.raises(PermissionDenied):
        actions.check_merge(session, _agent(session, Role.FRONTLINE), mine, theirs.tracking_id)


def test_nothing_merges_into_a_ticket_the_agent_cannot_see(session: Session) -> None:
    trader = make_trader(session)
    duplicate = open_ticket(session, trader)
    hidden = open_ticket(session, trader, category="security")
    technician = _agent(session, Role.TECHNICIAN)  # may merge, may not see security tickets
    with pytest.raises(InvalidInput) as refused:
        actions.check_merge(session, technician, duplicate, hidden.tracking_id)
    assert refused.value.field == "into_tracking_id"
    assert str(refused.value) == "No ticket " + hidden.tracking_id + "."
    security = _agent(session, Role.SECURITY)
    assert actions.check_merge(session, security, duplicate, hidden.tracking_id) is hidden


def test_a_macro_fills_its_placeholders_and_sets_the_status(session: Session) -> None:
    lead = _agent(session, Role.LEAD)
    macro = actions.check_create_macro(session, lead, MacroCreate(
        name="Need TxID", set_status=Status.PENDING,
        body="Hi {trader_name}, about {tracking_id} on {network}: please send the TxID. {agent_name}",
    ))  # fmt: skip
    ticket = open_ticket(session, make_trader(session, name="Alice"), category="deposit",
                         fields={"network": "tron", "asset": "USDT"})  # fmt: skip

    entry = actions.check_apply_macro(session, lead, ticket, macro.id)
    session.commit()

    assert entry.body == (
        f"Hi Alice, about {ticket.tracking_id} on tron: please send the TxID. Lead Agent"
    )
    assert ticket.status == Status.PENDING
    assert session.scalar(select(Macro.id)) == macro.id
    with pytest.raises(PermissionDenied):
        actions.check_create_macro(session, _agent(session), MacroCreate(name="x", body="y"))


# --- the audit trail ---------------------------------------------------------------------------


def test_every_change_lands_in_the_audit_trail(session: Session) -> None:
    agent = _agent(session, Role.LEAD)
    ticket = open_ticket(session, make_trader(session))
    actions.check_agent_reply(session, agent, ticket, "On it.")
    actions.check_agent_reply(session, agent, ticket, "Looks like SIM swap.", internal=True)
    actions.check_change_priority(session, agent, ticket, Priority.HIGH)
    actions.check_handoff(session, agent, ticket, Department.SECURITY, "Possible SIM swap.")
    actions.do_record_view(session, agent, ticket.id)
    session.commit()

    assert _audit_actions(session, ticket) == [
        "ticket.created", "ticket.status_changed", "ticket.replied", "ticket.noted",
        "ticket.priority_changed", "ticket.status_changed", "ticket.handed_off", "ticket.viewed",
    ]  # fmt: skip
    viewed = audit.list_entries(session, "ticket", ticket.id)[-1]
    assert (viewed.actor_kind, viewed.actor_id) == ("agent", agent.id)


# --- one rule for who may write what ---------------------------------------------------------


def test_the_reply_refusal_names_why_a_trader_may_not_answer(session: Session) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    now, window = utcnow(), timedelta(days=7)
    assert actions.trader_reply_refusal(ticket, now, window) is None
    actions.check_change_status(session, _agent(session), ticket, Status.RESOLVED)
    assert actions.trader_reply_refusal(ticket, now, window) is None  # within the window
    ticket.resolved_at = now - timedelta(days=8)
    assert "too long ago" in (actions.trader_reply_refusal(ticket, now, window) or "")
    ticket.status = Status.CLOSED.value
    assert "closed" in (actions.trader_reply_refusal(ticket, now, window) or "")


def test_next_statuses_follow_the_lifecycle(session: Session) -> None:
    ticket = open_ticket(session, make_trader(session))
    assert actions.next_statuses(ticket) == [
        Status.OPEN, Status.PENDING, Status.ESCALATED, Status.RESOLVED, Status.CLOSED
    ]  # fmt: skip
    actions.check_change_status(session, _agent(session), ticket, Status.CLOSED)
    assert actions.next_statuses(ticket) == []


def test_check_reply_answers_as_staff_or_as_the_trader(session: Session) -> None:
    from hashdesk.tickets.attachments import Upload, check_uploads

    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    note = actions.check_reply(session, _agent(session), ticket, "Watch this one.", internal=True)
    assert (note.kind, note.public) == (EntryKind.NOTE, False)
    with pytest.raises(PermissionDenied):
        actions.check_reply(session, trader_principal(trader), ticket, "Hi", internal=True)
    with pytest.raises(PermissionDenied):
        actions.check_reply(session, trader_principal(trader), ticket, "Hi", set_status=Status.OPEN)
    files = check_uploads([Upload("a.txt", b"one"), Upload("b.txt", b"two")], 1024)
    entry = actions.check_reply(session, trader_principal(trader), ticket, "  ", uploads=files)
    assert entry.body == "a.txt, b.txt"
    with pytest.raises(InvalidInput) as empty:
        actions.check_reply(session, trader_principal(trader), ticket, "   ")
    assert empty.value.field == "body"


def test_a_trader_reply_is_audited(session: Session) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    actions.check_trader_reply(session, trader_principal(trader), ticket, "Any news?", [])
    session.commit()
    replied = audit.list_entries(session, "ticket", ticket.id)[-1]
    assert (replied.action, replied.actor_kind, replied.actor_id) == (
        "ticket.replied", "trader", trader.id
    )  # fmt: skip


def test_high_vip_tickets_go_to_the_vip_desk_but_security_reports_stay_with_security(
    session: Session,
) -> None:
    whale = make_trader(session, "u-whale", vip_level=5)
    assert open_ticket(session, whale, category="withdrawal",
                       fields={"network": "tron", "asset": "USDT"}).department == "vip"  # fmt: skip
    assert open_ticket(session, whale, category="security").department == "security"
    assert open_ticket(session, make_trader(session, "u-2", vip_level=1)).department == "frontline"
