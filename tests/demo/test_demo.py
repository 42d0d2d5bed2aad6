"""``hashdesk demo load`` and ``hashdesk demo banner`` through the real CLI, on the test database."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.models import Agent, Trader
from hashdesk.assets.formats import check_address, check_tx_hash
from hashdesk.cli import main
from hashdesk.config import get_settings
from hashdesk.core.clock import utcnow
from hashdesk.demo import onchain
from hashdesk.demo.loader import RECENT, creation_times, final_states
from hashdesk.demo.people import DEMO_PASSWORD, demo_logins
from hashdesk.tickets.models import Status, Ticket, TicketEntry

SMALL = ["demo", "load", "--traders", "30", "--tickets", "40", "--seed", "5"]


def run(cli: CliRunner, args: list[str]) -> Result:
    result = cli.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def tickets_of(session: Session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def test_if_empty_is_a_no_op_and_the_same_seed_gives_the_same_tickets(
    cli: CliRunner, session: Session
) -> None:
    loaded = session
    run(cli, SMALL)
    first = [(t.subject, t.category, t.status) for t in tickets_of(loaded)]
    counts = (len(first), loaded.scalar(select(func.count(TicketEntry.id))))

    result = run(cli, ["demo", "load", "--if-empty"])
    assert "not loaded" in result.output
    loaded.expire_all()
    assert (len(tickets_of(loaded)), loaded.scalar(select(func.count(TicketEntry.id)))) == counts

    run(cli, SMALL)  # again, without --if-empty: staff and traders are reused, tickets added
    loaded.expire_all()
    again = [(t.subject, t.category, t.status) for t in tickets_of(loaded)][len(first) :]
    assert again == first
    assert loaded.scalar(select(func.count(Agent.id))) == 20
    assert loaded.scalar(select(func.count(Trader.id))) == 30


def test_banner_names_every_address_and_a_login_per_role(cli: CliRunner) -> None:
    output = run(cli, ["demo", "banner", "--url", "http://127.0.0.1:8123/"]).output
    for path in ("/portal ", "/portal/sign-in", "/console", "/docs", "/openapi.json"):
        assert f"http://127.0.0.1:8123{path}" in output
    for email in demo_logins().values():
        assert email in output
    assert DEMO_PASSWORD in output


@pytest.mark.parametrize("network", sorted(onchain.NETWORK_ASSETS))
def test_generated_hashes_and_addresses_validate(network: str) -> None:
    rng = random.Random(network)
    for _ in range(200):
        move = onchain.transfer(rng, network)
        assert check_tx_hash(network, move.tx_hash) is None
        assert check_address(network, move.address) is None
        assert (move.memo != "") == (network == "xrp")


def test_eip55_matches_the_published_example() -> None:
    assert onchain.eip55("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    )


def test_every_state_is_planned_even_for_a_tiny_demo() -> None:
    now = utcnow()
    for seed in range(20):
        rng = random.Random(seed)
        times = creation_times(rng, 20, now)
        assert times == sorted(times) and all(t < now for t in times)
        states = final_states(rng, times, now)
        assert set(states) == set(Status)
        assert any(
            state in (Status.OPEN, Status.PENDING, Status.ESCALATED) and now - moment > RECENT
            for state, moment in zip(states, times, strict=True)
        )


def test_segwit_address_matches_the_bip173_example() -> None:
    program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    assert onchain.segwit_v0_address("bc", program) == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def test_load_on_an_unmigrated_database_says_to_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["demo", "load", "--if-empty"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "Run `hashdesk migrate` first" in result.output
    assert "Traceback" not in result.output


def test_a_configured_triage_model_dir_gets_the_demo_model_once(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hashdesk.assistant.triage.model import Classifier

    monkeypatch.setenv("HASHDESK_TRIAGE_MODEL_DIR", str(tmp_path / "triage"))
    get_settings.cache_clear()
    first = run(cli, [*SMALL, "--no-help-center"])
    assert "Triage model ready" in first.output
    [prediction] = Classifier.load(tmp_path / "triage").predict(["my USDT deposit never arrived"])
    assert prediction.label is not None
    again = run(cli, ["demo", "load", "--if-empty"])
    assert "Training" not in again.output


def test_a_configured_reserves_dir_gets_a_proof_of_reserves_of_the_demo_traders_once(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, session: Session
) -> None:
    from hashdesk.reserves.queries import get_latest_build, get_proof
    from hashdesk.reserves.verify import verify_document

    monkeypatch.setenv("HASHDESK_RESERVES_DIR", str(tmp_path / "reserves"))
    get_settings.cache_clear()
    first = run(cli, [*SMALL, "--no-help-center"])
    assert "Proof of reserves of 30 demo accounts published" in first.output
    build = get_latest_build(tmp_path / "reserves")
    trader = session.scalars(select(Trader).order_by(Trader.id)).first()
    assert trader is not None and build.leaf_count == 30
    proof = get_proof(build, trader.external_id)
    assert proof is not None and verify_document(proof).ok
    assert proof["root"]["hash"] == build.root_hash
    again = run(cli, ["demo", "load", "--if-empty"])
    assert "Proof of reserves" not in again.output
