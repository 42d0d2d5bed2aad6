"""``hashdesk triage ...``."""

from __future__ import annotations

import click


@click.group()
def triage() -> None:
    """Train and run the triage ("reason for contact") classifier."""
