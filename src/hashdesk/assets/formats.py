"""Address and transaction-hash formats of the networks traders ask about most.

Each check returns None when the value fits, or a ``Problem`` saying what is wrong (a
translatable sentence), so that a ticket form can tell a trader *why* a pasted hash or
address is refused, in their language.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from Crypto.Hash import keccak

from hashdesk.core.i18n import N_

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_CHARS = re.compile(f"^[{BASE58_ALPHABET}]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BECH32_CHARS = re.compile(r"^[qpzry9x8gf2tvdw0s3jn54khce6mua7l]+$")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a value: a translatable message with its named parameters."""

    message: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    slug: str
    name: str
    family: str  # evm, utxo, account
    tx_hash: Callable[[str], Problem | None]
    address: Callable[[str], Problem | None]


def _hex_hash(value: str, *, prefixed: bool) -> Problem | None:
    body = value[2:] if value.startswith(("0x", "0X")) else value
    if prefixed and body is value:
        return Problem(N_("An EVM transaction hash starts with 0x."))
    if not prefixed and body is not value:
        return Problem(N_("This network's transaction hashes have no 0x prefix."))
    if len(body) != 64:
        return Problem(
            N_(
                "A transaction hash has 64 hexadecimal characters after any prefix; this has {length}."
            ),
            {"length": len(body)},
        )
    if not _HEX.match(body):
        return Problem(N_("A transaction hash holds only 0-9 and a-f."))
    return None


def evm_tx_hash(value: str) -> Problem | None:
    return _hex_hash(value, prefixed=True)


def plain_tx_hash(value: str) -> Problem | None:
    return _hex_hash(value, prefixed=False)


def solana_signature(value: str) -> Problem | None:
    if not _BASE58_CHARS.match(value):
        return Problem(N_("A Solana signature is base58 (no 0, O, I or l)."))
    if not 86 <= len(value) <= 88:
        return Problem(
            N_("A Solana signature has 86 to 88 characters; this has {length}."),
            {"length": len(value)},
        )
    return None


def evm_address(value: str) -> Problem | None:
    if not value.startswith("0x"):
        return Problem(N_("An EVM address starts with 0x."))
    body = value[2:]
    if len(body) != 40:
        return Problem(
            N_("An EVM address has 40 hexadecimal characters after 0x; this has {length}."),
            {"length": len(body)},
        )
    if not _HEX.match(body):
        return Problem(N_("An EVM address holds only 0-9 and a-f after 0x."))
    if body != body.lower() and body != body.upper() and not _eip55_valid(body):
        return Problem(
            N_(
                "The address's capital letters do not match its EIP-55 checksum: a character is wrong."
            )
        )
    return None


def _eip55_valid(body: str) -> bool:
    digest = keccak.new(digest_bits=256, data=body.lower().encode()).hexdigest()
    for char, nibble in zip(body, digest[: len(body)], strict=True):
        if char.isalpha() and char.isupper() != (int(nibble, 16) >= 8):
            return False
    return True


def base58check_decode(value: str) -> bytes | None:
    if not _BASE58_CHARS.match(value):
        return None
    number = 0
    for char in value:
        number = number * 58 + BASE58_ALPHABET.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(value) - len(value.lstrip("1"))) + raw
    payload, checksum = raw[:-4], raw[-4:]
    if len(raw) < 5 or hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


def _bech32_shape(value: str, prefixes: tuple[str, ...]) -> Problem | None:
    lowered = value.lower()
    if value != lowered and value != value.upper():
        return Problem(N_("A bech32 address is all lower case or all upper case, never mixed."))
    hrp, _, data = lowered.rpartition("1")
    if hrp not in prefixes or not 6 <= len(data) <= 87 or not _BECH32_CHARS.match(data):
        return Problem(N_("This bech32 address is malformed (wrong prefix, length or characters)."))
    if not _bech32_checksum_ok(hrp, data):
        return Problem(
            N_("The address's checksum does not match: a character is missing or wrong.")
        )
    return None


_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_CONSTANT = 1  # segwit v0 (BIP-173)
_BECH32M_CONSTANT = 0x2BC830A3  # segwit v1 and later, e.g. taproot (BIP-350)


BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_polymod(values: list[int]) -> int:
    """The BCH checksum over 5-bit values that BIP-173 and BIP-350 define."""
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_BECH32_GENERATOR):
            checksum ^= generator if (top >> bit) & 1 else 0
    return checksum


def _bech32_checksum_ok(hrp: str, data: str) -> bool:
    values = bech32_hrp_expand(hrp) + [BECH32_CHARSET.index(c) for c in data]
    expected = _BECH32_CONSTANT if values[len(hrp) * 2 + 1] == 0 else _BECH32M_CONSTANT
    return bech32_polymod(values) == expected


def _utxo_address(
    legacy_versions: set[int], bech32_prefixes: tuple[str, ...]
) -> Callable[[str], Problem | None]:
    def check(value: str) -> Problem | None:
        if value.lower().startswith(tuple(p + "1" for p in bech32_prefixes)):
            return _bech32_shape(value, bech32_prefixes)
        payload = base58check_decode(value)
        if payload is None:
            return Problem(
                N_("The address's checksum does not match: a character is missing or wrong.")
            )
        if len(payload) != 21 or payload[0] not in legacy_versions:
            return Problem(N_("This is a valid base58 string but not an address of this network."))
        return None

    return check


def tron_address(value: str) -> Problem | None:
    if not value.startswith("T"):
        return Problem(N_("A TRON address starts with T."))
    payload = base58check_decode(value)
    if payload is None or len(payload) != 21 or payload[0] != 0x41:
        return Problem(
            N_("The TRON address's checksum does not match: a character is missing or wrong.")
        )
    return None


def solana_address(value: str) -> Problem | None:
    if not _BASE58_CHARS.match(value) or not 32 <= len(value) <= 44:
        return Problem(N_("A Solana address is 32 to 44 base58 characters."))
    return None


def xrp_address(value: str) -> Problem | None:
    if not re.match(r"^r[1-9A-HJ-NP-Za-km-z]{24,34}$", value):
        return Problem(N_("An XRP address starts with r and has 25 to 35 characters."))
    return None


_EVM = [
    ("ethereum", "Ethereum"), ("bsc", "BNB Smart Chain"), ("polygon", "Polygon PoS"),
    ("arbitrum", "Arbitrum One"), ("optimism", "OP Mainnet"), ("base", "Base"),
    ("avalanche", "Avalanche C-Chain"),
]  # fmt: skip

NETWORKS: dict[str, Network] = {
    **{slug: Network(slug, name, "evm", evm_tx_hash, evm_address) for slug, name in _EVM},
    "bitcoin": Network("bitcoin", "Bitcoin", "utxo", plain_tx_hash, _utxo_address({0, 5}, ("bc",))),
    "litecoin": Network(
        "litecoin", "Litecoin", "utxo", plain_tx_hash, _utxo_address({0x30, 0x32, 5}, ("ltc",))
    ),
    "tron": Network("tron", "TRON", "account", plain_tx_hash, tron_address),
    "solana": Network("solana", "Solana", "account", solana_signature, solana_address),
    "xrp": Network("xrp", "XRP Ledger", "account", plain_tx_hash, xrp_address),
}


def _network(slug: str) -> Network | None:
    return NETWORKS.get(slug)


def check_tx_hash(network: str | None, value: str) -> Problem | None:
    """What is wrong with ``value`` as a transaction hash on ``network`` (any, when None)."""
    known = _network(network) if network else None
    if known:
        return known.tx_hash(value)
    checks = (evm_tx_hash, plain_tx_hash, solana_signature)
    if any(check(value) is None for check in checks):
        return None
    return Problem(
        N_(
            "This is not a transaction hash: expected 64 hexadecimal characters (0x-prefixed on EVM networks) or a Solana signature."
        )
    )


def check_address(network: str | None, value: str) -> Problem | None:
    known = _network(network) if network else None
    if known:
        return known.address(value)
    if any(n.address(value) is None for n in NETWORKS.values()):
        return None
    return Problem(N_("This does not look like an address on any network we support."))
