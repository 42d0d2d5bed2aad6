"""How the lexical and the semantic ranking are combined into one score.

A normalised blend: BM25 divided by the query's best BM25, plus the cosine similarity
min-max scaled over the candidates, weighted w : 1 - w, with w the encoder's
``LEXICAL_WEIGHTS``.
Reciprocal rank fusion was measured beside it (bench/faq_retrieval.py); the blend won on
the tuning half of StackFAQ, because it keeps how far apart two candidates are, which RRF
throws away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]

# The words' share of the blend, per sentence encoder, each tuned on the fit half of its own
# questions (bench/RESULTS.md, help-center search): MiniLM (English readers) on StackFAQ's
# paraphrases, where it alone reaches P@1 0.95 and the words add little; multilingual e5 (the
# 17 other locales) on bench/data/assistant_multilingual.json over the demo help center,
# where e5 alone finds the right page first for 55% of the questions, the words alone for
# 67%, and the two at 0.6 for 75% (0.60 at MiniLM's 0.1).
LEXICAL_WEIGHTS: dict[str, float] = {"minilm": 0.1, "e5": 0.6}
RRF_K = 60.0


@dataclass(frozen=True)
class Fusion:
    method: str = "blend"  # "blend" | "rrf" | "lexical" | "semantic"
    lexical_weight: float | None = None  # None: the encoder's own, from LEXICAL_WEIGHTS
    rrf_k: float = RRF_K

    def weight_for(self, encoder: str) -> float:
        return LEXICAL_WEIGHTS[encoder] if self.lexical_weight is None else self.lexical_weight


DEFAULT_FUSION = Fusion()


def normalise_lexical(lexical: Floats) -> Floats:
    best = float(lexical.max()) if len(lexical) else 0.0
    return (lexical / best).astype(np.float32) if best > 0 else np.zeros_like(lexical)


def fuse(
    lexical: Floats, semantic: Floats, fusion: Fusion = DEFAULT_FUSION, encoder: str = "minilm"
) -> Floats:
    """One score per candidate from BM25 (raw) and cosine (NaN where unknown), the cosine
    coming from ``encoder``."""
    lexical_norm = normalise_lexical(lexical)
    known = ~np.isnan(semantic)
    if fusion.method == "lexical" or not known.any():
        return lexical_norm
    cosine = np.where(known, semantic, np.nan)
    if fusion.method == "semantic":
        return np.nan_to_num(cosine, nan=-1.0).astype(np.float32)
    if fusion.method == "rrf":
        return _rrf(lexical, np.nan_to_num(cosine, nan=-1.0), fusion.rrf_k)
    low, high = float(np.nanmin(cosine)), float(np.nanmax(cosine))
    scaled = (cosine - low) / (high - low) if high > low else np.ones_like(cosine)
    # A candidate without a vector yet (still being embedded) is judged by its words alone.
    scaled = np.where(known, scaled, lexical_norm)
    weight = fusion.weight_for(encoder)
    return (weight * lexical_norm + (1 - weight) * scaled).astype(np.float32)


def _rrf(lexical: Floats, semantic: Floats, k: float) -> Floats:
    def ranks(values: Floats) -> Floats:
        order = np.argsort(-values, kind="stable")
        positions = np.empty(len(values), dtype=np.float32)
        positions[order] = np.arange(1, len(values) + 1, dtype=np.float32)
        return positions

    lexical_part = np.where(lexical > 0, 1.0 / (k + ranks(lexical)), 0.0)
    fused: Floats = (lexical_part + 1.0 / (k + ranks(semantic))).astype(np.float32)
    return fused
