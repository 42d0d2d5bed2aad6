"""Asset and network knowledge: the formats of addresses, hashes, tokens and memos per
network (``formats``), and the registry of networks and assets (``models``).

For other domains (the chain monitor, the deposit tracer):

- ``hashdesk.assets.live.live_registry(runtime).index()``: the in-memory registry of this
  process (``RegistryIndex``: ``.networks`` by slug, ``.lookup(text)``), kept current;
- ``hashdesk.assets.queries``: ``get_network``, ``get_asset``, ``list_networks`` (RPC
  endpoints, confirmations, explorer templates, formats);
- ``hashdesk.assets.actions.check_set_network_status``: maintenance on and off, audited and
  announced on the ``assets`` channel.

Only the formats are imported here: they are used by ticket forms on every request, and
must not pull the registry's models in with them.
"""

from hashdesk.assets.formats import NETWORKS, Network, check_address, check_tx_hash

__all__ = ["NETWORKS", "Network", "check_address", "check_tx_hash"]
