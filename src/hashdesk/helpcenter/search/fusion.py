"""How the lexical and the semantic ranking are combined into one score.

A normalised blend: BM25 divided by the query's best BM25, plus the cosine similarity
min-max scaled over the candidates, weighted ``LEXICAL_WEIGHT`` : 1 - ``LEXICAL_WEIGHT``.
Reciprocal rank fusion was measured beside it (bench/faq_retrieval.py); the blend won on
the tuning half of StackFAQ, because it keeps how far apart two candidates are, which RRF
throws away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]

# Tuned on the tuning half of the StackFAQ development queries; see /tmp/search_results.md.
LEXICAL_WEIGHT = 0.1
RRF_K = 60.0


@dataclass(frozen=True)
class Fusion:
    method: str = "blend"  # "blend" | "rrf" | "lexical" | "semantic"
    lexical_weight: float = LEXICAL_WEIGHT
    rrf_k: float = RRF_K


DEFAULT_FUSION = Fusion()


def normalise_lexical(lexical: Floats) -> Floats:
    best = float(lexical.max()) if len(lexical) else 0.0
    return (lexical / best).astype(np.float32) if best > 0 else np.zeros_like(lexical)


def fuse(lexical: Floats, semantic: Floats, fusion: Fusion = DEFAULT_FUSION) -> Floats:
    """One score per candidate from BM25 (raw) and cosine (NaN where unknown)."""
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
    weight = fusion.lexical_weight
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
