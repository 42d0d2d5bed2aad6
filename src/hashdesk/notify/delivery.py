"""Sending: SMTP for email, signed HTTP POSTs for webhooks."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx

from hashdesk.config import Settings
from hashdesk.core.signing import SIGNATURE_HEADER, sign


class DeliveryError(Exception):
    """A delivery failed in a way worth retrying."""


def send_email(settings: Settings, payload: dict[str, Any]) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Message-ID"] = make_msgid(domain="hashdesk.local")
    message.set_content(payload["body"])
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}") from error


def send_webhook(url: str, secret: str, event: dict[str, Any]) -> None:
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        "User-Agent": "HashDesk-Webhooks/1",
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as error:
        raise DeliveryError(f"{url}: {error}") from error
    if response.status_code >= 300:
        raise DeliveryError(f"{url} answered {response.status_code}")
