"""``hashdesk lang ...``."""

from __future__ import annotations

import click


@click.group()
def lang() -> None:
    """Language detection."""
