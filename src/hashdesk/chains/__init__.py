"""Blockchain networks: RPC clients, the network monitor with incidents, and the deposit tracer."""
