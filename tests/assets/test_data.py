"""The registry's own data: the real part in ``assets/data`` and the generated demo tail."""

from __future__ import annotations

import base64
import random
from collections import Counter

import pytest

from hashdesk.assets.demo import demo_document, generate_tail, real_document
from hashdesk.assets.formats import (
    ADDRESS_FORMATS,
    MEMO_FORMATS,
    TOKEN_FORMATS,
    base58_decode,
    base58check_decode,
    is_checksummed,
)
from hashdesk.assets.schemas import RegistryDocument

# Networks whose deposits are credited to the exchange's shared account only with a memo.
MEMO_NETWORKS = {"xrp": "tag", "stellar": "memo", "ton": "comment", "cosmos": "memo",
                 "eos": "memo", "hedera": "memo", "osmosis": "memo", "injective": "memo"}  # fmt: skip


@pytest.fixture(scope="module")
def document() -> RegistryDocument:
    return demo_document()


@pytest.fixture(scope="module")
def real() -> RegistryDocument:
    return real_document()


def test_the_registry_has_the_size_of_a_large_exchange(document: RegistryDocument) -> None:
    assert len(document.networks) >= 50
    assert len(document.assets) >= 1300
    families = Counter(network.family.value for network in document.networks)
    assert set(families) == {"evm", "utxo", "account", "other"}


def test_ids_and_symbols_are_unique(document: RegistryDocument) -> None:
    slugs = [network.id for network in document.networks]
    assert len(slugs) == len(set(slugs))
    symbols = [asset.symbol.lower() for asset in document.assets]
    assert len(symbols) == len(set(symbols))


def test_evm_networks_have_unique_real_chain_ids(document: RegistryDocument) -> None:
    evm = {n.id: n.chain_id for n in document.networks if n.family.value == "evm"}
    assert all(chain_id for chain_id in evm.values())
    assert len(set(evm.values())) == len(evm)
    # Public facts a support agent checks a wallet's network against.
    assert evm["ethereum"] == 1 and evm["bsc"] == 56 and evm["polygon"] == 137
    assert evm["arbitrum"] == 42161 and evm["optimism"] == 10 and evm["base"] == 8453
    assert evm["avalanche-c"] == 43114


def test_every_network_names_known_formats_and_working_explorers(
    document: RegistryDocument,
) -> None:
    for network in document.networks:
        assert network.address_format in ADDRESS_FORMATS, network.id
        assert network.explorer_tx_url and "{tx}" in network.explorer_tx_url, network.id
        assert network.explorer_address_url and "{address}" in network.explorer_address_url
        assert network.confirmations_unlock >= network.confirmations_credit >= 0
        assert network.block_time_seconds > 0


def test_memo_networks_are_flagged_with_the_name_traders_see(document: RegistryDocument) -> None:
    networks = {n.id: n for n in document.networks}
    for slug, name in MEMO_NETWORKS.items():
        memo = networks[slug].memo
        assert memo is not None and memo.required and memo.name == name, slug
        assert memo.format in MEMO_FORMATS
    assert networks["ethereum"].memo is None and networks["bitcoin"].memo is None


def test_well_known_evm_contracts_are_eip55_checksummed(real: RegistryDocument) -> None:
    networks = {n.id: n for n in real.networks}
    evm_contracts = [(a.symbol, d.network, d.contract) for a in real.assets for d in a.networks
                     if d.contract and networks[d.network].token_format == "evm"]  # fmt: skip
    assert len(evm_contracts) > 100
    for symbol, network, contract in evm_contracts:
        assert contract is not None and is_checksummed(contract), (symbol, network, contract)


def test_well_known_contracts_are_the_public_ones(real: RegistryDocument) -> None:
    contracts = {(a.symbol, d.network): d.contract for a in real.assets for d in a.networks}
    assert contracts[("USDT", "ethereum")] == "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    assert contracts[("USDT", "tron")] == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    assert contracts[("USDC", "solana")] == "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    assert contracts[("USDC", "base")] == "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    decimals = {(a.symbol, d.network): d.decimals for a in real.assets for d in a.networks}
    # The classic support trap: the same stablecoin has 6 decimals here and 18 on BSC.
    assert decimals[("USDT", "ethereum")] == 6 and decimals[("USDT", "bsc")] == 18
    assert decimals[("WBTC", "ethereum")] == 8


def test_tron_and_solana_contracts_decode(real: RegistryDocument) -> None:
    for asset in real.assets:
        for row in asset.networks:
            if row.contract and row.network == "tron":
                payload = base58check_decode(row.contract)
                assert payload is not None and payload[0] == 0x41, asset.symbol
            if row.contract and row.network == "solana":
                raw = base58_decode(row.contract)
                assert raw is not None and len(raw) == 32, asset.symbol


def test_every_contract_fits_its_network_and_natives_have_none(document: RegistryDocument) -> None:
    networks = {n.id: n for n in document.networks}
    for asset in document.assets:
        for row in asset.networks:
            network = networks[row.network]
            if row.contract is None:
                assert asset.symbol == network.native_asset, (asset.symbol, row.network)
            else:
                assert network.token_format is not None, (asset.symbol, row.network)
                assert TOKEN_FORMATS[network.token_format](row.contract) is None, (
                    asset.symbol,
                    row.network,
                )


def test_every_network_has_its_native_coin_in_the_registry(document: RegistryDocument) -> None:
    natives = {
        (a.symbol, d.network) for a in document.assets for d in a.networks if d.contract is None
    }
    for network in document.networks:
        assert (network.native_asset, network.id) in natives, network.id


def test_closed_deposits_and_withdrawals_say_why(document: RegistryDocument) -> None:
    rows = [row for asset in document.assets for row in asset.networks]
    closed = [row for row in rows if not row.deposit_enabled or not row.withdraw_enabled]
    assert closed, "the demo should show closed deposits or withdrawals"
    for row in closed:
        assert row.deposit_enabled or row.deposit_disabled_reason
        assert row.withdraw_enabled or row.withdraw_disabled_reason


def test_the_long_tail_is_deterministic_synthetic_and_flagged(document: RegistryDocument) -> None:
    real_symbols = {a.symbol for a in real_document().assets}
    tail = [a for a in document.assets if a.symbol not in real_symbols]
    assert tail and all(a.demo and a.name.endswith("Demo Token") for a in tail)
    assert not any(a.demo for a in document.assets if a.symbol in real_symbols)
    again = generate_tail(random.Random(1300), len(tail), {s.upper() for s in real_symbols})
    assert [a.model_dump() for a in again] == [a.model_dump() for a in tail]


def test_generated_ton_contracts_carry_a_valid_crc(document: RegistryDocument) -> None:
    ton = [row.contract for asset in document.assets for row in asset.networks
           if row.network == "ton" and row.contract]  # fmt: skip
    assert ton
    for contract in ton:
        assert contract is not None and len(base64.urlsafe_b64decode(contract)) == 36
        assert ADDRESS_FORMATS["ton"].check(contract) is None
