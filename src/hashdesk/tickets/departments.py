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


DEPARTMENT_NAMES: dict[Department, str] = {
    Department.FRONTLINE: "Frontline support",
    Department.BLOCKCHAIN: "Blockchain technicians",
    Department.ENGINEERING: "API & engineering",
    Department.FUTURES: "Futures desk",
    Department.SECURITY: "Security",
    Department.VIP: "VIP desk",
}
