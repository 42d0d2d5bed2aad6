"""The widget script, served with its strings in the page's language.

``widget.js`` calls ``t("English text")``; every such text is listed in ``WIDGET_STRINGS`` (a
test keeps the two in step) so that the catalogs carry it, and ``render_widget`` prepends
the translations for the requested locale and the server's own address (the script is
loaded from exchanges' sites, so relative URLs would point at them).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from hashdesk.core.i18n import N_, gettext_for, match_locale

WIDGET_FILE = Path(__file__).resolve().parent / "static" / "widget.js"
WIDGET_CSS = WIDGET_FILE.with_name("widget.css")

WIDGET_STRINGS = (
    N_("An agent is about to join…"),
    N_("Attach a file"),
    N_("Close"),
    N_("Email me the transcript"),
    N_("How was this chat?"),
    N_("Send rating"),
    N_("Thank you for your feedback."),
    N_("The transcript is on its way to your email."),
    N_("The file could not be opened."),
    N_("The file could not be sent."),
    N_("Your comment (optional)"),
    N_("{rating} of 5"),
    N_("Connecting you to a person…"),
    N_("Help"),
    N_("I would like to talk to a person."),
    N_("Not connected; your message will be sent when we are back."),
    N_("Reconnecting…"),
    N_("Seen"),
    N_("Send"),
    N_("Slow down a little, please."),
    N_("Support chat"),
    N_("Support"),
    N_("Talk to a person"),
    N_("The assistant is looking…"),
    N_("The assistant is not available; you can talk to a person."),
    N_("This chat has ended."),
    N_("Type your question…"),
    N_("You are number {position} in the queue; expected wait about {minutes} min."),
    N_("Your email address, so that we can answer you:"),
    N_("Your message"),
    N_("{name} is typing…"),
    N_("We sent a code to {email}; enter it to confirm your address."),
    N_("Code from the email"),
    N_("Confirm"),
    N_("Your email address is confirmed."),
)


@lru_cache(maxsize=1)
def _script() -> str:
    return WIDGET_FILE.read_text(encoding="utf-8")


def render_widget(locale: str | None, base_url: str) -> str:
    language = match_locale(locale) or "en"
    translate = gettext_for(language).gettext
    strings = {text: translate(text) for text in WIDGET_STRINGS}
    preamble = (
        f"window.HASHDESK_STRINGS={json.dumps(strings, ensure_ascii=False)};"
        f"window.HASHDESK_BASE={json.dumps(base_url.rstrip('/'))};"
        f"window.HASHDESK_LOCALE={json.dumps(language)};\n"
    )
    # A "</script" inside the strings could end an inline copy early: escape the slash.
    return preamble.replace("</", "<\\/") + _script()
