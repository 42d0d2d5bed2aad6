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
from hashdesk.core.i18n import DEFAULT_LOCALE, LOCALES
from hashdesk.helpcenter.models import (
    Article,
    ArticleTranslation,
    ArticleVersion,
    ArticleVote,
    HelpCategory,
    HelpImage,
    HelpSection,
    ImportedId,
    RelatedArticle,
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


# --- the editor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditorFilter:
    section: str | None = None
    locale: str | None = None
    status: str | None = None
    internal: bool | None = None
    missing: str | None = None  # only articles lacking a translation in this locale


@dataclass(frozen=True)
class EditorRow:
    article: Article
    title: str
    translations: dict[str, ArticleTranslation]
    missing: list[str]


def list_editor_articles(session: Session, filters: EditorFilter) -> list[EditorRow]:
    """Every article an editor may open (drafts and internal ones too), with the locales it
    still lacks; two queries whatever the number of articles."""
    rows = []
    for article in list_all_articles(session):
        by_locale = {t.locale: t for t in article.translations}
        if not _matches(article, by_locale, filters):
            continue
        source = by_locale.get(article.source_locale) or next(iter(by_locale.values()), None)
        missing = [code for code in LOCALES if code not in by_locale]
        rows.append(EditorRow(article, source.title if source else "", by_locale, missing))
    return rows


def _matches(
    article: Article, by_locale: dict[str, ArticleTranslation], filters: EditorFilter
) -> bool:
    if filters.section and article.section.path != filters.section:
        return False
    if filters.internal is not None and article.internal != filters.internal:
        return False
    if filters.missing and filters.missing in by_locale:
        return False
    chosen = [by_locale[filters.locale]] if filters.locale in by_locale else []
    if filters.locale and not chosen:
        return False
    if filters.status:
        return any(t.status == filters.status for t in (chosen or by_locale.values()))
    return True


def list_sections(session: Session) -> list[HelpSection]:
    query = select(HelpSection).join(HelpCategory).order_by(HelpCategory.slug, HelpSection.slug)
    return list(session.scalars(query))


def get_version(session: Session, translation_id: int, version: int) -> ArticleVersion | None:
    query = select(ArticleVersion).where(
        ArticleVersion.translation_id == translation_id, ArticleVersion.version == version
    )
    return session.scalars(query).first()


def get_image(session: Session, image_id: int) -> HelpImage | None:
    return session.get(HelpImage, image_id)


def get_image_by_digest(session: Session, sha256: str) -> HelpImage | None:
    return session.scalars(select(HelpImage).where(HelpImage.sha256 == sha256)).first()


def list_images(session: Session, limit: int = 200) -> list[HelpImage]:
    return list(session.scalars(select(HelpImage).order_by(HelpImage.id.desc()).limit(limit)))


# --- related articles -------------------------------------------------------------------------

RELATED_FALLBACK = 3


def list_related_ids(session: Session, article_id: int) -> list[int]:
    query = (
        select(RelatedArticle.related_id)
        .where(RelatedArticle.article_id == article_id)
        .order_by(RelatedArticle.position)
    )
    return list(session.scalars(query))


def list_related_for_reader(
    session: Session, principal: Principal | None, article: Article, locale: str
) -> list[tuple[Article, ArticleTranslation]]:
    """The related articles a reader may open, each in the reader's language along the
    fallback chain. When the editors chose none (or none the reader may see), up to three
    others from the same section stand in."""
    chosen_ids = list_related_ids(session, article.id)
    readable = _readable(session, principal, chosen_ids, locale)
    if readable:
        return readable
    query = (
        select(Article.id)
        .where(Article.section_id == article.section_id, Article.id != article.id)
        .order_by(Article.id)
    )
    neighbours = list(session.scalars(query))
    return _readable(session, principal, neighbours, locale)[:RELATED_FALLBACK]


def _readable(
    session: Session, principal: Principal | None, article_ids: list[int], locale: str
) -> list[tuple[Article, ArticleTranslation]]:
    if not article_ids:
        return []
    query = (
        select(Article)
        .where(Article.id.in_(article_ids))
        .options(selectinload(Article.translations))
    )
    by_id = {article.id: article for article in session.scalars(query)}
    found = []
    for article_id in article_ids:
        article = by_id.get(article_id)
        translation = pick_translation(article, locale) if article else None
        if article is not None and translation is not None and can_see(article, principal):
            found.append((article, translation))
    return found


# --- imports ----------------------------------------------------------------------------------


def imported_ids(session: Session, source: str, kind: str = "article") -> dict[str, int]:
    query = select(ImportedId.external_id, ImportedId.local_id).where(
        ImportedId.source == source, ImportedId.kind == kind
    )
    return {external: local for external, local in session.execute(query)}


def article_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Article.id)))


def get_articles(session: Session, article_ids: set[int]) -> dict[int, Article]:
    """The articles with these ids (those that exist), translations loaded, by id."""
    found: dict[int, Article] = {}
    ordered = sorted(article_ids)
    for start in range(0, len(ordered), 500):  # well under every database's bind limit
        chunk = ordered[start : start + 500]
        query = (
            select(Article).where(Article.id.in_(chunk)).options(selectinload(Article.translations))
        )
        found.update((article.id, article) for article in session.scalars(query))
    return found
