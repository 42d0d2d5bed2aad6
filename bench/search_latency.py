"""Help-center search at 20,000 article pages: build time, search and suggest latency, memory.

The pages are generated, deterministically, from the demo help center shipped in the package
(``src/hashdesk/demo/helpcenter/<locale>/*.md``, real articles in up to 18 locales): each
variant of a seed article names other assets and networks and borrows a section from another
article of the same locale, and keeps the seed's translations together as one article, so
the fallback chain and the multilingual mix are those of the demo content. No database is
involved: the index is built with ``build_index_from`` from in-memory rows.

Queries are what readers type: two to five words of a title of their locale, sometimes with
a typo or a synonym ("memo", "2fa", "send out"). Each query is measured once cold (its
embedding computed) and once again warm (the embedding from the LRU cache); suggestions are
title prefixes. Latency is wall time of one call in this process, nearest-rank percentiles.

    .venv/bin/python bench/search_latency.py [--pages 20000] [--queries 400] [--json FILE]
        [--vector-cache FILE]

With ``--vector-cache`` the passage vectors are kept in that file (the index's own cache,
``hashdesk.helpcenter.search.vector_cache``): the first run fills it, later runs build in
seconds. Besides the searches, each query's embedding alone is timed
(``*_query_vector_alone``), so the embedding's share of a first-time search is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from hashdesk.core.embeddings import get_encoder
from hashdesk.helpcenter.actions import slugify
from hashdesk.helpcenter.search import (
    SearchDocument,
    SearchIndex,
    VectorCache,
    build_index_from,
)
from hashdesk.helpcenter.search.semantic import encoder_for_reader

SEEDS = Path(__file__).resolve().parent.parent / "src" / "hashdesk" / "demo" / "helpcenter"
ASSETS = ["BTC", "ETH", "USDT", "USDC", "SOL", "XRP", "TRX", "BNB", "DOGE", "ADA", "TON",
          "LTC", "DOT", "AVAX", "MATIC", "ARB", "OP", "ATOM", "NEAR", "APT"]  # fmt: skip
NETWORKS = ["ERC20", "TRC20", "BEP20", "Solana", "Arbitrum One", "Optimism", "Polygon",
            "TON", "Avalanche C-Chain", "Bitcoin", "Lightning"]  # fmt: skip
SYNONYM_QUERIES = ["memo", "2fa reset", "send out usdt", "kyc", "liquidated", "api key",
                   "tether withdrawal", "google authenticator lost phone", "destination tag",
                   "withdrawl pending", "passwrod reset", "deposit not arrived"]  # fmt: skip
FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.DOTALL)
SECTION = re.compile(r"\n(?=## )")


@dataclass(frozen=True)
class Seed:
    article_id: int
    locale: str
    title: str
    body: str
    tags: tuple[str, ...]


def load_seeds() -> list[Seed]:
    seeds = []
    for path in sorted(SEEDS.glob("*/*.md")):
        match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
        if match is None:
            continue
        meta = yaml.safe_load(match.group(1))
        article_id = meta.get("id", meta.get("translation_of"))
        seeds.append(Seed(int(article_id), str(meta.get("locale", path.parent.name)),
                          str(meta["title"]), match.group(2), tuple(meta.get("tags") or ())))  # fmt: skip
    return seeds


def generate(pages: int, seed: int = 20261127) -> list[SearchDocument]:
    """``pages`` translations: variant v of seed article a is article v * 10_000 + a, in the
    seed's locale; its body swaps assets and networks and borrows a section of another
    article of that locale."""
    rng = random.Random(seed)
    seeds = load_seeds()
    by_locale: dict[str, list[Seed]] = defaultdict(list)
    for item in seeds:
        by_locale[item.locale].append(item)
    documents: list[SearchDocument] = []
    variant = 0
    while len(documents) < pages:
        asset, network = ASSETS[variant % len(ASSETS)], NETWORKS[variant % len(NETWORKS)]
        for item in seeds:
            if len(documents) == pages:
                break
            donor = rng.choice(by_locale[item.locale])
            borrowed = rng.choice(SECTION.split(donor.body))
            body = _swap(f"{item.body}\n\n{borrowed}", asset, network)
            title = (
                item.title
                if variant == 0
                else f"{_swap(item.title, asset, network)} ({asset}, {network})"
            )
            documents.append(SearchDocument(
                article_id=variant * 10_000 + item.article_id, locale=item.locale,
                title=title[:200], slug=slugify(title), body=body,
                tags=(*item.tags, asset.lower()), internal=rng.random() < 0.03,
            ))  # fmt: skip
        variant += 1
    return documents


def _swap(text: str, asset: str, network: str) -> str:
    text = re.sub(r"\bUSDT\b", asset, text)
    return re.sub(r"\b(ERC20|TRC20|BEP20)\b", network, text)


def make_queries(
    documents: list[SearchDocument], count: int, seed: int = 7
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    titled: dict[str, list[SearchDocument]] = defaultdict(list)
    for doc in documents:
        if doc.article_id < 10_000:  # the seeds' own titles
            titled[doc.locale].append(doc)
    locales = sorted(titled)
    queries: list[tuple[str, str]] = []
    while len(queries) < count:
        if rng.random() < 0.15:
            queries.append((rng.choice(SYNONYM_QUERIES), "en"))
            continue
        doc = rng.choice(titled[rng.choice(locales)])  # every locale equally often
        words = doc.title.split()
        if len(words) <= 2:
            text = doc.title
        else:
            start = rng.randrange(0, max(1, len(words) - 2))
            text = " ".join(words[start : start + rng.randint(2, 5)])
        if rng.random() < 0.2 and len(text) > 6:
            position = rng.randrange(1, len(text) - 1)
            text = text[:position] + text[position + 1 :]  # a dropped letter
        queries.append((text, doc.locale))
    return queries


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def timed(call: object, *args: object, **kwargs: object) -> float:
    started = time.perf_counter()
    call(*args, **kwargs)  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory of this process; ``VmHWM`` is the peak so far."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 0.5), 2), "p95_ms": round(percentile(values, 0.95), 2),
            "p99_ms": round(percentile(values, 0.99), 2), "n": len(values)}  # fmt: skip


def measure(
    index: SearchIndex, queries: list[tuple[str, str]], *, vectors: bool = True
) -> dict[str, object]:
    """Per query, interleaved so that the machine's load weighs on each figure alike: the
    query's embedding alone, the search cold (the index embeds the query), the search warm
    (vector cached). Embedding + warm search is the cost of the two halves one after the
    other, to compare with the cold search. Without ``vectors`` nothing is embedded."""
    alone, cold, warm = [], [], []
    for text, locale in queries:
        model = get_encoder(encoder_for_reader(locale)) if vectors else None
        alone.append(timed(model.encode_queries, [text]) if model else 0.0)
        cold.append(timed(index.search, text, locale, limit=10))
        warm.append(timed(index.search, text, locale, limit=10))
    report: dict[str, object] = {
        "search_cold": summary(cold),
        "search_warm_cache": summary(warm),
    }
    for encoder in ("minilm", "e5") if vectors else ():
        mine = [i for i, (_, locale) in enumerate(queries) if encoder_for_reader(locale) == encoder]
        report[f"{encoder}_query_vector_alone"] = summary([alone[i] for i in mine])
        report[f"{encoder}_search_cold"] = summary([cold[i] for i in mine])
        report[f"{encoder}_vector_then_words"] = summary([alone[i] + warm[i] for i in mine])
    prefixes = []
    for text, locale in queries:
        for cut in (2, 4, 7):
            if len(text) > cut:
                prefixes.append((text[:cut], locale))
    report["suggest"] = summary([timed(index.suggest, text, locale, limit=8)
                                 for text, locale in prefixes])  # fmt: skip
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--vector-cache", type=Path, default=None,
                        help="keep passage vectors in this SQLite file between runs")  # fmt: skip
    parser.add_argument("--no-vectors", action="store_true",
                        help="index words only: the lexical path's share of the latency")  # fmt: skip
    args = parser.parse_args()

    started = time.perf_counter()
    documents = generate(args.pages)
    generated = time.perf_counter() - started
    locales: defaultdict[str, int] = defaultdict(int)
    for doc in documents:
        locales[doc.locale] += 1
    queries = make_queries(documents, args.queries)
    one_page = documents[0]
    before = rss_mb()
    started = time.perf_counter()
    if args.no_vectors:
        index = SearchIndex()
        index.add_documents(documents, embed=False)
    else:
        cache = VectorCache(args.vector_cache) if args.vector_cache else None
        index = build_index_from(documents, cache)
    del documents[1:]  # what stays resident is the index's own copy
    build = time.perf_counter() - started
    report: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"load average {os.getloadavg()[0]:.1f} at the end",
        "vectors": not args.no_vectors,
        "pages": len(index),
        "pages_per_locale": dict(sorted(locales.items())),
        "generate_seconds": round(generated, 1),
        "build_seconds": round(build, 1),
        "rss_mb_before_build": round(before, 1),
        "rss_mb_after_build": round(rss_mb(), 1),
    }  # fmt: skip
    report.update(measure(index, queries, vectors=not args.no_vectors))
    report["rss_mb_after_queries"] = round(rss_mb(), 1)
    report["rss_mb_peak"] = round(rss_mb("VmHWM"), 1)
    # What a publish costs a node: the article's rows re-indexed in the small segment (five
    # publishes in a row, the median), and the full rebuild the index makes once that segment
    # passes its limit (``MERGE_ROWS``), which every publish used to cost.
    reindex = [timed(index.add_documents, [replace(one_page, title=f"{one_page.title} {n}")],
                     embed=not args.no_vectors) for n in range(5)]  # fmt: skip
    report["reindex_one_page_ms"] = round(sorted(reindex)[2], 1)
    report["reindex_one_page_ms_all"] = [round(ms, 1) for ms in reindex]
    report["full_rebuild_ms"] = round(timed(index.compact), 1)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
