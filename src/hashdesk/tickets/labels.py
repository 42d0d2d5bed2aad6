"""Human names of statuses, priorities, departments and default categories, marked for
translation (``N_`` marks a msgid for extraction; templates translate at render time)."""

from __future__ import annotations

from hashdesk.core.i18n import N_

__all__ = ["N_"]


STATUS_LABELS = {
    "new": N_("New"),
    "open": N_("Open"),
    "pending": N_("Waiting for your reply"),
    "escalated": N_("Escalated"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}
PRIORITY_LABELS = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
DEPARTMENT_LABELS = {
    "frontline": N_("Frontline support"),
    "blockchain": N_("Blockchain technicians"),
    "engineering": N_("API & engineering"),
    "futures": N_("Futures desk"),
    "security": N_("Security"),
    "vip": N_("VIP desk"),
}
FIELD_LABELS = {
    "network": N_("Network"),
    "asset": N_("Asset"),
    "tx_hash": N_("Transaction hash (TxID)"),
    "address": N_("Address"),
    "order_id": N_("Order ID"),
    "memo": N_("Memo / tag"),
}
# slug, name, department, fields, required fields, default priority
DEFAULT_CATEGORIES: tuple[tuple[str, str, str, list[str], list[str], str], ...] = (
    ("account_recovery", N_("Account recovery"), "frontline", [], [], "high"),
    ("login_2fa", N_("Login & 2FA"), "frontline", [], [], "normal"),
    ("deposit", N_("Deposit"), "blockchain",
     ["network", "asset", "tx_hash", "address", "memo"], ["network", "asset"], "normal"),
    ("withdrawal", N_("Withdrawal"), "blockchain",
     ["network", "asset", "tx_hash", "address", "memo"], ["network", "asset"], "normal"),
    ("trading_futures", N_("Trading & futures"), "futures", ["asset", "order_id"], [], "normal"),
    ("api", N_("API"), "engineering", ["order_id"], [], "normal"),
    ("kyc", N_("KYC & verification"), "frontline", [], [], "normal"),
    ("security", N_("Security"), "security", ["address", "tx_hash", "network"], [], "high"),
    ("other", N_("Other"), "frontline", ["asset", "order_id"], [], "low"),
)  # fmt: skip
