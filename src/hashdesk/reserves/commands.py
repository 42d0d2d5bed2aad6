"""``hashdesk reserves build|verify``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from hashdesk.reserves.build import ProofChoice, build_reserves, load_manifest
from hashdesk.reserves.errors import BuildError, SnapshotError
from hashdesk.reserves.verify import FORMATS, verify_file


@click.group()
def reserves() -> None:
    """Proof of reserves: build the merkle sum tree, verify proof files."""


class _ProofsChoice(click.ParamType):  # type: ignore[type-arg]
    name = "all|none|N"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> ProofChoice:
        text = str(value).strip().lower()
        if text in ("all", "none"):
            return "all" if text == "all" else "none"
        if text.isdigit():
            return int(text)
        self.fail(f"{value!r} is not 'all', 'none' or a number of accounts to sample", param, ctx)


class _StderrProgress:
    """One line on stderr, rewritten in place at most ten times a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.last < 0.1 and done < total:
            return
        if stage != self.stage and self.stage:
            click.echo("", err=True)
        self.stage, self.last = stage, now
        percent = 100 * done / total if total else 100
        click.echo(f"\r{stage}: {done:,}/{total:,} ({percent:.0f}%)", err=True, nl=False)

    def finish(self) -> None:
        if self.stage:
            click.echo("", err=True)


@reserves.command()
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="the liabilities snapshot: CSV (account column, then one column per asset) or Parquet")  # fmt: skip
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="a new or empty folder for root.json, manifest.json, proofs/ and private/")  # fmt: skip
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON: snapshot_time, block_heights, assets (symbols, or {symbol, decimals})")  # fmt: skip
@click.option("--proofs", default="all", show_default=True, type=_ProofsChoice(),
              help="write a proof file for all accounts, none, or a random sample of N")  # fmt: skip
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="processes that hash the tree and write the proof files (default: one per core)",
)
def build(
    input_path: Path,
    out: Path,
    manifest_path: Path | None,
    proofs: ProofChoice,
    workers: int | None,
) -> None:
    """Build the merkle sum tree of a snapshot: the root to publish and a proof per account."""
    progress = _StderrProgress()
    try:
        manifest = load_manifest(manifest_path) if manifest_path else None
        result = build_reserves(
            input_path, out, manifest, proofs=proofs, workers=workers, progress=progress
        )
    except (SnapshotError, BuildError) as error:
        progress.finish()
        raise click.ClickException(error.render()) from error
    progress.finish()
    click.echo(f"root {result.root_hash}")
    click.echo(
        f"accounts {result.leaf_count:,}, depth {result.depth}, proofs written {result.proofs_written:,}"
    )
    for symbol, total in result.totals.items():
        click.echo(f"total {symbol} {total}")
    timings = ", ".join(f"{stage} {seconds:.2f}s" for stage, seconds in result.seconds.items())
    click.echo(f"time: {timings}", err=True)


@reserves.command()
@click.argument("proof", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--root", help="the published root hash (hex) the proof must lead to")
@click.option(
    "--format", "format_name", default="auto", show_default=True, type=click.Choice(FORMATS)
)
@click.option("--tree", type=click.Path(path_type=Path, dir_okay=False),
              help="OKX v2: the full liabilities tree file that goes with the user info file")  # fmt: skip
def verify(proof: Path, root: str | None, format_name: str, tree: Path | None) -> None:
    """Verify a proof file: exit 0 when valid (and leading to --root), 1 when not."""
    result = verify_file(proof, format_name, root, tree)
    for step in result.steps:
        mark = "ok  " if step.ok else "FAIL"
        click.echo(f"{mark} {step.name}" + (f": {step.detail}" if step.detail else ""))
    failed = result.failed
    if result.ok:
        click.echo(f"VALID ({result.format}): the proof leads to root {result.root}")
        return
    failed_name = failed.name if failed else "verification"
    click.echo(f"INVALID ({result.format}): failed at step '{failed_name}'", err=True)
    sys.exit(1)


COMMANDS = [reserves]
