"""The demo help center (``src/hashdesk/demo/helpcenter``): complete, consistent, loadable.

The folder is read once through the same reader ``hashdesk helpcenter import`` uses, so a
file that would break the import breaks this test, named.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashdesk.accounts.queries import agent_principal
from hashdesk.core.auth import Role
from hashdesk.core.i18n import LOCALES
from hashdesk.demo.loader import HELP_CENTER, load_help_center
from hashdesk.helpcenter.markdown import render_markdown
from hashdesk.helpcenter.models import ArticleStatus, ArticleTranslation, ArticleVersion
from hashdesk.helpcenter.transfer import ArticleFile, ImportFailed, read_folder
from hashdesk.runtime import Runtime
from tests.conftest import make_agent

MIN_ENGLISH_TOPICS = 120
MIN_PAGES = 650
MIN_TOPICS_IN_EVERY_LOCALE = 30
LINK = re.compile(r"/hc/([A-Za-z-]+)/articles/(\d+)")
FILE_NAME = re.compile(r"^(\d+)-[a-z0-9-]+\.md$")


@pytest.fixture(scope="module")
def pages() -> list[ArticleFile]:
    try:
        return read_folder(HELP_CENTER)
    except ImportFailed as failure:
        pytest.fail("The demo help center does not import:\n" + "\n".join(
            str(problem) for problem in failure.problems))  # fmt: skip


@pytest.fixture(scope="module")
def originals(pages: list[ArticleFile]) -> dict[int, ArticleFile]:
    return {page.article_id: page for page in pages if not page.is_translation}


def test_every_file_sits_where_its_front_matter_says(pages: list[ArticleFile]) -> None:
    misplaced = []
    for page in pages:
        folder, _, name = page.name.partition("/")
        match = FILE_NAME.match(name)
        if folder != page.locale or match is None or int(match.group(1)) != page.article_id:
            misplaced.append(page.name)
    assert misplaced == [], "expected <locale>/<id>-<slug>.md matching the front matter"


def test_there_are_enough_english_topics_and_pages(
    pages: list[ArticleFile], originals: dict[int, ArticleFile]
) -> None:
    english = sum(1 for page in originals.values() if page.locale == "en")
    assert english >= MIN_ENGLISH_TOPICS, f"{english} English topics"
    assert len(originals) == english, "every topic is written in English first"
    total = len(pages)
    assert total >= MIN_PAGES, f"{total} pages"


def test_the_most_used_topics_exist_in_every_locale(pages: list[ArticleFile]) -> None:
    locales_by_article: dict[int, set[str]] = defaultdict(set)
    for page in pages:
        locales_by_article[page.article_id].add(page.locale)
    complete = sum(1 for found in locales_by_article.values() if found >= set(LOCALES))
    assert complete >= MIN_TOPICS_IN_EVERY_LOCALE, f"{complete} topics in all 18 locales"


def test_translations_point_at_english_originals(
    pages: list[ArticleFile], originals: dict[int, ArticleFile]
) -> None:
    orphans = [page.name for page in pages
               if page.is_translation and page.article_id not in originals]  # fmt: skip
    assert orphans == []


def test_internal_links_resolve_for_the_reader_they_are_shown_to(
    pages: list[ArticleFile], originals: dict[int, ArticleFile]
) -> None:
    broken = []
    for page in pages:
        public = not (
            originals[page.article_id].internal if page.article_id in originals else False
        )
        for locale, target in LINK.findall(page.body):
            linked = originals.get(int(target))
            if locale not in LOCALES or linked is None:
                broken.append(f"{page.name}: /hc/{locale}/articles/{target}")
            elif public and (linked.internal or linked.status is ArticleStatus.DRAFT):
                broken.append(f"{page.name}: links to internal or draft article {target}")
    assert broken == []


def test_every_page_renders_through_the_sanitiser(pages: list[ArticleFile]) -> None:
    empty = [page.name for page in pages if not str(render_markdown(page.body)).strip()]
    assert empty == []


def test_the_demo_loader_imports_the_folder_quickly_and_a_second_load_changes_nothing(
    runtime: Runtime, session: Session
) -> None:
    editor = agent_principal(make_agent(session, Role.LEAD, email="lead@desk.example.com"))
    started = time.perf_counter()
    loaded = load_help_center(runtime.database, editor)
    seconds = time.perf_counter() - started
    assert seconds < 15, f"{loaded} pages took {seconds:.1f} s"
    count = select(func.count()).select_from(ArticleTranslation)
    assert session.scalar(count) == loaded
    assert load_help_center(runtime.database, editor) == loaded
    session.expire_all()
    assert session.scalar(count) == loaded
    assert session.scalar(select(func.count()).select_from(ArticleVersion)) == 0
