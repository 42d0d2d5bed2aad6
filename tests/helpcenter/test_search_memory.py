"""What keeps the index's resident memory down: every passage vector held once (the documents
point into the search tables), snippets made only when read, an encoder session without
ONNX Runtime's never-shrinking arena, and the C heap trimmed after a bulk embedding."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import numpy as np
import pytest

from hashdesk.core import embeddings
from hashdesk.helpcenter.search import build_index_from
from hashdesk.helpcenter.search import index as index_module
from hashdesk.helpcenter.search.snippets import snippet
from tests.helpcenter.search_corpus import documents


def test_document_vectors_are_views_of_the_search_tables() -> None:
    index = build_index_from(documents())
    tables = index._snapshot.tables

    for name in ("minilm", "e5"):
        matrix = tables[name].base.matrix
        holders = [doc for doc in index._rows if name in doc.vectors]
        assert holders
        for doc in holders:
            assert np.shares_memory(doc.vectors[name], matrix)
        # The same numbers as the documents' own passages, in table order.
        assert np.array_equal(np.vstack([doc.vectors[name] for doc in holders]), matrix)


def test_an_edit_after_sharing_still_ranks_like_a_rebuild() -> None:
    index = build_index_from(documents())
    changed = [replace(doc, title="Send crypto out to another exchange")
               for doc in documents() if doc.article_id == 4]  # fmt: skip
    index.replace_articles([4], changed)
    index.compact()  # the merge rebuilds the tables from the documents' (shared) vectors

    by_key = {doc.key: doc for doc in changed}
    rebuilt = build_index_from([by_key.get(doc.key, doc) for doc in documents()])
    for query, locale in (("another exchange", "en"), ("retirar criptomonedas", "es")):
        mine, theirs = index.search(query, locale), rebuilt.search(query, locale)
        assert [hit.article_id for hit in mine] == [hit.article_id for hit in theirs]
        assert [hit.score for hit in mine] == pytest.approx([hit.score for hit in theirs], abs=1e-5)


def test_a_snippet_is_made_when_first_read_and_is_the_best_sentence() -> None:
    index = build_index_from(documents())
    calls: list[str] = []

    def counting(plain: str, terms: set[str]) -> str:
        calls.append(plain)
        return snippet(plain, terms)

    with mock.patch.object(index_module, "snippet", counting):
        hits = index.search("withdraw crypto wallet", "en")
        assert hits and calls == []  # ranked without making any
        first = hits[0].snippet
        assert hits[0].snippet == first and len(calls) == 1  # made once, then kept
    doc = next(d for d in index._rows if d.document.key == (hits[0].article_id, hits[0].locale))
    terms = index._analyse_query(index._snapshot, "withdraw crypto wallet", "en").terms_by_locale
    assert first == snippet(doc.plain, terms[doc.document.locale])  # what was made eagerly
    assert first and first.split()[0] in doc.plain
    assert "snippet" in type(hits[0]).__dict__  # part of the public hit, as the API reads it


def test_minilm_session_runs_without_the_cpu_arena() -> None:
    encoder = embeddings.MiniLMEncoder()
    options = encoder._session.get_session_options()
    assert options.enable_cpu_mem_arena is False
    assert options.enable_mem_pattern is False
    vectors = encoder.encode_passages(["reset two-factor authentication", "deposit missing"])
    assert vectors.shape == (2, embeddings.DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_build_that_embedded_trims_the_heap_once() -> None:
    with mock.patch.object(index_module, "release_freed_memory") as release:
        index = build_index_from(documents())
        assert release.call_count == 1
        index.add_documents([], embed=False)  # nothing embedded: nothing to give back
        assert index.embed_pending() == 0
        assert release.call_count == 1


def test_release_freed_memory_is_safe_to_call() -> None:
    embeddings.release_freed_memory()  # glibc: malloc_trim; elsewhere: nothing
