"""The departments a ticket moves between, and the staff role that usually sits in each."""

from __future__ import annotations

import enum


class Department(enum.StrEnum):
    FRONTLINE = "frontline"
    BLOCKCHAIN = "blockchain"
    ENGINEERING = "engineering"
    FUTURES = "futures"
    SECURITY = "security"
    VIP = "vip"
