"""The widget script: served with its strings, small, and every string it shows translatable."""

from __future__ import annotations

import gzip
import re

from fastapi.testclient import TestClient

from hashdesk.chat.widget import WIDGET_FILE, WIDGET_STRINGS

MAX_GZIPPED_BYTES = 40 * 1024


def test_the_widget_is_one_small_script_served_with_its_base_address(client: TestClient) -> None:
    response = client.get("/api/v1/chat/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert 'window.HASHDESK_BASE="http://testserver"' in response.text
    assert len(gzip.compress(response.content)) < MAX_GZIPPED_BYTES


def test_every_string_the_widget_shows_is_in_the_catalog_list() -> None:
    used = set(re.findall(r'\bt\("([^"]+)"', WIDGET_FILE.read_text(encoding="utf-8")))
    assert used == set(WIDGET_STRINGS)


def test_an_unknown_locale_falls_back_to_english_and_bad_ones_are_refused(
    client: TestClient,
) -> None:
    english = client.get("/api/v1/chat/widget.js", params={"locale": "xx"})
    assert 'window.HASHDESK_LOCALE="en"' in english.text
    refused = client.get("/api/v1/chat/widget.js", params={"locale": "x" * 40})
    assert refused.status_code == 422


def test_the_widget_session_hands_out_a_csrf_token_the_assistant_accepts(
    client: TestClient,
) -> None:
    token = client.get("/api/v1/chat/widget-session").json()["csrf_token"]
    refused = client.post("/api/v1/assistant/conversations", json={"message": "hi"})
    assert refused.status_code == 403
    started = client.post("/api/v1/assistant/conversations", json={"locale": "en"},
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert started.status_code == 201, started.text
