"""The extract shown under a hit: the sentence with most of the query's terms.

It runs for every hit of every search, so it works on character offsets with compiled
regular expressions instead of analysing each sentence (which cost 7 ms a hit, measured):
the query's terms (stems, CJK n-grams) are matched as word prefixes in the plain text,
each match is placed in its sentence, and the sentence with the most distinct terms wins.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

from hashdesk.helpcenter.search.analysis import HAS_NGRAM_SCRIPT
from hashdesk.helpcenter.search.documents import SNIPPET_CHARS, clip

SCAN_CHARS = 4_000  # how far into an article the snippet looks for the query's words
# A sentence ends after its full stop (kept) and the spaces that follow it (dropped).
_SENTENCE_BREAK = re.compile(r"[.!?](\s+)|[。！？]()|(\n+)")


@lru_cache(maxsize=1024)
def term_pattern(terms: frozenset[str]) -> re.Pattern[str] | None:
    """Word-prefix matches of the word terms, plain matches of CJK n-grams."""
    words = sorted((t for t in terms if not HAS_NGRAM_SCRIPT.search(t)), key=len, reverse=True)
    grams = sorted((t for t in terms if HAS_NGRAM_SCRIPT.search(t)), key=len, reverse=True)
    parts = []
    if words:
        parts.append(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + ")")
    if grams:
        parts.append("(?:" + "|".join(map(re.escape, grams)) + ")")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for boundary in _SENTENCE_BREAK.finditer(text):
        gap = next(index for index in (1, 2, 3) if boundary.group(index) is not None)
        if boundary.start(gap) > start:
            spans.append((start, boundary.start(gap)))
        start = boundary.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def snippet(plain: str, query_terms: set[str]) -> str:
    """The best sentence and what follows it, up to ``SNIPPET_CHARS``; the article's
    opening when no sentence has any of the terms."""
    text = plain[:SCAN_CHARS]
    spans = sentence_spans(text)
    if not spans:
        return ""
    best = _best_sentence(text, spans, query_terms)
    start, end = spans[best]
    for _following_start, following_end in spans[best + 1 :]:
        if following_end - start > SNIPPET_CHARS:
            break
        end = following_end
    return clip(text[start:end], SNIPPET_CHARS)


def _best_sentence(text: str, spans: list[tuple[int, int]], terms: set[str]) -> int:
    pattern = term_pattern(frozenset(terms)) if terms else None
    if pattern is None:
        return 0
    starts = [span[0] for span in spans]
    found: dict[int, set[str]] = {}
    for match in pattern.finditer(text):
        sentence = bisect_right(starts, match.start()) - 1
        found.setdefault(sentence, set()).add(match.group().casefold())
    if not found:
        return 0
    return max(found, key=lambda sentence: (len(found[sentence]), -sentence))
