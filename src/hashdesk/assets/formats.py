"""Address, transaction-hash, token and memo formats of the networks an exchange supports.

Each check returns None when the value fits, or a ``Problem`` saying what is wrong (a
translatable sentence), so that a ticket form can tell a trader *why* a pasted hash or
address is refused, in their language.

``NETWORKS`` are the networks of the ticket forms (their slugs are stored on tickets). The
registry (``hashdesk.assets.models``) names, for each of its networks, one *kind* from each of
``ADDRESS_FORMATS``, ``TX_HASH_FORMATS``, ``TOKEN_FORMATS`` and ``MEMO_FORMATS``, so that
the registry's data, not code, says which format a network uses. Where a format has a
checksum, the check verifies it; a few (marked ``shape only`` below) check the shape alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
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
    # An ed25519 public key: 32 bytes, which base58 writes in 32 to 44 characters.
    raw = base58_decode(value) if 32 <= len(value) <= 44 else None
    if raw is None or len(raw) != 32:
        return Problem(N_("A Solana address is 32 to 44 base58 characters."))
    return None


XRP_ALPHABET = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"


def xrp_address(value: str) -> Problem | None:
    """A classic XRP Ledger address: base58check in the ledger's own alphabet, version 0."""
    if not re.match(r"^r[1-9A-HJ-NP-Za-km-z]{24,34}$", value):
        return Problem(N_("An XRP address starts with r and has 25 to 35 characters."))
    translated = value.translate(str.maketrans(XRP_ALPHABET, BASE58_ALPHABET))
    payload = base58check_decode(translated)
    if payload is None or len(payload) != 21 or payload[0] != 0:
        return Problem(
            N_("The address's checksum does not match: a character is missing or wrong.")
        )
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


# --- the registry's format kinds --------------------------------------------------------------
#
# Every network in the registry names one kind from each table below. A new network that
# shares an existing format needs data only; a new format needs one function here.

Check = Callable[[str], Problem | None]


@dataclass(frozen=True)
class AddressFormat:
    """How one kind of address looks. ``ambiguous`` formats (account names such as EOS's)
    also match ordinary words, so a lookup names them only when nothing else matched.
    ``case_insensitive`` formats compare in lower case (hex and bech32 strings)."""

    kind: str
    check: Check
    ambiguous: bool = False
    case_insensitive: bool = False


def to_checksum_address(value: str) -> str:
    """The EIP-55 mixed-case form of a 0x-prefixed 20-byte hex address."""
    body = value[2:].lower()
    digest = keccak.new(digest_bits=256, data=body.encode()).hexdigest()
    return "0x" + "".join(
        char.upper() if char.isalpha() and int(nibble, 16) >= 8 else char
        for char, nibble in zip(body, digest, strict=False)
    )


def is_checksummed(value: str) -> bool:
    """Whether ``value`` is written in its EIP-55 mixed-case form (not all one case)."""
    return (
        value.startswith("0x")
        and evm_address(value) is None
        and to_checksum_address(value) == value
    )


def base58_decode(value: str) -> bytes | None:
    """Plain base58 (the Bitcoin alphabet), leading '1's as zero bytes; None if not base58."""
    if not _BASE58_CHARS.match(value):
        return None
    number = 0
    for char in value:
        number = number * 58 + BASE58_ALPHABET.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(value) - len(value.lstrip("1"))) + raw


def base58_encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, remainder = divmod(number, 58)
        digits = BASE58_ALPHABET[remainder] + digits
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + digits


def base58check_encode(payload: bytes) -> str:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return base58_encode(payload + checksum)


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM, the checksum of Stellar's and TON's address encodings."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


_MALFORMED = N_("This is not a valid {network} address (wrong length, characters or checksum).")


def _malformed(network: str) -> Problem:
    return Problem(_MALFORMED, {"network": network})


def _base58check_versions(versions: set[int], network: str) -> Check:
    def check(value: str) -> Problem | None:
        payload = base58check_decode(value)
        if payload is None or len(payload) != 21 or payload[0] not in versions:
            return _malformed(network)
        return None

    return check


def zcash_address(value: str) -> Problem | None:
    # Transparent addresses only (t1 and t3): exchanges credit shielded deposits rarely.
    payload = base58check_decode(value)
    if payload is None or len(payload) != 22 or payload[:2] not in (b"\x1c\xb8", b"\x1c\xbd"):
        return _malformed("Zcash")
    return None


_CASHADDR_GENERATOR = (0x98F2BC8E61, 0x79B76D99E2, 0xF33E5FB3C4, 0xAE2EABE2A8, 0x1E4F43E470)


def _cashaddr_polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 35
        checksum = ((checksum & 0x07FFFFFFFF) << 5) ^ value
        for bit, generator in enumerate(_CASHADDR_GENERATOR):
            checksum ^= generator if (top >> bit) & 1 else 0
    return checksum ^ 1


def bitcoin_cash_address(value: str) -> Problem | None:
    """CashAddr (``bitcoincash:q...``, the prefix optional) or a legacy base58 address."""
    body = value.lower().removeprefix("bitcoincash:")
    one_case = value in (value.lower(), value.upper())
    if one_case and len(body) == 42 and body[0] in "qp" and _BECH32_CHARS.match(body):
        values = [ord(c) & 31 for c in "bitcoincash"] + [0]
        values += [BECH32_CHARSET.index(c) for c in body]
        return None if _cashaddr_polymod(values) == 0 else _malformed("Bitcoin Cash")
    legacy = _utxo_address({0, 5}, ())(value)
    return None if legacy is None else _malformed("Bitcoin Cash")


def _bech32_account(hrp: str, data_lengths: tuple[int, ...], network: str) -> Check:
    """A bech32 (BIP-173 checksum, not segwit) account address with human-readable part
    ``hrp``, as Cosmos SDK chains, MultiversX and Cardano use."""

    def check(value: str) -> Problem | None:
        lowered = value.lower()
        if value != lowered and value != value.upper():
            return Problem(N_("A bech32 address is all lower case or all upper case, never mixed."))
        prefix, _, data = lowered.rpartition("1")
        if prefix != hrp or len(data) not in data_lengths or not _BECH32_CHARS.match(data):
            return _malformed(network)
        values = bech32_hrp_expand(prefix) + [BECH32_CHARSET.index(c) for c in data]
        return None if bech32_polymod(values) == _BECH32_CONSTANT else _malformed(network)

    return check


_COSMOS_LENGTHS = (38, 58)  # 20-byte accounts, 32-byte contract and module accounts


def stellar_address(value: str) -> Problem | None:
    """A Stellar account (``G...``, 56 base32 characters, CRC-16 checksum)."""
    if len(value) != 56 or not value.startswith("G") or not re.match(r"^[A-Z2-7]+$", value):
        return _malformed("Stellar")
    raw = base64.b32decode(value)
    if crc16_xmodem(raw[:-2]) != int.from_bytes(raw[-2:], "little") or raw[0] != 6 << 3:
        return _malformed("Stellar")
    return None


def ton_address(value: str) -> Problem | None:
    """TON, raw (``0:<64 hex>``) or user-friendly (48 base64 characters with a CRC-16)."""
    if re.match(r"^-?[0-9]{1,3}:[0-9a-fA-F]{64}$", value):
        return None
    if len(value) != 48 or not re.match(r"^[A-Za-z0-9+/_-]+$", value):
        return _malformed("TON")
    raw = base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_"))
    if raw[0] & 0x7F not in (0x11, 0x51) or crc16_xmodem(raw[:34]) != int.from_bytes(
        raw[34:], "big"
    ):
        return _malformed("TON")
    return None


def _ss58(prefix: int, network: str) -> Check:
    """A Substrate SS58 address with a one-byte network ``prefix`` and a 32-byte key."""

    def check(value: str) -> Problem | None:
        raw = base58_decode(value)
        if raw is None or len(raw) != 35 or raw[0] != prefix:
            return _malformed(network)
        digest = hashlib.blake2b(b"SS58PRE" + raw[:-2], digest_size=64).digest()
        return None if digest[:2] == raw[-2:] else _malformed(network)

    return check


_NEAR_NAMED = re.compile(r"^(?:[a-z\d]+[-_])*[a-z\d]+(?:\.(?:[a-z\d]+[-_])*[a-z\d]+)+$")


def near_address(value: str) -> Problem | None:
    """An implicit account (64 lower-case hex) or a named sub-account (``alice.near``).
    Top-level names without a dot are registrar accounts, never deposit addresses."""
    if re.match(r"^[0-9a-f]{64}$", value):
        return None
    if 2 <= len(value) <= 64 and _NEAR_NAMED.match(value):
        return None
    return _malformed("NEAR")


def _hex_account(digits: tuple[int, int], network: str) -> Check:
    pattern = re.compile(r"^0x[0-9a-fA-F]{%d,%d}$" % digits)  # noqa: UP031 (regex braces)

    def check(value: str) -> Problem | None:
        return None if pattern.match(value) else _malformed(network)

    return check


def algorand_address(value: str) -> Problem | None:
    """58 base32 characters: a 32-byte key and the last 4 bytes of its SHA-512/256."""
    if len(value) != 58 or not re.match(r"^[A-Z2-7]+$", value):
        return _malformed("Algorand")
    raw = base64.b32decode(value + "======")
    if hashlib.new("sha512_256", raw[:32]).digest()[-4:] != raw[32:]:
        return _malformed("Algorand")
    return None


_TEZOS_PREFIXES = (b"\x06\xa1\x9f", b"\x06\xa1\xa1", b"\x06\xa1\xa4", b"\x02\x5a\x79")


def tezos_address(value: str) -> Problem | None:
    """tz1/tz2/tz3 accounts and KT1 contracts (base58check, a 20-byte hash)."""
    payload = base58check_decode(value)
    if payload is None or len(payload) != 23 or payload[:3] not in _TEZOS_PREFIXES:
        return _malformed("Tezos")
    return None


def eos_account(value: str) -> Problem | None:
    if re.match(r"^[a-z1-5.]{1,12}$", value) and not value.endswith("."):
        return None
    return _malformed("EOS")


def hedera_account(value: str) -> Problem | None:
    # shard.realm.number, optionally with its 5-letter checksum (HIP-15): shape only.
    if re.match(r"^0\.0\.[0-9]{1,19}(?:-[a-z]{5})?$", value):
        return None
    return _malformed("Hedera")


def icp_account(value: str) -> Problem | None:
    """An ICP ledger account identifier: 64 hex, a CRC-32 of the 28-byte hash first."""
    if not re.match(r"^[0-9a-fA-F]{64}$", value):
        return _malformed("Internet Computer")
    raw = bytes.fromhex(value)
    if zlib.crc32(raw[4:]) != int.from_bytes(raw[:4], "big"):
        return _malformed("Internet Computer")
    return None


def mina_address(value: str) -> Problem | None:
    if len(value) != 55 or not value.startswith("B62") or base58check_decode(value) is None:
        return _malformed("Mina")
    return None


def _shape(pattern: str, network: str) -> Check:
    """For formats whose checksum we do not verify (shape only)."""
    compiled = re.compile(pattern)

    def check(value: str) -> Problem | None:
        return None if compiled.match(value) else _malformed(network)

    return check


def _format(kind: str, check: Check, **flags: bool) -> tuple[str, AddressFormat]:
    return kind, AddressFormat(kind, check, **flags)


ADDRESS_FORMATS: dict[str, AddressFormat] = dict([
    _format("evm", evm_address, case_insensitive=True),
    _format("bitcoin", _utxo_address({0, 5}, ("bc",))),
    _format("litecoin", _utxo_address({0x30, 0x32, 5}, ("ltc",))),
    _format("dogecoin", _base58check_versions({0x1E, 0x16}, "Dogecoin")),
    _format("dash", _base58check_versions({0x4C, 0x10}, "Dash")),
    _format("ravencoin", _base58check_versions({0x3C, 0x7A}, "Ravencoin")),
    _format("zcash", zcash_address),
    _format("bitcoin-cash", bitcoin_cash_address),
    _format("tron", tron_address),
    _format("solana", solana_address),
    _format("xrp", xrp_address),
    _format("stellar", stellar_address),
    _format("ton", ton_address),
    _format("polkadot", _ss58(0, "Polkadot")),
    _format("kusama", _ss58(2, "Kusama")),
    _format("near", near_address, case_insensitive=True),
    _format("aptos", _hex_account((64, 64), "Aptos"), case_insensitive=True),
    _format("sui", _hex_account((64, 64), "Sui"), case_insensitive=True),
    _format("starknet", _hex_account((63, 64), "Starknet"), case_insensitive=True),
    _format("flow", _hex_account((16, 16), "Flow"), case_insensitive=True),
    _format("algorand", algorand_address),
    _format("tezos", tezos_address),
    _format("eos", eos_account, ambiguous=True),
    _format("hedera", hedera_account),
    _format("icp", icp_account, case_insensitive=True),
    _format("mina", mina_address),
    _format("cosmos", _bech32_account("cosmos", _COSMOS_LENGTHS, "Cosmos Hub"), case_insensitive=True),
    _format("osmosis", _bech32_account("osmo", _COSMOS_LENGTHS, "Osmosis"), case_insensitive=True),
    _format("injective", _bech32_account("inj", _COSMOS_LENGTHS, "Injective"), case_insensitive=True),
    _format("celestia", _bech32_account("celestia", _COSMOS_LENGTHS, "Celestia"), case_insensitive=True),
    _format("sei", _bech32_account("sei", _COSMOS_LENGTHS, "Sei"), case_insensitive=True),
    _format("kava", _bech32_account("kava", _COSMOS_LENGTHS, "Kava"), case_insensitive=True),
    _format("akash", _bech32_account("akash", _COSMOS_LENGTHS, "Akash"), case_insensitive=True),
    _format("thorchain", _bech32_account("thor", _COSMOS_LENGTHS, "THORChain"), case_insensitive=True),
    _format("dydx", _bech32_account("dydx", _COSMOS_LENGTHS, "dYdX Chain"), case_insensitive=True),
    _format("multiversx", _bech32_account("erd", (58,), "MultiversX"), case_insensitive=True),
    _format("cardano", _bech32_account("addr", tuple(range(53, 110)), "Cardano"), case_insensitive=True),
    # shape only: these checksums (c32check, blake2b-4 over the protocol byte, Monero's
    # keccak per block, Kaspa's cashaddr variant) are left to the node that receives the deposit
    _format("stacks", _shape(r"^S[PM][0-9A-HJKMNP-TV-Z]{38,39}$", "Stacks")),
    _format("filecoin", _shape(r"^f(?:0[0-9]{1,20}|[13][a-z2-7]{39,84})$", "Filecoin")),
    _format("monero", _shape(r"^[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}$", "Monero")),
    _format("kaspa", _shape(r"^kaspa:q[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{60,62}$", "Kaspa")),
])  # fmt: skip


def _hex_or_prefixed(value: str) -> Problem | None:
    body = value[2:] if value.startswith("0x") else value
    return None if re.match(r"^[0-9a-fA-F]{64}$", body) else _hex_hash(body, prefixed=False)


def _tx_shape(pattern: str, message: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> Problem | None:
        return None if compiled.match(value) else Problem(message)

    return check


def ton_tx_hash(value: str) -> Problem | None:
    if re.match(r"^[0-9a-fA-F]{64}$", value) or re.match(r"^[A-Za-z0-9+/_-]{43}=?$", value):
        return None
    return Problem(
        N_("A TON transaction hash is 64 hexadecimal characters or 44 base64 characters.")
    )


TX_HASH_FORMATS: dict[str, Check] = {
    "evm": evm_tx_hash,
    "hex": plain_tx_hash,
    "hex-any": _hex_or_prefixed,
    "solana": solana_signature,
    "base58-32": _tx_shape(r"^[1-9A-HJ-NP-Za-km-z]{43,44}$",
                           N_("This network's transaction hashes are 43 or 44 base58 characters.")),
    "algorand": _tx_shape(r"^[A-Z2-7]{52}$",
                          N_("An Algorand transaction id is 52 characters, A-Z and 2-7.")),
    "tezos": _tx_shape(r"^o[1-9A-HJ-NP-Za-km-z]{50}$",
                       N_("A Tezos operation hash starts with o and has 51 characters.")),
    "hedera": _tx_shape(r"^0\.0\.[0-9]{1,19}[@-][0-9]{1,12}[.-][0-9]{1,9}$",
                        N_("A Hedera transaction id looks like 0.0.1234@1700000000.123456789.")),
    "ton": ton_tx_hash,
    "starknet": _tx_shape(r"^0x[0-9a-fA-F]{1,64}$",
                          N_("A Starknet transaction hash is 0x and up to 64 hexadecimal characters.")),
    "filecoin": _tx_shape(r"^bafy2bzace[a-z2-7]{50,52}$",
                          N_("A Filecoin message id (CID) starts with bafy2bzace.")),
    "mina": _tx_shape(r"^5J[1-9A-HJ-NP-Za-km-z]{49,51}$",
                      N_("A Mina transaction hash starts with 5J and has about 52 characters.")),
}  # fmt: skip


def _token_shape(pattern: str, message: str) -> Check:
    return _tx_shape(pattern, message)


# How a token is named on a network (its "contract"): mostly an address of the network, but
# an id on Algorand and Polkadot's Asset Hub, a coin type on Sui, a policy id on Cardano.
TOKEN_FORMATS: dict[str, Check] = {
    **{kind: ADDRESS_FORMATS[kind].check
       for kind in ("evm", "tron", "solana", "stellar", "ton", "near", "eos", "hedera", "aptos")},
    "asset-id": _token_shape(r"^[1-9][0-9]{0,19}$", N_("A token id here is a whole number.")),
    "sui-coin-type": _token_shape(r"^0x[0-9a-fA-F]{1,64}::[A-Za-z_][A-Za-z0-9_]*::[A-Za-z_][A-Za-z0-9_]*$",
                                  N_("A Sui coin type looks like 0x…::module::NAME.")),
    "cardano-asset": _token_shape(r"^[0-9a-f]{56}(?:\.[0-9a-f]{0,64})?$",
                                  N_("A Cardano asset is a 56-hex policy id, optionally .assetname in hex.")),
    "cosmos-denom": _token_shape(r"^[a-zA-Z][a-zA-Z0-9/:._-]{2,127}$",
                                 N_("A Cosmos denomination is 3 to 128 letters, digits or /:._-.")),
}  # fmt: skip
CASE_INSENSITIVE_TOKENS = frozenset({"evm", "aptos", "sui-coin-type"})


@dataclass(frozen=True)
class MemoFormat:
    """What a network's deposit memo looks like; ``name`` is what the exchange's UI calls it
    (XRP's destination *tag*, TON's *comment*, a *memo* elsewhere)."""

    kind: str
    name: str
    check: Check


def _memo_text(max_bytes: int) -> Check:
    def check(value: str) -> Problem | None:
        if not value.strip():
            return Problem(N_("The memo is empty."))
        if len(value.encode()) > max_bytes:
            return Problem(N_("A memo here holds at most {maximum} bytes."), {"maximum": max_bytes})
        return None

    return check


def xrp_tag(value: str) -> Problem | None:
    if re.match(r"^[0-9]{1,10}$", value) and int(value) <= 0xFFFFFFFF:
        return None
    return Problem(N_("A destination tag is a whole number from 0 to 4294967295."))


def stellar_memo(value: str) -> Problem | None:
    if re.match(r"^[0-9]{1,20}$", value) and int(value) < 2**64:
        return None  # MEMO_ID
    return _memo_text(28)(value)  # MEMO_TEXT


MEMO_FORMATS: dict[str, MemoFormat] = {
    "xrp-tag": MemoFormat("xrp-tag", "tag", xrp_tag),
    "stellar-memo": MemoFormat("stellar-memo", "memo", stellar_memo),
    "cosmos-memo": MemoFormat("cosmos-memo", "memo", _memo_text(256)),
    "ton-comment": MemoFormat("ton-comment", "comment", _memo_text(120)),
    "eos-memo": MemoFormat("eos-memo", "memo", _memo_text(256)),
    "hedera-memo": MemoFormat("hedera-memo", "memo", _memo_text(100)),
    "stacks-memo": MemoFormat("stacks-memo", "memo", _memo_text(34)),
}


def check_memo(kind: str, value: str) -> Problem | None:
    """What is wrong with ``value`` as a memo of format ``kind`` (see ``MEMO_FORMATS``)."""
    return MEMO_FORMATS[kind].check(value)


def address_formats_accepting(value: str) -> list[str]:
    """The address kinds ``value`` passes, in ``ADDRESS_FORMATS`` order."""
    text = value.strip()
    if not text or len(text) > 130:
        return []
    return [kind for kind, found in ADDRESS_FORMATS.items() if found.check(text) is None]
