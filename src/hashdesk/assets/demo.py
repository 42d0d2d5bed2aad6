"""The demo registry: real networks and well-known assets from ``data/``, and a generated
long tail that brings the registry to the size of a large exchange's (1,300+ assets).

The real part (``data/networks.json``, ``data/assets.json``) holds public facts: names,
chain ids, decimals and contract addresses (EVM ones in their EIP-55 form, checked by the
tests). Its fees, limits and confirmation counts are plausible demo values, not any
exchange's. The tail is generated from a seed, so every load gives the same registry; its
names end in "Demo Token", its symbols in "D", and every one is flagged ``demo``.
"""

from __future__ import annotations

import base64
import json
import random
from decimal import ROUND_UP, Decimal
from pathlib import Path

from hashdesk.assets.actions import Summary
from hashdesk.assets.formats import (
    base58_encode,
    base58check_encode,
    crc16_xmodem,
    to_checksum_address,
)
from hashdesk.assets.schemas import AssetData, AssetNetworkData, NetworkData, RegistryDocument
from hashdesk.assets.transfer import import_document
from hashdesk.core.auth import Principal
from hashdesk.core.db import Database

DATA = Path(__file__).resolve().parent / "data"
TAIL_SIZE = 1200
SEED = 1300
# Where generated tokens live, weighted roughly as on a large exchange.
TAIL_NETWORKS = {"ethereum": 30, "bsc": 20, "solana": 12, "arbitrum": 8, "base": 8, "tron": 6,
                 "polygon": 6, "optimism": 4, "avalanche-c": 3, "ton": 3}  # fmt: skip
TAIL_DECIMALS = {"solana": (6, 9), "tron": (6, 18), "ton": (9,)}
_ONSETS = ("b", "br", "c", "d", "dr", "f", "g", "gl", "k", "kr", "l", "m", "n", "p", "pl", "qu",
           "r", "s", "st", "t", "tr", "v", "z", "x", "h", "j", "sh", "th")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "eo", "ia", "ou", "y")
_CODAS = ("", "", "n", "r", "s", "x", "l", "m", "th", "nd")


def real_document() -> RegistryDocument:
    networks = json.loads((DATA / "networks.json").read_text(encoding="utf-8"))["networks"]
    assets = json.loads((DATA / "assets.json").read_text(encoding="utf-8"))["assets"]
    return RegistryDocument(networks=[NetworkData.model_validate(n) for n in networks],
                            assets=[AssetData.model_validate(a) for a in assets])  # fmt: skip


def demo_document(tail: int = TAIL_SIZE, seed: int = SEED) -> RegistryDocument:
    """The whole demo registry: the real part and ``tail`` generated assets."""
    document = real_document()
    taken = {asset.symbol.upper() for asset in document.assets}
    document.assets.extend(generate_tail(random.Random(seed), tail, taken))  # noqa: S311 (demo data)
    return document


def generate_tail(rng: random.Random, count: int, taken: set[str]) -> list[AssetData]:
    assets: list[AssetData] = []
    while len(assets) < count:
        word = _word(rng)
        symbol = word[:4].upper() + "D"
        if symbol in taken:
            continue
        taken.add(symbol)
        price = 10 ** rng.uniform(-5, 2)
        networks = _tail_networks(rng)
        rows = [_tail_row(rng, network, price) for network in networks]
        assets.append(AssetData(symbol=symbol, name=f"{word.capitalize()} Demo Token", demo=True,
                                networks=rows))  # fmt: skip
    return assets


def _word(rng: random.Random) -> str:
    syllables = rng.choice((2, 2, 3))
    return "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)
    ) + rng.choice(_CODAS)


def _tail_networks(rng: random.Random) -> list[str]:
    wanted = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    chosen: list[str] = []
    while len(chosen) < wanted:
        network = rng.choices(list(TAIL_NETWORKS), weights=list(TAIL_NETWORKS.values()))[0]
        if network not in chosen:
            chosen.append(network)
    return chosen


def _tail_row(rng: random.Random, network: str, price: float) -> AssetNetworkData:
    decimals = rng.choice(TAIL_DECIMALS.get(network, (18, 18, 18, 6, 8, 9)))
    cost = {"ethereum": 2.0, "tron": 1.0}.get(network, 0.1)
    deposit_closed = rng.random() < 0.03
    withdraw_closed = rng.random() < 0.02
    return AssetNetworkData(
        network=network, contract=_contract(rng, network), decimals=decimals,
        min_deposit=_amount(1.0 / price, decimals), min_withdrawal=_amount(max(2 * cost, 10) / price, decimals),
        withdrawal_fee=_amount(cost / price, decimals),
        deposit_enabled=not deposit_closed,
        deposit_disabled_reason="Token swap in progress (demo)." if deposit_closed else None,
        withdraw_enabled=not withdraw_closed,
        withdraw_disabled_reason="Wallet maintenance (demo)." if withdraw_closed else None,
    )  # fmt: skip


def _amount(value: float, decimals: int) -> Decimal:
    step = Decimal(1).scaleb(-min(decimals, 8))
    amount = Decimal(f"{value:.2g}").quantize(step, rounding=ROUND_UP)
    return max(amount, step)


def _contract(rng: random.Random, network: str) -> str:
    if network == "tron":
        return base58check_encode(b"\x41" + rng.randbytes(20))
    if network == "solana":
        return base58_encode(rng.randbytes(32))
    if network == "ton":
        raw = b"\x11\x00" + rng.randbytes(32)
        return base64.urlsafe_b64encode(raw + crc16_xmodem(raw).to_bytes(2, "big")).decode()
    return to_checksum_address("0x" + rng.randbytes(20).hex())


def load_demo_registry(database: Database, actor: Principal) -> Summary:
    """Import the demo registry as ``actor`` (audited; loading it again changes nothing)."""
    document = demo_document()
    with database.transaction() as session:
        return import_document(session, actor, document)
