"""Proof files published by other exchanges, each verified the way its publisher hashes it.

One module per exchange; each has ``looks_like(document)`` (for ``--format auto``) and
``verify(document, result, published_root, tree_file)``. Their rules differ and are part of the
hash: decimal formatting, key order, truncation and how strings are concatenated.
"""
