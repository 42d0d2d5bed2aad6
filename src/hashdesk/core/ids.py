"""Public identifiers: short, human-friendly, unguessable.

Tracking IDs use Crockford's base32 alphabet (no I, L, O, U), so a trader can read one over
the phone; eight random characters carry 40 bits from ``secrets``.
"""

from __future__ import annotations

import re
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_ID_PATTERN = re.compile(r"^HD-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
_READ_ALIKES = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_tracking_id() -> str:
    chars = "".join(secrets.choice(CROCKFORD) for _ in range(8))
    return f"HD-{chars[:4]}-{chars[4:]}"


def normalize_tracking_id(raw: str) -> str | None:
    """Accept what people type (lower case, spaces, O for 0); None when it cannot be one."""
    compact = re.sub(r"[\s-]", "", raw.strip().upper())
    if compact.startswith("HD"):
        compact = compact[2:]
    compact = compact.translate(_READ_ALIKES)
    candidate = f"HD-{compact[:4]}-{compact[4:]}"
    return candidate if TRACKING_ID_PATTERN.match(candidate) else None


def new_numeric_code(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))
