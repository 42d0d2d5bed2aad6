"""Help-center API under /api/v1/helpcenter: search and search-as-you-type.

Both are public (readers need not sign in) and rate-limited per address; signed-in agents
also find internal articles. ``locale`` defaults to the request's language.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from hashdesk.core.auth import Principal
from hashdesk.core.errors import InvalidInput
from hashdesk.core.i18n import LOCALES
from hashdesk.core.ratelimit import Limit, RateLimiter, hit_limit
from hashdesk.helpcenter.search import SearchHit, get_search_index
from hashdesk.helpcenter.search.schemas import SearchHitPublic, SearchResults
from hashdesk.web.deps import MaybePrincipal, RateLimiterDep, RuntimeDep, client_address

router = APIRouter(prefix="/api/v1/helpcenter", tags=["helpcenter"])

# As-you-type asks on (debounced) keystrokes, so its budget is larger than a full search's;
# the search page counts against the same search budget as the API.
SEARCH_LIMIT = Limit("hc-search", 120, 60)
SUGGEST_LIMIT = Limit("hc-suggest", 600, 60)
MAX_QUERY = 200
MAX_LIMIT = 50
MAX_SUGGESTIONS = 20

QueryText = Annotated[str, Query(max_length=MAX_QUERY, description="what the reader typed")]
LocaleCode = Annotated[str | None, Query(max_length=16, description="e.g. en, es, zh-Hant")]


def check_search_input(query: str, locale: str | None, request: Request) -> tuple[str, str]:
    """The stripped query and a known locale (the request's own when none is given)."""
    text = query.strip()
    if not text:
        raise InvalidInput("Type something to search for.", field="q")
    chosen = locale or str(getattr(request.state, "locale", "en"))
    if chosen not in LOCALES:
        raise InvalidInput("Unknown language {language}.", field="locale", language=chosen)
    return text, chosen


def sees_internal(principal: Principal | None) -> bool:
    return principal is not None and principal.is_agent


def count_search(limiter: RateLimiter, request: Request) -> None:
    hit_limit(limiter, SEARCH_LIMIT, client_address(request))


def public_hits(hits: list[SearchHit]) -> list[SearchHitPublic]:
    return [SearchHitPublic.model_validate(hit, from_attributes=True) for hit in hits]


@router.get("/search", response_model=SearchResults)
def search(
    request: Request, runtime: RuntimeDep, principal: MaybePrincipal, limiter: RateLimiterDep,
    q: QueryText = "", locale: LocaleCode = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
) -> SearchResults:  # fmt: skip
    """Published articles that answer ``q``, best first, one per article, in ``locale``
    where translated (else along its fallback chain)."""
    count_search(limiter, request)
    text, chosen = check_search_input(q, locale, request)
    hits = get_search_index(runtime).search(
        text, chosen, limit=limit, include_internal=sees_internal(principal)
    )
    return SearchResults(query=text, locale=chosen, hits=public_hits(hits))


@router.get("/suggest", response_model=SearchResults)
def suggest(
    request: Request, runtime: RuntimeDep, principal: MaybePrincipal, limiter: RateLimiterDep,
    q: QueryText = "", locale: LocaleCode = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS)] = 8,
) -> SearchResults:  # fmt: skip
    """Article titles that match what has been typed so far (the last word as a prefix)."""
    hit_limit(limiter, SUGGEST_LIMIT, client_address(request))
    text, chosen = check_search_input(q, locale, request)
    hits = get_search_index(runtime).suggest(
        q.lstrip(), chosen, limit=limit, include_internal=sees_internal(principal)
    )
    return SearchResults(query=text, locale=chosen, hits=public_hits(hits))
