"""What the live search index's database check costs at a large help center.

Every search index reads ``fingerprint`` every 2 s without Redis (30 s with it), and
``published_states`` when the fingerprint moved or after a subscription; both read only
the small columns of the published translations. This fills a fresh database, built by the
migrations, with ``--pages`` published translations (two per article, bodies of about 3 kB
as real articles have) and times both with the translations' published-state index, then
drops the index and times them again: both figures come from one run.

    .venv/bin/python bench/search_fingerprint.py [--pages 20000] [--runs 15]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from hashdesk.core.db import Database
from hashdesk.core.migrate import upgrade
from hashdesk.helpcenter.models import Article, ArticleTranslation, HelpCategory, HelpSection
from hashdesk.helpcenter.search.live import fingerprint, published_states

INDEX = "ix_help_article_translations_published_state"
BODY = "Deposits on the TRON network are credited after 20 confirmations. " * 45
LOCALES = ("en", "es")


def fill(session: Session, pages: int) -> None:
    category = session.execute(insert(HelpCategory).values(slug="bench", name="Bench")
                               .returning(HelpCategory.id)).scalar_one()  # fmt: skip
    section = session.execute(insert(HelpSection).values(category_id=category, slug="bench",
                              name="Bench").returning(HelpSection.id)).scalar_one()  # fmt: skip
    articles = range(1, pages // len(LOCALES) + 1)
    session.execute(insert(Article), [{"id": i, "section_id": section} for i in articles])
    session.execute(insert(ArticleTranslation), [
        {"article_id": i, "locale": locale, "title": f"Article {i}", "slug": f"article-{i}",
         "body": BODY, "tags": [], "status": "published", "version": 1}
        for i in articles for locale in LOCALES
    ])  # fmt: skip
    session.commit()


def settle(database: Database) -> None:
    """What autovacuum does to a table that stopped growing: PostgreSQL reads an index
    alone only where its visibility map says the rows are settled."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            db.execute(text("VACUUM ANALYZE help_article_translations"))
            db.execute(text("VACUUM ANALYZE help_articles"))


def median_ms(database: Database, read: Callable[[Session], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        with database.session() as session:
            started = time.perf_counter()
            read(session)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(database: Database, runs: int) -> dict[str, float]:
    return {name: median_ms(database, read, runs)
            for name, read in (("fingerprint", fingerprint),
                               ("published_states", published_states))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        upgrade(url)
        database = Database(url)
        try:
            with database.session() as session:
                fill(session, args.pages)
            settle(database)
            with_index = measure(database, args.runs)
            with database.session() as session:
                session.execute(text(f"DROP INDEX {INDEX}"))
                session.commit()
            without_index = measure(database, args.runs)
        finally:
            database.dispose()
    print(f"{args.pages} published pages, median of {args.runs} reads (ms):")
    for name in with_index:
        print(f"  {name}: {with_index[name]:.1f} with the index, "
              f"{without_index[name]:.1f} without")  # fmt: skip


if __name__ == "__main__":
    main()
