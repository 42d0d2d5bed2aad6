"""The agents' proof lookup (``/console/reserves``): staff who answer traders find a trader's
proof in the latest build the builder wrote, see it verified step by step and get a message
to send; other roles, traders and strangers are turned away, and every lookup is audited."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hashdesk.core.audit import AuditEntry
from hashdesk.core.auth import Role
from hashdesk.reserves import build_reserves, verify_document
from hashdesk.reserves.build import BuildResult
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, login_trader, make_agent, make_trader

from .helpers import write_csv

ASSETS = ["BTC", "USDT"]
ROWS = [
    ("u-1001", ("0.5", "1200.25")),
    ("u-1002", ("0", "10")),
    ("u-1003", ("2.00000001", "0")),
    ("u-1004", ("1", "1")),
    ("u-1005", ("0.1", "99.99")),  # five leaves: the last one is promoted on two levels
]


def make_build(folder: Path, proofs: str = "none") -> BuildResult:
    snapshot = write_csv(folder.parent / f"{folder.name}.csv", ASSETS, ROWS)
    return build_reserves(snapshot, folder, proofs=proofs, workers=1)  # type: ignore[arg-type]


@pytest.fixture
def published(runtime: Runtime, tmp_path: Path) -> BuildResult:
    """One build in a folder of builds, which the deployment names as its reserves folder."""
    (tmp_path / "builds").mkdir()
    result = make_build(tmp_path / "builds" / "2026-11-27")
    runtime.settings.reserves_dir = tmp_path / "builds"
    return result


def text_of(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    assert found, f"no {testid} on the page"
    return unescape(found.group(1)).strip()


def audit_entries(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_strangers_traders_and_community_staff_are_turned_away(
    client: TestClient, session: Session, runtime: Runtime, published: BuildResult
) -> None:
    for url in ("/console/reserves", "/console/reserves?account=u-1001"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login")
    assert client.get("/console/reserves/proof?account=u-1001").status_code == 403
    trader = make_trader(session, "u-1001")
    login_trader(client, runtime.settings, trader)
    assert client.get("/console/reserves", follow_redirects=False).status_code == 303
    assert client.get("/console/reserves/proof?account=u-1001").status_code == 403
    client.cookies.clear()
    login_agent(client, make_agent(session, Role.COMMUNITY))
    refused = client.get("/console/reserves?account=u-1001")
    assert refused.status_code == 403 and "reserves-result" not in refused.text
    assert client.get("/console/reserves/proof?account=u-1001").status_code == 403
    assert audit_entries(session, "reserves.proof_viewed") == []


def test_an_agent_walks_a_trader_through_their_proof(
    client: TestClient, session: Session, published: BuildResult
) -> None:
    trader = make_trader(session, "u-1005", name="Ana Silva", language="pt")
    agent = make_agent(session, Role.FRONTLINE)
    login_agent(client, agent)
    page = client.get("/console/reserves?account=u-1005")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="reserves-verdict" data-valid="true"' in html
    assert text_of(html, "reserves-build-root") == published.root_hash
    assert text_of(html, "reserves-published-root") == published.root_hash
    assert text_of(html, "reserves-computed-root") == published.root_hash

    # What the page shows is the proof the builder can write for the account, verified.
    proof = client.get("/console/reserves/proof?account=u-1005")
    assert proof.status_code == 200 and "attachment" in proof.headers["content-disposition"]
    document = proof.json()
    assert verify_document(document).ok
    assert text_of(html, "reserves-leaf-hash") == document["leaf"]["hash"]
    assert "BTC 0.10000000" in html and "USDT 99.99000000" in html
    assert html.count('data-testid="reserves-path-step"') == len(document["path"]) == 1
    assert document["path"][0]["hash"] in html
    steps = re.findall(r'data-step="([^"]+)" data-ok="(true|false)"', html)
    assert [name for name, _ in steps][-2:] == ["root hash", "published root"]
    assert all(ok == "true" for _, ok in steps)

    # The message: the trader's language, the public page with the root, the how-to article.
    message = unescape(text_of(html, "reserves-message"))
    assert message.startswith("Olá, Ana Silva,")  # Portuguese, as the trader reads
    assert f"/hc/pt/proof-of-reserves?root={published.root_hash}" in message
    assert "/hc/pt/articles/28" in message and "BTC 0.10000000, USDT 99.99000000" in message

    viewed = audit_entries(session, "reserves.proof_viewed")
    assert [(e.actor_id, e.object_type, e.object_id) for e in viewed] == [
        (agent.id, "trader", trader.id),
        (agent.id, "trader", trader.id),  # the download is a view too
    ]
    assert viewed[0].after == {"account_id": "u-1005", "build": "2026-11-27",
                               "root": published.root_hash, "valid": True}  # fmt: skip


def test_an_account_unknown_to_the_desk_is_filed_under_its_leaf(
    client: TestClient, session: Session, published: BuildResult
) -> None:
    login_agent(client, make_agent(session, Role.TECHNICIAN))
    page = client.get("/console/reserves?account=u-1003")
    assert page.status_code == 200 and 'data-valid="true"' in page.text
    assert unescape(text_of(page.text, "reserves-message")).startswith("Hello,\n")
    [entry] = audit_entries(session, "reserves.proof_viewed")
    assert (entry.object_type, entry.object_id) == ("reserves_leaf", 2)


def test_an_account_not_in_the_build_is_a_clear_404_and_audited(
    client: TestClient, session: Session, published: BuildResult
) -> None:
    agent = make_agent(session, Role.FRONTLINE)
    login_agent(client, agent)
    page = client.get("/console/reserves?account=u-9999")
    assert page.status_code == 404 and "reserves-result" not in page.text
    assert "Account u-9999 is not in the proof of reserves" in text_of(page.text, "reserves-error")
    assert client.get("/console/reserves/proof?account=u-9999").status_code == 404
    too_long = client.get("/console/reserves?account=" + "x" * 129)
    assert too_long.status_code == 404 and "1 to 128 characters" in too_long.text
    failed = audit_entries(session, "reserves.proof_lookup_failed")
    assert [entry.after["account_id"] for entry in failed if entry.after] == [
        "u-9999",
        "u-9999",
        "x" * 128,
    ]
    assert all(entry.actor_id == agent.id for entry in failed)


def test_a_root_other_than_the_announced_one_fails_at_that_step(
    client: TestClient, session: Session, published: BuildResult
) -> None:
    login_agent(client, make_agent(session, Role.LEAD))
    announced = "ab" * 32
    page = client.get(f"/console/reserves?account=u-1001&root=0x{announced.upper()}")
    assert page.status_code == 200 and 'data-valid="false"' in page.text
    assert "Failed step: published root" in page.text
    assert text_of(page.text, "reserves-published-root") == announced
    assert re.search(r'data-step="root hash" data-ok="true"', page.text)
    assert re.search(r'data-step="published root" data-ok="false"', page.text)
    # Not a root hash at all: the build's own root is used.
    page = client.get("/console/reserves?account=u-1001&root=yesterday")
    assert 'data-valid="true"' in page.text


def test_the_latest_build_is_used_and_written_proof_files_are_read(
    client: TestClient, session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    (tmp_path / "builds").mkdir()
    older = make_build(tmp_path / "builds" / "b-old")
    newer = make_build(tmp_path / "builds" / "a-new", proofs="all")
    manifest = tmp_path / "builds" / "b-old" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(data | {"built_at": "2020-01-01T00:00:00Z"}))
    runtime.settings.reserves_dir = tmp_path / "builds"
    login_agent(client, make_agent(session, Role.ACCOUNT_MANAGER))
    page = client.get("/console/reserves?account=u-1002")
    assert text_of(page.text, "reserves-published-root") == newer.root_hash != older.root_hash
    assert 'data-valid="true"' in page.text
    # The file the build wrote is the one shown (a tampered copy fails where it was changed).
    written = next((tmp_path / "builds" / "a-new" / "proofs").glob("*/*.json"))
    document = json.loads(written.read_text())
    account = document["account"]["id"]
    document["balances"]["USDT"] = "1000000.00000000"
    written.write_text(json.dumps(document))
    tampered = client.get(f"/console/reserves?account={account}")
    assert 'data-valid="false"' in tampered.text and "Failed step: leaf hash" in tampered.text


def test_without_a_build_the_page_says_what_to_configure(
    client: TestClient, session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    login_agent(client, make_agent(session, Role.FRONTLINE))
    page = client.get("/console/reserves")
    assert page.status_code == 200 and "HASHDESK_RESERVES_DIR" in page.text
    assert client.get("/console/reserves?account=u-1001").status_code == 404
    runtime.settings.reserves_dir = tmp_path / "empty"
    (tmp_path / "empty").mkdir()
    assert "No proof-of-reserves build was found" in client.get("/console/reserves").text
    # A published copy without its private part cannot look accounts up.
    make_build(tmp_path / "public")
    shutil.rmtree(tmp_path / "public" / "private")
    runtime.settings.reserves_dir = tmp_path / "public"
    page = client.get("/console/reserves?account=u-1001")
    assert page.status_code == 404 and "has no private part" in page.text


def test_the_public_page_offers_the_latest_build_root(
    client: TestClient, published: BuildResult
) -> None:
    page = client.get("/hc/en/proof-of-reserves")
    assert f'value="{published.root_hash}"' in page.text
    announced = "cd" * 32
    assert f'value="{announced}"' in client.get(f"/hc/en/proof-of-reserves?root={announced}").text
