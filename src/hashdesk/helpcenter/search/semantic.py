"""Sentence embeddings of the indexed translations, and the query side.

Which encoder, measured on StackFAQ (bench/faq_retrieval.py): for English, MiniLM beats
multilingual e5 clearly (P@1 0.93 against 0.82 on titles), and costs a fraction of it per
passage, so English readers are served by MiniLM. Every other locale uses e5, the only
multilingual encoder here; English translations get an e5 vector too, because they are the
last step of every fallback chain and a Spanish query must be comparable with them.

Passages: MiniLM sees the title alone and the title with each of the first body chunks, and
an article scores its best passage (on StackFAQ this chunked maximum reached P@1 0.96, the
title alone 0.93). e5 costs about 1.5 ms per token here, superlinear in length, so it sees
the title only: that keeps a 20,000-page build to minutes rather than hours.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashdesk.core.embeddings import DIMENSION, EncoderName, Vectors, get_encoder
from hashdesk.helpcenter.search.documents import sentences
from hashdesk.helpcenter.search.vector_cache import VectorCache

Floats = npt.NDArray[np.float32]

ENGLISH = "en"
CHUNK_CHARS = 300
MINILM_CHUNKS = 3
QUERY_CACHE_SIZE = 2048
EMBED_BATCH = 16


def encoder_for_reader(locale: str) -> EncoderName:
    return "minilm" if locale == ENGLISH else "e5"


def encoders_for_document(locale: str) -> tuple[EncoderName, ...]:
    return ("minilm", "e5") if locale == ENGLISH else ("e5",)


def body_chunks(text: str, limit: int = MINILM_CHUNKS) -> list[str]:
    """The first ``limit`` runs of whole sentences of about ``CHUNK_CHARS`` characters."""
    chunks: list[str] = []
    current = ""
    for sentence in sentences(text):
        if current and len(current) + len(sentence) > CHUNK_CHARS:
            chunks.append(current[:CHUNK_CHARS])
            if len(chunks) == limit:
                return chunks
            current = ""
        current = f"{current} {sentence}".strip()
    if current and len(chunks) < limit:
        chunks.append(current[:CHUNK_CHARS])
    return chunks


def embed_passages(
    encoder: EncoderName, texts: list[str], vector_cache: VectorCache | None = None
) -> Vectors:
    """The vectors of ``texts``: those ``vector_cache`` holds are read back, the others
    computed (and stored in it)."""
    if vector_cache is None or not texts:
        return _compute_passages(encoder, texts)
    stored = vector_cache.lookup(encoder, texts)
    missing = [position for position, vector in enumerate(stored) if vector is None]
    computed = _compute_passages(encoder, [texts[position] for position in missing])
    if len(missing):
        vector_cache.store(encoder, [texts[position] for position in missing], computed)
    vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
    for position, vector in enumerate(stored):
        if vector is not None:
            vectors[position] = vector
    vectors[missing] = computed
    return vectors


def _compute_passages(encoder: EncoderName, texts: list[str]) -> Vectors:
    """``texts`` embedded shortest first, so each batch pads to similar lengths (one long
    passage in a batch of short ones multiplied the time and the activations by ten)."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda position: len(texts[position]))
    ordered = [texts[position] for position in order]
    model = get_encoder(encoder)
    # Small batches bound the activations of one run (MiniLM pads a batch to its longest).
    vectors = np.vstack(
        [
            model.encode_passages(ordered[start : start + EMBED_BATCH])
            for start in range(0, len(ordered), EMBED_BATCH)
        ]
    )
    restored = np.empty_like(vectors)
    restored[order] = vectors
    return restored


def passages(encoder: EncoderName, title: str, plain: str) -> list[str]:
    if encoder == "e5":
        return [title]
    return [title, *(f"{title}\n{chunk}" for chunk in body_chunks(plain))]


class QueryVectors:
    """Query embeddings with a small LRU cache: popular questions ("2fa", "withdrawal")
    repeat all day, and the embedding is most of a search's time."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self._size = size
        self._cache: OrderedDict[tuple[str, str], Floats] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, encoder: EncoderName, query: str) -> Floats:
        key = (encoder, " ".join(query.casefold().split()))
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        vector: Floats = get_encoder(encoder).encode_queries([key[1]])[0]
        with self._lock:
            self._cache[key] = vector
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return vector


@dataclass(frozen=True)
class VectorTable:
    """Passage vectors of one encoder, grouped by document row (rows ascending)."""

    matrix: Vectors  # (passages, DIMENSION)
    starts: npt.NDArray[np.int64]  # first passage of each document that has vectors
    rows: npt.NDArray[np.int64]  # the document row of each such group
    document_count: int

    def document_scores(self, query: Floats) -> Floats:
        """Best passage cosine per document row; NaN where a row has no vector (yet)."""
        scores = np.full(self.document_count, np.nan, dtype=np.float32)
        if len(self.rows):
            similarities = self.matrix @ query
            scores[self.rows] = np.maximum.reduceat(similarities, self.starts)
        return scores


def build_vector_table(per_row: list[Vectors | None]) -> VectorTable:
    blocks = [(row, block) for row, block in enumerate(per_row) if block is not None and len(block)]
    if not blocks:
        empty = np.zeros(0, dtype=np.int64)
        return VectorTable(np.zeros((0, DIMENSION), dtype=np.float32), empty, empty, len(per_row))
    sizes = np.array([len(block) for _, block in blocks], dtype=np.int64)
    starts = np.zeros(len(blocks), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    matrix = np.ascontiguousarray(np.vstack([block for _, block in blocks]), dtype=np.float32)
    rows = np.array([row for row, _ in blocks], dtype=np.int64)
    return VectorTable(matrix, starts, rows, len(per_row))
