"""Errors of the proof-of-reserves domain.

DomainError
├── InvalidInput (422)
│   ├── SnapshotError     the liabilities snapshot or manifest is refused (names the rows)
│   └── BuildError        the tree cannot be built (e.g. an output folder that is not empty)
└── NotFound (404)
    ├── NoPublishedBuild  the agents' lookup has no build to read (setting unset, folder empty
    │                     or unreadable, private part missing)
    └── ProofNotFound     the account is not in the latest build
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hashdesk.core.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class RowProblem:
    """One refused snapshot row: ``line`` is the 1-based line in the file (the header is line 1)."""

    line: int
    account: str
    problem: str

    def describe(self) -> str:
        account = f" (account {self.account!r})" if self.account else ""
        return f"line {self.line}{account}: {self.problem}"


class SnapshotError(InvalidInput):
    """The message (with {name} parameters, translatable) is followed by the refused rows."""

    code = "reserves_snapshot_refused"
    title = "Snapshot refused"

    def __init__(
        self, message: str, *, rows: list[RowProblem] | None = None, total: int = 0, **params: Any
    ) -> None:
        self.rows = rows or []
        self.total = max(total, len(self.rows))
        super().__init__(message, **params)

    def render(self, translate: Any = None) -> str:
        lines = [super().render(translate), *(f"  {row.describe()}" for row in self.rows)]
        if self.total > len(self.rows):
            lines.append(f"  ... and {self.total - len(self.rows)} more")
        return "\n".join(lines)


class BuildError(InvalidInput):
    code = "reserves_build_failed"
    title = "Build failed"


class NoPublishedBuild(NotFound):
    code = "reserves_no_build"
    title = "No published build"


class ProofNotFound(NotFound):
    code = "reserves_proof_not_found"
    title = "Proof not found"
