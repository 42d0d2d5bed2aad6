"""The search index: documents, their analysed terms and vectors, and immutable snapshots.

Writers (a build, a refresh after an event, the embedding worker) change the documents under
a lock and publish a new ``Snapshot``; readers take the current snapshot once and never
lock, so a search never waits for an update and never sees half of one.

A publish does not rebuild everything: the article's new translations are appended as rows
of a small segment after the base (postings and vector tables of their own, scored with the
base's statistics), and the rows they replace are retired (kept, so no row number moves,
but never visible). Once the small segment grows past ``MERGE_ROWS`` the whole index is
rebuilt as one base, which also drops the retired rows.
"""

from __future__ import annotations

import functools
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from hashdesk.core.embeddings import EncoderName, Vectors, release_freed_memory
from hashdesk.helpcenter.queries import fallback_chain
from hashdesk.helpcenter.search.analysis import HAS_NGRAM_SCRIPT, Term, analyzer_for
from hashdesk.helpcenter.search.documents import (
    SearchDocument,
    clip,
    plain_text,
)
from hashdesk.helpcenter.search.fusion import DEFAULT_FUSION, Fusion, fuse
from hashdesk.helpcenter.search.lexical import (
    FIELD_WEIGHTS,
    SUGGEST_WEIGHTS,
    AnalysedDoc,
    Postings,
    Segments,
    Vocabulary,
    analyse_fields,
    build_postings,
    build_segments,
)
from hashdesk.helpcenter.search.semantic import (
    QueryVectors,
    VectorTable,
    build_vector_table,
    embed_passages,
    encoder_for_reader,
    encoders_for_document,
    passages,
)
from hashdesk.helpcenter.search.snippets import snippet
from hashdesk.helpcenter.search.synonyms import expand
from hashdesk.helpcenter.search.vector_cache import VectorCache

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

CANDIDATES = 100  # how deep each ranking is read before fusion
TYPO_CORRECTION_WEIGHT = 0.8
PREFIX_EXPANSIONS = 30  # completions of a half-typed word that as-you-type considers
# Below these cosines an article that shares no word with the query is not a candidate.
# When no article shares a word with it, the bar is higher: a query of nonsense should find
# nothing rather than the least unlike page (e5's cosines crowd between 0.75 and 0.9).
SEMANTIC_FLOOR: dict[str, float] = {"minilm": 0.3, "e5": 0.8}
SEMANTIC_ALONE_FLOOR: dict[str, float] = {"minilm": 0.45, "e5": 0.86}
MIN_RELATIVE_SCORE = 0.05  # hits below this share of the best fused score are noise
# A page that has the query's exact number (error 429, -2015, a 10,000 limit) gains up to this
# much on the fused scale (0..1): the embedding hears "api error 429" as any API error, and
# the lexical share of the blend is too small (0.1) to let the page that says 429 win.
EXACT_NUMBER_BONUS = 0.5
NUMBER_DIGITS = 3  # shorter numbers (1, 24, 2fa's 2) are too common to single out a page
# A publish re-indexes only its article's rows (a small segment after the base); once that
# segment passes this many rows, or this share of the base, everything is rebuilt as one
# base (3.8 s at 20,000 pages: once per dozens of publishes instead of every one).
MERGE_ROWS = 500
MERGE_SHARE = 0.05


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    locale: str  # locale of the translation shown
    title: str
    url: str  # /hc/{locale}/articles/{id}-{slug}
    score: float  # fused, higher is better
    semantic: float  # cosine similarity of query and article (0..1)
    lexical: float  # BM25 score normalised to 0..1 within the query
    # Makes ``snippet`` when it is first read: the assistant decides on hits whose snippets
    # nobody shows, and finding the best sentence of ten pages was a fifth of its answer time.
    make_snippet: Callable[[], str] = field(repr=False, compare=False)

    @cached_property
    def snippet(self) -> str:
        """Short plain-text extract (no Markdown) around the best match, <= 240 chars."""
        return self.make_snippet()


@dataclass
class IndexedDoc:
    document: SearchDocument
    plain: str
    analysed: AnalysedDoc
    vectors: dict[str, Vectors] = field(default_factory=dict)

    def missing_encoders(self) -> list[EncoderName]:
        return [
            name for name in encoders_for_document(self.document.locale) if name not in self.vectors
        ]


@dataclass(frozen=True)
class RankedArticle:
    """One ranked article before it becomes a ``SearchHit``."""

    doc: IndexedDoc
    score: float
    semantic: float
    lexical: float

    @property
    def article_id(self) -> int:
        return self.doc.document.article_id


@dataclass(frozen=True)
class Segmented:
    """The vector table of the base rows and the one of the rows added since."""

    base: VectorTable
    delta: VectorTable

    @property
    def has_vectors(self) -> bool:
        return bool(len(self.base.rows) or len(self.delta.rows))

    def document_scores(self, query: Floats) -> Floats:
        """Best passage cosine per row (NaN where a row has no vector yet)."""
        if not self.delta.document_count:
            return self.base.document_scores(query)
        return np.concatenate([self.base.document_scores(query), self.delta.document_scores(query)])


def vector_tables(docs: list[IndexedDoc]) -> dict[str, VectorTable]:
    return {
        name: build_vector_table([doc.vectors.get(name) for doc in docs])
        for name in ("minilm", "e5")
    }


def share_table_rows(docs: list[IndexedDoc], tables: dict[str, VectorTable]) -> None:
    """Point each document's vectors at its rows of ``tables`` (a view, not a copy).

    The tables are copies of the documents' vectors; keeping both held every passage vector
    twice (about 55 MB at 20,000 pages), and a build's per-document vectors were views that
    kept its whole batch matrix alive besides. Same values, so a reader sees no change.
    """
    for name, table in tables.items():
        if not len(table.rows):
            continue
        ends = [*table.starts[1:].tolist(), len(table.matrix)]
        for row, start, end in zip(table.rows.tolist(), table.starts.tolist(), ends, strict=True):
            docs[row].vectors[name] = table.matrix[start:end]


@dataclass(frozen=True)
class RowFacts:
    """Per row, as arrays: the locale (a code into ``locales``), the article and whether it
    is internal. Which rows a reader sees is then array arithmetic; walking the 20,000
    documents in Python took 14-16 ms, paid by the first reader of each locale after every
    publish (bench/RESULTS.md, help-center search 7)."""

    locales: dict[str, int]
    locale: npt.NDArray[np.int16]
    article: Ints
    internal: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, docs: list[IndexedDoc]) -> RowFacts:
        return RowFacts({}, np.zeros(0, np.int16), np.zeros(0, np.int64), np.zeros(0, bool)).then(
            docs
        )

    def then(self, docs: list[IndexedDoc]) -> RowFacts:
        """These facts followed by those of ``docs`` (rows appended since)."""
        if not docs:
            return self
        locales = dict(self.locales)
        for doc in docs:
            locales.setdefault(doc.document.locale, len(locales))
        count = len(docs)
        return RowFacts(
            locales,
            np.concatenate([self.locale, np.fromiter(
                (locales[doc.document.locale] for doc in docs), np.int16, count)]),
            np.concatenate([self.article, np.fromiter(
                (doc.document.article_id for doc in docs), np.int64, count)]),
            np.concatenate([self.internal, np.fromiter(
                (doc.document.internal for doc in docs), np.bool_, count)]),
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.article)


class Snapshot:
    """What one search reads: rows of documents, postings, vector tables. Rows in
    ``retired`` are translations replaced or removed since the last merge: still in the
    arrays (so no row number moves), never visible."""

    def __init__(
        self,
        docs: list[IndexedDoc],
        retired: frozenset[int],
        postings: Segments,
        titles: Segments,
        tables: dict[str, Segmented],
        facts: RowFacts | None = None,
    ) -> None:
        self.docs = docs
        self.retired = retired
        self.postings = postings
        self.titles = titles
        self.tables = tables
        self.facts = RowFacts.of(docs) if facts is None else facts
        self._visible: dict[tuple[str, bool], Ints] = {}

    @classmethod
    def empty(cls) -> Snapshot:
        segments = build_segments(None, [], 0, FIELD_WEIGHTS)
        tables = vector_tables([])
        return cls([], frozenset(), segments, segments,
                   {name: Segmented(table, table) for name, table in tables.items()})  # fmt: skip

    @property
    def size(self) -> int:
        return len(self.docs) - len(self.retired)

    def visible(self, locale: str, include_internal: bool) -> Ints:
        """One row per article: its translation along ``locale``'s fallback chain."""
        key = (locale, include_internal)
        found = self._visible.get(key)
        if found is None:
            found = self._visible[key] = self._compute_visible(locale, include_internal)
        return found

    def _compute_visible(self, locale: str, include_internal: bool) -> Ints:
        facts = self.facts
        outside = np.iinfo(np.int16).max  # the rank of a locale not on the chain
        rank = np.full(len(facts.locales), outside, dtype=np.int16)
        for position, candidate in enumerate(fallback_chain(locale)):
            if candidate in facts.locales:
                rank[facts.locales[candidate]] = position
        position_of = rank[facts.locale]
        shown = position_of < outside
        if not include_internal:
            shown &= ~facts.internal
        shown[list(self.retired)] = False
        rows = np.flatnonzero(shown)
        # Each article's row highest on the chain (the lowest row among equals): sort by
        # article, then chain position; stable, so rows stay ascending within ties.
        rows = rows[np.lexsort((position_of[rows], facts.article[rows]))]
        articles = facts.article[rows]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = articles[1:] != articles[:-1]
        return np.sort(rows[first])


@dataclass(frozen=True)
class _Query:
    """A query analysed for every analyzer of the reader's fallback chain."""

    weights: dict[int, float]  # term id → weight, over all analyzers
    terms_by_locale: dict[str, set[str]]  # for snippets
    numbers: frozenset[int] = frozenset()  # term ids of its numbers: error codes, limits


class SearchIndex:
    """Hybrid help-center search; see the package docstring for the public contract."""

    def __init__(
        self, fusion: Fusion = DEFAULT_FUSION, vector_cache: VectorCache | None = None
    ) -> None:
        self.fusion = fusion
        self.vector_cache = vector_cache  # passage vectors kept between starts
        self._vocabulary = Vocabulary()
        self._docs: dict[tuple[int, str], IndexedDoc] = {}
        self._surfaces: dict[str, dict[str, str]] = {}  # locale → folded word → term
        self._surface_lists: dict[str, tuple[list[str], list[str]]] = {}
        self._write = threading.RLock()
        # Rows as the snapshots number them: the base (built at the last merge), then the
        # translations indexed since; ``_retired`` are rows replaced or removed since.
        self._rows: list[IndexedDoc] = []
        self._row_of: dict[tuple[int, str], int] = {}
        self._retired: set[int] = set()
        self._base_count = 0
        self._base: tuple[Postings, Postings] | None = None
        self._base_tables: dict[str, VectorTable] | None = None
        self._snapshot = Snapshot.empty()
        self._queries = QueryVectors()
        self._embedded_unreleased = 0  # documents embedded since the C heap was last trimmed

    # --- writing ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._snapshot.size

    def add_documents(self, documents: Iterable[SearchDocument], *, embed: bool = True) -> None:
        """Index (or re-index) ``documents``; with ``embed`` their vectors are computed now,
        otherwise ``embed_pending`` computes them later (searches use words meanwhile)."""
        self.replace_articles([], documents, embed=embed)

    def replace_articles(
        self, article_ids: Iterable[int], documents: Iterable[SearchDocument], *, embed: bool = True
    ) -> None:
        """Drop every translation of ``article_ids``, then index ``documents``."""
        with self._write:
            gone = set(article_ids)
            previous = {key: doc for key, doc in self._docs.items() if key[0] in gone}
            for key in previous:
                del self._docs[key]
                self._retire(key)
            added = []
            for document in documents:
                old = previous.get(document.key) or self._docs.get(document.key)
                self._retire(document.key)
                added.append(self._index_document(document, old))
                self._docs[document.key] = added[-1]
                self._row_of[document.key] = len(self._rows)
                self._rows.append(added[-1])
            if embed:
                self._embed(added)
            else:
                self._vectors_from_cache(added)
            self._publish(lexical_changed=True)
        if embed:
            self._release_encoder_memory()

    def _retire(self, key: tuple[int, str]) -> None:
        row = self._row_of.pop(key, None)
        if row is not None:
            self._retired.add(row)

    def compact(self) -> None:
        """Rebuild everything as one base segment now (the index does it by itself once the
        rows indexed since the last rebuild pass ``MERGE_ROWS``)."""
        with self._write:
            self._base = None
            self._publish(lexical_changed=True)

    def clear_query_cache(self) -> None:
        """Forget the cached query vectors (benchmarks time first-time questions)."""
        self._queries = QueryVectors()

    def article_ids(self) -> set[int]:
        return {key[0] for key in self._docs}

    def pending_embeddings(self) -> int:
        with self._write:  # other threads ask too (/healthz) while the worker re-indexes
            return sum(1 for doc in self._docs.values() if doc.missing_encoders())

    def embed_pending(self, batch: int = 32) -> int:
        """Compute the vectors of up to ``batch`` documents that lack them; how many."""
        with self._write:
            waiting = [doc for doc in self._docs.values() if doc.missing_encoders()][:batch]
        if not waiting:
            self._release_encoder_memory()  # the background embedding is done, for now
            return 0
        self._embed(waiting)  # outside the lock: a refresh may go on meanwhile
        with self._write:
            if self._in_base(waiting):
                self._base_tables = None
            self._publish(lexical_changed=False)
        return len(waiting)

    def _release_encoder_memory(self) -> None:
        if self._embedded_unreleased:
            self._embedded_unreleased = 0
            release_freed_memory()

    def _in_base(self, docs: list[IndexedDoc]) -> bool:
        rows = (self._row_of.get(doc.document.key) for doc in docs)
        return any(row is not None and row < self._base_count for row in rows)

    def _index_document(self, document: SearchDocument, old: IndexedDoc | None) -> IndexedDoc:
        analyzer = analyzer_for(document.locale)
        plain = plain_text(document.body)
        fields = (
            analyzer.terms(document.title),
            analyzer.terms(plain),
            analyzer.terms(" ".join(document.tags)),
        )
        surfaces = self._surfaces.setdefault(document.locale, {})
        before = len(surfaces)
        for word in analyzer.words(f"{document.title} {plain}"):
            if len(word) > 1 and word not in surfaces and not HAS_NGRAM_SCRIPT.search(word):
                surfaces[word] = analyzer.stem(word)
        if len(surfaces) != before:
            self._surface_lists.pop(document.locale, None)
        # The Markdown is not kept: the plain text serves snippets and embeddings, and at
        # 20,000 pages a second copy of every body is a hundred megabytes.
        slim = replace(document, body="")
        indexed = IndexedDoc(slim, plain, analyse_fields(self._vocabulary, fields))
        if old is not None and (old.document.title, old.plain) == (document.title, plain):
            indexed.vectors = dict(old.vectors)  # same words, same vectors: no re-embedding
        return indexed

    def _embed(self, docs: list[IndexedDoc]) -> None:
        self._embedded_unreleased += len(docs)
        for encoder in ("minilm", "e5"):
            needing = [doc for doc in docs if encoder in doc.missing_encoders()]
            texts = [passages(encoder, doc.document.title, doc.plain) for doc in needing]
            flat = [text for group in texts for text in group]
            if not flat:
                continue
            vectors = embed_passages(encoder, flat, self.vector_cache)
            start = 0
            for doc, group in zip(needing, texts, strict=True):
                doc.vectors[encoder] = vectors[start : start + len(group)]
                start += len(group)

    def _vectors_from_cache(self, docs: list[IndexedDoc]) -> None:
        """The vectors the cache already holds, at once: a restarted node's worker then has
        only the changed passages left to embed (and does not republish the index once per
        batch while it reads the rest back)."""
        if self.vector_cache is None:
            return
        for encoder in ("minilm", "e5"):
            needing = [doc for doc in docs if encoder in doc.missing_encoders()]
            texts = [passages(encoder, doc.document.title, doc.plain) for doc in needing]
            found = self.vector_cache.lookup(encoder, [text for group in texts for text in group])
            start = 0
            for doc, group in zip(needing, texts, strict=True):
                block = found[start : start + len(group)]
                start += len(group)
                if group and all(vector is not None for vector in block):
                    doc.vectors[encoder] = np.vstack(block)  # type: ignore[arg-type]

    def _publish(self, *, lexical_changed: bool) -> None:
        """A new snapshot. Only the rows indexed since the last merge are rebuilt, unless
        they have grown past ``MERGE_ROWS`` (or a share of the base): then everything is
        rebuilt as one new base, which also drops the retired rows."""
        previous = self._snapshot
        delta_rows = len(self._rows) - self._base_count
        merge = self._base is None or delta_rows > max(MERGE_ROWS, MERGE_SHARE * self._base_count)
        if merge:
            self._merge()
        assert self._base is not None
        delta = self._rows[self._base_count :]
        if lexical_changed or merge or len(previous.docs) != len(self._rows):
            analysed = [doc.analysed for doc in delta]
            terms = len(self._vocabulary)
            postings = build_segments(self._base[0], analysed, terms, FIELD_WEIGHTS)
            titles = build_segments(self._base[1], analysed, terms, SUGGEST_WEIGHTS)
        else:
            postings, titles = previous.postings, previous.titles
        if self._base_tables is None:
            self._base_tables = vector_tables(self._rows[: self._base_count])
            share_table_rows(self._rows[: self._base_count], self._base_tables)
        tables = {
            name: Segmented(self._base_tables[name], table)
            for name, table in vector_tables(delta).items()
        }
        # Between merges rows are only appended: the facts of the rows before carry over.
        reused = previous.facts if not merge and len(previous.facts) <= len(self._rows) else None
        facts = (RowFacts.of(self._rows) if reused is None
                 else reused.then(self._rows[len(reused):]))  # fmt: skip
        self._snapshot = Snapshot(list(self._rows), frozenset(self._retired), postings, titles,
                                  tables, facts)  # fmt: skip

    def _merge(self) -> None:
        self._rows = list(self._docs.values())
        self._row_of = {doc.document.key: row for row, doc in enumerate(self._rows)}
        self._retired = set()
        self._base_count = len(self._rows)
        analysed = [doc.analysed for doc in self._rows]
        terms = len(self._vocabulary)
        self._base = (
            build_postings(analysed, terms, FIELD_WEIGHTS),
            build_postings(analysed, terms, SUGGEST_WEIGHTS),
        )
        self._base_tables = None

    # --- reading ---------------------------------------------------------------------------

    def search(
        self, query: str, locale: str, *, limit: int = 10, include_internal: bool = False
    ) -> list[SearchHit]:
        """The best ``limit`` articles for ``query``, one translation each (see module doc)."""
        analysed, ranked = self._rank(query, locale, limit, include_internal)
        return [self._hit(entry, locale, analysed) for entry in ranked]

    def rank(
        self, query: str, locale: str, *, limit: int = 10, include_internal: bool = False
    ) -> list[RankedArticle]:
        """``search`` without snippets or addresses: for callers that only need the order
        and the scores (the assistant's candidates, benchmarks)."""
        return self._rank(query, locale, limit, include_internal)[1]

    def _rank(
        self, query: str, locale: str, limit: int, include_internal: bool
    ) -> tuple[_Query, list[RankedArticle]]:
        snapshot = self._snapshot
        visible = snapshot.visible(locale, include_internal)
        if not query.strip() or not len(visible) or limit <= 0:
            return self._analyse_query(snapshot, query, locale), []
        encoder = encoder_for_reader(locale)
        analysed = self._analyse_query(snapshot, query, locale)
        lexical = snapshot.postings.score(analysed.weights)[visible]
        # Sequential on purpose: computing the vector on a helper thread while the words
        # were scored was measured (RESULTS.md, help-center search 4) and lost at the p95,
        # the helper waiting for the GIL while the words are scored in Python.
        table = snapshot.tables[encoder]
        semantic = (
            table.document_scores(self._queries.get(encoder, query))
            if table.has_vectors
            else np.full(len(snapshot.docs), np.nan, dtype=np.float32)
        )[visible]
        candidates = self._candidates(lexical, semantic, encoder)
        if not len(candidates):
            return analysed, []
        fused = fuse(lexical[candidates], semantic[candidates], self.fusion, encoder)
        fused = _favour_exact_numbers(fused, snapshot, analysed, visible[candidates])
        best = float(lexical.max())
        ranked = []
        for position in np.argsort(-fused, kind="stable")[:limit]:
            if fused[position] < MIN_RELATIVE_SCORE * float(fused.max()):
                break
            candidate = candidates[position]
            cosine = float(semantic[candidate])
            ranked.append(RankedArticle(
                snapshot.docs[int(visible[candidate])], float(fused[position]),
                0.0 if np.isnan(cosine) else min(max(cosine, 0.0), 1.0),
                float(lexical[candidate]) / best if best > 0 else 0.0,
            ))  # fmt: skip
        return analysed, ranked

    def _candidates(self, lexical: Floats, semantic: Floats, encoder: str) -> Ints:
        """The best ``CANDIDATES`` by words and by meaning (above the floor), together."""
        picked = set(_top(lexical, CANDIDATES, minimum=1e-9).tolist())
        cosine = np.nan_to_num(semantic, nan=-1.0)
        floor = SEMANTIC_FLOOR[encoder] if picked else SEMANTIC_ALONE_FLOOR[encoder]
        picked.update(_top(cosine, CANDIDATES, minimum=floor).tolist())
        return np.array(sorted(picked), dtype=np.int64)

    def _analyse_query(self, snapshot: Snapshot, query: str, locale: str) -> _Query:
        weights: dict[int, float] = {}
        by_locale: dict[str, set[str]] = {}
        numbers: set[int] = set()
        for analyzer_locale in fallback_chain(locale):
            terms = analyzer_for(analyzer_locale).query_terms(query)
            terms = self._correct_typos(snapshot, analyzer_locale, terms)
            terms = expand(analyzer_locale, terms)
            by_locale[analyzer_locale] = {term.text for term in terms}
            for term in terms:
                term_id = self._vocabulary.get(term.text)
                if term_id is not None:
                    weights[term_id] = max(weights.get(term_id, 0.0), term.weight)
                    if _is_number(term.text):
                        numbers.add(term_id)
        return _Query(weights, by_locale, frozenset(numbers))

    def _known(self, snapshot: Snapshot, term: str) -> bool:
        term_id = self._vocabulary.get(term)
        return term_id is not None and snapshot.postings.document_frequency(term_id) > 0

    def _correct_typos(self, snapshot: Snapshot, locale: str, terms: list[Term]) -> list[Term]:
        """Unknown words become the nearest indexed word: one edit away for words of up to
        five letters, two for longer ones (the most frequent word among equally near ones)."""
        corrected: list[Term] = []
        for term in terms:
            # A number is never "corrected": error -1022 is not error -1021.
            if (not term.surface or len(term.surface) < 3 or _is_number(term.surface)
                    or self._known(snapshot, term.text)):  # fmt: skip
                corrected.append(term)
                continue
            replacement = self._nearest(snapshot, locale, term.surface)
            corrected.append(
                Term(replacement, term.surface, term.weight * TYPO_CORRECTION_WEIGHT)
                if replacement
                else term
            )
        return corrected

    def _nearest(self, snapshot: Snapshot, locale: str, word: str) -> str | None:
        choices, _ = self._surface_choices(locale)
        if not choices:
            return None
        allowed = 1 if len(word) <= 5 else 2
        matches = process.extract(
            word, choices, scorer=Levenshtein.distance, score_cutoff=allowed, limit=8
        )
        surfaces = self._surfaces.get(locale, {})
        ranked = [
            (distance, -self._frequency(snapshot, surfaces[choice]), surfaces[choice])
            for choice, distance, _ in matches
        ]
        ranked = [entry for entry in ranked if entry[1] < 0]
        return min(ranked)[2] if ranked else None

    def _frequency(self, snapshot: Snapshot, term: str) -> int:
        term_id = self._vocabulary.get(term)
        return 0 if term_id is None else snapshot.postings.document_frequency(term_id)

    def _surface_choices(self, locale: str) -> tuple[list[str], list[str]]:
        """The locale's indexed words, as a list (typo search) and sorted (prefixes)."""
        found = self._surface_lists.get(locale)
        if found is None:
            with self._write:
                words = list(self._surfaces.get(locale, {}))
                found = self._surface_lists[locale] = (words, sorted(words))
        return found

    def _hit(self, entry: RankedArticle, reader_locale: str, query: _Query) -> SearchHit:
        document = entry.doc.document
        terms = query.terms_by_locale.get(document.locale, set())
        return SearchHit(
            article_id=document.article_id, locale=document.locale, title=document.title,
            url=f"/hc/{reader_locale}/articles/{document.article_id}-{document.slug}",
            make_snippet=functools.partial(snippet, entry.doc.plain, terms), score=entry.score,
            semantic=entry.semantic, lexical=entry.lexical,
        )  # fmt: skip

    # --- as you type -----------------------------------------------------------------------

    def suggest(
        self, prefix: str, locale: str, *, limit: int = 8, include_internal: bool = False
    ) -> list[SearchHit]:
        """Titles that match what has been typed so far, the last word as a prefix."""
        snapshot = self._snapshot
        visible = snapshot.visible(locale, include_internal)
        if not prefix.strip() or not len(visible) or limit <= 0:
            return []
        complete, partial = self._suggest_terms(snapshot, prefix, locale)
        scores = snapshot.titles.score(complete)
        if partial is not None:
            scores += self._prefix_scores(snapshot, partial)
        scores = scores[visible]
        top = _top(scores, limit, minimum=1e-9)
        best = float(scores.max()) if len(scores) else 0.0
        ranked = sorted(
            top.tolist(),
            key=lambda i: (-float(scores[i]), len(snapshot.docs[int(visible[i])].document.title)),
        )
        hits = []
        for candidate in ranked:
            doc = snapshot.docs[int(visible[candidate])]
            value = float(scores[candidate]) / best if best > 0 else 0.0
            hits.append(
                SearchHit(
                    article_id=doc.document.article_id,
                    locale=doc.document.locale,
                    title=doc.document.title,
                    url=f"/hc/{locale}/articles/{doc.document.article_id}-{doc.document.slug}",
                    make_snippet=functools.partial(clip, doc.plain, 120),
                    score=value,
                    semantic=0.0,
                    lexical=value,
                )
            )
        return hits

    def _suggest_terms(
        self, snapshot: Snapshot, prefix: str, locale: str
    ) -> tuple[dict[int, float], tuple[str, list[str]] | None]:
        """Weights of the finished words, and the half-typed last word with the locales
        whose vocabularies may complete it."""
        chain = fallback_chain(locale)
        typing_word = not prefix[-1].isspace()
        complete: dict[int, float] = {}
        partial: tuple[str, list[str]] | None = None
        words = analyzer_for(locale).words(prefix)
        if typing_word and words and not HAS_NGRAM_SCRIPT.search(words[-1]):
            partial, words = (words[-1], list(chain)), words[:-1]
        for analyzer_locale in chain:
            analyzer = analyzer_for(analyzer_locale)
            for term in analyzer.query_terms(" ".join(words)):
                term_id = self._vocabulary.get(term.text)
                if term_id is not None:
                    complete[term_id] = max(complete.get(term_id, 0.0), term.weight)
        return complete, partial

    def _prefix_scores(self, snapshot: Snapshot, partial: tuple[str, list[str]]) -> Floats:
        """For each row, the best title score among the completions of the half-typed word."""
        word, locales = partial
        scores = np.zeros(len(snapshot.docs), dtype=np.float32)
        completions: set[str] = set()
        for analyzer_locale in locales:
            _, ordered = self._surface_choices(analyzer_locale)
            surfaces = self._surfaces.get(analyzer_locale, {})
            start = bisect_left(ordered, word)
            for candidate in ordered[start : start + 200]:
                if not candidate.startswith(word):
                    break
                completions.add(surfaces[candidate])
        term_ids = [tid for term in completions if (tid := self._vocabulary.get(term)) is not None]
        term_ids.sort(key=snapshot.titles.document_frequency, reverse=True)
        for term_id in term_ids[:PREFIX_EXPANSIONS]:
            rows, values = snapshot.titles.term_scores(term_id)
            if len(rows):
                np.maximum.at(scores, rows, values)
        return scores


def _is_number(text: str) -> bool:
    return len(text) >= NUMBER_DIGITS and text.isdigit()


def _favour_exact_numbers(fused: Floats, snapshot: Snapshot, query: _Query, rows: Ints) -> Floats:
    """``fused`` with the pages that contain the query's numbers lifted (by the share of its
    numbers each has), scaled back so the best is still at most 1: the assistant's confidence
    reads these scores."""
    if not query.numbers or not len(fused):
        return fused
    share = np.zeros(len(rows), dtype=np.float32)
    for term_id in query.numbers:
        share += np.isin(rows, snapshot.postings.term_scores(term_id)[0])
    if not share.any():
        return fused
    lifted = fused + EXACT_NUMBER_BONUS * share / len(query.numbers)
    return (lifted / max(float(lifted.max()), 1.0)).astype(np.float32)


def _top(values: Floats, count: int, *, minimum: float) -> Ints:
    """Positions of the ``count`` largest values that reach ``minimum``."""
    eligible = np.flatnonzero(values >= minimum)
    if len(eligible) > count:
        eligible = eligible[np.argpartition(-values[eligible], count - 1)[:count]]
    return eligible.astype(np.int64)
