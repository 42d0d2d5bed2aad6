"""Help-center writes. Every change is audited; a change readers can see (publishing, an
edit to a published text, unpublishing, the internal flag) is announced on the "helpcenter"
channel after commit, so every node and the search index refresh at once."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from hashdesk.core.audit import record
from hashdesk.core.auth import Permission, Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia
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
    HelpImage,
    HelpSection,
    ImportedId,
    RelatedArticle,
)
from hashdesk.helpcenter.schemas import ArticleCreate, EditorSave, RelatedSet, TranslationSave
from hashdesk.tickets.attachments import CheckedUpload, Upload, sniff_type, store

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
    article = Article(id=data.id, section=section, source_locale=data.locale,
                      internal=data.internal, translations=[])  # fmt: skip
    session.add(article)
    if article.id is None:  # an import brings its own ids: no round trip needed then
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
    # From the article's loaded translations, not a query: an import of hundreds of files
    # then costs no round trip (and no autoflush) per file.
    translation = next((t for t in article.translations if t.locale == locale), None)
    if translation is None:
        translation = ArticleTranslation(article=article, article_id=article.id, locale=locale,
                                         version=1, title=data.title, slug=slugify(data.title),
                                         body=data.body, tags=list(data.tags))  # fmt: skip
        session.add(translation)
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


# --- the editor -------------------------------------------------------------------------------


def check_save_from_editor(
    session: Session, actor: Principal, article_id: int, locale: str, data: EditorSave
) -> ArticleTranslation:
    """One editor save: the article's section and internal flag, then the translation's
    text and status (each audited on its own, each a no-op when unchanged)."""
    article = access_editable_article(session, actor, article_id)
    _check_locale(locale)
    do_update_article(session, actor, article, data.section, data.internal)
    return do_save_translation(session, actor, article, locale, data)


def check_restore_version(
    session: Session, actor: Principal, article_id: int, locale: str, version: int
) -> ArticleTranslation:
    """Bring back the text of an earlier version as a new version (history only grows), and
    keep the translation's current status: restoring never publishes or unpublishes."""
    article = access_editable_article(session, actor, article_id)
    translation = queries.get_translation(session, article.id, locale)
    old = queries.get_version(session, translation.id, version) if translation else None
    if translation is None or old is None:
        raise NotFound("No version {version} of this translation.", version=version)
    data = TranslationSave(title=old.title, body=old.body, tags=list(old.tags),
                           status=ArticleStatus(translation.status))  # fmt: skip
    saved = do_save_translation(session, actor, article, locale, data)
    record(session, actor, "helpcenter.version_restored", "help_article", article.id,
           after={"locale": locale, "restored": version, "version": saved.version})  # fmt: skip
    return saved


def check_set_related(
    session: Session, actor: Principal, article_id: int, data: RelatedSet
) -> list[int]:
    article = access_editable_article(session, actor, article_id)
    wanted = list(dict.fromkeys(data.related_ids))
    if article.id in wanted:
        raise InvalidInput("An article cannot be related to itself.", field="related")
    known = set(session.scalars(select(Article.id).where(Article.id.in_(wanted))))
    unknown = [str(related) for related in wanted if related not in known]
    if unknown:
        raise InvalidInput("No article {ids}.", field="related", ids=", ".join(unknown))
    return do_set_related(session, actor, article, wanted)


def do_set_related(
    session: Session, actor: Principal, article: Article, related_ids: list[int]
) -> list[int]:
    before = queries.list_related_ids(session, article.id)
    if before == related_ids:
        return related_ids
    session.execute(delete(RelatedArticle).where(RelatedArticle.article_id == article.id))
    session.add_all(RelatedArticle(article_id=article.id, related_id=related, position=position)
                    for position, related in enumerate(related_ids))  # fmt: skip
    session.flush()
    record(session, actor, "helpcenter.related_set", "help_article", article.id,
           before={"related": before}, after={"related": related_ids})  # fmt: skip
    _announce(session, "article.changed", article, article.source_locale)
    return related_ids


# --- images -----------------------------------------------------------------------------------

IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_FOLDER = "helpcenter"


def check_upload_image(
    session: Session, actor: Principal, upload: Upload, upload_dir: Path, max_bytes: int
) -> HelpImage:
    """Check an image by its first bytes (never the name or the browser's word) and its
    size, then store it; the same bytes uploaded twice are one image."""
    _require_editor(actor)
    limit = min(max_bytes, MAX_IMAGE_BYTES)
    name = safe_filename(upload.filename)
    if not upload.data:
        raise InvalidInput("{name} is empty.", field="image", name=name)
    if len(upload.data) > limit:
        raise PayloadTooLarge("{name} is larger than {limit} MB.", field="image", name=name,
                              limit=limit // (1024 * 1024))  # fmt: skip
    content_type = sniff_type(upload.data)
    if content_type not in IMAGE_TYPES:
        raise UnsupportedMedia("{name} is not a PNG, JPEG, WebP or GIF image.", field="image",
                               name=name)  # fmt: skip
    return do_store_image(session, actor, upload_dir, name, content_type, upload.data)


def do_store_image(
    session: Session, actor: Principal, upload_dir: Path, name: str, content_type: str,
    data: bytes,
) -> HelpImage:  # fmt: skip
    digest = hashlib.sha256(data).hexdigest()
    existing = queries.get_image_by_digest(session, digest)
    if existing is not None:
        return existing
    key = store(upload_dir / IMAGE_FOLDER, CheckedUpload(name, content_type, data, digest))
    uploader = actor.id if actor.kind is PrincipalKind.AGENT else None
    image = HelpImage(filename=name, content_type=content_type, size=len(data), sha256=digest,
                      storage_key=f"{IMAGE_FOLDER}/{key}", uploaded_by_id=uploader)  # fmt: skip
    session.add(image)
    session.flush()
    record(session, actor, "helpcenter.image_uploaded", "help_image", image.id,
           after={"filename": name, "content_type": content_type, "size": len(data),
                  "sha256": digest})  # fmt: skip
    return image


def safe_filename(filename: str) -> str:
    """A name fit for an address: letters, digits, '.', '-' and '_' (others become '-')."""
    base = Path(filename.replace("\\", "/")).name.strip()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-")[:100]
    return cleaned or "image"


# --- imports ----------------------------------------------------------------------------------


def do_name_section(
    session: Session, actor: Principal, path: str, category_name: str, section_name: str
) -> HelpSection:
    """The section ``path`` (created when new) with the names another help desk gave it and
    its category; renaming is audited."""
    section = do_ensure_section(session, actor, path)
    before = {"category": section.category.name, "section": section.name}
    after = {"category": category_name, "section": section_name}
    if before != after:
        section.category.name, section.name = category_name, section_name
        session.flush()
        record(session, actor, "helpcenter.section_renamed", "help_section", section.id,
               before=before, after=after)  # fmt: skip
    return section


def do_record_imported_id(
    session: Session, source: str, kind: str, external_id: str, local_id: int
) -> None:
    session.add(ImportedId(source=source, kind=kind, external_id=external_id, local_id=local_id))
