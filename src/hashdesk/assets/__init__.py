"""Asset and network knowledge. For now: the address and transaction-hash formats per network."""

from hashdesk.assets.formats import NETWORKS, Network, check_address, check_tx_hash

__all__ = ["NETWORKS", "Network", "check_address", "check_tx_hash"]
