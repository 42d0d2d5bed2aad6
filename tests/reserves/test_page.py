"""The verification page: served in every locale, and in Chromium it verifies a proof the
builder wrote (valid, drawing the path) and refuses a tampered copy, all inside the browser."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from hashdesk.app import create_app
from hashdesk.runtime import Runtime
from tests.conftest import free_port
from tests.e2e import test_browser as browser

from .helpers import build, proofs

chromium = browser.chromium


def test_the_page_and_its_script_are_served(runtime: Runtime) -> None:
    with TestClient(create_app(runtime.settings, runtime)) as client:
        root = "ab" * 32
        page = client.get(f"/hc/fr/proof-of-reserves?root={root}")
        assert page.status_code == 200 and f'value="{root}"' in page.text
        assert '<script src="/reserves/verify.js" defer></script>' in page.text
        assert (
            '<a href="/hc/fr/articles/28" data-testid="reserves-how-to">Comment vérifier</a>'
            in page.text
        )
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert 'value=""' in client.get("/hc/en/proof-of-reserves?root=not-hex").text
        assert client.get("/hc/xx/proof-of-reserves").status_code == 404
        script = client.get("/reserves/verify.js")
        assert script.status_code == 200 and "crypto.subtle.digest" in script.text


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime.settings, runtime),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.browser
def test_the_browser_verifies_a_built_proof_and_refuses_a_tampered_one(
    chromium: Browser, served: str, tmp_path: Path
) -> None:
    result = build(
        tmp_path,
        ["BTC", "USDT"],
        [(f"trader-{n}", (f"0.{n:08d}", f"{n * 100}.5")) for n in range(1, 12)],
    )
    proof = proofs(tmp_path / "out")[6]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(proof))
    proof["balances"]["USDT"] = proof["balances"]["USDT"].replace("700.5", "799.5")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(proof))
    context = chromium.new_context(base_url=served, locale="en-US")
    requests: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.method))
        page.goto(f"/hc/en/proof-of-reserves?root={result.root_hash}")
        page.get_by_test_id("reserves-file").set_input_files(str(good))
        status = page.get_by_test_id("reserves-status")
        expect(status).to_have_attribute("data-state", "valid")
        expect(status).to_contain_text(result.root_hash)
        # The path is drawn from the leaf (first) up to the root (last: its hash is the root).
        nodes = page.get_by_test_id("reserves-path-node")
        expect(nodes).to_have_count(len(proof["path"]) + 1)
        expect(nodes.last).to_contain_text(result.root_hash)
        expect(page.get_by_test_id("reserves-step-failed")).to_have_count(0)

        page.get_by_test_id("reserves-file").set_input_files(str(tampered))
        expect(status).to_have_attribute("data-state", "invalid")
        expect(status).to_contain_text("leaf hash")
        expect(page.get_by_test_id("reserves-step-failed")).to_have_text("✗ leaf hash")

        page.get_by_test_id("reserves-root").fill("00" * 32)
        page.get_by_test_id("reserves-file").set_input_files(str(good))
        expect(status).to_contain_text("published root")
        assert set(requests) == {"GET"}, "the proof file is never uploaded"
    finally:
        context.close()
