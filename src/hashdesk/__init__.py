"""HashDesk: a self-hosted support platform for cryptocurrency exchanges."""

__version__ = "0.1.0"
