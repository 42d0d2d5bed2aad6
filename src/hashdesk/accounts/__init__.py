"""People: traders pushed by the exchange, and staff (agents) who sign in with a password."""

from hashdesk.accounts.models import Agent, Trader

__all__ = ["Agent", "Trader"]
