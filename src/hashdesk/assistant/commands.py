"""``hashdesk assistant|triage|lang ...``."""

from __future__ import annotations

import click

from hashdesk.assistant.langid.commands import lang
from hashdesk.assistant.triage.commands import triage


@click.group()
def assistant() -> None:
    """The self-service assistant."""


COMMANDS = [assistant, triage, lang]
