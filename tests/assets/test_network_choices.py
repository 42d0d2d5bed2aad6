"""How a trader's words name a network: a slug, alias or name alone, or inside a phrase,
and what a trader is told when none is named."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from hashdesk.assets.demo import real_document
from hashdesk.assets.queries import (
    FIXED_NETWORK_CHOICES,
    NetworkChoices,
    asset_exists,
    network_choices,
    unknown_network,
)
from hashdesk.assets.schemas import RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.core.auth import SYSTEM
from hashdesk.runtime import Runtime


@pytest.fixture
def registry_networks(runtime: Runtime) -> NetworkChoices:
    with runtime.database.transaction() as session:
        import_document(
            session, SYSTEM, RegistryDocument(networks=real_document().networks, assets=[])
        )
    with runtime.database.session() as session:
        return network_choices(session)


def slug_of(networks: NetworkChoices, text: str) -> str | None:
    found = networks.resolve(text)
    return found.slug if found else None


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("tron", "tron"),
        ("  TRC20 ", "tron"),
        ("USDT on Tron", "tron"),
        ("Ethereum (ERC20)", "ethereum"),
        ("the bitcoin network.", "bitcoin"),
        ("I used BEP20", "bsc"),
        ("avax c-chain please", "avalanche"),
    ],
)
def test_a_network_is_named_alone_or_in_a_phrase(text: str, slug: str) -> None:
    assert slug_of(FIXED_NETWORK_CHOICES, text) == slug


@pytest.mark.parametrize(
    "text", ["Arbitrum or Ethereum", "from tron to bitcoin", "my wallet", "", "etherium"]
)
def test_two_networks_or_none_name_nothing(text: str) -> None:
    assert slug_of(FIXED_NETWORK_CHOICES, text) is None


def test_the_longest_spelling_in_a_phrase_wins(registry_networks: NetworkChoices) -> None:
    assert slug_of(registry_networks, "bitcoin") == "bitcoin"
    cash = registry_networks.resolve("Bitcoin Cash")
    assert cash is not None and cash.slug != "bitcoin"
    assert slug_of(registry_networks, "sent on the bitcoin cash network") == cash.slug


def test_a_misspelt_network_is_suggested() -> None:
    assert [n.slug for n in FIXED_NETWORK_CHOICES.suggest("etherium")][:1] == ["ethereum"]
    assert [n.slug for n in FIXED_NETWORK_CHOICES.suggest("solanna")][:1] == ["solana"]
    assert FIXED_NETWORK_CHOICES.suggest("zzzz") == []


def test_an_unknown_network_is_answered_with_a_few_names_not_every_slug(
    registry_networks: NetworkChoices,
) -> None:
    message, values = unknown_network(registry_networks, "polygone")
    assert message == "Unknown network {network}. Did you mean {suggestions}?"
    assert values["network"] == "polygone"
    assert values["suggestions"].startswith("Polygon")
    assert len(values["suggestions"].split(", ")) <= 3

    message, values = unknown_network(registry_networks, "my usual one")
    assert message.endswith("Name it as your wallet does, such as {suggestions}.")
    assert values["suggestions"] == (
        "Bitcoin (bitcoin), Ethereum (ethereum), TRON (tron), BNB Smart Chain (bsc), Solana (solana)"
    )


def test_an_asset_is_known_by_its_symbol_in_any_case(registry: Runtime, session: Session) -> None:
    assert asset_exists(session, "USDT") and asset_exists(session, "usdt")
    assert not asset_exists(session, "KYC")  # capitals in a message that name no asset
