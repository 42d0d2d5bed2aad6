"""Proof files in the exchanges' formats, made by small generators written from each format's
published description (not from our verifiers), to test the verifiers on many trees."""

from __future__ import annotations

import hashlib
import json
import secrets
from decimal import ROUND_DOWN, Decimal
from typing import Any

Balances = dict[str, Decimal]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def trimmed(value: Decimal) -> str:
    """Positional digits, no trailing zeros (``normalize`` then fixed-point)."""
    return "0" if value == 0 else f"{value.normalize():f}"


def total(*balances: Balances) -> Balances:
    out: Balances = {}
    for item in balances:
        for asset, amount in item.items():
            out[asset] = out.get(asset, Decimal(0)) + amount
    return out


# --- CoinEx -------------------------------------------------------------------------------


def coinex_text(balances: Balances) -> str:
    return json.dumps({k: trimmed(v) for k, v in sorted(balances.items())}, separators=(",", ":"))


def coinex_proofs(users: list[Balances]) -> list[dict[str, Any]]:
    nonces = [secrets.token_hex(32) for _ in users]
    level = [(sha(n + coinex_text(b)), b) for n, b in zip(nonces, users, strict=True)]
    paths: list[list[dict[str, Any]]] = [[] for _ in users]
    members = [[i] for i in range(len(users))]
    while len(level) > 1:
        parents, groups = [], []
        for k in range(0, len(level), 2):
            if k + 1 == len(level):  # alone: its entry is {} and the sibling hash is empty
                (h, b), group = level[k], members[k]
                for user in group:
                    paths[user].append({})
                parents.append((sha(h + coinex_text(b)), b))
                groups.append(group)
                continue
            (lh, lb), (rh, rb) = level[k], level[k + 1]
            summed = total(lb, rb)
            for user in members[k]:
                paths[user].append(
                    {"balances": {a: str(v) for a, v in rb.items()}, "hash": rh, "pos": "right"}
                )
            for user in members[k + 1]:
                paths[user].append(
                    {"balances": {a: str(v) for a, v in lb.items()}, "hash": lh, "pos": "left"}
                )
            parents.append((sha(lh + rh + coinex_text(summed)), summed))
            groups.append(members[k] + members[k + 1])
        level, members = parents, groups
    root_hash, root_balances = level[0]
    return [
        {
            "root": {"balances": {a: str(v) for a, v in root_balances.items()}, "hash": root_hash},
            "self": {"balances": {a: str(v) for a, v in user.items()}, "nonce": nonce},
            "path": path,
        }
        for user, nonce, path in zip(users, nonces, paths, strict=True)
    ]


# --- OKX ----------------------------------------------------------------------------------

OKX_ASSETS = ("BTC", "ETH", "USDT")


def okx_add(left: list[str], right: list[str]) -> list[str]:
    return [
        trimmed((Decimal(a) + Decimal(b)).quantize(Decimal("1e-8"), rounding=ROUND_DOWN))
        for a, b in zip(left, right, strict=True)
    ]


def json_of(values: list[str]) -> str:
    return json.dumps(dict(zip(OKX_ASSETS, values, strict=True)), separators=(",", ":"))


def okx_v1_proofs(users: list[list[str]]) -> list[dict[str, Any]]:
    """Each level: pairs (left, right); an odd node is paired with a zero copy of itself (type 4)."""
    nonces = [secrets.token_hex(32) for _ in users]
    level = [(sha(n + json_of(b)), b) for n, b in zip(nonces, users, strict=True)]
    types = [0] * len(users)
    paths: list[list[dict[str, Any]]] = [[] for _ in users]
    members = [[i] for i in range(len(users))]
    height = 1
    while len(level) > 1:
        if len(level) % 2:
            level.append((level[-1][0], ["0", "0", "0"]))
            members.append([])
        parents, groups = [], []
        for k in range(0, len(level), 2):
            (lh, lb), (rh, rb) = level[k], level[k + 1]
            right_type = 4 if not members[k + 1] else 2
            for user in members[k]:
                types[user] = types[user] or 1
                paths[user].append(
                    {
                        "balances": dict(zip(OKX_ASSETS, rb, strict=True)),
                        "hash": rh,
                        "type": right_type,
                        "height": height,
                    }
                )
            for user in members[k + 1]:
                types[user] = types[user] or 2
                paths[user].append(
                    {
                        "balances": dict(zip(OKX_ASSETS, lb, strict=True)),
                        "hash": lh,
                        "type": 1,
                        "height": height,
                    }
                )
            summed = okx_add(lb, rb)
            parents.append((sha(lh + rh + "".join(summed) + str(height + 1)), summed))
            groups.append(members[k] + members[k + 1])
        level, members, height = parents, groups, height + 1
    root = {
        "balances": dict(zip(OKX_ASSETS, level[0][1], strict=True)),
        "hash": level[0][0],
        "type": 3,
        "height": height,
    }
    return [
        {
            "path": [*path, root],
            "self": {
                "balances": dict(zip(OKX_ASSETS, user, strict=True)),
                "nonce": nonce,
                "hash": sha(nonce + json_of(user)),
                "type": kind,
                "height": 1,
            },
        }
        for user, nonce, path, kind in zip(users, nonces, paths, types, strict=True)
    ]


def okx_v2_files(users: list[list[list[str]]]) -> tuple[list[dict[str, Any]], str]:
    """Users own one or more leaves. Returns each user's info file and the tree file text."""
    infos, leaves = [], []
    for parts in users:
        summed = parts[0]
        for part in parts[1:]:
            summed = okx_add(summed, part)
        nonce = secrets.token_hex(32)
        user_hash = sha(
            nonce + json.dumps(dict(zip(OKX_ASSETS, summed, strict=True)), separators=(",", ":"))
        )
        nodes = [
            {
                "balances": dict(zip(OKX_ASSETS, part, strict=True)),
                "hash": sha(user_hash + "".join(part)),
            }
            for part in parts
        ]
        infos.append(
            {
                "hash": user_hash,
                "nodes": nodes,
                "nonce": nonce,
                "totalBalances": dict(zip(OKX_ASSETS, summed, strict=True)),
            }
        )
        leaves += [(node["hash"], part) for node, part in zip(nodes, parts, strict=True)]
    levels = [leaves]  # left to right
    while len(levels[-1]) > 1:
        level = list(levels[-1])
        if len(level) % 2:
            level.append((level[-1][0], ["0", "0", "0"]))
            levels[-1] = level
        height = len(levels) + 1
        parents = []
        for k in range(0, len(level), 2):
            (lh, lb), (rh, rb) = level[k], level[k + 1]
            summed = okx_add(lb, rb)
            parents.append((sha(lh + rh + "".join(summed) + str(height)), summed))
        levels.append(parents)
    lines = []
    for height in range(len(levels), 0, -1):
        for node_hash, values in reversed(levels[height - 1]):  # right to left
            lines.append(
                f"{node_hash},{height},{json.dumps(dict(zip(OKX_ASSETS, values, strict=True)), separators=(',', ':'))}"
            )
    return infos, "\n".join(lines) + "\n"


# --- Bitget -------------------------------------------------------------------------------


def bitget_text(balances: Balances) -> str:
    return "{" + ",".join(f'"{k}":"{trimmed(v)}"' for k, v in balances.items()) + "}"


def bitget_proofs(users: list[Balances]) -> list[dict[str, Any]]:
    uids = [secrets.token_hex(32) for _ in users]
    nonces = [secrets.token_hex(32) for _ in users]
    depth = max(1, (len(users) - 1).bit_length())
    leaf_level = depth + 1
    level = [
        (sha(f"{u},{n},{bitget_text(b)}")[:16], b)
        for u, n, b in zip(uids, nonces, users, strict=True)
    ]
    roles = [0] * len(users)
    paths: list[list[dict[str, Any]]] = [[] for _ in users]
    members = [[i] for i in range(len(users))]
    current = leaf_level
    while len(level) > 1:
        if len(level) % 2:
            level.append((level[-1][0], dict.fromkeys(level[-1][1], Decimal(0))))
            members.append([])
        parents, groups = [], []
        for k in range(0, len(level), 2):
            (lh, lb), (rh, rb) = level[k], level[k + 1]
            for user in members[k]:
                roles[user] = roles[user] or 1
                paths[user].append({"balances": {a: str(v) for a, v in rb.items()}, "level": current, "merkelLeaf": rh,
                                    "role": 2 if members[k + 1] else 0})  # fmt: skip
            for user in members[k + 1]:
                roles[user] = roles[user] or 2
                paths[user].append(
                    {
                        "balances": {a: str(v) for a, v in lb.items()},
                        "level": current,
                        "merkelLeaf": lh,
                        "role": 1,
                    }
                )
            merged = dict(lb)
            for asset, amount in rb.items():
                merged[asset] = merged.get(asset, Decimal(0)) + amount
            parents.append((sha(f"{lh}{rh},{bitget_text(merged)},{current - 1}")[:16], merged))
            groups.append(members[k] + members[k + 1])
        level, members, current = parents, groups, current - 1
    root = {
        "balances": {a: str(v) for a, v in level[0][1].items()},
        "level": current,
        "merkelLeaf": level[0][0],
    }
    return [
        {
            "path": [*path, root],
            "self": {
                "balances": {a: str(v) for a, v in user.items()},
                "encryptUid": uid,
                "level": leaf_level,
                "merkelLeaf": sha(f"{uid},{nonce},{bitget_text(user)}")[:16],
                "nonce": nonce,
                "role": role,
            },
        }
        for user, uid, nonce, path, role in zip(users, uids, nonces, paths, roles, strict=True)
    ]
