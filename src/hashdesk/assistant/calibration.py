"""The answer/clarify/hand-off models' numbers, one set per sentence encoder (the search
uses MiniLM for English readers and multilingual e5 for every other locale, and the two put
cosine similarities on different scales).

Fitted by ``bench/assistant_answers.py --fit --write`` on stackfaq: the fit half is the 1st,
3rd and 5th paraphrase of each FAQ entry, the 2nd and 4th are held out and only measured; the
measured figures are in bench/RESULTS.md (assistant section).
The e5 set is fitted on the same queries asked from a Spanish page (e5 scoring, English
articles by the fallback chain). Re-run the fit whenever the search ranking changes: the
features are the search's own scores.

Features, in order: the top hit's fused score, semantic and lexical scores, the fused and
semantic margins to the second hit. Each is standardised (``means``/``scales``) before the
logistic weights apply.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURES = ("top_score", "top_semantic", "top_lexical", "score_margin", "semantic_margin")


@dataclass(frozen=True)
class Logistic:
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float


@dataclass(frozen=True)
class Calibration:
    answer: Logistic  # P(top hit is right)
    pair: Logistic  # P(one of the top two hits is right)
    # Answer when P(top right) reaches this (chosen for >= 99.5% precision on the fit half).
    answer_threshold: float
    # Otherwise ask "Did you mean A or B?" when P(one of two right) reaches this (95% on the
    # fit half) and the fused-score margin is at most ``clarify_max_margin`` (the 90th
    # percentile of margins where the second hit was the right one); else hand off.
    clarify_threshold: float
    clarify_max_margin: float
    # Never answer (nor ask) below this top semantic score: the highest one any out-of-scope
    # question of the fit half reached (CLINC150 out-of-scope and Banking77 questions, which
    # no FAQ entry answers). The models above learn "which hit is right" from questions that
    # have an answer; this floor is what keeps off-topic questions from being answered.
    min_semantic: float = 0.0


CALIBRATIONS: dict[str, Calibration] = {
    "minilm": Calibration(
        answer=Logistic(
            means=(0.993078, 0.747678, 0.933171, 0.278808, 0.233334),
            scales=(0.013148, 0.120166, 0.127176, 0.144496, 0.134142),
            weights=(0.212214, 0.246199, 0.019847, 2.120883, 1.226004),
            bias=6.608735,
        ),
        pair=Logistic(
            means=(0.993078, 0.747678, 0.933171, 0.278808, 0.233334),
            scales=(0.013148, 0.120166, 0.127176, 0.144496, 0.134142),
            weights=(0.679267, 1.070774, -0.473902, 0.419672, 0.455703),
            bias=6.640701,
        ),
        answer_threshold=0.924789,
        clarify_threshold=0.240114,
        clarify_max_margin=0.083513,
        min_semantic=0.447842,
    ),
    "e5": Calibration(
        answer=Logistic(
            means=(0.991365, 0.904373, 0.921178, 0.211576, 0.030984),
            scales=(0.015477, 0.023224, 0.15293, 0.142314, 0.025037),
            weights=(-0.009799, 0.704563, 0.878786, 1.7711, 0.192376),
            bias=4.090655,
        ),
        pair=Logistic(
            means=(0.991365, 0.904373, 0.921178, 0.211576, 0.030984),
            scales=(0.015477, 0.023224, 0.15293, 0.142314, 0.025037),
            weights=(0.321598, 0.723279, 0.567274, 0.468815, 0.850086),
            bias=4.761412,
        ),
        answer_threshold=0.99159,
        clarify_threshold=0.735631,
        clarify_max_margin=0.1041,
        min_semantic=0.86259,
    ),
}
