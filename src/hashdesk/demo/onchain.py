"""Realistic-looking addresses and transaction hashes for demo tickets.

They are random (no funds behind them) but well formed: real base58check checksums, EIP-55
capitalisation, the right prefixes and lengths, so the ticket form's validators in
``hashdesk.assets.formats`` accept them just as they would accept a trader's paste.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from Crypto.Hash import keccak

from hashdesk.assets.formats import (
    BASE58_ALPHABET,
    BECH32_CHARSET,
    bech32_hrp_expand,
    bech32_polymod,
    check_address,
    check_tx_hash,
)

# The XRP Ledger's base58 alphabet: the same characters as Bitcoin's, in another order, so that
# version byte 0 encodes as a leading "r".
XRP_ALPHABET = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"
EVM_NETWORKS = ("ethereum", "bsc", "polygon", "arbitrum", "optimism", "base", "avalanche")
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Transfer:
    """What a trader pastes into a deposit or withdrawal ticket."""

    network: str
    asset: str
    amount: str
    tx_hash: str
    address: str
    memo: str = ""


# network -> (assets with a plausible amount range); weights follow what traders move most.
NETWORK_ASSETS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "tron": (("USDT", 50, 25_000),),
    "ethereum": (("USDT", 100, 50_000), ("ETH", 0.05, 20), ("USDC", 100, 30_000)),
    "bsc": (("USDT", 20, 10_000), ("BNB", 0.1, 40)),
    "bitcoin": (("BTC", 0.001, 2),),
    "solana": (("SOL", 1, 400), ("USDC", 50, 20_000)),
    "arbitrum": (("ETH", 0.02, 10), ("USDC", 50, 10_000)),
    "polygon": (("USDT", 10, 5_000), ("POL", 20, 8_000)),
    "base": (("USDC", 20, 8_000), ("ETH", 0.01, 5)),
    "xrp": (("XRP", 50, 50_000),),
    "litecoin": (("LTC", 0.5, 200),),
    "optimism": (("ETH", 0.02, 8),),
    "avalanche": (("AVAX", 1, 500),),
}
NETWORK_WEIGHTS: dict[str, float] = {
    "tron": 30, "ethereum": 20, "bsc": 14, "bitcoin": 10, "solana": 9, "arbitrum": 5,
    "polygon": 4, "base": 3, "xrp": 2, "litecoin": 1.5, "optimism": 1, "avalanche": 1,
}  # fmt: skip


def base58_encode(raw: bytes, alphabet: str = BASE58_ALPHABET) -> str:
    number = int.from_bytes(raw, "big")
    encoded = ""
    while number:
        number, remainder = divmod(number, 58)
        encoded = alphabet[remainder] + encoded
    leading_zeros = len(raw) - len(raw.lstrip(b"\x00"))
    return alphabet[0] * leading_zeros + encoded


def base58check(payload: bytes, alphabet: str = BASE58_ALPHABET) -> str:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return base58_encode(payload + checksum, alphabet)


def eip55(body: str) -> str:
    """``body`` (40 lower-case hex characters) with its EIP-55 checksum capitalisation."""
    digest = keccak.new(digest_bits=256, data=body.encode()).hexdigest()
    return "0x" + "".join(
        char.upper() if char.isalpha() and int(nibble, 16) >= 8 else char
        for char, nibble in zip(body, digest[: len(body)], strict=True)
    )


def segwit_v0_address(hrp: str, program: bytes) -> str:
    """A BIP-173 (bech32, witness version 0) address of a 20- or 32-byte program."""
    bits = "".join(f"{byte:08b}" for byte in program)
    bits += "0" * (-len(bits) % 5)
    data = [0] + [int(bits[i : i + 5], 2) for i in range(0, len(bits), 5)]
    polymod = bech32_polymod(bech32_hrp_expand(hrp) + data + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def _random_bytes(rng: random.Random, count: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(count))


def _address_once(rng: random.Random, network: str) -> str:
    if network in EVM_NETWORKS:
        return eip55(_random_bytes(rng, 20).hex())
    if network == "tron":
        return base58check(b"\x41" + _random_bytes(rng, 20))
    if network == "bitcoin":
        if rng.random() < 0.7:  # most traders now use native segwit addresses
            return segwit_v0_address("bc", _random_bytes(rng, 20))
        return base58check(b"\x00" + _random_bytes(rng, 20))
    if network == "litecoin":
        return base58check(b"\x30" + _random_bytes(rng, 20))
    if network == "xrp":
        return base58check(b"\x00" + _random_bytes(rng, 20), XRP_ALPHABET)
    return base58_encode(_random_bytes(rng, 32))  # solana: an ed25519 public key


def _tx_hash_once(rng: random.Random, network: str) -> str:
    if network == "solana":
        return base58_encode(_random_bytes(rng, 64))
    digest = _random_bytes(rng, 32).hex()
    return "0x" + digest if network in EVM_NETWORKS else digest


def address(rng: random.Random, network: str) -> str:
    """A random address of ``network`` that passes ``check_address``."""
    for _ in range(MAX_ATTEMPTS):
        candidate = _address_once(rng, network)
        if check_address(network, candidate) is None:
            return candidate
    raise RuntimeError(f"could not make a valid {network} address")


def tx_hash(rng: random.Random, network: str) -> str:
    """A random transaction hash of ``network`` that passes ``check_tx_hash`` (a Solana
    signature is occasionally one character short, hence the retry)."""
    for _ in range(MAX_ATTEMPTS):
        candidate = _tx_hash_once(rng, network)
        if check_tx_hash(network, candidate) is None:
            return candidate
    raise RuntimeError(f"could not make a valid {network} transaction hash")


def _amount(rng: random.Random, low: float, high: float) -> str:
    value = rng.uniform(low, high) if high < 100 else round(rng.uniform(low, high), -1)
    return f"{value:.4f}".rstrip("0").rstrip(".") if high < 100 else f"{value:,.0f}"


def transfer(rng: random.Random, network: str | None = None) -> Transfer:
    chosen = network or rng.choices(list(NETWORK_WEIGHTS), list(NETWORK_WEIGHTS.values()))[0]
    asset, low, high = rng.choice(NETWORK_ASSETS[chosen])
    memo = str(rng.randrange(100_000, 999_999_999)) if chosen == "xrp" else ""
    return Transfer(
        network=chosen,
        asset=asset,
        amount=_amount(rng, low, high),
        tx_hash=tx_hash(rng, chosen),
        address=address(rng, chosen),
        memo=memo,
    )
