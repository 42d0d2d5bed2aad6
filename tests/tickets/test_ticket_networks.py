"""The ticket's network is one of the asset registry's networks: offered by name on the
portal's form, accepted by slug, alias or name (stored as the slug), and the transaction hash
and address are checked in that network's registry formats. An empty registry (a fresh
database) keeps the fixed list of ``formats.NETWORKS``."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from hashdesk.assets.demo import real_document
from hashdesk.assets.formats import NETWORKS
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.errors import InvalidInput
from hashdesk.runtime import Runtime
from tests.conftest import login_trader, make_trader, open_ticket
from tests.tickets.test_pages import field_error, only_ticket, sign_in_trader, ticket_form

# Dogecoin is in the registry (data/networks.json) but not in the old fixed list. Real values:
# the Dogecoin Foundation's donation address and the coinbase of Dogecoin's genesis block.
DOGE_ADDRESS = "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"
DOGE_TX = "5b2a3f53f605d62c53e62932dac6925e3d74afa5a4b459745c36d42d0ed26a69"
BTC_GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
ETH_TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"


@pytest.fixture
def registry(runtime: Runtime) -> Runtime:
    """The registry's real networks (79), imported as ``hashdesk assets import`` does."""
    networks = real_document().networks
    with runtime.database.transaction() as session:
        import_document(session, SYSTEM, RegistryDocument(networks=networks, assets=[]))
    return runtime


def network_options(page: Response) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of each choice of the form's network select."""
    select = re.search(r'<select[^>]*name="fields\.network".*?</select>', page.text, re.S)
    assert select, "the form has no network select"
    options = re.findall(r'<option value="([^"]*)"\s*(selected)?>([^<]*)</option>', select[0])
    return [(value, unescape(label), bool(chosen)) for value, chosen, label in options if value]


def deposit(network: str, **fields: str) -> dict[str, str]:
    return {"network": network, "asset": "DOGE", **fields}


# --- the portal's form ------------------------------------------------------------------------


def test_the_form_offers_every_registry_network_sorted_by_name(
    registry: Runtime, client: TestClient, session: Session, settings: Settings
) -> None:
    sign_in_trader(client, settings, make_trader(session))
    options = network_options(client.get("/portal/new"))

    assert len(options) == len(real_document().networks) > len(NETWORKS)
    assert ("dogecoin", "Dogecoin", False) in options
    assert ("avalanche-c", "Avalanche C-Chain", False) in options
    labels = [label for _, label, _ in options]
    assert labels == sorted(labels, key=str.lower)


def test_an_empty_registry_keeps_the_fixed_list_on_the_form(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sign_in_trader(client, settings, make_trader(session))
    options = network_options(client.get("/portal/new"))
    assert sorted(value for value, _, _ in options) == sorted(NETWORKS)


@pytest.mark.parametrize(
    ("named", "chosen"),
    [("dogecoin", "dogecoin"), ("TRC20", "tron"), ("avalanche", "avalanche-c")],
)
def test_a_link_that_names_a_network_fills_in_its_choice(
    registry: Runtime, client: TestClient, session: Session, settings: Settings, named: str,
    chosen: str,
) -> None:  # fmt: skip
    sign_in_trader(client, settings, make_trader(session))
    page = client.get("/portal/new", params={"category": "deposit", "fields.network": named})
    assert [value for value, _, selected in network_options(page) if selected] == [chosen]


def test_a_link_naming_an_unknown_network_shows_it_and_sending_names_the_problem(
    registry: Runtime, client: TestClient, session: Session, settings: Settings
) -> None:
    token = sign_in_trader(client, settings, make_trader(session))
    page = client.get("/portal/new", params={"fields.network": "dogechain"})
    assert [value for value, _, selected in network_options(page) if selected] == ["dogechain"]

    refused = client.post("/portal/new", data=ticket_form(csrf_token=token, **{
        "fields.network": "dogechain", "fields.asset": "DOGE"}))  # fmt: skip
    assert refused.status_code == 422
    assert "Unknown network dogechain" in field_error(refused, "fields.network")


def test_a_trader_sends_the_form_for_a_registry_network_outside_the_old_list(
    registry: Runtime, client: TestClient, session: Session, settings: Settings
) -> None:
    token = sign_in_trader(client, settings, make_trader(session))
    sent = ticket_form(csrf_token=token, **{
        "fields.network": "dogecoin", "fields.asset": "DOGE", "fields.tx_hash": DOGE_TX})  # fmt: skip
    created = client.post("/portal/new", data=sent, follow_redirects=False)
    assert created.status_code == 303, created.text
    assert only_ticket(session).fields == deposit("dogecoin", tx_hash=DOGE_TX)

    refused = client.post("/portal/new", data={**sent, "fields.tx_hash": ETH_TX})
    assert refused.status_code == 422
    assert "no 0x prefix" in field_error(refused, "fields.tx_hash")
    assert [value for value, _, selected in network_options(refused) if selected] == ["dogecoin"]


# --- the ticket check -------------------------------------------------------------------------


def test_a_registry_network_is_accepted_with_its_own_formats(
    registry: Runtime, session: Session
) -> None:
    fields = deposit("dogecoin", tx_hash=DOGE_TX, address=DOGE_ADDRESS)
    ticket = open_ticket(session, make_trader(session), category="deposit", fields=fields)
    assert ticket.fields == fields


@pytest.mark.parametrize(
    ("named", "slug"),
    [("DOGE", "dogecoin"), ("Dogecoin", "dogecoin"), ("avalanche", "avalanche-c"),
     ("BEP20", "bsc"), ("binance  smart chain", "bsc"), ("Ethereum", "ethereum")],
)  # fmt: skip
def test_an_alias_or_name_in_any_case_is_stored_as_the_slug(
    registry: Runtime, session: Session, named: str, slug: str
) -> None:
    ticket = open_ticket(session, make_trader(session), category="deposit", fields=deposit(named))
    assert ticket.fields["network"] == slug


@pytest.mark.parametrize(
    ("fields", "field", "why"),
    [
        (deposit("dogecoin", tx_hash=ETH_TX), "fields.tx_hash", "no 0x prefix"),
        (deposit("doge", address=BTC_GENESIS_ADDRESS), "fields.address", "not a valid Dogecoin address"),
        (deposit("algorand", tx_hash=DOGE_TX), "fields.tx_hash", "Algorand transaction id"),
        (deposit("bitcoin", address=DOGE_ADDRESS), "fields.address", "not an address of this network"),
    ],
)  # fmt: skip
def test_a_hash_or_address_in_another_networks_format_is_refused_naming_the_field(
    registry: Runtime, session: Session, fields: dict[str, str], field: str, why: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_ticket(session, make_trader(session), category="deposit", fields=fields)
    assert refused.value.field == field
    assert why in str(refused.value)


@pytest.mark.parametrize(
    ("network", "memo"),
    [("xrp", "3523801912"), ("stellar", "4815162342"), ("stellar", "Invoice 4471"),
     ("ton", "u-1001 deposit"), ("cosmos", "104837263"),
     ("ethereum", "whatever the trader pasted")],  # no memos on Ethereum: kept as written
)  # fmt: skip
def test_a_memo_in_its_networks_format_is_accepted(
    registry: Runtime, session: Session, network: str, memo: str
) -> None:
    ticket = open_ticket(session, make_trader(session), category="deposit",
                         fields=deposit(network, memo=memo))  # fmt: skip
    assert ticket.fields["memo"] == memo


@pytest.mark.parametrize(
    ("network", "memo", "why"),
    [("xrp", "rN7n3473SaZBCG4dFL83w7a1RXtXtbk2D9", "destination tag is a whole number"),
     ("XRP Ledger", "4294967296", "destination tag is a whole number"),
     ("stellar", "a text memo longer than twenty-eight bytes", "at most 28 bytes"),
     ("ton", "x" * 121, "at most 120 bytes")],
)  # fmt: skip
def test_a_memo_that_cannot_be_its_networks_is_refused_naming_the_field(
    registry: Runtime, session: Session, network: str, memo: str, why: str
) -> None:
    # An address pasted where the tag goes is the classic mistake behind lost XRP deposits.
    with pytest.raises(InvalidInput) as refused:
        open_ticket(session, make_trader(session), category="deposit",
                    fields=deposit(network, memo=memo))  # fmt: skip
    assert refused.value.field == "fields.memo"
    assert why in str(refused.value)


def test_the_form_shows_a_wrong_tag_beside_the_memo_field(
    registry: Runtime, client: TestClient, session: Session, settings: Settings
) -> None:
    token = sign_in_trader(client, settings, make_trader(session))
    sent = ticket_form(csrf_token=token, **{
        "fields.network": "xrp", "fields.asset": "XRP", "fields.memo": "tag 12"})  # fmt: skip
    refused = client.post("/portal/new", data=sent)
    assert refused.status_code == 422
    assert "whole number from 0 to 4294967295" in field_error(refused, "fields.memo")
    accepted = client.post("/portal/new", data={**sent, "fields.memo": "12"},
                           follow_redirects=False)  # fmt: skip
    assert accepted.status_code == 303, accepted.text
    assert only_ticket(session).fields["memo"] == "12"


def test_an_unknown_network_is_refused_naming_the_closest_registry_networks(
    registry: Runtime, session: Session
) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_ticket(session, make_trader(session), category="deposit", fields=deposit("dogechain"))
    assert refused.value.field == "fields.network"
    assert str(refused.value).startswith(
        "Unknown network dogechain. Did you mean Dogecoin (dogecoin)"
    )
    assert "avalanche-c" not in str(refused.value)  # not the registry's every slug


def test_a_network_named_in_a_phrase_is_stored_as_its_slug(
    registry: Runtime, session: Session
) -> None:
    ticket = open_ticket(session, make_trader(session), category="deposit",
                         fields=deposit("Dogecoin network (DOGE)"))  # fmt: skip
    assert ticket.fields["network"] == "dogecoin"


def test_an_empty_registry_keeps_the_fixed_list(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        open_ticket(session, make_trader(session), category="deposit", fields=deposit("dogecoin"))
    assert refused.value.field == "fields.network"
    refusal = str(refused.value)
    assert refusal.startswith("Unknown network dogecoin.")
    assert any(f"({slug})" in refusal for slug in NETWORKS)
    ticket = open_ticket(session, make_trader(session), category="deposit",
                         fields=deposit("Avalanche"))  # fmt: skip
    assert ticket.fields["network"] == "avalanche"


def test_without_a_network_a_hash_of_any_known_network_is_accepted(
    registry: Runtime, session: Session
) -> None:
    # A security report names a network only when the trader knows it.
    ticket = open_ticket(session, make_trader(session), category="security",
                         fields={"tx_hash": DOGE_TX})  # fmt: skip
    assert ticket.fields == {"tx_hash": DOGE_TX}
    with pytest.raises(InvalidInput) as refused:
        open_ticket(session, make_trader(session), category="security", fields={"tx_hash": "0x12"})
    assert refused.value.field == "fields.tx_hash"
    assert "This is not a transaction hash" in str(refused.value)


# --- the API ------------------------------------------------------------------------------------


def test_the_api_accepts_an_alias_and_answers_with_the_slug(
    registry: Runtime, client: TestClient, session: Session, settings: Settings
) -> None:
    login_trader(client, settings, make_trader(session))
    created = client.post("/api/v1/tickets", json={
        "category": "deposit", "subject": "DOGE deposit missing",
        "description": "Sent 500 DOGE an hour ago.", "fields": deposit("doge", tx_hash=DOGE_TX)})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["fields"] == deposit("dogecoin", tx_hash=DOGE_TX)

    refused = client.post("/api/v1/tickets", json={
        "category": "deposit", "subject": "DOGE deposit missing",
        "description": "Sent 500 DOGE.", "fields": deposit("doge", tx_hash=ETH_TX)})  # fmt: skip
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["fields.tx_hash"]
