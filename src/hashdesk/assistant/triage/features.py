"""The feature views the classifier reads: word n-grams, character n-grams and a sentence embedding.

Each view catches what the others miss: word n-grams the exact phrases of a category ("top up",
"direct debit"), character n-grams the typos and word forms of chat text ("recieved",
"verifying"), and the embedding the paraphrases that share no word with any example ("my money
never showed up" ~ "deposit missing"). The three are stacked into one sparse matrix; the
embedding gets a weight so its 384 dense columns count as much as the tens of thousands of
sparse ones.

Nothing here is pickled: a fitted view is saved as its vocabulary (JSON) and its IDF weights
(a NumPy array), and rebuilt from them, so a model directory holds only data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from hashdesk.core.embeddings import DIMENSION, EncoderName, Vectors, get_encoder

Progress = Callable[[int, int], None]
ENCODE_CHUNK = 16
THREADED_FROM = 256  # fewer texts than this are encoded in the caller's thread alone


@dataclass(frozen=True)
class FeatureSettings:
    word_ngrams: tuple[int, int] = (1, 3)
    char_ngrams: tuple[int, int] = (1, 6)
    char_min_df: int = 2
    encoder: EncoderName | None = "minilm"
    embedding_weight: float = 1.5

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSettings:
        return cls(
            word_ngrams=_pair(data["word_ngrams"]),
            char_ngrams=_pair(data["char_ngrams"]),
            char_min_df=int(data["char_min_df"]),
            encoder=data["encoder"],
            embedding_weight=float(data["embedding_weight"]),
        )


def _pair(value: Any) -> tuple[int, int]:
    low, high = value
    return int(low), int(high)


def word_vectorizer(settings: FeatureSettings, **fitted: Any) -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=settings.word_ngrams, sublinear_tf=True, **fitted)


def char_vectorizer(settings: FeatureSettings, **fitted: Any) -> TfidfVectorizer:
    # char_wb: n-grams inside word boundaries, so "card" and "cards" share most of theirs.
    min_df = {} if fitted else {"min_df": settings.char_min_df}
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=settings.char_ngrams, sublinear_tf=True, **min_df, **fitted
    )


@dataclass
class FittedViews:
    """The fitted word and character vectorizers plus the embedding settings."""

    settings: FeatureSettings
    word: TfidfVectorizer
    char: TfidfVectorizer

    @classmethod
    def fit(cls, settings: FeatureSettings, texts: list[str]) -> FittedViews:
        word = word_vectorizer(settings).fit(texts)
        # A tiny training set may have no n-gram seen twice; then every one counts.
        try:
            char = char_vectorizer(settings).fit(texts)
        except ValueError:
            char = TfidfVectorizer(
                analyzer="char_wb", ngram_range=settings.char_ngrams, sublinear_tf=True
            ).fit(texts)
        return cls(settings, word, char)

    @property
    def sparse_width(self) -> int:
        return len(self.word.vocabulary_) + len(self.char.vocabulary_)

    @property
    def width(self) -> int:
        return self.sparse_width + (DIMENSION if self.settings.encoder else 0)

    def sparse(self, texts: list[str]) -> sp.csr_matrix:
        """The n-gram columns alone: what the fast path reads, and the start of every row."""
        blocks = [self.word.transform(texts), self.char.transform(texts)]
        return cast(sp.csr_matrix, sp.hstack(blocks, format="csr", dtype=np.float32))

    def transform(
        self, texts: list[str], embeddings: Vectors | None, sparse: sp.csr_matrix | None = None
    ) -> sp.csr_matrix:
        """All columns; ``sparse`` is ``self.sparse(texts)`` when the caller has it already."""
        n_grams = self.sparse(texts) if sparse is None else sparse
        if not self.settings.encoder:
            return n_grams
        if embeddings is None:
            raise ValueError("this model needs the sentence embeddings of the texts")
        blocks = [n_grams, sp.csr_matrix(embeddings * self.settings.embedding_weight)]
        return cast(sp.csr_matrix, sp.hstack(blocks, format="csr", dtype=np.float32))

    def state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.float64]]]:
        """(JSON-able vocabularies, arrays) that ``restore`` turns back into the same views."""
        vocabularies = {
            "word": {term: int(i) for term, i in self.word.vocabulary_.items()},
            "char": {term: int(i) for term, i in self.char.vocabulary_.items()},
        }
        arrays = {"word_idf": self.word.idf_, "char_idf": self.char.idf_}
        return vocabularies, arrays

    @classmethod
    def restore(
        cls,
        settings: FeatureSettings,
        vocabularies: dict[str, dict[str, int]],
        arrays: dict[str, npt.NDArray[np.float64]],
    ) -> FittedViews:
        word = word_vectorizer(settings, vocabulary=vocabularies["word"])
        char = char_vectorizer(settings, vocabulary=vocabularies["char"])
        for vectorizer, name in ((word, "word"), (char, "char")):
            idf = arrays[f"{name}_idf"]
            if idf.shape != (len(vocabularies[name]),):
                raise ValueError(f"the {name} IDF weights do not match its vocabulary")
            vectorizer.idf_ = idf
        return cls(settings, word, char)


def embed(
    encoder_name: EncoderName | None, texts: list[str], progress: Progress | None = None
) -> Vectors | None:
    """The unit embeddings of ``texts`` (None when the model uses no encoder).

    Texts are encoded shortest first, ``ENCODE_CHUNK`` at a time, so each batch pads to a
    similar length: on this machine MiniLM costs 8.0 ms of CPU for one text alone, 5.2 ms per
    text in length-sorted batches of 16, and 9.6 ms per text in a batch of 64 as it comes
    (padding to the longest). Many texts are encoded in as many threads as there are cores:
    the encoder's ONNX session releases the GIL while it runs.
    """
    if encoder_name is None:
        return None
    encoder = get_encoder(encoder_name)
    if len(texts) == 1:  # a live message: nothing to sort, no thread pool to start
        vectors = encoder.encode_queries(texts)
        if progress:
            progress(1, 1)
        return vectors
    order = np.argsort([len(text) for text in texts], kind="stable")
    chunks = [
        [texts[i] for i in order[start : start + ENCODE_CHUNK]]
        for start in range(0, len(texts), ENCODE_CHUNK)
    ]
    done = 0
    parts: list[Vectors] = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        mapped = pool.map if len(texts) >= THREADED_FROM else map
        for part in mapped(encoder.encode_queries, chunks):
            parts.append(part)
            done += len(part)
            if progress:
                progress(done, len(texts))
    vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
    if parts:
        vectors[order] = np.vstack(parts)
    return vectors
