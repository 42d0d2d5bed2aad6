"""The secret guard: seed phrases, private keys and 2FA codes are redacted before storage, and
ordinary support talk (transaction hashes, order numbers, amounts) is left alone."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from mnemonic import Mnemonic
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.chat.guard import NOTICE, is_wif, redact
from hashdesk.chat.models import ChatMessage
from hashdesk.config import Settings
from tests.chat.conftest import agent_socket, start_accepted_chat, trader_socket
from tests.conftest import make_agent, make_trader

# A frame that never comes must fail the test, not hang the run (receive has no timeout).
pytestmark = pytest.mark.timeout(60)

SEED_12 = Mnemonic("english").to_mnemonic(bytes(range(16)))
SEED_24 = Mnemonic("english").to_mnemonic(bytes(range(32)))
HEX_64 = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def wif(key: bytes, compressed: bool = True) -> str:
    """Base58check of 0x80 + key (+ 0x01): built here so the test needs no wallet library."""
    payload = b"\x80" + key + (b"\x01" if compressed else b"")
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, text = int.from_bytes(raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = _B58[digit] + text
    return text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"my words are {SEED_12} please help", "seed_phrase"),
        (SEED_24.upper(), "seed_phrase"),
        (" ".join(f"{n}. {w}" for n, w in enumerate(SEED_12.split(), 1)), "seed_phrase"),
        ("my seed phrase starts " + " ".join(SEED_12.split()[:6]), "seed_phrase"),
        (f"here is my private key {HEX_64}", "private_key"),
        (f"private key: 0x{HEX_64}", "private_key"),
        (f"key {wif(bytes.fromhex(HEX_64))} from my paper wallet", "wif_key"),
        (f"old one {wif(bytes.fromhex(HEX_64), compressed=False)}", "wif_key"),
        ("my 2FA code is 492 817", "otp_code"),
        ("Google Authenticator shows 123456 now", "otp_code"),
        ("el código es 654321", "otp_code"),
    ],
)
def test_secrets_are_redacted(text: str, kind: str) -> None:
    result = redact(text)
    assert kind in result.kinds
    assert "removed]" in result.text
    for secret_part in (SEED_12.split()[3], HEX_64[:16], "492 817", "123456", "654321"):
        assert secret_part not in result.text


@pytest.mark.parametrize(
    "text",
    [
        f"deposit tx {HEX_64} has 3 confirmations",  # a txid looks like a key: left alone
        f"tx 0x{HEX_64} on ethereum",
        "order 123456 was filled at 27,123.456789 USDT",
        "I sent 100000 USDT about an hour ago, can you check the network?",
        "I have a question about the account limit and the withdrawal fee of this coin",
        "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK",  # bad checksum: not a key
    ],
)
def test_ordinary_support_talk_is_left_alone(text: str) -> None:
    result = redact(text)
    assert result.kinds == ()
    assert result.text == text


def test_wif_checksum_is_checked() -> None:
    good = wif(bytes.fromhex(HEX_64))
    assert is_wif(good)
    assert not is_wif(good[:-1] + ("1" if good[-1] != "1" else "2"))


def test_a_pasted_seed_phrase_never_reaches_storage_and_the_trader_is_warned(
    client: TestClient, another_client: TestClient, settings: Settings, session: Session
) -> None:
    agent = make_agent(session)
    trader = make_trader(session)
    with (
        agent_socket(another_client, agent) as desk,
        trader_socket(client, settings, trader) as sock,
    ):
        chat = start_accepted_chat(sock, desk, "hi")
        ack = sock.say(chat, f"support asked for it: {SEED_12}")
        assert ack["redacted"] == ["seed_phrase"]
        # Not echoed back: the ack stands in for the message, with the text as stored.
        notice = sock.expect("message", seq=ack["seq"] + 1)
        assert SEED_12 not in ack["text"]
        assert notice["sender"]["kind"] == "system"
        assert notice["text"] == NOTICE
        agent_view = desk.expect("message", seq=ack["seq"])
        assert SEED_12.split()[5] not in agent_view["text"]
    stored = session.scalars(select(ChatMessage.body).where(ChatMessage.chat_id == chat)).all()
    assert all(SEED_12.split()[5] not in body for body in stored)
