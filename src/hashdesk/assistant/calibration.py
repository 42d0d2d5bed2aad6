"""The answer/clarify/hand-off models' numbers, one set per sentence encoder (the search
uses MiniLM for English readers and multilingual e5 for every other locale, and the two put
cosine similarities on different scales).

Fitted by ``bench/assistant_answers.py --fit --write`` on stackfaq: the fit half is the 1st,
3rd and 5th paraphrase of each FAQ entry, the 2nd and 4th are held out and only measured; the
measured figures are in bench/RESULTS.md (assistant section).
The e5 set is fitted on the same queries asked from a Spanish page (e5 scoring, English
articles by the fallback chain) together with the fit half of bench/data/assistant_multilingual.json:
questions in the 17 non-English locales over the demo help center, each asked from a page in
its own language. Re-run the fit whenever the search ranking changes: the features are the
search's own scores.

Features, in order: the top hit's fused score, semantic and lexical scores, the fused and
semantic margins to the second hit, and the lexical margin to the best other candidate. Each
is standardised (``means``/``scales``) before the logistic weights apply.
"""

from __future__ import annotations

from dataclasses import dataclass

FEATURES = (
    "top_score",
    "top_semantic",
    "top_lexical",
    "score_margin",
    "semantic_margin",
    "lexical_margin",
)


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
    # Otherwise ask "Did you mean A or B?" when P(one of two right) reaches this (95% right on
    # the fit half for MiniLM, 90% for e5) and the fused-score margin is at most ``clarify_max_margin`` (the 90th
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
            means=(0.993078, 0.747678, 0.933171, 0.278808, 0.233334, 0.185844),
            scales=(0.013148, 0.120166, 0.127176, 0.144496, 0.134142, 0.302388),
            weights=(0.195852, 0.2466, -0.38845, 1.982242, 1.359221, 0.953222),
            bias=7.092663,
        ),
        pair=Logistic(
            means=(0.993078, 0.747678, 0.933171, 0.278808, 0.233334, 0.185844),
            scales=(0.013148, 0.120166, 0.127176, 0.144496, 0.134142, 0.302388),
            weights=(0.67616, 1.064069, -0.561734, 0.392084, 0.463859, 0.208087),
            bias=6.703088,
        ),
        answer_threshold=0.901154,
        clarify_threshold=0.251012,
        clarify_max_margin=0.083513,
        min_semantic=0.447842,
    ),
    "e5": Calibration(
        answer=Logistic(
            means=(0.96244, 0.87725, 0.976224, 0.188944, 0.015646, 0.144751),
            scales=(0.055844, 0.031895, 0.069353, 0.144436, 0.029251, 0.195904),
            weights=(-0.211701, 0.465821, 0.300207, 1.715011, 1.054458, 0.120767),
            bias=2.631407,
        ),
        pair=Logistic(
            means=(0.96244, 0.87725, 0.976224, 0.188944, 0.015646, 0.144751),
            scales=(0.055844, 0.031895, 0.069353, 0.144436, 0.029251, 0.195904),
            weights=(0.022256, 0.640436, -0.233388, 0.527214, 0.486978, 1.007859),
            bias=3.076282,
        ),
        answer_threshold=0.959043,
        clarify_threshold=0.805682,
        clarify_max_margin=0.119883,
        min_semantic=0.876756,
    ),
}
