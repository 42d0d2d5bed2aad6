"""Help-center search: hybrid BM25F + sentence-embedding retrieval over published
translations, in the reader's locale along its fallback chain.

    index = get_search_index(runtime)        # built on first use, kept current by the bus
    index.search("reset 2fa", "es", limit=10, include_internal=False) -> list[SearchHit]
    index.suggest("withdr", "en", limit=8)   # as-you-type: titles, the last word a prefix

One hit per article: the translation a reader of ``locale`` would be shown
(``hashdesk.helpcenter.queries.fallback_chain``). Drafts are never indexed; internal
articles are found only with ``include_internal=True`` (agents).

``build_index(session)`` builds a complete index (vectors included) without any bus, for the
command line and benchmarks; ``build_index_from(documents)`` does the same from
``SearchDocument`` rows that need no database. Passage vectors are kept between starts in
the file ``Settings.search_vector_cache`` names (``vector_cache_for(settings)``), so a restart
embeds only the passages whose text changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hashdesk.helpcenter.search.documents import SearchDocument, load_documents
from hashdesk.helpcenter.search.index import SearchHit, SearchIndex
from hashdesk.helpcenter.search.live import live_index
from hashdesk.helpcenter.search.vector_cache import VectorCache, vector_cache_for

if TYPE_CHECKING:
    from hashdesk.runtime import Runtime


def get_search_index(runtime: Runtime) -> SearchIndex:
    """This process's index for ``runtime``: built from the database on first use and
    re-indexing every article the ``helpcenter`` channel announces, on every node."""
    return live_index(runtime).index


def build_index(session: Session, vector_cache: VectorCache | None = None) -> SearchIndex:
    """A complete index of what ``session``'s database publishes now (not kept current);
    passage vectors found in ``vector_cache`` are not computed again."""
    return build_index_from(load_documents(session), vector_cache)


def build_index_from(
    documents: Iterable[SearchDocument], vector_cache: VectorCache | None = None
) -> SearchIndex:
    index = SearchIndex(vector_cache=vector_cache)
    index.add_documents(documents, embed=True)
    return index


__all__ = [
    "SearchDocument",
    "SearchHit",
    "SearchIndex",
    "VectorCache",
    "build_index",
    "build_index_from",
    "get_search_index",
    "vector_cache_for",
]
