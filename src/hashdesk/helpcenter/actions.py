"""Help-center writes. Every change is audited; a change readers can see (publishing, an
edit to a published text, unpublishing, the internal flag) is announced on the "helpcenter"
channel after commit, so every node and the search index refresh at once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hashdesk.core.audit import record
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import InvalidInput, NotFound
from hashdesk.core.events import publish_on_commit
from hashdesk.core.i18n import LOCALES
from hashdesk.helpcenter import queries
from hashdesk.helpcenter.models import (
    Article,
    ArticleStatus,
    ArticleTranslation,
    ArticleVersion,
    ArticleVote,
    HelpCategory,
    HelpSection,
)
from hashdesk.helpcenter.schemas import ArticleCreate, TranslationSave

CHANNEL = "helpcenter"
MAX_REASON = 500


def slugify(title: str) -> str:
    """A readable address part from any script (Chinese titles keep their characters)."""
    slug = re.sub(r"[^\w]+", "-", title.lower()).strip("-_")[:80].strip("-_")
    return slug or "article"


def _require_editor(actor: Principal) -> None:
    # The content owners (leads, admins) edit; the command line acts as the system.
    if actor.kind is not PrincipalKind.SYSTEM:
        actor.require(Permission.MANAGE_ARTICLES)


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise InvalidInput("Unknown language {language}.", field="locale", language=locale)


def _snapshot(translation: ArticleTranslation) -> dict[str, Any]:
    return {"locale": translation.locale, "title": translation.title, "status": translation.status,
            "version": translation.version, "tags": list(translation.tags)}  # fmt: skip


def _announce(session: Session, kind: str, article: Article, locale: str) -> None:
    publish_on_commit(session, CHANNEL, {"type": kind, "article_id": article.id, "locale": locale})


def do_ensure_section(session: Session, actor: Principal, path: str) -> HelpSection:
    """The section ``category/section``, created (with its category) when new; names start
    as the slugs in words, for an editor to change."""
    section = queries.get_section(session, path)
    if section is not None:
        return section
    category_slug, _, section_slug = path.partition("/")
    category = queries.get_category(session, category_slug)
    if category is None:
        category = HelpCategory(slug=category_slug, name=_words(category_slug))
        session.add(category)
        session.flush()
        record(session, actor, "helpcenter.category_created", "help_category", category.id,
               after={"slug": category_slug})  # fmt: skip
    section = HelpSection(category=category, slug=section_slug, name=_words(section_slug))
    session.add(section)
    session.flush()
    record(session, actor, "helpcenter.section_created", "help_section", section.id,
           after={"path": path})  # fmt: skip
    return section


def _words(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


def check_create_article(session: Session, actor: Principal, data: ArticleCreate) -> Article:
    _require_editor(actor)
    _check_locale(data.locale)
    return do_create_article(session, actor, data)


def do_create_article(session: Session, actor: Principal, data: ArticleCreate) -> Article:
    section = do_ensure_section(session, actor, data.section)
    article = Article(id=data.id, section_id=section.id, source_locale=data.locale,
                      internal=data.internal)  # fmt: skip
    session.add(article)
    session.flush()
    record(session, actor, "helpcenter.article_created", "help_article", article.id,
           after={"section": data.section, "internal": data.internal, "locale": data.locale})  # fmt: skip
    do_save_translation(session, actor, article, data.locale, data)
    return article


def access_editable_article(session: Session, actor: Principal, article_id: int) -> Article:
    _require_editor(actor)
    article = queries.get_article(session, article_id)
    if article is None:
        raise NotFound("No article {article_id}.", article_id=article_id)
    return article


def check_save_translation(
    session: Session, actor: Principal, article_id: int, locale: str, data: TranslationSave
) -> ArticleTranslation:
    article = access_editable_article(session, actor, article_id)
    _check_locale(locale)
    return do_save_translation(session, actor, article, locale, data)


def do_save_translation(
    session: Session, actor: Principal, article: Article, locale: str, data: TranslationSave
) -> ArticleTranslation:
    """Create the ``locale`` translation or replace its text, keeping the text it replaces
    as a version. Saving an unchanged text is a no-op (re-imports do not pile up versions)."""
    translation = queries.get_translation(session, article.id, locale)
    if translation is None:
        translation = ArticleTranslation(article=article, locale=locale, version=1,
                                         title=data.title, slug=slugify(data.title),
                                         body=data.body, tags=list(data.tags))  # fmt: skip
        session.add(translation)
        session.flush()
        record(session, actor, "helpcenter.translation_created", "help_article", article.id,
               after=_snapshot(translation))  # fmt: skip
    elif _differs(translation, data):
        before = _snapshot(translation)
        _keep_version(session, translation)
        translation.title, translation.body = data.title, data.body
        translation.slug, translation.tags = slugify(data.title), list(data.tags)
        translation.version += 1
        translation.updated_at = utcnow()
        session.flush()
        record(session, actor, "helpcenter.translation_saved", "help_article", article.id,
               before=before, after=_snapshot(translation))  # fmt: skip
        if translation.published:
            _announce(session, "article.published", article, locale)
    do_set_status(session, actor, translation, data.status)
    return translation


def _differs(translation: ArticleTranslation, data: TranslationSave) -> bool:
    return (translation.title, translation.body, list(translation.tags)) != (
        data.title, data.body, list(data.tags))  # fmt: skip


def _keep_version(session: Session, translation: ArticleTranslation) -> None:
    session.add(ArticleVersion(translation_id=translation.id, version=translation.version,
                               title=translation.title, body=translation.body,
                               tags=list(translation.tags), status=translation.status,
                               saved_at=translation.updated_at))  # fmt: skip


def do_set_status(
    session: Session, actor: Principal, translation: ArticleTranslation, status: ArticleStatus
) -> None:
    if translation.status == status.value:
        return
    before = _snapshot(translation)
    translation.status = status.value
    if status is ArticleStatus.PUBLISHED:
        translation.published_at = utcnow()
    session.flush()
    record(session, actor, f"helpcenter.{status.value}", "help_article", translation.article_id,
           before=before, after=_snapshot(translation))  # fmt: skip
    kind = "article.published" if status is ArticleStatus.PUBLISHED else "article.unpublished"
    _announce(session, kind, translation.article, translation.locale)


def check_set_status(
    session: Session, actor: Principal, article_id: int, locale: str, status: ArticleStatus
) -> ArticleTranslation:
    article = access_editable_article(session, actor, article_id)
    translation = queries.get_translation(session, article.id, locale)
    if translation is None:
        raise NotFound("No article {article_id}.", article_id=article_id)
    do_set_status(session, actor, translation, status)
    return translation


def do_update_article(
    session: Session, actor: Principal, article: Article, section: str, internal: bool
) -> None:
    """Move the article to ``section`` and set its internal flag (both no-ops if unchanged)."""
    before = {"section": article.section.path, "internal": article.internal}
    target = do_ensure_section(session, actor, section)
    if (target.id, internal) == (article.section_id, article.internal):
        return
    article.section_id, article.internal = target.id, internal
    session.flush()
    session.refresh(article, ["section"])
    record(session, actor, "helpcenter.article_updated", "help_article", article.id,
           before=before, after={"section": section, "internal": internal})  # fmt: skip
    _announce(session, "article.changed", article, article.source_locale)


def do_sync_id_sequence(session: Session) -> None:
    """After rows were inserted with explicit ids, move PostgreSQL's sequence past them
    (SQLite picks max(id) + 1 by itself)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(
            "SELECT setval(pg_get_serial_sequence('help_articles', 'id'), "
            "GREATEST((SELECT MAX(id) FROM help_articles), 1))"))  # fmt: skip


def check_vote(
    session: Session, principal: Principal | None, article_id: int, locale: str,
    helpful: str, reason: str,
) -> ArticleVote:  # fmt: skip
    """One "Was this helpful?" answer from a reader who can see the article."""
    article, translation = queries.access_article(session, principal, article_id, locale)
    if helpful not in ("yes", "no"):
        raise InvalidInput("Choose one from the list.", field="helpful")
    if len(reason) > MAX_REASON:
        raise InvalidInput("Keep the reason under {maximum} characters.", field="reason",
                           maximum=MAX_REASON)  # fmt: skip
    return do_vote(session, article, translation.locale, helpful == "yes", reason or None)


def do_vote(
    session: Session, article: Article, locale: str, helpful: bool, reason: str | None
) -> ArticleVote:
    vote = ArticleVote(article_id=article.id, locale=locale, helpful=helpful, reason=reason)
    session.add(vote)
    session.flush()
    return vote
