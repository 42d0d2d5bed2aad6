"""HMAC-SHA256 signatures, used both ways: our webhooks to the exchange sign their body; the
exchange's connector calls to us sign ``request_message`` (method, path and body).
Header value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<message>">``."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-HashDesk-Signature"
TOLERANCE_SECONDS = 300


def request_message(method: str, path: str, body: bytes) -> bytes:
    """What a signed API request signs: method, path and body, so that a captured signature
    cannot be replayed against another resource (another trader's id, say)."""
    return f"{method.upper()} {path}\n".encode() + body


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256)
    return f"t={moment},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True for a signature made with ``secret`` over ``body`` within ``tolerance`` seconds."""
    try:
        parts = dict(item.strip().split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(sign(secret, body, timestamp), header.strip())
