"""The exchange's signed connector calls: every domain that receives data from the exchange
(traders, transfers, positions, marks) reads its body and checks its signature here."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Request

from hashdesk.config import Settings
from hashdesk.core.errors import InvalidInput, NotAuthenticated, PayloadTooLarge
from hashdesk.core.signing import SIGNATURE_HEADER, request_message, verify

MAX_CONNECTOR_BODY = 64 * 1024


async def connector_body(request: Request) -> bytes:
    """The raw body (the signature covers its bytes), read on the event loop so that the route
    can run in the thread pool; reading stops as soon as it passes the limit."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CONNECTOR_BODY:
            raise PayloadTooLarge("The request body is too large.", field="body")
    return bytes(body)


ConnectorBody = Annotated[bytes, Depends(connector_body)]


def signed_connector_payload(request: Request, settings: Settings, body: bytes) -> object:
    """The JSON body of a connector call whose signature holds. Signed:
    ``X-HashDesk-Signature: t=..,v1=..``, the HMAC-SHA256 with the connector secret of
    ``"<t>.<METHOD> <path>\\n<body>"``. Read by hand (the signature covers the raw bytes); the
    caller validates it like any other request body, one problem entry per wrong field."""
    message = request_message(request.method, request.url.path, body)
    if not verify(settings.connector_secret, request.headers.get(SIGNATURE_HEADER, ""), message):
        raise NotAuthenticated("The connector signature is missing, wrong or too old.")
    try:
        return json.loads(body)
    except ValueError as error:
        raise InvalidInput("The request body is not JSON.", field="body") from error
