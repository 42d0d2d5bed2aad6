"""Search through the database: the API contract, the pages, visibility, and the index
following the help center through the event bus (one runtime, and two sharing Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from hashdesk.config import Settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.ratelimit import Limit
from hashdesk.helpcenter import actions
from hashdesk.helpcenter import routes as search_routes
from hashdesk.helpcenter.models import ArticleStatus
from hashdesk.helpcenter.schemas import ArticleCreate, TranslationSave
from hashdesk.helpcenter.search import SearchIndex, build_index, get_search_index
from hashdesk.runtime import Runtime
from tests.conftest import login_agent, make_agent

HIT_FIELDS = {"article_id", "locale", "title", "url", "snippet", "score", "semantic", "lexical"}
EVENT_SECONDS = 15.0  # a hop takes milliseconds; the slack is for a loaded 2-core machine


def publish(session: Session, title: str, body: str, *, locale: str = "en",
            internal: bool = False, status: ArticleStatus = ArticleStatus.PUBLISHED) -> int:  # fmt: skip
    data = ArticleCreate(title=title, body=body, section="funds/withdrawals", locale=locale,
                         internal=internal, status=status)  # fmt: skip
    article = actions.check_create_article(session, SYSTEM, data)
    session.commit()
    return article.id


@pytest.fixture
def help_center(session: Session) -> dict[str, int]:
    return {
        "withdraw": publish(session, "Withdraw crypto to an external wallet",
                            "Open **Assets**, choose the coin and select Withdraw. Pick the "
                            "network of the receiving wallet."),
        "tag": publish(session, "Deposits that need a memo or destination tag",
                       "XRP and XLM deposits need the destination tag or memo."),
        "draft": publish(session, "Staking rewards schedule (draft)",
                         "Rewards are paid daily.", status=ArticleStatus.DRAFT),
        "internal": publish(session, "Escalating withdrawal reviews",
                            "Internal: send stuck withdrawal reviews to compliance.",
                            internal=True),
    }  # fmt: skip


def eventually(check: Callable[[], bool], seconds: float = EVENT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def found_ids(client: TestClient, query: str, **params: str) -> list[int]:
    response = client.get("/api/v1/helpcenter/search", params={"q": query, **params})
    assert response.status_code == 200, response.text
    return [hit["article_id"] for hit in response.json()["hits"]]


# --- the API contract ------------------------------------------------------------------------


def test_search_answers_hits_in_the_documented_shape(
    client: TestClient, help_center: dict[str, int]
) -> None:
    response = client.get("/api/v1/helpcenter/search",
                          params={"q": "withdraw to my wallet", "locale": "en", "limit": 5})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert (body["query"], body["locale"]) == ("withdraw to my wallet", "en")
    first = body["hits"][0]
    assert set(first) == HIT_FIELDS
    assert first["article_id"] == help_center["withdraw"]
    assert (
        first["url"]
        == f"/hc/en/articles/{help_center['withdraw']}-withdraw-crypto-to-an-external-wallet"
    )
    assert "**" not in first["snippet"] and len(first["snippet"]) <= 240


def test_synonyms_work_through_the_api(client: TestClient, help_center: dict[str, int]) -> None:
    assert found_ids(client, "memo", locale="en")[:1] == [help_center["tag"]]


def test_locale_defaults_to_the_requests_language(
    client: TestClient, help_center: dict[str, int]
) -> None:
    response = client.get("/api/v1/helpcenter/search", params={"q": "wallet"},
                          headers={"Accept-Language": "de-DE,de;q=0.9"})  # fmt: skip
    assert response.json()["locale"] == "de"
    assert response.json()["hits"][0]["locale"] == "en"  # along the fallback chain


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "   "}, "q"),
        ({"q": ""}, "q"),
        ({"q": "wallet", "locale": "xx"}, "locale"),
        ({"q": "wallet", "limit": "0"}, "limit"),
        ({"q": "wallet", "limit": "51"}, "limit"),
        ({"q": "w" * 201}, "q"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/helpcenter/search", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]


def test_suggest_completes_titles_as_you_type(
    client: TestClient, help_center: dict[str, int]
) -> None:
    response = client.get("/api/v1/helpcenter/suggest", params={"q": "withdr", "locale": "en"})
    assert response.status_code == 200
    assert [hit["article_id"] for hit in response.json()["hits"]] == [help_center["withdraw"]]
    bad = client.get("/api/v1/helpcenter/suggest", params={"q": " ", "locale": "en"})
    assert bad.status_code == 422


def test_search_is_rate_limited(
    client: TestClient, help_center: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_routes, "SEARCH_LIMIT", Limit("hc-search-test", 3, 60))
    statuses = [client.get("/api/v1/helpcenter/search", params={"q": "wallet"}).status_code
                for _ in range(4)]  # fmt: skip
    assert statuses == [200, 200, 200, 429]


# --- who sees what ---------------------------------------------------------------------------


def test_drafts_are_never_found(
    client: TestClient, session: Session, help_center: dict[str, int]
) -> None:
    assert help_center["draft"] not in found_ids(client, "staking rewards schedule")
    login_agent(client, make_agent(session))
    assert help_center["draft"] not in found_ids(client, "staking rewards schedule")


def test_internal_articles_are_found_by_signed_in_agents_only(
    client: TestClient, session: Session, help_center: dict[str, int]
) -> None:
    assert help_center["internal"] not in found_ids(client, "escalating withdrawal reviews")
    login_agent(client, make_agent(session))
    assert found_ids(client, "escalating withdrawal reviews")[:1] == [help_center["internal"]]
    suggested = client.get("/api/v1/helpcenter/suggest", params={"q": "escalat", "locale": "en"})
    assert [hit["article_id"] for hit in suggested.json()["hits"]] == [help_center["internal"]]


def test_build_index_reads_only_what_is_published(
    session: Session, help_center: dict[str, int]
) -> None:
    index: SearchIndex = build_index(session)
    assert len(index) == 3  # the draft is left out; the internal one is filtered per search
    assert index.search("staking rewards", "en") == [] or all(
        hit.article_id != help_center["draft"] for hit in index.search("staking rewards", "en")
    )


# --- pages -----------------------------------------------------------------------------------


def test_results_page_lists_hits_with_snippets(
    client: TestClient, help_center: dict[str, int]
) -> None:
    page = client.get("/hc/en/search", params={"q": "destination tag"})
    assert page.status_code == 200
    assert f'data-testid="hc-search-hit-{help_center["tag"]}"' in page.text
    assert "XRP and XLM deposits need the destination tag" in page.text
    empty = client.get("/hc/en/search", params={"q": "qwzx vbnk"})
    assert 'data-testid="hc-search-empty"' in empty.text


def test_results_page_marks_fallback_translations_and_escapes_the_query(
    client: TestClient, help_center: dict[str, int]
) -> None:
    page = client.get("/hc/es/search", params={"q": "wallet <script>"})
    assert page.status_code == 200
    assert 'data-testid="hc-search-fallback"' in page.text
    assert "<script>" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]


def test_help_center_pages_carry_the_accessible_search_box(
    client: TestClient, help_center: dict[str, int]
) -> None:
    for address in ("/hc/en", f"/hc/en/articles/{help_center['withdraw']}"):
        page = client.get(address)
        assert page.status_code == 200
        assert 'role="combobox"' in page.text and 'role="listbox"' in page.text
        assert 'aria-controls="hc-search-listbox"' in page.text
        assert "/static/hc-search.js" in page.text
    assert client.get("/static/hc-search.js").status_code == 200


# --- kept current by the event bus -----------------------------------------------------------


def test_publishing_makes_an_article_searchable_at_once(
    client: TestClient, session: Session, help_center: dict[str, int]
) -> None:
    assert found_ids(client, "proof of reserves merkle") == []  # the index is built now
    new_id = publish(session, "Verify our proof of reserves",
                     "Check your balance in the Merkle tree of the latest reserves report.")  # fmt: skip
    assert eventually(lambda: found_ids(client, "proof of reserves merkle")[:1] == [new_id])

    translation = actions.check_set_status(session, SYSTEM, new_id, "en", ArticleStatus.DRAFT)
    session.commit()
    assert translation.status == ArticleStatus.DRAFT.value
    assert eventually(lambda: new_id not in found_ids(client, "proof of reserves merkle"))


def test_an_edit_and_a_new_translation_are_reindexed(
    client: TestClient, session: Session, help_center: dict[str, int]
) -> None:
    article_id = help_center["withdraw"]
    assert found_ids(client, "withdraw wallet")[:1] == [article_id]
    save = TranslationSave(title="Retirar criptomonedas", body="Elige la red y la dirección.",
                           status=ArticleStatus.PUBLISHED)  # fmt: skip
    actions.check_save_translation(session, SYSTEM, article_id, "es", save)
    session.commit()

    def spanish_first() -> bool:
        response = client.get("/api/v1/helpcenter/search", params={"q": "retirar", "locale": "es"})
        hits = response.json()["hits"]
        return bool(hits) and (hits[0]["article_id"], hits[0]["locale"]) == (article_id, "es")

    assert eventually(spanish_first)


@pytest.fixture
def two_runtimes(settings: Settings, redis_available: str) -> Iterator[tuple[Runtime, Runtime]]:
    """Two processes' worth of runtime on one database and one Redis bus."""
    # Pub/sub channels are server-wide (not per Redis db): a prefix of the test's own keeps
    # other runs on the same server out of this conversation.
    prefix = f"hashdesk-search-{uuid.uuid4().hex[:8]}:"
    shared = settings.model_copy(update={"redis_url": redis_available, "redis_prefix": prefix})
    first, second = Runtime(shared), Runtime(shared)
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_a_change_on_one_node_reaches_the_index_of_another(
    runtime: Runtime, two_runtimes: tuple[Runtime, Runtime]
) -> None:
    writer, reader = two_runtimes
    remote_index = get_search_index(reader)  # built (empty) and subscribed before the change
    assert remote_index.search("funding rate", "en") == []
    with writer.database.session() as session:
        new_id = publish(session, "How the funding rate is calculated",
                         "Perpetual futures exchange a funding fee every eight hours.")  # fmt: skip
    assert eventually(
        lambda: (
            [hit.article_id for hit in remote_index.search("funding rate", "en")][:1] == [new_id]
        )
    )
