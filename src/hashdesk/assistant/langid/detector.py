"""Detect the language of one short message.

Order of questions, cheapest and surest first:
1. the writing system (``scripts.judge_script``): Hangul, kana, Thai, Devanagari and Chinese
   are decided there, and letters only one language writes (Ukrainian ї, Belarusian ў, Urdu
   ے, Vietnamese ơ) settle or narrow the rest;
2. Chinese: Simplified or Traditional from the characters only one script has;
3. otherwise three statistical models vote among the script's candidates, which include the
   unsupported look-alikes (Catalan, Galician, Belarusian, Bulgarian, Urdu). When a
   look-alike wins clearly the answer is ``und``: such a trader is better served by the
   fallback queue than by a wrong language.

The model weights and the look-alike margin are the only tuned settings, picked from a coarse
grid on the development data; ``bench/langid_accuracy.py --cv`` re-picks them on one half of
Tatoeba (plus FLORES) and measures the other half, and that held-out figure is the one
bench/RESULTS.md reports (both folds chose these weights; the margin sits between the folds'
choices, 1 and 4).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hashdesk.assistant.langid.chinese import chinese_script
from hashdesk.assistant.langid.models import LanguageModel, load_models
from hashdesk.assistant.langid.scripts import ScriptVerdict, judge_script

UNDETERMINED = "und"
SUPPORTED_LANGUAGES = (
    "en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "uk", "es", "pt", "fr", "de",
    "it", "tr", "vi", "id", "th", "ar", "fa", "pl", "nl", "hi",
)  # fmt: skip

# How much each model's vote counts, by LanguageModel.name.
MODEL_WEIGHTS = {"py3langid": 1.0, "fasttext-lid176-lite": 0.5, "lingua-low-accuracy": 0.25}
# A model's probability floor: one model's "impossible" must not veto the other two.
PROBABILITY_FLOOR = 1e-3
# A look-alike must beat the best supported language by this much (log scale) to give "und".
LOOKALIKE_MARGIN = 2.0
# Below this, no model gives the chosen language even a fair chance (over all the languages it
# knows, not only the candidates): the text is "und" (keyboard mashing, "BTC", "hi", "OK").
# Every correctly detected Tatoeba sentence but one in a thousand has a model above 0.45;
# "Thanks" and "Hello world" reach 0.18.
MINIMUM_SUPPORT = 0.15
# Only the start of a long text is read: the language is plain long before, and the models'
# time grows with the length (a pasted log must not stall the chat).
MAX_CHARACTERS = 1000
# From here up a detection is sure enough to act on (answer in it, route by it); below, the
# page's or the trader's own locale is the better bet. On Tatoeba's short sentences detections
# at 0.5-0.8 are right 83% of the time, from 0.8 up 97.7-100% (bench/RESULTS.md), and short
# technical English lands in that band as another language ("api error 429": it 0.55,
# "liquidation price": fr 0.62).
SURE_CONFIDENCE = 0.8
# Confidence of decisions made from the script alone.
SCRIPT_CONFIDENCE = 0.99
LETTER_CONFIDENCE = 0.95

# Parts of a support message that are no language: links, e-mail addresses, and tokens
# mixing letters and digits (transaction hashes, wallet addresses, order numbers).
_NOISE = re.compile(
    r"https?://\S+|www\.\S+|\S+@\S+\.\S+"
    r"|(?<![0-9A-Za-z])(?=[0-9A-Za-z]*[0-9])(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{8,}(?![0-9A-Za-z])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Detection:
    """``lang`` is a code of SUPPORTED_LANGUAGES or ``und``; ``confidence`` (0..1) is how sure
    the detector is of ``lang``: for ``und``, that the text is in an unsupported language
    (0.0 when there is nothing to go by: no letters, or letters no model recognises)."""

    lang: str
    confidence: float


class LanguageDetector:
    """Rules plus a vote of the models; thread-safe once built (the models are only read)."""

    def __init__(
        self,
        models: Sequence[LanguageModel],
        *,
        weights: dict[str, float] | None = None,
        lookalike_margin: float = LOOKALIKE_MARGIN,
    ) -> None:
        self._models = tuple(models)
        self._weights = dict(MODEL_WEIGHTS if weights is None else weights)
        self._margin = lookalike_margin

    def detect(self, text: str) -> Detection:
        cleaned = _prepare(text)
        verdict = judge_script(cleaned)
        if verdict.lang == "zh":
            script = chinese_script(cleaned)
            return Detection(script.lang, script.confidence)
        if verdict.lang == UNDETERMINED:
            has_letters = any(char.isalpha() for char in cleaned)
            return Detection(UNDETERMINED, LETTER_CONFIDENCE if has_letters else 0.0)
        if verdict.lang is not None:
            return Detection(verdict.lang, _rule_confidence(verdict.lang))
        if len(verdict.candidates) == 1:
            return Detection(verdict.candidates[0], LETTER_CONFIDENCE)
        return self._vote(cleaned, verdict)

    def _vote(self, text: str, verdict: ScriptVerdict) -> Detection:
        answers = [
            (weight, model.probabilities(text))
            for model in self._models
            if (weight := self._weights.get(model.name, 1.0)) > 0.0
        ]
        scores = _scores(answers, verdict.candidates)
        posterior = _softmax(scores)
        best_supported = max(verdict.supported, key=scores.__getitem__)
        lookalikes = [lang for lang in verdict.candidates if lang not in verdict.supported]
        if lookalikes:
            best_lookalike = max(lookalikes, key=scores.__getitem__)
            if scores[best_lookalike] - scores[best_supported] > self._margin:
                return Detection(UNDETERMINED, round(posterior[best_lookalike], 4))
        if max(p.get(best_supported, 0.0) for _, p in answers) < MINIMUM_SUPPORT:
            # Not one model really recognises the text: keyboard mashing, a ticker, "hmm".
            return Detection(UNDETERMINED, 0.0)
        return Detection(best_supported, round(posterior[best_supported], 4))


def _scores(
    answers: Sequence[tuple[float, dict[str, float]]], candidates: Sequence[str]
) -> dict[str, float]:
    """Weighted sum of each model's log-probability, renormalised over the candidates."""
    scores = dict.fromkeys(candidates, 0.0)
    for weight, probabilities in answers:
        total = sum(probabilities.get(lang, 0.0) for lang in candidates) or 1.0
        for lang in candidates:
            share = probabilities.get(lang, 0.0) / total
            scores[lang] += weight * math.log(share + PROBABILITY_FLOOR)
    return scores


def _prepare(text: str) -> str:
    """The part of ``text`` worth reading, in a form every model accepts."""
    # Lone surrogates (possible in a str, never in UTF-8) would crash the native models.
    text = text[:MAX_CHARACTERS].encode("utf-8", "replace").decode("utf-8")
    # NFKC folds full-width Latin (ｈｅｌｌｏ), half-width kana and presentation forms into the
    # letters the script rules and models know.
    return _NOISE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def _rule_confidence(lang: str) -> float:
    # Script alone: Hangul, kana, Thai, Devanagari. Letters: Ukrainian ї, Vietnamese ơ, Arabic ة.
    return SCRIPT_CONFIDENCE if lang in {"ko", "ja", "th", "hi"} else LETTER_CONFIDENCE


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    exps = {lang: math.exp(score - top) for lang, score in scores.items()}
    total = sum(exps.values())
    return {lang: value / total for lang, value in exps.items()}


_detector: LanguageDetector | None = None
_lock = threading.Lock()


def get_detector() -> LanguageDetector:
    """The process's detector, its models loaded on first use (about a second, ~150 MB)."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                _detector = LanguageDetector(load_models())
    return _detector


def detect(text: str) -> Detection:
    """The language of one message (a chat line, a question, a ticket subject)."""
    return get_detector().detect(text)


def detect_many(texts: Iterable[str]) -> list[Detection]:
    detector = get_detector()
    return [detector.detect(text) for text in texts]
