"""Guided diagnostics: the flow format, the interpreter, and every path of the shipped flows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hashdesk.assets.demo import real_document
from hashdesk.assets.queries import FIXED_NETWORK_CHOICES, NetworkChoices, network_choices
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.assistant import diagnostics
from hashdesk.assistant.diagnostics import (
    Ask,
    Finish,
    FlowError,
    OutcomeKind,
    Rejected,
    Turn,
    advance,
    extract_flow_messages,
    given_in,
    load_flows,
    parse_flow,
    shipped_flows,
    start,
    suggest,
)
from hashdesk.core.auth import SYSTEM

TRON_HASH = "7c2d1a4b9e8f3a6d5c0b1e2f4a7d9c8b3e6f1a0d2c5b8e7f9a4d6c3b1e0f2a5d"
ETH_HASH = "0x" + TRON_HASH


def walk(flow_id: str, *answers: str, networks: NetworkChoices = FIXED_NETWORK_CHOICES) -> Turn:
    flow = shipped_flows()[flow_id]
    turn = start(flow)
    for answer in answers:
        assert isinstance(turn, Ask), f"the flow ended before {answer!r}: {turn}"
        turn = advance(flow, turn.state, answer, networks)
    return turn


def finished(flow_id: str, *answers: str) -> Finish:
    turn = walk(flow_id, *answers)
    assert isinstance(turn, Finish), turn
    return turn


@pytest.fixture
def tracer() -> Iterator[dict[str, str]]:
    """A stand-in deposit tracer registered at the extension point (the real one comes with
    the chains domain); the test sets what it finds."""
    found = {"result": "untraced"}
    original = diagnostics.get_check("deposit_trace")
    assert original is not None
    diagnostics.register_check("deposit_trace")(lambda answers: found["result"])
    yield found
    diagnostics.register_check("deposit_trace")(original)


def test_the_shipped_flows_load() -> None:
    assert set(shipped_flows()) == {"deposit_not_arrived", "withdrawal_pending", "login_2fa",
                                    "api_error_codes", "futures_liquidation"}  # fmt: skip


# --- deposit not arrived -------------------------------------------------------------------


def test_deposit_asks_network_asset_memo_and_hash_then_opens_a_prefilled_ticket() -> None:
    flow = shipped_flows()["deposit_not_arrived"]
    turn = start(flow)
    assert isinstance(turn, Ask) and turn.step.id == "network"
    end = finished("deposit_not_arrived", "TRC20", "usdt", "1", TRON_HASH, "More than an hour ago")
    assert end.terminal.kind is OutcomeKind.TICKET and end.terminal.id == "open_ticket"
    assert end.answers["network"] == "tron" and end.answers["asset"] == "USDT"
    assert end.answers["trace"] == "untraced"  # what the deposit trace says today
    assert diagnostics.fill(end.terminal.fields["tx_hash"], end.answers) == TRON_HASH


def test_a_recent_deposit_is_told_to_wait_for_confirmations() -> None:
    end = finished("deposit_not_arrived", "ethereum", "ETH", "no_memo", ETH_HASH, "under_hour")
    assert end.terminal.id == "wait_confirmations" and end.terminal.kind is OutcomeKind.MESSAGE


def test_a_forgotten_memo_goes_straight_to_a_recovery_ticket() -> None:
    end = finished("deposit_not_arrived", "xrp", "XRP", "I forgot the memo or tag")
    assert end.terminal.id == "missing_memo"
    assert diagnostics.fill(end.terminal.subject, end.answers) == (
        "Deposit of XRP on xrp sent without its memo/tag"
    )


def test_the_hash_is_checked_against_the_network_answered() -> None:
    turn = walk("deposit_not_arrived", "ethereum", "USDT", "1", TRON_HASH)
    assert isinstance(turn, Rejected) and turn.step.id == "tx_hash"
    assert "starts with 0x" in turn.message
    tron = walk("deposit_not_arrived", "tron", "USDT", "1", ETH_HASH)
    assert isinstance(tron, Rejected) and "no 0x prefix" in tron.message


def test_unknown_networks_and_assets_are_refused_with_the_reason() -> None:
    turn = walk("deposit_not_arrived", "Dogechain")
    assert isinstance(turn, Rejected)
    assert turn.params["network"] == "Dogechain" and "(tron)" in str(turn.params["suggestions"])
    asset = walk("deposit_not_arrived", "bsc", "US DT!")
    assert isinstance(asset, Rejected) and "ticker" in asset.message
    blank = walk("deposit_not_arrived", "  ")
    assert isinstance(blank, Rejected)


def test_with_the_asset_registry_every_network_it_lists_can_be_named(session: Session) -> None:
    import_document(session, SYSTEM, RegistryDocument(networks=real_document().networks, assets=[]))
    networks = network_choices(session)

    doge = walk("deposit_not_arrived", "Dogecoin", "DOGE", "1", networks=networks)
    assert isinstance(doge, Ask) and doge.state["answers"]["network"] == "dogecoin"
    wrong_format = walk("deposit_not_arrived", "dogecoin", "DOGE", "1", ETH_HASH, networks=networks)
    assert isinstance(wrong_format, Rejected) and wrong_format.step.id == "tx_hash"
    end = finished_with(networks, "avax", "USDC", "1", ETH_HASH, "More than an hour ago")
    assert end.answers["network"] == "avalanche-c"  # a ticker spelling, the registry's slug
    unknown = walk("deposit_not_arrived", "Dogechain", networks=networks)
    assert isinstance(unknown, Rejected)
    assert str(unknown.params["suggestions"]).startswith("Dogecoin (dogecoin)")


def finished_with(networks: NetworkChoices, *answers: str) -> Finish:
    turn = walk("deposit_not_arrived", *answers, networks=networks)
    assert isinstance(turn, Finish), turn
    return turn


@pytest.mark.parametrize(("found", "outcome"), [("credited", "credited"),
                                                ("confirming", "confirming"),
                                                ("not_found", "not_found")])  # fmt: skip
def test_a_registered_tracer_decides_the_deposit_branch(
    tracer: dict[str, str], found: str, outcome: str
) -> None:
    tracer["result"] = found
    end = finished("deposit_not_arrived", "bitcoin", "BTC", "no_memo", TRON_HASH)
    assert end.terminal.id == outcome


# --- withdrawal pending ----------------------------------------------------------------------


def test_withdrawal_paths() -> None:
    short = finished("withdrawal_pending", "bsc", "USDT", "processing", "under_hour")
    assert short.terminal.id == "usual_processing"
    long = finished("withdrawal_pending", "bsc", "USDT", "processing", "over_hour")
    assert long.terminal.id == "stuck_ticket" and long.terminal.category == "withdrawal"
    review = finished("withdrawal_pending", "bsc", "USDT", "review")
    assert review.terminal.kind is OutcomeKind.ARTICLE
    done = finished("withdrawal_pending", "ethereum", "USDC", "completed", ETH_HASH)
    assert done.terminal.id == "completed_ticket" and done.answers["tx_hash"] == ETH_HASH


# --- cannot log in / reset 2FA ----------------------------------------------------------------


def test_login_paths() -> None:
    assert finished("login_2fa", "password").terminal.kind is OutcomeKind.ARTICLE
    assert finished("login_2fa", "no_code").terminal.kind is OutcomeKind.ARTICLE
    assert finished("login_2fa", "lost_2fa", "yes").terminal.id == "restore_with_key"
    for answers in (("lost_2fa", "no"), ("locked",)):
        recovery = finished("login_2fa", *answers).terminal
        assert recovery.id == "recovery_ticket"
        assert recovery.department == "security" and recovery.category == "account_recovery"
        assert "verifies your identity" in recovery.note


# --- API error codes --------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "outcome"), [
    ("429", "rate_limited"), ("HTTP 429 Too Many Requests", "rate_limited"),
    ("418", "ip_banned"), ("-1021", "timestamp"),
    ("Timestamp for this request is outside of the recvWindow", "timestamp"),
    ("-2015", "invalid_key"), ("code -2015 Invalid API-key, IP, or permissions", "invalid_key"),
    ("Signature for this request is not valid.", "signature"), ("-1022", "signature"),
])  # fmt: skip
def test_common_api_codes_are_explained(code: str, outcome: str) -> None:
    end = finished("api_error_codes", code)
    assert end.terminal.id == outcome and end.terminal.kind is OutcomeKind.MESSAGE


def test_an_unknown_api_code_offers_the_api_team_or_the_docs() -> None:
    ticket = finished("api_error_codes", "-4164", "yes", "POST /fapi/v1/order quantity=0.001")
    assert ticket.terminal.id == "api_ticket"
    assert diagnostics.fill(ticket.terminal.subject, ticket.answers) == "API error: -4164"
    assert finished("api_error_codes", "-4164", "no").terminal.id == "docs"


# --- futures liquidation ------------------------------------------------------------------------


def test_liquidation_paths() -> None:
    assert finished("futures_liquidation", "why", "isolated").terminal.id == "isolated_explained"
    assert finished("futures_liquidation", "why", "cross").terminal.id == "cross_explained"
    assert finished("futures_liquidation", "price").terminal.kind is OutcomeKind.ARTICLE
    bad = walk("futures_liquidation", "dispute", "my order!!")
    assert isinstance(bad, Rejected) and "order ID" in bad.message
    dispute = finished("futures_liquidation", "dispute", "8389765512", "btcusdt")
    assert dispute.terminal.id == "dispute_ticket"
    assert dispute.answers == {"what": "dispute", "order_id": "8389765512", "asset": "BTCUSDT"}


# --- the format ---------------------------------------------------------------------------------


def test_choices_are_taken_by_value_label_or_number() -> None:
    for answer in ("locked", "My account is locked or frozen", "3", " LOCKED "):
        assert finished("login_2fa", answer).terminal.id == "recovery_ticket"
    wrong = walk("login_2fa", "5")
    assert isinstance(wrong, Rejected) and wrong.message == "Choose one of the options."


def test_questions_suggest_their_flow() -> None:
    flows = shipped_flows()
    assert suggest(flows, "My USDT deposit has not arrived yet") is flows["deposit_not_arrived"]
    assert suggest(flows, "I lost my authenticator, how to reset 2FA?") is flows["login_2fa"]
    assert suggest(flows, "What does error -1021 mean?") is flows["api_error_codes"]
    assert suggest(flows, "What is the maker fee for spot?") is None


@pytest.mark.parametrize(
    ("question", "flow_id"),
    [
        ("Mi depósito de USDT no ha llegado", "deposit_not_arrived"),
        ("Meine Einzahlung ist nicht angekommen", "deposit_not_arrived"),
        ("Мой депозит не пришёл", "deposit_not_arrived"),
        ("الإيداع لم يصل إلى حسابي", "deposit_not_arrived"),
        ("USDTの入金が反映されません", "deposit_not_arrived"),
        ("USDT 입금이 안 들어왔어요", "deposit_not_arrived"),
        ("我的USDT充值还没到账", "deposit_not_arrived"),
        ("Retrait en attente depuis hier", "withdrawal_pending"),
        ("提币一直在处理中", "withdrawal_pending"),
        ("No puedo iniciar sesión", "login_2fa"),
        ("重置2FA", "login_2fa"),
        ("Warum wurde meine Position liquidiert?", "futures_liquidation"),
        ("我的仓位为什么被强平", "futures_liquidation"),
        ("APIエラー -1021", "api_error_codes"),
    ],
)
def test_questions_in_other_languages_suggest_their_flow(question: str, flow_id: str) -> None:
    assert suggest(shipped_flows(), question) is shipped_flows()[flow_id]


@pytest.mark.parametrize(
    "question", ["¿Cuál es la comisión de trading?", "手续费是多少", "Как пройти KYC?"]
)
def test_other_questions_in_other_languages_suggest_no_flow(question: str) -> None:
    assert suggest(shipped_flows(), question) is None


def test_a_broken_flow_file_is_refused_naming_the_problem(tmp_path: Path) -> None:
    base = {"id": "x", "title": "X", "category": "other", "start": "a",
            "steps": {"a": {"question": "Q?", "input": "text", "next": "nowhere"}},
            "outcomes": {"done": {"kind": "message", "text": "Done."}}}  # fmt: skip
    with pytest.raises(FlowError, match="step a goes to unknown 'nowhere'"):
        parse_flow(base, "x.yaml")
    with pytest.raises(FlowError, match="input must be one of"):
        parse_flow({**base, "steps": {"a": {"question": "Q?", "input": "photo", "next": "done"}}},
                   "x.yaml")  # fmt: skip
    with pytest.raises(FlowError, match="a choice step needs choices"):
        parse_flow({**base, "steps": {"a": {"question": "Q?", "input": "choice", "next": "done"}}},
                   "x.yaml")  # fmt: skip
    with pytest.raises(FlowError, match="trigger term False is not text"):
        parse_flow({**base, "steps": {}, "start": "done", "triggers": [[False, "puedo"]]}, "x.yaml")
    (tmp_path / "bad.yaml").write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(FlowError, match=r"bad\.yaml: not valid YAML"):
        load_flows(tmp_path)


def test_flow_texts_are_extracted_for_translation() -> None:
    source = (diagnostics.FLOWS_DIR / "login_2fa.yaml").read_bytes()
    found = [text for _, _, text, _ in extract_flow_messages(io.BytesIO(source), [], [], {})]
    assert "What is stopping you from logging in?" in found
    assert "I forgot my password" in found
    assert "I cannot log in or need to reset 2FA" in found
    assert "reset forgotten password" not in found  # search words are not shown text


# --- what the trader's first message already says ----------------------------------------------

LISTED = {"USDT", "USDC", "BTC", "ETH"}


def given(text: str, networks: NetworkChoices = FIXED_NETWORK_CHOICES) -> dict[str, str]:
    return given_in(text, networks, LISTED.__contains__)


def test_the_first_message_gives_the_network_asset_and_hash_it_names() -> None:
    assert given(f"My USDT deposit on TRC20 has not arrived, txid {TRON_HASH}") == {
        "network": "tron", "asset": "USDT", "tx-hash": TRON_HASH,
    }  # fmt: skip
    assert given("deposit of $BTC missing") == {"asset": "BTC"}


@pytest.mark.parametrize(
    "text",
    [
        "USDT deposit sent on Arbitrum instead of Ethereum",  # two networks: which one?
        "sent USDT and USDC, neither arrived",  # two tickers
        "my usdt deposit has not arrived",  # a ticker in small letters may be a word
        "the base fee was near one dollar, deposit missing",  # everyday words
        "deposit missing, the KYC page says OK",  # capitals the registry does not list
    ],
)
def test_what_a_message_leaves_open_is_asked(text: str) -> None:
    found = given(text)
    assert "network" not in found
    assert found.get("asset") in (None, "USDT")
    assert "USDC" not in found.values()


def test_a_flow_started_from_a_message_skips_the_questions_it_answers() -> None:
    flow = shipped_flows()["deposit_not_arrived"]
    turn = start(flow, given("My USDT deposit on TRC20 has not arrived"))
    assert isinstance(turn, Ask) and turn.step.id == "memo"
    assert turn.state["answers"] == {"network": "tron", "asset": "USDT"}
    turn = advance(flow, turn.state, "1")
    assert isinstance(turn, Ask) and turn.step.id == "tx_hash"


def test_a_given_value_that_does_not_fit_its_step_is_asked_for() -> None:
    flow = shipped_flows()["deposit_not_arrived"]
    # An Ethereum hash for a deposit said to be on TRON: the hash question is asked.
    turn = start(flow, given(f"USDT deposit on TRC20 missing {ETH_HASH}"))
    assert isinstance(turn, Ask) and turn.step.id == "memo"
    turn = advance(flow, turn.state, "1")
    assert isinstance(turn, Ask) and turn.step.id == "tx_hash"


def test_network_names_that_are_everyday_words_are_not_taken_from_a_sentence(
    session: Session,
) -> None:
    import_document(session, SYSTEM, RegistryDocument(networks=real_document().networks, assets=[]))
    networks = network_choices(session)
    assert networks.resolve("base") is not None  # answering "which network?", it is one
    assert "network" not in given("the base fee was near one dollar, deposit missing", networks)
    assert given("my ETH deposit on Base is missing", networks) == {"asset": "ETH"}
    arbitrum = given("my ETH deposit on Arbitrum is missing", networks)
    assert arbitrum == {"network": "arbitrum", "asset": "ETH"}  # ETH is the coin, not Ethereum
    italian = "Il mio deposito USDT su Arbitrum non è arrivato, eppure ero in linea"
    assert given(italian, networks) == {"network": "arbitrum", "asset": "USDT"}
    spanish = "Soy Aurora: mi depósito de USDT en Arbitrum no llegó"
    assert given(spanish, networks) == {"network": "arbitrum", "asset": "USDT"}
