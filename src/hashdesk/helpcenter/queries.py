"""Reads: which translation a reader gets, and what a reader may see at all.

Readers see published translations of public articles. Agents also see internal articles
(the internal knowledge base shares this store); drafts stay off the public pages for
everyone, agents included, so a page never shows what the public would not get by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hashdesk.core.auth import Principal
from hashdesk.core.errors import NotFound
from hashdesk.core.i18n import DEFAULT_LOCALE
from hashdesk.helpcenter.models import (
    Article,
    ArticleTranslation,
    ArticleVersion,
    ArticleVote,
    HelpCategory,
    HelpSection,
)

# Where a locale without its own translation looks next; every chain ends in English.
FALLBACKS: dict[str, tuple[str, ...]] = {"zh-Hant": ("zh-Hans",)}


def fallback_chain(locale: str) -> tuple[str, ...]:
    chain = [locale, *FALLBACKS.get(locale, ()), DEFAULT_LOCALE]
    return tuple(dict.fromkeys(chain))


def can_see(article: Article, principal: Principal | None) -> bool:
    return not article.internal or (principal is not None and principal.is_agent)


def pick_translation(article: Article, locale: str) -> ArticleTranslation | None:
    """The first published translation along ``locale``'s fallback chain."""
    published = {t.locale: t for t in article.translations if t.published}
    for candidate in fallback_chain(locale):
        if candidate in published:
            return published[candidate]
    return None


def get_article(session: Session, article_id: int) -> Article | None:
    query = (
        select(Article).where(Article.id == article_id).options(selectinload(Article.translations))
    )
    return session.scalars(query).first()


def get_translation(session: Session, article_id: int, locale: str) -> ArticleTranslation | None:
    query = select(ArticleTranslation).where(
        ArticleTranslation.article_id == article_id, ArticleTranslation.locale == locale
    )
    return session.scalars(query).first()


def access_article(
    session: Session, principal: Principal | None, article_id: int, locale: str
) -> tuple[Article, ArticleTranslation]:
    """The article and the translation to show; NotFound for drafts and for internal
    articles asked for by anyone but an agent (we never say which)."""
    article = get_article(session, article_id)
    translation = pick_translation(article, locale) if article else None
    if article is None or translation is None or not can_see(article, principal):
        raise NotFound("No such page.")
    return article, translation


@dataclass(frozen=True)
class SectionListing:
    section: HelpSection
    articles: list[tuple[Article, ArticleTranslation]]


@dataclass(frozen=True)
class CategoryListing:
    category: HelpCategory
    sections: list[SectionListing]


def list_help_center(
    session: Session, principal: Principal | None, locale: str
) -> list[CategoryListing]:
    """Categories, their sections and the articles a reader may see, in three queries
    (sections join their category); empty sections and categories are left out."""
    by_section: dict[int, list[tuple[Article, ArticleTranslation]]] = {}
    for article in list_all_articles(session):
        translation = pick_translation(article, locale)
        if translation is not None and can_see(article, principal):
            by_section.setdefault(article.section_id, []).append((article, translation))
    sections = session.scalars(
        select(HelpSection).order_by(HelpSection.position, HelpSection.slug)
    ).all()
    listings: dict[int, CategoryListing] = {}
    for section in sections:
        if section.id in by_section:
            category = section.category
            listing = listings.setdefault(category.id, CategoryListing(category, []))
            listing.sections.append(SectionListing(section, by_section[section.id]))
    return sorted(listings.values(), key=lambda item: (item.category.position,
                                                       item.category.slug))  # fmt: skip


def list_versions(session: Session, translation_id: int) -> list[ArticleVersion]:
    query = (
        select(ArticleVersion)
        .where(ArticleVersion.translation_id == translation_id)
        .order_by(ArticleVersion.version)
    )
    return list(session.scalars(query))


def vote_counts(session: Session, article_id: int) -> dict[bool, int]:
    query = (
        select(ArticleVote.helpful, func.count())
        .where(ArticleVote.article_id == article_id)
        .group_by(ArticleVote.helpful)
    )
    counts = {True: 0, False: 0}
    counts.update({bool(helpful): int(count) for helpful, count in session.execute(query)})
    return counts


def list_all_articles(session: Session) -> list[Article]:
    """Every article with every translation, drafts and internal ones included (export)."""
    query = select(Article).options(selectinload(Article.translations)).order_by(Article.id)
    return list(session.scalars(query))


def get_section(session: Session, path: str) -> HelpSection | None:
    category_slug, _, section_slug = path.partition("/")
    query = (
        select(HelpSection)
        .join(HelpCategory)
        .where(HelpCategory.slug == category_slug, HelpSection.slug == section_slug)
    )
    return session.scalars(query).first()


def get_category(session: Session, slug: str) -> HelpCategory | None:
    return session.scalars(select(HelpCategory).where(HelpCategory.slug == slug)).first()
