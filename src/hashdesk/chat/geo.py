"""The region of a client address, from the offline GeoIP database of ``geoip2fast``.

The database ships inside the package (no download at run time) and loads once per process,
on first use. The region is the ISO 3166 country code, or "" for private, loopback and
unknown addresses.

Behind a reverse proxy the socket's peer is the proxy: ``HASHDESK_CHAT_TRUSTED_PROXY_HEADER``
names the header it sets (``X-Forwarded-For``), and the *last* address in it is used, the one
the trusted proxy itself saw (earlier entries are whatever the client claimed).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from typing import Any

_lock = threading.Lock()
_database: Any = None


def _geoip() -> Any:
    global _database
    with _lock:
        if _database is None:
            from geoip2fast import GeoIP2Fast

            _database = GeoIP2Fast(verbose=False)
        return _database


def client_ip(peer: str | None, headers: Mapping[str, str], trusted_header: str | None) -> str:
    """The client's address: from the trusted proxy's header when one is configured."""
    if trusted_header:
        forwarded = headers.get(trusted_header.lower()) or headers.get(trusted_header) or ""
        last = forwarded.split(",")[-1].strip()
        if _is_address(last):
            return last
    return peer or ""


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def region_of(address: str) -> str:
    """The country code of ``address``, or "" when it is private, local or unknown."""
    if not _is_address(address) or not ipaddress.ip_address(address).is_global:
        return ""
    code = str(_geoip().lookup(address).country_code or "")
    return code.upper() if len(code) == 2 and code.isalpha() else ""
