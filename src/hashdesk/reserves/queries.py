"""Reads for the agents' proof lookup: the latest published build, a trader's proof in it, and
the walk from their leaf to the root that the agent explains to them.

The builds are the folders ``hashdesk reserves build`` writes (``settings.reserves_dir`` names
one, or a folder of several: the one built last is used). A proof is read from ``proofs/`` when
the build wrote one for the account, else written from the build's private part on demand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from hashdesk.accounts.models import Trader
from hashdesk.accounts.queries import get_trader_by_external_id
from hashdesk.core.auth import Permission, Principal
from hashdesk.core.i18n import N_
from hashdesk.reserves.checks import StepFailed, Verification, units
from hashdesk.reserves.errors import NoPublishedBuild, ProofNotFound
from hashdesk.reserves.proof import format_amount, proof_for_account, proof_path
from hashdesk.reserves.tree import Asset, account_hash, leaf_hash, node_hash
from hashdesk.reserves.verify import verify_document

MAX_ACCOUNT_ID = 128  # as long as a trader's external id
ROOT_HEX = re.compile(r"[0-9a-f]{64}")


def root_hex(text: str) -> str:
    """A root hash as 64 lowercase hex digits ("0x" and capitals accepted), or "" if it is not one."""
    digits = text.strip().lower().removeprefix("0x")
    return digits if ROOT_HEX.fullmatch(digits) else ""


@dataclass(frozen=True)
class PublishedBuild:
    folder: Path
    root_hash: str
    totals: dict[str, str]
    leaf_count: int
    depth: int
    snapshot_time: str | None
    built_at: str


@dataclass(frozen=True)
class WalkStep:
    """One step up the path: the sibling joined, and the node and sums it gives."""

    number: int
    position: str  # the side the sibling sits on
    sibling_hash: str
    sibling_sums: dict[str, str]
    node_hash: str
    sums: dict[str, str]


@dataclass(frozen=True)
class Walk:
    account_hash: str
    nonce: str
    balances: dict[str, str]
    leaf_hash: str
    steps: list[WalkStep]
    root_hash: str  # where the path leads


@dataclass(frozen=True)
class TraderProof:
    account_id: str
    trader: Trader | None
    build: PublishedBuild
    proof: dict[str, Any]
    published_root: str
    verification: Verification
    walk: Walk | None  # None when the proof file is too damaged to walk


# --- the build ------------------------------------------------------------------------------


def get_latest_build(folder: Path | None) -> PublishedBuild:
    """The build in ``folder``, or the latest build among its subfolders."""
    if folder is None:
        raise NoPublishedBuild(
            N_("No proof-of-reserves build is configured (set HASHDESK_RESERVES_DIR).")
        )
    builds = [_read_build(path) for path in _build_folders(folder)]
    if not builds:
        raise NoPublishedBuild(
            N_("No proof-of-reserves build was found in {folder}."), folder=str(folder)
        )
    return max(builds, key=lambda build: (build.built_at, build.folder.name))


def _build_folders(folder: Path) -> list[Path]:
    if (folder / "root.json").is_file():
        return [folder]
    try:
        return [path for path in folder.iterdir() if (path / "root.json").is_file()]
    except OSError:
        return []


def _read_build(folder: Path) -> PublishedBuild:
    try:
        root = json.loads((folder / "root.json").read_text(encoding="utf-8"))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        root_hash = root_hex(str(root["hash"]))
        if not root_hash:
            raise ValueError("root.json: 'hash' is not 64 hex digits")
        return PublishedBuild(
            folder=folder,
            root_hash=root_hash,
            totals={str(key): str(value) for key, value in root["totals"].items()},
            leaf_count=int(root["leaf_count"]),
            depth=int(root["depth"]),
            snapshot_time=manifest.get("snapshot_time"),
            built_at=str(manifest.get("built_at", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise NoPublishedBuild(
            N_("The proof-of-reserves build in {folder} cannot be read ({error})."),
            folder=str(folder),
            error=str(error),
        ) from error


# --- the proof --------------------------------------------------------------------------------


def get_proof(build: PublishedBuild, account_id: str) -> dict[str, Any] | None:
    """The account's proof document: its file when the build wrote one, else made from the
    private part (a scan of the account hashes: about a second for 10 million accounts)."""
    salt_file = build.folder / "private" / "salt.hex"
    try:
        salt = bytes.fromhex(salt_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as error:
        raise NoPublishedBuild(
            N_("The build in {folder} has no private part: accounts cannot be looked up."),
            folder=str(build.folder),
        ) from error
    written = proof_path(build.folder, account_hash(salt, account_id))
    try:
        if written.is_file():
            document: dict[str, Any] = json.loads(written.read_text(encoding="utf-8"))
            return document
        return proof_for_account(build.folder, account_id)
    except (OSError, ValueError, KeyError) as error:
        raise NoPublishedBuild(
            N_("The proof-of-reserves build in {folder} cannot be read ({error})."),
            folder=str(build.folder),
            error=str(error),
        ) from error


def access_trader_proof(
    session: Session, actor: Principal, reserves_dir: Path | None, account_id: str, root: str = ""
) -> TraderProof:
    """The proof of ``account_id`` (the trader's account id at the exchange) in the latest
    build, verified against ``root`` (the announced root, when it is a root hash) or else the
    build's own root."""
    actor.require(Permission.REPLY)
    account_id = account_id.strip()
    if not account_id or len(account_id) > MAX_ACCOUNT_ID:
        raise ProofNotFound(
            N_("Enter the trader's account id (1 to {most} characters)."),
            field="account",
            most=MAX_ACCOUNT_ID,
        )
    build = get_latest_build(reserves_dir)
    proof = get_proof(build, account_id)
    if proof is None:
        raise ProofNotFound(
            N_("Account {account} is not in the proof of reserves built {built_at}."),
            field="account",
            account=account_id,
            built_at=build.built_at,
        )
    published = root_hex(root) or build.root_hash
    verification = verify_document(proof, root=bytes.fromhex(published))
    return TraderProof(
        account_id=account_id,
        trader=get_trader_by_external_id(session, account_id),
        build=build,
        proof=proof,
        published_root=published,
        verification=verification,
        walk=walk_proof(proof),
    )


# --- the walk ---------------------------------------------------------------------------------


def walk_proof(proof: dict[str, Any]) -> Walk | None:
    """Every hash from the leaf to the root, recomputed from the file (the verifier says
    whether each matches; this shows the values)."""
    try:
        assets = [Asset(str(item["symbol"]), int(item["decimals"])) for item in proof["assets"]]
        balances = _amounts(proof["balances"], assets)
        account = bytes.fromhex(proof["account"]["hash"])
        nonce = bytes.fromhex(proof["nonce"])
        current = leaf_hash(account, nonce, balances)
        leaf, sums, steps = current, balances, []
        for number, item in enumerate(proof["path"], 1):
            sibling, sibling_sums = bytes.fromhex(item["hash"]), _amounts(item["sums"], assets)
            sums = [mine + theirs for mine, theirs in zip(sums, sibling_sums, strict=True)]
            left = item["position"] == "left"
            current = (
                node_hash(sibling, current, sums) if left else node_hash(current, sibling, sums)
            )
            steps.append(WalkStep(number, str(item["position"]), sibling.hex(),
                                  _shown(sibling_sums, assets), current.hex(), _shown(sums, assets)))  # fmt: skip
    except (StepFailed, KeyError, TypeError, ValueError, AttributeError):
        return None
    return Walk(
        account.hex(), nonce.hex(), _shown(balances, assets), leaf.hex(), steps, current.hex()
    )


def _amounts(raw: dict[str, Any], assets: list[Asset]) -> list[int]:
    return [units(raw[asset.symbol], asset.decimals, asset.symbol) for asset in assets]


def _shown(amounts: list[int], assets: list[Asset]) -> dict[str, str]:
    return {
        asset.symbol: format_amount(amount, asset.decimals)
        for asset, amount in zip(assets, amounts, strict=True)
    }
