"""The agents' quick lookup, over the whole demo registry (built without a database)."""

from __future__ import annotations

import pytest

from hashdesk.assets.demo import demo_document
from hashdesk.assets.index import RegistryIndex, snapshot_from_document
from hashdesk.assets.schemas import LookupResults


@pytest.fixture(scope="module")
def index() -> RegistryIndex:
    return RegistryIndex(snapshot_from_document(demo_document()))


def _first(results: LookupResults) -> tuple[str, str, str]:
    hit = results.hits[0]
    label = hit.symbol if hit.kind == "asset" else hit.network.id if hit.network else ""
    return hit.kind, hit.matched_by, label or ""


def _networks(results: LookupResults, position: int = 0) -> list[str]:
    return [d.network for d in results.hits[position].deployments]


def test_by_symbol_in_any_case(index: RegistryIndex) -> None:
    for query in ("USDT", "usdt", "  Usdt "):
        assert _first(index.lookup(query)) == ("asset", "symbol", "USDT")
    assert {"ethereum", "tron", "bsc", "solana"} <= set(_networks(index.lookup("usdt")))


def test_a_symbol_prefix_finds_the_symbols_it_starts(index: RegistryIndex) -> None:
    symbols = [hit.symbol for hit in index.lookup("wbt").hits]
    assert symbols[0] == "WBTC"


def test_by_name_and_by_the_start_of_its_words(index: RegistryIndex) -> None:
    assert _first(index.lookup("Tether USD")) == ("asset", "name", "USDT")
    symbols = [hit.symbol for hit in index.lookup("wrapped bit").hits]
    assert symbols == ["WBTC"]


def test_by_contract_in_any_case_on_evm(index: RegistryIndex) -> None:
    for query in ("0xdAC17F958D2ee523a2206206994597C13D831ec7",
                  "0xdac17f958d2ee523a2206206994597c13d831ec7",
                  "0XDAC17F958D2EE523A2206206994597C13D831EC7".replace("0X", "0x")):  # fmt: skip
        results = index.lookup(query)
        assert _first(results) == ("asset", "contract", "USDT")
        assert _networks(results) == ["ethereum"]


def test_a_contract_shared_by_two_networks_names_both(index: RegistryIndex) -> None:
    results = index.lookup("0xDA10009cBd5D07dd0CeCc66161FC93D7c9000da1")
    contract_hits = [hit for hit in results.hits if hit.matched_by == "contract"]
    assert {hit.symbol for hit in contract_hits} == {"DAI"}
    assert {d.network for hit in contract_hits for d in hit.deployments} == {"arbitrum", "optimism"}


def test_non_evm_contracts_match_exactly(index: RegistryIndex) -> None:
    assert _networks(index.lookup("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")) == ["tron"]
    assert _first(index.lookup("tethertether")) == ("asset", "contract", "USDT")
    assert index.lookup("tr7nhqjekqxgtci8q8zy4pl8otszgjlj6t").hits == []


def test_an_asset_narrowed_to_a_network_by_name_or_token_standard(index: RegistryIndex) -> None:
    for query, network in (("usdt trc20", "tron"), ("USDT TRC20", "tron"), ("usdc on base", "base"),
                           ("tron usdt", "tron"), ("USDT BEP20", "bsc"), ("usdc arbitrum one", "arbitrum")):  # fmt: skip
        results = index.lookup(query)
        assert results.hits[0].symbol in ("USDT", "USDC"), query
        assert _networks(results) == [network], query
    usdt_bsc = index.lookup("usdt bep20").hits[0].deployments[0]
    assert (
        usdt_bsc.decimals == 18
        and usdt_bsc.contract == "0x55d398326f99059fF775485246999027B3197955"
    )


def test_a_network_by_name_or_alias(index: RegistryIndex) -> None:
    assert _first(index.lookup("arbitrum")) == ("network", "network", "arbitrum")
    assert _first(index.lookup("Avalanche C-Chain")) == ("network", "network", "avalanche-c")
    hit = index.lookup("xrpl").hits[0]
    assert hit.network is not None and hit.network.memo_name == "tag" and hit.network.memo_required


def test_an_address_names_the_networks_whose_format_it_fits(index: RegistryIndex) -> None:
    results = index.lookup("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    assert results.address_formats == ["bitcoin"]
    assert [(h.kind, h.matched_by, h.network.id if h.network else "") for h in results.hits] == [
        ("network", "address", "bitcoin")
    ]
    results = index.lookup("rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh")
    assert [h.network.id for h in results.hits if h.network] == ["xrp"]
    results = index.lookup("cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu")
    assert [h.network.id for h in results.hits if h.network] == ["cosmos"]


def test_an_evm_address_that_is_no_contract_lists_every_evm_network(index: RegistryIndex) -> None:
    results = index.lookup("0x" + "12" * 20, limit=50)
    networks = {h.network.id for h in results.hits if h.network}
    assert results.address_formats == ["evm"]
    assert {"ethereum", "bsc", "polygon", "arbitrum", "base"} <= networks
    assert all(h.matched_by == "address" for h in results.hits)


def test_a_word_that_could_be_an_eos_account_is_an_asset_first(index: RegistryIndex) -> None:
    results = index.lookup("usdt")
    assert results.address_formats == []
    assert all(hit.kind == "asset" for hit in results.hits)
    results = index.lookup("zzzz1")
    assert results.address_formats == ["eos"]
    assert [h.network.id for h in results.hits if h.network] == ["eos"]


def test_real_assets_rank_before_demo_ones_and_limits_hold(index: RegistryIndex) -> None:
    results = index.lookup("b", limit=5)
    assert len(results.hits) == 5
    demo_flags = [hit.demo for hit in results.hits if hit.kind == "asset"]
    assert demo_flags == sorted(demo_flags)


def test_nothing_matches_nonsense_and_an_empty_query_is_empty(index: RegistryIndex) -> None:
    assert index.lookup("§§§ nothing here").hits == []
    assert index.lookup("   ").hits == []


def test_closed_deposits_and_network_status_show_in_the_hit(index: RegistryIndex) -> None:
    usdc_tron = index.lookup("usdc trc20").hits[0].deployments[0]
    assert not usdc_tron.deposit_enabled and usdc_tron.deposit_disabled_reason
    fantom = index.lookup("fantom").hits[0].network
    assert fantom is not None and fantom.status == "maintenance" and fantom.status_reason
