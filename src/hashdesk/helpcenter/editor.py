"""The agents' help-center editor under ``/console/help``, and the images it serves.

Pages for agents who may manage articles: the article list (with the translations each one
still lacks), creating an article, editing or adding a translation beside its source text,
version history with restore, related articles and image uploads. The preview renders
through ``render_markdown``, the public page's sanitiser: as the agent types (``editor.js``
asks ``/console/help/preview``) or, without JavaScript, with the form's Preview button.
Every write goes through ``actions.check_*``, which audits it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi import Path as PathPart
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hashdesk.core.audit import list_entries
from hashdesk.core.auth import Permission, Principal
from hashdesk.core.errors import DomainError, InvalidInput, NotFound
from hashdesk.core.i18n import LOCALES, N_, gettext_for
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.markdown import render_markdown
from hashdesk.helpcenter.models import Article, ArticleTranslation, HelpImage
from hashdesk.helpcenter.schemas import ArticleCreate, EditorSave, RelatedSet
from hashdesk.tickets.attachments import Upload
from hashdesk.web.deps import DbSession, MaybePrincipal, SettingsDep
from hashdesk.web.forms import Posted, PostedForm
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)

BASE = "/console/help"
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"editor.js": "text/javascript", "editor.css": "text/css"}
MAX_PREVIEW = 200_000
IMAGE_CACHE = "public, max-age=31536000, immutable"  # an image row never changes
# Messages for fields the schemas refuse (pydantic's own are English only).
FIELD_PROBLEMS = {
    "title": N_("Write a title of 1 to 200 characters."),
    "body": N_("Write the article text (up to 200,000 characters)."),
    "tags": N_("Use at most 30 tags."),
    "section": N_("Write the section as category/section (lower-case letters, digits, '-')."),
    "status": N_("Choose draft or published."),
    "locale": N_("Choose a language."),
    "related_ids": N_("List at most 10 article numbers."),
}
DEFAULT_PROBLEM = N_("Check this field.")
# Numbers in addresses stay inside the id columns' range: a larger one is a 422, not a 500.
RowId = Annotated[int, PathPart(ge=1, le=2**31 - 1)]
STATUS_LABELS = {"draft": N_("Draft"), "published": N_("Published")}


# --- helpers --------------------------------------------------------------------------------


def _editor(principal: Principal | None, next_url: str) -> Principal | Response:
    """The signed-in editor, or the sign-in page for anyone not signed in as staff; staff
    without the permission get the usual 403."""
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': next_url})}")
    principal.require(Permission.MANAGE_ARTICLES)
    return principal


def _page(
    request: Request, template: str, context: dict[str, Any], principal: Principal,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    values = {"errors": {}, "values": {}, "STATUS_LABELS": STATUS_LABELS, "BASE": BASE,
              "when": _when, **context}  # fmt: skip
    return render_page(request, template, values, principal=principal, status_code=status_code)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _gettext(request: Request, principal: Principal) -> Callable[[str], str]:
    return gettext_for(page_locale(request, principal)).gettext


def _refused(
    request: Request, principal: Principal, session: Session, error: Exception
) -> tuple[dict[str, str], int]:
    """The refusal as messages keyed by field; nothing of the refused write is kept."""
    session.rollback()
    gettext = _gettext(request, principal)
    if isinstance(error, ValidationError):
        found: dict[str, str] = {}
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else "form"
            found.setdefault(key, gettext(FIELD_PROBLEMS.get(key, DEFAULT_PROBLEM)))
        return found, 422
    assert isinstance(error, DomainError)
    return {error.field or "form": error.render(gettext)}, error.status


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _ids(text: str) -> list[int]:
    words = [word for word in re.split(r"[\s,]+", text) if word]
    bad = [word for word in words if not word.isdigit() or len(word) > 12]
    if bad:
        raise InvalidInput("Not an article number: {value}.", field="related", value=bad[0])
    return [int(word) for word in words]


def _editor_payload(form: PostedForm) -> dict[str, Any]:
    return {"title": form.text("title"), "body": form.values.get("body", ""),
            "tags": _tags(form.text("tags")), "status": form.text("status") or "draft",
            "section": form.text("section"), "internal": form.flag("internal")}  # fmt: skip


def _edit_url(article_id: int, locale: str) -> str:
    return f"{BASE}/articles/{article_id}/{locale}"


def _known_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise NotFound("No such page.")
    return locale


def _article(session: Session, principal: Principal, article_id: int) -> Article:
    return actions.access_editable_article(session, principal, article_id)


# --- the list -------------------------------------------------------------------------------


def _list_filter(request: Request) -> queries.EditorFilter:
    params = request.query_params
    internal = {"yes": True, "no": False}.get(params.get("internal", ""))
    status = params.get("status") if params.get("status") in STATUS_LABELS else None

    def locale(name: str) -> str | None:
        value = params.get(name)
        return value if value in LOCALES else None

    return queries.EditorFilter(section=params.get("section") or None, locale=locale("locale"),
                                status=status, internal=internal, missing=locale("missing"))  # fmt: skip


@router.get(BASE, response_class=HTMLResponse)
def editor_list(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    editor = _editor(principal, BASE)
    if isinstance(editor, Response):
        return editor
    filters = _list_filter(request)
    context = {"rows": queries.list_editor_articles(session, filters), "filters": filters,
               "sections": queries.list_sections(session), "edit_url": _edit_url}  # fmt: skip
    return _page(request, "helpcenter/editor_list.html", context, editor)


# --- creating -------------------------------------------------------------------------------


@router.get(f"{BASE}/new", response_class=HTMLResponse)
def editor_new(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    editor = _editor(principal, f"{BASE}/new")
    if isinstance(editor, Response):
        return editor
    values = {"locale": "en", "status": "draft", "section": request.query_params.get("section", "")}
    return _new_page(request, session, editor, values)


def _new_page(
    request: Request, session: Session, editor: Principal, values: dict[str, Any],
    errors: dict[str, str] | None = None, status_code: int = 200, preview: Any = None,
) -> HTMLResponse:  # fmt: skip
    context = {"values": values, "errors": errors or {}, "preview": preview,
               "sections": queries.list_sections(session)}  # fmt: skip
    return _page(request, "helpcenter/editor_new.html", context, editor, status_code)


@router.post(f"{BASE}/new", response_class=HTMLResponse)
def editor_create(
    request: Request, form: Posted, session: DbSession, principal: MaybePrincipal
) -> Response:
    editor = _editor(principal, f"{BASE}/new")
    if isinstance(editor, Response):
        return editor
    payload = {**_editor_payload(form), "locale": form.text("locale") or "en"}
    if form.text("intent") == "preview":
        return _new_page(request, session, editor, form.values,
                         preview=render_markdown(payload["body"]))  # fmt: skip
    try:
        article = actions.check_create_article(session, editor, ArticleCreate(**payload))
    except (ValidationError, DomainError) as error:
        errors, status = _refused(request, editor, session, error)
        return _new_page(request, session, editor, form.values, errors, status)
    return redirect(_edit_url(article.id, payload["locale"]) + "?saved=1")


# --- editing one translation ------------------------------------------------------------------


@router.get(f"{BASE}/articles/{{article_id}}", response_class=HTMLResponse)
def editor_article(article_id: RowId, session: DbSession, principal: MaybePrincipal) -> Response:
    editor = _editor(principal, f"{BASE}/articles/{article_id}")
    if isinstance(editor, Response):
        return editor
    article = _article(session, editor, article_id)
    return redirect(_edit_url(article.id, article.source_locale))


def _values_of(article: Article, translation: ArticleTranslation | None) -> dict[str, Any]:
    source = _source(article)
    shown = translation or source
    return {
        "title": translation.title if translation else "",
        "body": translation.body if translation else "",
        "tags": ", ".join(shown.tags) if shown else "",
        "status": translation.status if translation else "draft",
        "section": article.section.path,
        "internal": "1" if article.internal else "",
    }


def _source(article: Article) -> ArticleTranslation | None:
    by_locale = {t.locale: t for t in article.translations}
    return by_locale.get(article.source_locale) or next(iter(by_locale.values()), None)


def _edit_page(
    request: Request, session: Session, editor: Principal, article: Article, locale: str,
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
    status_code: int = 200, preview: Any = None,
) -> HTMLResponse:  # fmt: skip
    translation = queries.get_translation(session, article.id, locale)
    source = _source(article)
    beside = source if source is not None and source.locale != locale else None
    related_ids = queries.list_related_ids(session, article.id)
    current = values or _values_of(article, translation)
    context = {
        "article": article, "target_locale": locale, "translation": translation, "values": current,
        "errors": errors or {}, "source": beside,
        "source_html": render_markdown(beside.body) if beside else None,
        "preview": preview if preview is not None else render_markdown(current.get("body", "")),
        "translations": {t.locale: t for t in article.translations},
        "related_ids": related_ids,
        "related": queries.list_related_for_reader(session, editor, article, locale),
        "sections": queries.list_sections(session), "edit_url": _edit_url,
        "saved": request.query_params.get("saved") == "1",
    }  # fmt: skip
    return _page(request, "helpcenter/editor_edit.html", context, editor, status_code)


@router.get(f"{BASE}/articles/{{article_id}}/{{locale}}", response_class=HTMLResponse)
def editor_edit(
    request: Request, article_id: RowId, locale: str, session: DbSession, principal: MaybePrincipal
) -> Response:
    editor = _editor(principal, _edit_url(article_id, locale))
    if isinstance(editor, Response):
        return editor
    article = _article(session, editor, article_id)
    return _edit_page(request, session, editor, article, _known_locale(locale))


@router.post(f"{BASE}/articles/{{article_id}}/related", response_class=HTMLResponse)
def editor_related(
    request: Request, article_id: RowId, form: Posted, session: DbSession,
    principal: MaybePrincipal,
) -> Response:  # fmt: skip
    editor = _editor(principal, f"{BASE}/articles/{article_id}")
    if isinstance(editor, Response):
        return editor
    locale = _known_locale(form.text("locale") or "en")
    try:
        data = RelatedSet(related_ids=_ids(form.text("related")))
        actions.check_set_related(session, editor, article_id, data)
    except (ValidationError, DomainError) as error:
        errors, status = _refused(request, editor, session, error)
        if "related_ids" in errors:
            errors["related"] = errors.pop("related_ids")
        article = _article(session, editor, article_id)
        return _edit_page(request, session, editor, article, locale, errors=errors,
                          status_code=status)  # fmt: skip
    return redirect(_edit_url(article_id, locale) + "?saved=1#related")


@router.post(f"{BASE}/articles/{{article_id}}/{{locale}}", response_class=HTMLResponse)
def editor_save(
    request: Request, article_id: RowId, locale: str, form: Posted, session: DbSession,
    principal: MaybePrincipal,
) -> Response:  # fmt: skip
    editor = _editor(principal, _edit_url(article_id, locale))
    if isinstance(editor, Response):
        return editor
    article = _article(session, editor, article_id)
    locale = _known_locale(locale)
    payload = _editor_payload(form)
    if form.text("intent") == "preview":
        return _edit_page(request, session, editor, article, locale, dict(form.values),
                          preview=render_markdown(payload["body"]))  # fmt: skip
    try:
        actions.check_save_from_editor(session, editor, article.id, locale, EditorSave(**payload))
    except (ValidationError, DomainError) as error:
        errors, status = _refused(request, editor, session, error)
        article = _article(session, editor, article_id)
        return _edit_page(request, session, editor, article, locale, dict(form.values), errors,
                          status)  # fmt: skip
    return redirect(_edit_url(article.id, locale) + "?saved=1")


# --- the live preview -----------------------------------------------------------------------


@router.post(f"{BASE}/preview")
def editor_preview(form: Posted, principal: MaybePrincipal) -> Response:
    """The body's HTML exactly as the public page would show it. The CSRF token is checked
    with the sign-in (header or form field), like every console write."""
    editor = _editor(principal, BASE)
    if isinstance(editor, Response):
        return JSONResponse({"detail": "Sign in first."}, status_code=401)
    body = form.values.get("body", "")
    if len(body) > MAX_PREVIEW:
        raise InvalidInput("Write the article text (up to 200,000 characters).", field="body")
    return JSONResponse({"html": str(render_markdown(body))},
                        headers={"Cache-Control": "no-store"})  # fmt: skip


@router.get(f"{BASE}/assets/{{name}}")
def editor_asset(name: str) -> Response:
    """The editor's own script and style (the CSP allows only same-origin files)."""
    if name not in ASSETS:
        raise NotFound("No such page.")
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip


# --- version history ------------------------------------------------------------------------


def _translation(session: Session, article: Article, locale: str) -> ArticleTranslation:
    translation = queries.get_translation(session, article.id, _known_locale(locale))
    if translation is None:
        raise NotFound("No such page.")
    return translation


@router.get(f"{BASE}/articles/{{article_id}}/{{locale}}/history", response_class=HTMLResponse)
def editor_history(
    request: Request, article_id: RowId, locale: str, session: DbSession, principal: MaybePrincipal
) -> Response:
    editor = _editor(principal, f"{_edit_url(article_id, locale)}/history")
    if isinstance(editor, Response):
        return editor
    article = _article(session, editor, article_id)
    translation = _translation(session, article, locale)
    context = {"article": article, "translation": translation, "target_locale": locale,
               "versions": list(reversed(queries.list_versions(session, translation.id))),
               "audit": list_entries(session, "help_article", article.id),
               "edit_url": _edit_url,
               "restored": request.query_params.get("restored")}  # fmt: skip
    return _page(request, "helpcenter/editor_history.html", context, editor)


@router.get(
    f"{BASE}/articles/{{article_id}}/{{locale}}/history/{{version}}", response_class=HTMLResponse
)
def editor_version(
    request: Request, article_id: RowId, locale: str, version: RowId, session: DbSession,
    principal: MaybePrincipal,
) -> Response:  # fmt: skip
    editor = _editor(principal, f"{_edit_url(article_id, locale)}/history")
    if isinstance(editor, Response):
        return editor
    article = _article(session, editor, article_id)
    translation = _translation(session, article, locale)
    old = queries.get_version(session, translation.id, version)
    if old is None:
        raise NotFound("No version {version} of this translation.", version=version)
    context = {"article": article, "translation": translation, "target_locale": locale, "old": old,
               "html": render_markdown(old.body), "edit_url": _edit_url}  # fmt: skip
    return _page(request, "helpcenter/editor_version.html", context, editor)


@router.post(
    f"{BASE}/articles/{{article_id}}/{{locale}}/history/{{version}}/restore",
    response_class=HTMLResponse,
)
def editor_restore(
    article_id: RowId, locale: str, version: RowId, session: DbSession, principal: MaybePrincipal
) -> Response:
    editor = _editor(principal, f"{_edit_url(article_id, locale)}/history")
    if isinstance(editor, Response):
        return editor
    actions.check_restore_version(session, editor, article_id, _known_locale(locale), version)
    return redirect(f"{_edit_url(article_id, locale)}/history?restored={version}")


# --- images ---------------------------------------------------------------------------------


def image_url(image: HelpImage) -> str:
    return f"/hc/images/{image.id}/{quote(image.filename)}"


def image_snippet(image: HelpImage) -> str:
    alt = Path(image.filename).stem.replace("-", " ").replace("_", " ")
    return f"![{alt}]({image_url(image)})"


def _images_page(
    request: Request, session: Session, editor: Principal,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    uploaded = request.query_params.get("uploaded", "")
    context = {"images": queries.list_images(session), "errors": errors or {},
               "uploaded": int(uploaded) if uploaded.isdigit() else None,
               "image_url": image_url, "image_snippet": image_snippet}  # fmt: skip
    return _page(request, "helpcenter/editor_images.html", context, editor, status_code)


@router.get(f"{BASE}/images", response_class=HTMLResponse)
def editor_images(request: Request, session: DbSession, principal: MaybePrincipal) -> Response:
    editor = _editor(principal, f"{BASE}/images")
    if isinstance(editor, Response):
        return editor
    return _images_page(request, session, editor)


@router.post(f"{BASE}/images", response_class=HTMLResponse)
def editor_upload(
    request: Request, form: Posted, session: DbSession, principal: MaybePrincipal,
    settings: SettingsDep,
) -> Response:  # fmt: skip
    editor = _editor(principal, f"{BASE}/images")
    if isinstance(editor, Response):
        return editor
    try:
        if len(form.uploads) != 1:
            raise InvalidInput("Choose one image file.", field="image")
        upload: Upload = form.uploads[0]
        image = actions.check_upload_image(session, editor, upload, settings.upload_dir,
                                           settings.max_upload_bytes)  # fmt: skip
    except DomainError as error:
        errors, status = _refused(request, editor, session, error)
        return _images_page(request, session, editor, errors, status)
    return redirect(f"{BASE}/images?uploaded={image.id}#image-{image.id}")


@router.get("/hc/images/{image_id}/{filename}")
def serve_image(
    request: Request, image_id: RowId, filename: str, session: DbSession, settings: SettingsDep
) -> Response:
    """An uploaded image at its stable address. The address names one immutable row, so
    browsers and proxies may keep it for a year; the ETag is the content hash."""
    image = queries.get_image(session, image_id)
    if image is None or image.filename != filename:
        raise NotFound("No such image.")
    headers = {"Cache-Control": IMAGE_CACHE, "ETag": f'"{image.sha256}"',
               "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'"}  # fmt: skip
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    path = settings.upload_dir / image.storage_key
    try:
        data = path.read_bytes()
    except OSError as error:
        raise NotFound("No such image.") from error
    return Response(data, media_type=image.content_type, headers=headers)


__all__ = ["image_snippet", "image_url", "router"]
