"""The secret guard: seed phrases, private keys and 2FA codes never reach storage or a screen.

``redact(text)`` returns the text with each secret replaced by a marker, and which kinds it
found. What counts as a secret, and why:

- ``seed_phrase``: a run of at least 12 BIP-39 English words (seed phrases have 12 to 24),
  or at least 6 when the message speaks of a seed/recovery phrase (a trader pasting part of
  it). Numbering and punctuation between the words ("1. abandon 2. ability") do not break a
  run. The word list comes from the ``mnemonic`` package (the BIP-39 reference code).
- ``private_key``: 64 hex digits (0x or not) *when the message speaks of a key*. Bare 64-hex
  strings are left alone, since a Bitcoin txid or an EVM transaction hash has the same shape
  and traders paste those all day; extended private keys (xprv, yprv, zprv, tprv) always.
- ``wif_key``: a Wallet Import Format key (base58, starts with 5, K or L) whose base58check
  checksum is right, so random words of that length are not taken for one.
- ``otp_code``: a standalone 6-digit number when the message speaks of a 2FA/verification
  code; order numbers and amounts in other messages are not touched.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from mnemonic import Mnemonic

from hashdesk.core.i18n import N_

SEED_RUN_WORDS = 12
SEED_RUN_WORDS_IN_CONTEXT = 6
MARKERS = {
    "seed_phrase": "[seed phrase removed]",
    "private_key": "[private key removed]",
    "wif_key": "[private key removed]",
    "otp_code": "[2FA code removed]",
}
NOTICE = N_(
    "For your safety we removed what looked like a seed phrase, private key or 2FA code from "
    "your message. HashDesk support will never ask for these: anyone who does is not us."
)

_WORD = re.compile(r"[A-Za-z]+")
# Between two words of a phrase: spaces, commas, dashes, and list numbering like "2." or "(3)".
_GAP = re.compile(r"^[\s,;.\-–—()\[\]\d:]*$")
_HEX_KEY = re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_EXTENDED_KEY = re.compile(r"(?<![0-9A-Za-z])[xyzt]prv[1-9A-HJ-NP-Za-km-z]{100,112}(?![0-9A-Za-z])")
_WIF = re.compile(r"(?<![0-9A-Za-z])[5KL][1-9A-HJ-NP-Za-km-z]{50,51}(?![0-9A-Za-z])")
_OTP = re.compile(r"(?<![\d.,])\d{3}[ -]?\d{3}(?![\d.,]*\d)")
_KEY_CONTEXT = re.compile(r"priv(?:ate)?[\s_-]*key|secret[\s_-]*key|privkey|wallet\s*key|"
                          r"keystore|приватн|秘密鍵|私钥|개인\s*키|clave\s*privada|"
                          r"chave\s*privada|clé\s*privée", re.IGNORECASE)  # fmt: skip
_SEED_CONTEXT = re.compile(r"seed|mnemonic|recovery\s*phrase|secret\s*phrase|backup\s*phrase|"
                           r"助记词|シード|시드|сид|фраз|semilla|frase", re.IGNORECASE)  # fmt: skip
_OTP_CONTEXT = re.compile(r"2fa|two[\s-]*factor|otp|authenticator|google\s*auth|verification|"
                          r"\bcode\b|\bcodes\b|código|codice|код|验证码|認証|인증|mã", re.IGNORECASE)  # fmt: skip
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Redaction:
    text: str
    kinds: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


@lru_cache(maxsize=1)
def bip39_words() -> frozenset[str]:
    return frozenset(Mnemonic("english").wordlist)


def redact(text: str) -> Redaction:
    kinds: list[str] = []
    for kind, finder in (("seed_phrase", _seed_spans), ("private_key", _hex_key_spans),
                         ("private_key", _extended_key_spans), ("wif_key", _wif_spans),
                         ("otp_code", _otp_spans)):  # fmt: skip
        spans = finder(text)
        if spans:
            text = _replace(text, spans, MARKERS[kind])
            if kind not in kinds:
                kinds.append(kind)
    return Redaction(text, tuple(kinds))


def _replace(text: str, spans: list[tuple[int, int]], marker: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + marker + text[end:]
    return text


def _seed_spans(text: str) -> list[tuple[int, int]]:
    """Spans of runs of BIP-39 words long enough to be (part of) a seed phrase."""
    needed = SEED_RUN_WORDS_IN_CONTEXT if _SEED_CONTEXT.search(text) else SEED_RUN_WORDS
    words = bip39_words()
    spans: list[tuple[int, int]] = []
    run: list[re.Match[str]] = []
    for match in _WORD.finditer(text):
        joined = bool(run) and _GAP.match(text[run[-1].end() : match.start()]) is not None
        if match.group().lower() in words and (joined or not run):
            run.append(match)
            continue
        _close_run(run, needed, spans)
        run = [match] if match.group().lower() in words else []
    _close_run(run, needed, spans)
    return spans


def _close_run(run: list[re.Match[str]], needed: int, spans: list[tuple[int, int]]) -> None:
    if len(run) >= needed:
        spans.append((run[0].start(), run[-1].end()))


def _hex_key_spans(text: str) -> list[tuple[int, int]]:
    if not _KEY_CONTEXT.search(text):
        return []
    return [match.span() for match in _HEX_KEY.finditer(text)]


def _extended_key_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _EXTENDED_KEY.finditer(text)]


def _wif_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _WIF.finditer(text) if is_wif(match.group())]


def _otp_spans(text: str) -> list[tuple[int, int]]:
    if not _OTP_CONTEXT.search(text):
        return []
    return [match.span() for match in _OTP.finditer(text)]


def is_wif(candidate: str) -> bool:
    """A base58check string of a WIF private key: version 0x80 (mainnet) or 0xEF (testnet),
    32 key bytes, an optional 0x01 (compressed), and the 4-byte double-SHA256 checksum."""
    number = 0
    for char in candidate:
        index = _BASE58.find(char)
        if index < 0:
            return False
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(raw) not in (37, 38):
        return False
    payload, checksum = raw[:-4], raw[-4:]
    if payload[0] not in (0x80, 0xEF) or (len(payload) == 34 and payload[-1] != 0x01):
        return False
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum
