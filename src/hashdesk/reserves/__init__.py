"""Proof of reserves: a merkle sum tree over a liabilities snapshot, a proof file per account,
and a verifier for HashDesk's proofs and those CoinEx, OKX and Bitget publish.

Other domains use only the names below.
"""

from hashdesk.reserves.build import BuildResult, Manifest, build_reserves, load_manifest
from hashdesk.reserves.checks import Step, Verification
from hashdesk.reserves.errors import BuildError, RowProblem, SnapshotError
from hashdesk.reserves.proof import proof_for_account, write_proofs
from hashdesk.reserves.tree import Asset
from hashdesk.reserves.verify import FORMATS, detect_format, verify_document, verify_file

__all__ = [
    "FORMATS",
    "Asset",
    "BuildError",
    "BuildResult",
    "Manifest",
    "RowProblem",
    "SnapshotError",
    "Step",
    "Verification",
    "build_reserves",
    "detect_format",
    "load_manifest",
    "proof_for_account",
    "verify_document",
    "verify_file",
    "write_proofs",
]
