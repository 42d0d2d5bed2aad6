"""Re-indexing on publish: only the changed article's rows are rebuilt (a small segment
after the base), and searches answer as they would from an index built from scratch."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashdesk.helpcenter.queries import fallback_chain
from hashdesk.helpcenter.search import SearchDocument, SearchIndex, build_index_from
from hashdesk.helpcenter.search import index as index_module
from tests.helpcenter.search_corpus import documents

QUERIES = [
    ("set up 2fa", "en"),
    ("withdraw crypto to an external wallet", "en"),
    ("destination tag memo", "en"),
    ("cómo retirar criptomonedas", "es"),
    ("Auszahlungen Wallet", "de"),
    ("liquidation", "en"),
]


def edited(title: str) -> list[SearchDocument]:
    return [replace(doc, title=title) if doc.key == (4, "en") else doc for doc in documents()]


def ranking(index: SearchIndex) -> list[dict[tuple[int, str], float]]:
    """Each query's hits and their scores."""
    return [{(hit.article_id, hit.locale): hit.score for hit in index.search(query, locale)}
            for query, locale in QUERIES]  # fmt: skip


def assert_ranks_like(index: SearchIndex, rebuilt: SearchIndex) -> None:
    """The same hits, the same best one, and every score close to the rebuilt index's: the
    small segment is scored with the base's field averages and idf, so near-ties may swap."""
    for found, expected in zip(ranking(index), ranking(rebuilt), strict=True):
        assert found.keys() == expected.keys()
        assert max(found, key=found.__getitem__) == max(expected, key=expected.__getitem__)
        assert all(abs(found[key] - expected[key]) < 0.05 for key in found)


def test_an_edit_reindexes_only_that_article_and_ranks_like_a_rebuild() -> None:
    index = build_index_from(documents())
    base = index._snapshot.postings.base

    new_title = "Send crypto out to another exchange or wallet"
    index.replace_articles([4], [doc for doc in edited(new_title) if doc.article_id == 4])

    assert index._snapshot.postings.base is base  # the 20,000-page part was not rebuilt
    assert index._snapshot.postings.delta.document_count == 4  # article 4's translations
    assert_ranks_like(index, build_index_from(edited(new_title)))
    assert index.search("another exchange", "en")[0].title == new_title


def test_the_old_text_of_a_replaced_translation_is_gone() -> None:
    index = build_index_from(documents())
    index.replace_articles([4], [doc for doc in edited("Payout to a bank card") if
                                 doc.article_id == 4])  # fmt: skip

    titles = {hit.title for hit in index.search("withdraw crypto wallet", "en")}
    assert "Withdraw crypto to an external wallet" not in titles
    assert [hit.title for hit in index.suggest("payout to", "en")][:1] == ["Payout to a bank card"]
    assert "Withdraw crypto to an external wallet" not in {
        hit.title for hit in index.suggest("withdraw", "en")
    }
    assert len(index) == len(documents())


def test_an_unpublished_article_disappears_without_a_rebuild() -> None:
    index = build_index_from(documents())
    base = index._snapshot.postings.base

    index.replace_articles([7], [])

    assert index._snapshot.postings.base is base
    assert 7 not in {hit.article_id for hit in index.search("got liquidated", "en")}
    assert len(index) == len(documents()) - 1


def test_enough_changes_merge_everything_into_one_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "MERGE_ROWS", 4)
    index = SearchIndex()
    index.add_documents(documents(), embed=False)
    base = index._snapshot.postings.base

    for round_number in range(2):
        title = f"Withdraw crypto, revision {round_number}"
        index.replace_articles([4], [doc for doc in edited(title) if doc.article_id == 4],
                               embed=False)  # fmt: skip

    snapshot = index._snapshot
    assert snapshot.postings.base is not base  # 8 new rows passed the limit of 4: rebuilt
    assert not snapshot.retired and len(snapshot.docs) == len(documents())
    assert not snapshot.postings.delta.document_count
    assert index.search("revision", "en")[0].title == "Withdraw crypto, revision 1"
    assert all("revision 0" not in hit.title for hit in index.search("revision", "en"))


def test_vectors_of_new_rows_follow_in_the_small_segment() -> None:
    index = build_index_from(documents())
    index.replace_articles([4], [doc for doc in edited("Move coins off the exchange")
                                 if doc.article_id == 4], embed=False)  # fmt: skip
    assert index.pending_embeddings() == 1  # the English title changed; es and de did not

    assert index.embed_pending() == 1

    assert index.pending_embeddings() == 0
    hit = index.search("move my coins off the exchange", "en")[0]
    assert hit.article_id == 4 and hit.semantic > 0.5


LOCALES = ("en", "es", "de", "zh-Hans", "zh-Hant")
translations = st.lists(
    st.tuples(st.integers(1, 6), st.sampled_from(LOCALES), st.booleans()),
    unique_by=lambda entry: entry[:2], max_size=14,
)  # fmt: skip


def pages(entries: list[tuple[int, str, bool]], revision: int) -> list[SearchDocument]:
    return [SearchDocument(article_id=article, locale=locale, title=f"Page {article} {revision}",
                           slug="page", body="Deposits and withdrawals.", internal=internal)
            for article, locale, internal in entries]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(first=translations, edits=st.lists(translations, max_size=3))
def test_each_article_shows_the_translation_highest_on_the_readers_chain(
    first: list[tuple[int, str, bool]], edits: list[list[tuple[int, str, bool]]]
) -> None:
    index = SearchIndex()
    index.add_documents(pages(first, 0), embed=False)
    for revision, edit in enumerate(edits, start=1):  # republish some articles, drop others
        changed = sorted({article for article, _, _ in edit} | {revision})
        index.replace_articles(changed, pages(edit, revision), embed=False)

    snapshot = index._snapshot
    for reader in LOCALES:
        chain = fallback_chain(reader)
        for internal_too in (False, True):
            best: dict[int, tuple[int, str]] = {}
            for article, locale in index._docs:
                document = index._docs[article, locale].document
                if locale in chain and (internal_too or not document.internal):
                    best[article] = min(best.get(article, (99, "")), (chain.index(locale), locale))
            expected = sorted(
                index._row_of[article, locale] for article, (_, locale) in best.items()
            )
            assert snapshot.visible(reader, internal_too).tolist() == expected
