"""What the index holds of one published translation, and how it is read from the database.

Only published translations are indexed: drafts never reach the index, so no search can leak
them. The internal flag is kept per document and filtered at query time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hashdesk.helpcenter.models import Article

SNIPPET_CHARS = 240


@dataclass(frozen=True)
class SearchDocument:
    """One translation as the index sees it; ``body`` is Markdown."""

    article_id: int
    locale: str
    title: str
    slug: str
    body: str
    tags: tuple[str, ...] = ()
    internal: bool = False

    @property
    def key(self) -> tuple[int, str]:
        return (self.article_id, self.locale)


def documents_of(article: Article) -> list[SearchDocument]:
    """The searchable translations of ``article``: the published ones."""
    return [
        SearchDocument(
            article_id=article.id,
            locale=translation.locale,
            title=translation.title,
            slug=translation.slug,
            body=translation.body,
            tags=tuple(translation.tags),
            internal=article.internal,
        )
        for translation in article.translations
        if translation.published
    ]


def read_articles(session: Session, article_ids: list[int] | None = None) -> list[Article]:
    """The articles with their translations (``article_ids`` only, when given)."""
    query = select(Article).options(selectinload(Article.translations)).order_by(Article.id)
    if article_ids is not None:
        query = query.where(Article.id.in_(article_ids))
    return list(session.scalars(query))


def load_documents(session: Session, article_ids: list[int] | None = None) -> list[SearchDocument]:
    """Every searchable translation (of ``article_ids`` only, when given)."""
    return [doc for article in read_articles(session, article_ids) for doc in documents_of(article)]


# --- Markdown to plain text (for the index, embeddings and snippets) -------------------------

_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_LINE_MARKUP = re.compile(r"^\s{0,3}(?:#{1,6}\s*|>\s?|[-*+]\s+|\d{1,3}[.)]\s+)", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}.*$", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|`+)(?=\S)(.+?)(?<=\S)\1")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def plain_text(markdown: str) -> str:
    """The words of a Markdown article without its markup (images drop to nothing, links
    keep their text, tables their cells). A regex pass, not a parser: it runs on every
    indexed page, and search only needs the words and sentences."""
    text = _FENCE.sub("", markdown)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REFERENCE.sub("", text)
    text = _HTML_TAG.sub(" ", text)
    text = _TABLE_RULE.sub("", text)
    text = _LINE_MARKUP.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = text.replace("|", " ")
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def clip(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
