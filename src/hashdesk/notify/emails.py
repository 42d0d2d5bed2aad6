"""Email texts. A template's first line is ``Subject: ...``; the rest is the body."""

from __future__ import annotations

from typing import Any

from hashdesk.web.templating import render, text_environment


def render_email(template: str, locale: str, context: dict[str, Any]) -> tuple[str, str]:
    text = render(text_environment(), f"notify/{template}.txt", locale, context)
    first_line, _, body = text.partition("\n")
    subject = first_line.removeprefix("Subject:").strip()
    return subject, body.strip() + "\n"
