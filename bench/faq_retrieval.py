"""FAQ retrieval quality of help-center search on StackFAQ.

Imports ``../shared/data/stackfaq/faq_bank.json`` (question → title, answers → body) into a
temporary SQLite database through the real help-center actions, builds the index from it
with ``build_index``, asks every query of ``queries_dev.tsv`` and reports P@1 and MRR for
BM25 alone, semantic alone, and fused.

Honesty: the dev queries are split in two halves (alternating within each FAQ entry, so both
halves ask about every entry). The fusion weight is chosen on the *tuning* half only; the
*held-out* half is reported separately as the estimate of what the held-back test queries
will show.

    .venv/bin/python bench/faq_retrieval.py [--data ../shared/data/stackfaq] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from hashdesk.config import get_settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.db import Database
from hashdesk.core.migrate import upgrade
from hashdesk.helpcenter.actions import do_create_article
from hashdesk.helpcenter.models import ArticleStatus
from hashdesk.helpcenter.schemas import ArticleCreate
from hashdesk.helpcenter.search import SearchIndex, build_index, vector_cache_for
from hashdesk.helpcenter.search.fusion import Fusion

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "stackfaq"
WEIGHTS = [round(step * 0.05, 2) for step in range(21)]


@dataclass(frozen=True)
class Query:
    text: str
    faq_id: int
    half: str  # "tune" or "held-out"


@dataclass(frozen=True)
class Score:
    p_at_1: float
    mrr: float
    count: int


def load_queries(path: Path) -> list[Query]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    seen: dict[int, int] = defaultdict(int)
    queries = []
    for row in rows:
        faq_id = int(row["faq_id"])
        # Alternate within each entry, starting on a different half for odd and even
        # entries, so the halves are equal in size and ask about every entry.
        half = "tune" if (seen[faq_id] + faq_id) % 2 == 0 else "held-out"
        seen[faq_id] += 1
        queries.append(Query(row["query"], faq_id, half))
    return queries


def import_faq(database: Database, bank: list[dict[str, object]]) -> dict[int, int]:
    """FAQ entries as published English articles; faq_id → article id."""
    mapping = {}
    with database.transaction() as session:
        for entry in bank:
            answers = [str(answer) for answer in entry["answers"]]  # type: ignore[attr-defined]
            data = ArticleCreate(section="faq/stackexchange", title=str(entry["question"])[:200],
                                 body="\n\n".join(answers), status=ArticleStatus.PUBLISHED)  # fmt: skip
            article = do_create_article(session, SYSTEM, data)
            mapping[int(str(entry["faq_id"]))] = article.id
    return mapping


def evaluate(index: SearchIndex, queries: list[Query], mapping: dict[int, int]) -> Score:
    hits_at_1, reciprocal = 0, 0.0
    for query in queries:
        ranked = [entry.article_id for entry in index.rank(query.text, "en", limit=50)]
        expected = mapping[query.faq_id]
        if ranked and ranked[0] == expected:
            hits_at_1 += 1
        if expected in ranked:
            reciprocal += 1.0 / (ranked.index(expected) + 1)
    return Score(hits_at_1 / len(queries), reciprocal / len(queries), len(queries))


def run(data: Path) -> dict[str, object]:
    bank = json.loads((data / "faq_bank.json").read_text(encoding="utf-8"))
    queries = load_queries(data / "queries_dev.tsv")
    halves = {name: [q for q in queries if q.half == name] for name in ("tune", "held-out")}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/faq.sqlite3"
        upgrade(url)
        database = Database(url)
        mapping = import_faq(database, bank)
        started = time.perf_counter()
        with database.session() as session:
            # HASHDESK_SEARCH_VECTOR_CACHE (default ./var/...) spares re-embedding on reruns.
            index = build_index(session, vector_cache_for(get_settings()))
        build_seconds = time.perf_counter() - started
        database.dispose()

    results: dict[str, dict[str, Score]] = {}
    for method in ("lexical", "semantic"):
        index.fusion = Fusion(method=method)
        results[method] = {name: evaluate(index, qs, mapping) for name, qs in halves.items()}

    tuning = []
    for weight in WEIGHTS:
        index.fusion = Fusion(method="blend", lexical_weight=weight)
        tuning.append((evaluate(index, halves["tune"], mapping), weight))
    _best, best_weight = max(tuning, key=lambda item: (item[0].p_at_1, item[0].mrr))
    for k in (10.0, 30.0, 60.0):
        index.fusion = Fusion(method="rrf", rrf_k=k)
        results[f"rrf k={k:g}"] = {"tune": evaluate(index, halves["tune"], mapping)}
    index.fusion = replace(Fusion(), lexical_weight=best_weight)
    results[f"blend w={best_weight}"] = {
        name: evaluate(index, qs, mapping) for name, qs in halves.items()
    }
    index.fusion = Fusion()
    results["shipped default"] = {name: evaluate(index, qs, mapping) for name, qs in halves.items()}

    started = time.perf_counter()
    for query in halves["held-out"]:
        index.search(query.text, "en", limit=10)
    per_query_ms = (time.perf_counter() - started) / len(halves["held-out"]) * 1000
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "articles": len(bank),
        "queries": {name: len(qs) for name, qs in halves.items()},
        "build_seconds": round(build_seconds, 2),
        "search_ms_warm_cache": round(per_query_ms, 2),
        "tuning_curve": [(weight, score.p_at_1, round(score.mrr, 4)) for score, weight in tuning],
        "best_weight": best_weight,
        "results": {
            name: {half: {"p@1": round(s.p_at_1, 4), "mrr": round(s.mrr, 4), "n": s.count}
                   for half, s in by_half.items()}
            for name, by_half in results.items()
        },
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = run(args.data)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
