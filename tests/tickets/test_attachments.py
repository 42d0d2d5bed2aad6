"""Attachments: checked for size and for type (sniffed from the bytes, not trusted from the
browser), stored outside the web root, downloadable only by whoever may see the ticket."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.auth import Role
from hashdesk.core.errors import PayloadTooLarge, UnsupportedMedia
from hashdesk.tickets.attachments import Upload, check_uploads, sniff_type
from tests.conftest import login_agent, login_trader, make_agent, make_trader, open_ticket
from tests.tickets.test_api import assert_problem

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(200)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (PDF, "application/pdf"),
        ("Ошибка вывода: адрес не найден\n".encode(), "text/plain"),
        (ELF, None),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
    ],
)
def test_the_type_is_read_from_the_first_bytes(data: bytes, content_type: str | None) -> None:
    assert sniff_type(data) == content_type


def test_a_file_over_the_limit_or_of_the_wrong_type_is_refused_by_name() -> None:
    with pytest.raises(PayloadTooLarge, match=r"big\.png"):
        check_uploads([Upload("big.png", PNG + bytes(2 * 1024 * 1024))], 1024 * 1024)
    with pytest.raises(UnsupportedMedia, match=r"screenshot\.png"):
        check_uploads([Upload("screenshot.png", ELF)], 1024 * 1024)  # the name lies


def test_path_tricks_in_file_names_are_neutralised() -> None:
    [checked] = check_uploads([Upload("..\\..\\etc/passwd<x>.txt", b"hello")], 1024)
    assert checked.filename == "passwd_x_.txt"


def test_a_trader_uploads_a_screenshot_and_both_sides_can_download_it(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    login_trader(client, settings, trader)

    uploaded = client.post(f"/api/v1/tickets/{ticket.tracking_id}/attachments",
                           files=[("files", ("error.png", PNG, "application/octet-stream"))],
                           data={"body": "The error I get"})  # fmt: skip
    assert uploaded.status_code == 201, uploaded.text
    [attachment] = uploaded.json()["attachments"]
    assert (attachment["content_type"], attachment["size"]) == ("image/png", len(PNG))
    stored = (
        settings.upload_dir / hashlib.sha256(PNG).hexdigest()[:2] / hashlib.sha256(PNG).hexdigest()
    )
    assert stored.read_bytes() == PNG
    url = f"/api/v1/tickets/{ticket.id}/attachments/{attachment['id']}"

    download = client.get(url)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment")
    login_agent(another_client, make_agent(session))
    assert another_client.get(url).content == PNG


def test_only_those_who_may_see_the_ticket_may_download(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    owner = make_trader(session, "u-owner")
    ticket = open_ticket(session, owner)
    other_ticket = open_ticket(session, owner, subject="Another question")
    login_trader(client, settings, owner)
    uploaded = client.post(f"/api/v1/tickets/{ticket.id}/attachments",
                           files=[("files", ("statement.pdf", PDF, "application/pdf"))])  # fmt: skip
    attachment_id = uploaded.json()["attachments"][0]["id"]

    login_trader(another_client, settings, make_trader(session, "u-stranger"))
    assert_problem(
        another_client.get(f"/api/v1/tickets/{ticket.id}/attachments/{attachment_id}"), 404
    )
    # The right attachment id under the wrong ticket does not leak it either.
    assert_problem(
        client.get(f"/api/v1/tickets/{other_ticket.id}/attachments/{attachment_id}"), 404
    )


def test_an_attachment_on_an_internal_note_is_for_staff_only(
    client: TestClient, another_client: TestClient, session: Session, settings: Settings
) -> None:
    from hashdesk.accounts.queries import agent_principal
    from hashdesk.tickets.actions import check_agent_reply

    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    [checked] = check_uploads([Upload("kyc-selfie.png", PNG)], settings.max_upload_bytes)
    note = check_agent_reply(session, agent_principal(make_agent(session, Role.SECURITY)), ticket,
                             "Selfie does not match the ID.", internal=True, uploads=[checked])  # fmt: skip
    session.commit()
    session.refresh(note, ["attachments"])
    url = f"/api/v1/tickets/{ticket.id}/attachments/{note.attachments[0].id}"

    login_trader(client, settings, trader)
    assert_problem(client.get(url), 404)
    login_agent(another_client, make_agent(session, Role.SECURITY, email="sec2@desk.example.com"))
    assert another_client.get(url).status_code == 200


def test_the_api_answers_413_and_415_naming_the_files(
    client: TestClient, session: Session, settings: Settings
) -> None:
    settings.max_upload_bytes = 1024
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    login_trader(client, settings, trader)
    url = f"/api/v1/tickets/{ticket.id}/attachments"

    too_big = client.post(url, files=[("files", ("huge.png", PNG + bytes(2048), "image/png"))])
    assert "huge.png" in assert_problem(too_big, 413, "files")["detail"]
    disguised = client.post(url, files=[("files", ("invoice.pdf", ELF, "application/pdf"))])
    assert "invoice.pdf" in assert_problem(disguised, 415, "files")["detail"]
    empty = client.post(url, files=[("files", ("empty.txt", b"", "text/plain"))])
    assert_problem(empty, 422, "files")
    six = [("files", (f"{n}.txt", b"note", "text/plain")) for n in range(6)]
    assert_problem(client.post(url, files=six), 422, "files")
    assert not settings.upload_dir.exists() or not any(settings.upload_dir.rglob("*"))


def test_the_api_stops_reading_at_the_first_file_past_the_limit(
    client: TestClient, session: Session, settings: Settings
) -> None:
    trader = make_trader(session)
    ticket = open_ticket(session, trader)
    login_trader(client, settings, trader)
    url = f"/api/v1/tickets/{ticket.id}/attachments"

    many = [("files", (f"{n}.txt", b"note", "text/plain")) for n in range(200)]
    problem = assert_problem(client.post(url, files=many), 422, "files")
    assert "At most 5 files" in problem["detail"]
    assert_problem(client.post(url, data={"body": "no file"}), 422, "files")
    too_long = client.post(url, data={"body": "x" * 20_001},
                           files=[("files", ("a.txt", b"note", "text/plain"))])  # fmt: skip
    assert_problem(too_long, 422, "body")
    assert not settings.upload_dir.exists() or not any(settings.upload_dir.rglob("*"))

    only_files = client.post(url, files=[("files", ("a.txt", b"one", "text/plain")),
                                         ("files", ("b.png", PNG, "image/png"))])  # fmt: skip
    assert only_files.status_code == 201, only_files.text
    assert only_files.json()["body"] == "a.txt, b.png"


def test_the_attachments_endpoint_describes_its_multipart_body(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][
        "/api/v1/tickets/{ticket_ref}/attachments"
    ]["post"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["files"] and schema["properties"]["files"]["maxItems"] == 5
