"""Help-center storage.

An ``Article`` is one topic; its ``ArticleTranslation`` rows are the same topic in each
locale, each with its own draft/published state. Every save keeps the text it replaces as an
``ArticleVersion``. ``internal`` belongs to the topic, not a translation: an internal-only
procedure stays internal in every language.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hashdesk.core.clock import utcnow
from hashdesk.core.db import Base


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class HelpCategory(Base):
    __tablename__ = "help_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)


class HelpSection(Base):
    __tablename__ = "help_sections"
    __table_args__ = (UniqueConstraint("category_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("help_categories.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)

    category: Mapped[HelpCategory] = relationship(lazy="joined")

    @property
    def path(self) -> str:
        """How import files name a section: ``category/section``."""
        return f"{self.category.slug}/{self.slug}"


class Article(Base):
    __tablename__ = "help_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("help_sections.id"), index=True)
    source_locale: Mapped[str] = mapped_column(String(8), default="en")
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    section: Mapped[HelpSection] = relationship(lazy="joined")
    translations: Mapped[list[ArticleTranslation]] = relationship(
        back_populates="article", order_by="ArticleTranslation.locale"
    )


class ArticleTranslation(Base):
    __tablename__ = "help_article_translations"
    __table_args__ = (
        UniqueConstraint("article_id", "locale"),
        # Every search index reads the published pages' state every 2 s (search/live.py):
        # from this index alone, not the rows and their bodies (4.6 ms, not 33, at 20,000 pages on SQLite).
        Index("ix_help_article_translations_published_state",
              "status", "article_id", "locale", "version"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("help_articles.id"))
    locale: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.DRAFT.value)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    article: Mapped[Article] = relationship(back_populates="translations")

    @property
    def published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED.value


class ArticleVersion(Base):
    """The text a save replaced: version ``version`` of one translation, as it was."""

    __tablename__ = "help_article_versions"
    __table_args__ = (UniqueConstraint("translation_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    translation_id: Mapped[int] = mapped_column(ForeignKey("help_article_translations.id"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16))
    saved_at: Mapped[datetime]


class ArticleVote(Base):
    """One "Was this helpful?" answer; anonymous on purpose (readers need not sign in)."""

    __tablename__ = "help_article_votes"
    __table_args__ = (Index("ix_help_article_votes_article", "article_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("help_articles.id"))
    locale: Mapped[str] = mapped_column(String(8))
    helpful: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HelpImage(Base):
    """An image uploaded for a visual tutorial. Rows are never changed after upload, so the
    address that serves one may be cached for good."""

    __tablename__ = "help_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RelatedArticle(Base):
    """One entry of an article's ordered "Related articles" list, chosen by an agent."""

    __tablename__ = "help_related_articles"

    article_id: Mapped[int] = mapped_column(ForeignKey("help_articles.id"), primary_key=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("help_articles.id"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class ImportedId(Base):
    """Which of our rows an id from another help desk became, so a second import of the same
    export updates the same articles instead of creating copies."""

    __tablename__ = "help_imported_ids"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_id: Mapped[int]
