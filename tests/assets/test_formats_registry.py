"""The registry's format kinds: real addresses pass, one wrong character fails."""

from __future__ import annotations

import pytest

from hashdesk.assets.formats import (
    ADDRESS_FORMATS,
    TOKEN_FORMATS,
    TX_HASH_FORMATS,
    address_formats_accepting,
    check_memo,
    to_checksum_address,
)

# Public addresses (token contracts, a well-known exchange wallet, spec examples).
VALID = {
    "evm": "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    "bitcoin": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "bitcoin-cash": "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
    "dogecoin": "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L",
    "tron": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
    "solana": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
    "xrp": "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh",
    "stellar": "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
    "ton": "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs",
    "polkadot": "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
    "tezos": "tz1VSUr8wwNhLAzempoch5d6hLRiTh8Cjcjb",
    "cosmos": "cosmos1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu",
    "algorand": "VCMJKWOY5P5P7SKMZFFOCEROPJCZOTIJMNIYNUCKH7LRO45JMJP6UYBIJA",
    "near": "usdt.tether-token.near",
    "hedera": "0.0.456858",
    "eos": "tethertether",
}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_real_address_passes_its_format(kind: str) -> None:
    assert ADDRESS_FORMATS[kind].check(VALID[kind]) is None


# Names (NEAR, Hedera, EOS) and Solana keys carry no checksum: any key is a valid address.
@pytest.mark.parametrize("kind", sorted(set(VALID) - {"near", "hedera", "eos", "solana"}))
def test_one_changed_character_fails_the_checksum(kind: str) -> None:
    value = VALID[kind]
    position = len(value) - 3
    replacement = "q" if value[position] != "q" else "p"
    if kind in ("stellar", "algorand"):
        replacement = "A" if value[position] != "A" else "B"
    if kind == "evm":  # its checksum is in the letters' case
        position = max(i for i, char in enumerate(value) if char.isalpha() and i > 1)
        replacement = value[position].swapcase()
    changed = value[:position] + replacement + value[position + 1 :]
    assert ADDRESS_FORMATS[kind].check(changed) is not None


def test_the_substrate_alice_key_decodes_under_its_own_prefix_only() -> None:
    from hashdesk.assets.formats import _ss58

    alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    assert _ss58(42, "Substrate")(alice) is None
    assert ADDRESS_FORMATS["polkadot"].check(alice) is not None


def test_eip55_encoding_round_trips() -> None:
    assert to_checksum_address("0xdac17f958d2ee523a2206206994597c13d831ec7") == VALID["evm"]


def test_which_formats_accept_an_address() -> None:
    assert address_formats_accepting(VALID["bitcoin"]) == ["bitcoin"]
    assert address_formats_accepting(VALID["tron"]) == ["tron"]
    assert address_formats_accepting(VALID["xrp"]) == ["xrp"]
    assert address_formats_accepting("0x" + "ab" * 32) == ["aptos", "sui", "starknet"]
    assert address_formats_accepting("") == []
    assert address_formats_accepting("x" * 500) == []


def test_memo_formats() -> None:
    assert check_memo("xrp-tag", "4294967295") is None
    assert check_memo("xrp-tag", "4294967296") is not None
    assert check_memo("xrp-tag", "abc") is not None
    assert check_memo("stellar-memo", "18446744073709551615") is None
    assert check_memo("stellar-memo", "x" * 29) is not None
    assert check_memo("ton-comment", "  ") is not None


def test_token_and_hash_formats() -> None:
    assert TOKEN_FORMATS["asset-id"]("31566704") is None
    assert TOKEN_FORMATS["asset-id"]("0x12") is not None
    assert TOKEN_FORMATS["sui-coin-type"]("0xdba3::usdc::USDC") is None
    assert TX_HASH_FORMATS["evm"]("0x" + "a" * 64) is None
    assert TX_HASH_FORMATS["hex-any"]("0x" + "a" * 64) is None
    assert TX_HASH_FORMATS["hex-any"]("a" * 64) is None
    assert TX_HASH_FORMATS["hedera"]("0.0.1234@1700000000.123456789") is None
