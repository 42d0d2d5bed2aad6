"""BM25F over three fields of each translation (title, body, tags), on plain numpy arrays.

Every document's terms are analysed once and kept (``AnalysedDoc``); a snapshot's postings
are rebuilt from them in one vectorised pass (a few hundred milliseconds at 20,000 pages), so
an update never edits shared arrays that a search is reading: it builds new ones and swaps.

Scoring is BM25F: per-field term frequencies, each normalised by its field's length, are
weighted and summed before the usual saturation, so a word in a short title counts more
than the same word deep in a long body.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int32]

K1 = 1.2
TITLE, BODY, TAGS = 0, 1, 2
# Tuned on the tuning half of the StackFAQ development queries (bench/faq_retrieval.py).
FIELD_WEIGHTS = (3.0, 1.0, 2.0)
FIELD_B = (0.5, 0.75, 0.3)
SUGGEST_WEIGHTS = (1.0, 0.0, 0.5)  # as-you-type matches titles (and tags), not bodies


class Vocabulary:
    """Term text → id, shared by every snapshot; ids are never reused, only added."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, term: str) -> int | None:
        return self._ids.get(term)

    def add(self, term: str) -> int:
        found = self._ids.get(term)
        if found is not None:
            return found
        with self._lock:
            return self._ids.setdefault(term, len(self._ids))


@dataclass(frozen=True)
class AnalysedDoc:
    """The terms of one document: unique term ids, their frequency in each field, and the
    length (in terms) of each field."""

    term_ids: Ints
    frequencies: Floats  # shape (3, len(term_ids))
    lengths: tuple[int, int, int]


def analyse_fields(
    vocabulary: Vocabulary, fields: tuple[list[str], list[str], list[str]]
) -> AnalysedDoc:
    counts = [Counter(terms) for terms in fields]
    terms = sorted(set().union(*counts))
    ids = np.array([vocabulary.add(term) for term in terms], dtype=np.int32)
    frequencies = np.array(
        [[count.get(term, 0) for term in terms] for count in counts], dtype=np.float32
    ).reshape(3, len(terms))
    lengths = (len(fields[0]), len(fields[1]), len(fields[2]))
    return AnalysedDoc(ids, frequencies, lengths)


@dataclass(frozen=True)
class Postings:
    """Column-major (term → documents) BM25F weights with the idf of each term."""

    indptr: npt.NDArray[np.int64]
    rows: Ints
    weights: Floats
    idf: Floats
    document_count: int
    averages: Floats  # mean length of each field, for documents added later (``Segments``)
    frequencies: npt.NDArray[np.int64]  # document frequency of each term

    def document_frequency(self, term_id: int) -> int:
        if term_id + 1 >= len(self.indptr):
            return 0
        return int(self.indptr[term_id + 1] - self.indptr[term_id])

    def term_scores(self, term_id: int) -> tuple[Ints, Floats]:
        """The rows that contain ``term_id`` and its idf-weighted BM25F score in each."""
        if term_id + 1 >= len(self.indptr):
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = self.indptr[term_id], self.indptr[term_id + 1]
        return self.rows[start:end], self.weights[start:end] * self.idf[term_id]

    def score(self, query: dict[int, float]) -> Floats:
        """BM25F of every row for ``query`` (term id → query weight)."""
        scores = np.zeros(self.document_count, dtype=np.float32)
        for term_id, weight in query.items():
            rows, values = self.term_scores(term_id)
            if len(rows):
                scores[rows] += values * np.float32(weight)
        return scores


@dataclass(frozen=True)
class Segments:
    """A large base segment and a small one of the documents added since (rows after the
    base's): a publish rebuilds only the small one, which is scored with the base's field
    averages and with document frequencies over both, as if it had been built with it."""

    base: Postings
    delta: Postings

    @property
    def document_count(self) -> int:
        return self.base.document_count + self.delta.document_count

    def document_frequency(self, term_id: int) -> int:
        return self.base.document_frequency(term_id) + self.delta.document_frequency(term_id)

    def term_scores(self, term_id: int) -> tuple[Ints, Floats]:
        base_rows, base_values = self.base.term_scores(term_id)
        if not self.delta.document_count:
            return base_rows, base_values
        rows, values = self.delta.term_scores(term_id)
        offset = np.int32(self.base.document_count)
        return np.concatenate([base_rows, rows + offset]), np.concatenate([base_values, values])

    def score(self, query: dict[int, float]) -> Floats:
        if not self.delta.document_count:
            return self.base.score(query)
        return np.concatenate([self.base.score(query), self.delta.score(query)])


def build_segments(
    base: Postings | None,
    docs: list[AnalysedDoc],
    term_count: int,
    field_weights: tuple[float, float, float],
) -> Segments:
    """``docs`` as one new base (``base`` None), or as the small segment after ``base``."""
    if base is None:
        return Segments(build_postings(docs, term_count, field_weights), _EMPTY)
    return Segments(base, build_postings(docs, term_count, field_weights, after=base))


def build_postings(
    docs: list[AnalysedDoc],
    term_count: int,
    field_weights: tuple[float, float, float],
    after: Postings | None = None,
) -> Postings:
    """BM25F postings of ``docs``; ``after``: a segment that follows that one, normalised by
    its field averages, its idf counting the documents of both."""
    n = len(docs)
    if n == 0:
        return _empty(term_count)
    sizes = np.array([len(doc.term_ids) for doc in docs], dtype=np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int32), sizes)
    term_ids = np.concatenate([doc.term_ids for doc in docs])
    frequencies = np.concatenate([doc.frequencies for doc in docs], axis=1)
    lengths = np.array([doc.lengths for doc in docs], dtype=np.float32)
    averages = np.maximum(lengths.mean(axis=0), 1.0) if after is None else after.averages
    combined = np.zeros(len(term_ids), dtype=np.float32)
    for field_index, weight in enumerate(field_weights):
        if weight == 0:
            continue
        b = FIELD_B[field_index]
        norm = 1 - b + b * lengths[rows, field_index] / averages[field_index]
        combined += np.float32(weight) * frequencies[field_index] / norm
    saturated = combined * (K1 + 1) / (K1 + combined)
    keep = combined > 0
    rows, term_ids, saturated = rows[keep], term_ids[keep], saturated[keep]
    order = np.argsort(term_ids, kind="stable")
    df = np.bincount(term_ids, minlength=term_count).astype(np.int64)
    indptr = np.zeros(term_count + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    total, together = n, df
    if after is not None:
        total = n + after.document_count
        together = df.copy()
        together[: len(after.frequencies)] += after.frequencies[:term_count]
    idf = np.log1p((total - together + 0.5) / (together + 0.5)).astype(np.float32)
    return Postings(indptr, rows[order], saturated[order].astype(np.float32), idf, n,
                    averages.astype(np.float32), df)  # fmt: skip


def _empty(term_count: int) -> Postings:
    return Postings(
        np.zeros(term_count + 1, dtype=np.int64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.float32),
        np.zeros(term_count, dtype=np.float32),
        0,
        np.ones(3, dtype=np.float32),
        np.zeros(term_count, dtype=np.int64),
    )


_EMPTY = _empty(0)
