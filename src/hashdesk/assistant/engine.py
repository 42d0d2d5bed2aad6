"""The assistant's decision: answer with the best article, ask one clarifying question, or
hand off to a person.

``Engine.respond`` detects the language (unless the caller names a locale), searches the
help center in it, and turns the hits' scores into two probabilities with small logistic
models fitted on stackfaq (see ``calibration.py`` for the numbers and how they were chosen):
P(the top hit is right) decides "answer"; P(one of the top two is right), with the two close
together, decides "Did you mean A or B?"; anything else is a hand-off. The engine reads no
database: the search index holds what it needs, so an answer costs one search.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hashdesk.assistant.calibration import CALIBRATIONS, Calibration, Logistic
from hashdesk.assistant.langid.detector import SURE_CONFIDENCE
from hashdesk.core.i18n import DEFAULT_LOCALE, LOCALES
from hashdesk.helpcenter.search.semantic import encoder_for_reader

CANDIDATES = 5
EXTRACT_CHARS = 280


class Hit(Protocol):
    """One search result, as ``hashdesk.helpcenter.search.SearchHit`` gives it."""

    @property
    def article_id(self) -> int: ...
    @property
    def locale(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def snippet(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def semantic(self) -> float: ...
    @property
    def lexical(self) -> float: ...


class Searcher(Protocol):
    def search(
        self, query: str, locale: str, *, limit: int = 10, include_internal: bool = False
    ) -> Sequence[Hit]: ...


LanguageDetector = Callable[[str], tuple[str, float]]


class Decision(enum.StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Reply:
    """What the assistant makes of one question."""

    question: str
    locale: str
    detected_language: str | None
    decision: Decision
    confidence: float  # P(top hit is right)
    pair_confidence: float  # P(one of the top two is right)
    candidates: list[Hit] = field(default_factory=list)

    @property
    def article(self) -> Hit | None:
        return self.candidates[0] if self.decision is Decision.ANSWER else None

    @property
    def options(self) -> list[Hit]:
        """The two topics of a clarifying question."""
        return self.candidates[:2] if self.decision is Decision.CLARIFY else []

    @property
    def answered(self) -> bool:
        return self.decision is Decision.ANSWER


def features(hits: Sequence[Hit]) -> tuple[float, ...]:
    """The scores the models read, in ``calibration.FEATURES`` order."""
    if not hits:
        return (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    top = hits[0]
    second_score = hits[1].score if len(hits) > 1 else 0.0
    second_semantic = max((hit.semantic for hit in hits[1:]), default=0.0)
    # How far the words single out the top hit: chosen by cross-validation on the fit half
    # over other agreement signals (lexical, title-only, e5 top-1 agreement), it let the
    # model answer 2 points more questions at the same precision.
    second_lexical = max((hit.lexical for hit in hits[1:]), default=0.0)
    return (top.score, top.semantic, top.lexical, top.score - second_score,
            top.semantic - second_semantic, top.lexical - second_lexical)  # fmt: skip


def _probability(values: tuple[float, ...], model: Logistic) -> float:
    z = model.bias + sum(
        w * (v - m) / s
        for v, m, s, w in zip(values, model.means, model.scales, model.weights, strict=True)
    )
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def calibration_for(locale: str) -> Calibration:
    """The numbers fitted for the encoder the search uses for readers of ``locale``."""
    return CALIBRATIONS[encoder_for_reader(locale)]


def answer_probability(values: tuple[float, ...], calibration: Calibration) -> float:
    return _probability(values, calibration.answer)


def decide(hits: Sequence[Hit], calibration: Calibration) -> tuple[Decision, float, float]:
    """(decision, P(top right), P(one of top two right)) for hits ordered best first."""
    if not hits:
        return Decision.HANDOFF, 0.0, 0.0
    values = features(hits)
    confidence = _probability(values, calibration.answer)
    pair = _probability(values, calibration.pair)
    if values[1] < calibration.min_semantic:
        return Decision.HANDOFF, confidence, pair
    if confidence >= calibration.answer_threshold:
        return Decision.ANSWER, confidence, pair
    close = len(hits) > 1 and values[3] <= calibration.clarify_max_margin
    if close and pair >= calibration.clarify_threshold:
        return Decision.CLARIFY, confidence, pair
    return Decision.HANDOFF, confidence, pair


def distinct_articles(hits: Sequence[Hit]) -> list[Hit]:
    """One hit per article, best first (a topic found in two locales is one topic)."""
    seen: set[int] = set()
    kept = []
    for hit in hits:
        if hit.article_id not in seen:
            seen.add(hit.article_id)
            kept.append(hit)
    return kept


class Engine:
    """Answers questions from one search index; ``detect`` is the language detector."""

    def __init__(self, searcher: Searcher, detect: LanguageDetector | None = None) -> None:
        self.searcher = searcher
        self.detect = detect

    def choose_locale(
        self, question: str, locale: str | None, fallback: str
    ) -> tuple[str, str | None]:
        """(locale to answer in, detected language or None). A named locale wins; else the
        detected language when it is one of ours and the detector is sure enough."""
        if locale is not None:
            return locale, None
        if self.detect is None:
            return fallback, None
        language, confidence = self.detect(question)
        if language in LOCALES and confidence >= SURE_CONFIDENCE:
            return language, language
        return fallback, language

    def respond(
        self,
        question: str,
        *,
        locale: str | None = None,
        fallback_locale: str = DEFAULT_LOCALE,
        include_internal: bool = False,
    ) -> Reply:
        chosen, detected = self.choose_locale(question, locale, fallback_locale)
        hits = self.searcher.search(question, chosen, limit=CANDIDATES * 2,
                                    include_internal=include_internal)  # fmt: skip
        candidates = distinct_articles(hits)[:CANDIDATES]
        decision, confidence, pair = decide(candidates, calibration_for(chosen))
        return Reply(question, chosen, detected, decision, round(confidence, 4), round(pair, 4),
                     candidates)  # fmt: skip


# --- a short extract of the answer ----------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"[*`>#|]+|(?<!\w)_+|_+(?!\w)")
_LIST_MARK = re.compile(r"^\s*(?:[-+]|\d+[.)])\s+", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def plain_paragraphs(markdown: str) -> list[str]:
    """The body's paragraphs as plain text (links keep their words, markup goes)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", markdown):
        text = _LINK.sub(r"\1", _IMAGE.sub("", block))
        text = " ".join(_MARKUP.sub("", _LIST_MARK.sub("", text)).split())
        if len(text) > 1:
            paragraphs.append(text)
    return paragraphs


def _words(text: str) -> set[str]:
    # Short words ("how", "do", "I") match every paragraph and would decide nothing.
    return {word.lower() for word in _WORD.findall(text) if len(word) > 3 or not word.isascii()}


def extract(markdown: str, question: str, limit: int = EXTRACT_CHARS) -> str:
    """From the paragraph sharing most words with the question (the first on a tie), as many
    whole paragraphs as fit in ``limit`` characters; a long one is cut at a sentence end."""
    paragraphs = plain_paragraphs(markdown)
    if not paragraphs:
        return ""
    asked = _words(question)
    overlaps = [len(asked & _words(text)) for text in paragraphs]
    start = overlaps.index(max(overlaps))
    kept = _cut(paragraphs[start], limit)
    for following in paragraphs[start + 1 :]:
        if len(kept) + 1 + len(following) > limit:
            break
        kept = f"{kept} {following}"
    return kept


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = ""
    for sentence in _SENTENCE_END.split(text):
        if cut and len(cut) + len(sentence) + 1 > limit:
            break
        cut = f"{cut} {sentence}".strip()
    return cut if len(cut) <= limit else text[: limit - 1].rstrip() + "…"


def reply_json(reply: Reply, *, detailed: bool = False) -> dict[str, object]:
    """The reply as ``hashdesk assistant ask --json`` prints it (a kept contract); ``detailed``
    adds the decision and the candidates' addresses (the API's one-shot answer)."""
    article = reply.article
    candidates: list[dict[str, object]] = []
    for hit in reply.candidates:
        candidate: dict[str, object] = {"id": hit.article_id, "title": hit.title,
                                        "score": round(float(hit.score), 4)}  # fmt: skip
        if detailed:
            candidate["url"] = hit.url
        candidates.append(candidate)
    shaped: dict[str, object] = {
        "answered": reply.answered,
        "article": None if article is None
        else {"id": article.article_id, "title": article.title, "url": article.url},
        "confidence": reply.confidence,
        "candidates": candidates,
    }  # fmt: skip
    if detailed:
        shaped["decision"] = reply.decision.value
    return shaped
