"""Public help-center pages: ``/hc/{locale}`` and ``/hc/{locale}/articles/{id}-{slug}``.

The locale in the address decides the page's language; an article missing in it is shown
along the fallback chain (zh-Hant → zh-Hans → en) with a note saying so. Only
``render_markdown``'s sanitised HTML is marked safe.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from hashdesk.core.auth import Principal
from hashdesk.core.errors import NotFound
from hashdesk.core.i18n import LOCALES, match_locale
from hashdesk.core.ratelimit import ARTICLE_VOTE, hit_limit
from hashdesk.helpcenter import actions, editor, queries
from hashdesk.helpcenter import routes as search_routes
from hashdesk.helpcenter.markdown import render_markdown
from hashdesk.helpcenter.search import get_search_index
from hashdesk.web.deps import (
    DbSession,
    MaybePrincipal,
    RateLimiterDep,
    RuntimeDep,
    client_address,
    require_csrf,
)
from hashdesk.web.forms import Posted
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)
ARTICLE_REF = re.compile(r"^(\d{1,12})(?:-.*)?$")


def article_url(locale: str, article_id: int, slug: str) -> str:
    return f"/hc/{locale}/articles/{article_id}-{slug}"


def _use_locale(request: Request, locale: str) -> str:
    """The address's locale, for this page's text too; an unknown one is a missing page."""
    if locale not in LOCALES:
        raise NotFound("No such page.")
    request.state.locale, request.state.locale_explicit = locale, True
    return locale


def _canonical_locale(locale: str) -> str | None:
    matched = match_locale(locale)
    return matched if matched and matched != locale else None


async def _vote_csrf(request: Request, principal: MaybePrincipal) -> Principal | None:
    # Signed-in cookie sessions were checked by MaybePrincipal; anonymous readers vote from
    # a page that set a CSRF token in their session, so their votes are checked too.
    if principal is None:
        await require_csrf(request)
    return principal


VotingPrincipal = Annotated[Principal | None, Depends(_vote_csrf)]


@router.get("/hc", response_class=HTMLResponse)
def help_center_root(request: Request, principal: MaybePrincipal) -> Response:
    return redirect(f"/hc/{page_locale(request, principal)}")


@router.get("/hc/{locale}", response_class=HTMLResponse)
def help_center_home(
    request: Request, locale: str, session: DbSession, principal: MaybePrincipal
) -> Response:
    if canonical := _canonical_locale(locale):
        return redirect(f"/hc/{canonical}")
    _use_locale(request, locale)
    listing = queries.list_help_center(session, principal, locale)
    return render_page(request, "helpcenter/home.html", {"listing": listing,
                                                          "article_url": article_url},
                       principal=principal)  # fmt: skip


@router.get("/hc/{locale}/articles/{reference}", response_class=HTMLResponse)
def article_page(
    request: Request, locale: str, reference: str, session: DbSession, principal: MaybePrincipal
) -> Response:
    match = ARTICLE_REF.match(reference)
    if match is None:
        raise NotFound("No such page.")
    article_id = int(match.group(1))
    if canonical := _canonical_locale(locale):
        return redirect(f"/hc/{canonical}/articles/{reference}")
    _use_locale(request, locale)
    article, translation = queries.access_article(session, principal, article_id, locale)
    if reference != f"{article_id}-{translation.slug}":
        return redirect(article_url(locale, article_id, translation.slug))
    context = {
        "article": article,
        "translation": translation,
        "html": render_markdown(translation.body),
        "related": queries.list_related_for_reader(session, principal, article, locale),
        "voted": request.query_params.get("voted") == "1",
        "vote_url": f"/hc/{locale}/articles/{article_id}/votes",
        "home_url": f"/hc/{locale}",
    }
    return render_page(request, "helpcenter/article.html", context, principal=principal)


@router.post("/hc/{locale}/articles/{article_id}/votes", response_class=HTMLResponse)
def vote(
    request: Request, locale: str, article_id: int, form: Posted, session: DbSession,
    principal: VotingPrincipal, limiter: RateLimiterDep,
) -> Response:  # fmt: skip
    _use_locale(request, locale)
    hit_limit(limiter, ARTICLE_VOTE, client_address(request))
    actions.check_vote(session, principal, article_id, locale, form.text("helpful"),
                       form.text("reason"))  # fmt: skip
    _, translation = queries.access_article(session, principal, article_id, locale)
    return redirect(article_url(locale, article_id, translation.slug) + "?voted=1#feedback")


router.include_router(editor.router)


# --- search (hashdesk.helpcenter.search) -----------------------------------------------------

SEARCH_PAGE_SIZE = 20


@router.get("/hc/{locale}/search", response_class=HTMLResponse)
def search_page(
    request: Request, locale: str, runtime: RuntimeDep, principal: MaybePrincipal,
    limiter: RateLimiterDep, q: str = "",
) -> Response:  # fmt: skip
    """Search results in the reader's language (fallback translations marked as such)."""
    if canonical := _canonical_locale(locale):
        return redirect(f"/hc/{canonical}/search?{urlencode({'q': q})}")
    _use_locale(request, locale)
    text = q.strip()[: search_routes.MAX_QUERY]
    if text:
        search_routes.count_search(limiter, request)
    hits = get_search_index(runtime).search(
        text, locale, limit=SEARCH_PAGE_SIZE,
        include_internal=search_routes.sees_internal(principal),
    ) if text else []  # fmt: skip
    return render_page(request, "helpcenter/search.html", {"search_query": text, "hits": hits},
                       principal=principal)  # fmt: skip
