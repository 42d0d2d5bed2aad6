"""``hashdesk lang ...``."""

from __future__ import annotations

import json
import sys

import click


@click.group()
def lang() -> None:
    """Language detection."""


@lang.command()
def detect() -> None:
    """Detect the language of each line read on stdin.

    Prints one JSON object per input line, in order and flushed at once (so it works in a
    pipe): {"lang": "<code>", "confidence": <0..1>}, the code one of en zh-Hans zh-Hant ja ko
    ru uk es pt fr de it tr vi id th ar fa pl nl hi, or "und" when unsure or unsupported.
    Blank lines give {"lang": "und", "confidence": 0.0}; bytes that are not UTF-8 are read as
    replacement characters.
    """
    from hashdesk.assistant.langid import get_detector
    from hashdesk.assistant.langid.models import ModelUnavailableError

    try:
        detector = get_detector()
    except ModelUnavailableError as error:
        raise click.ClickException(f"Cannot load the language models: {error}") from error
    stdin, stdout = sys.stdin.buffer, sys.stdout
    # readline, not iteration: each answer goes out before the next line has arrived.
    for raw in iter(stdin.readline, b""):
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        detection = detector.detect(text)
        stdout.write(
            json.dumps({"lang": detection.lang, "confidence": detection.confidence}) + "\n"
        )
        stdout.flush()
