"""Language detection: accuracy, look-alike rate, speed and memory on the development sets.

    .venv/bin/python bench/langid_accuracy.py [--data ../shared/data] [--cv]

Prints, for ``langid_tatoeba/dev.tsv`` (short chat-like sentences) and
``langid_flores200/dev.tsv`` (long clean sentences):
- accuracy on the supported languages (an ``und`` counts as wrong);
- Simplified/Traditional agreement on the Chinese rows;
- how often an unsupported look-alike (Tatoeba's ``other``) is taken for a supported language,
  for the five the issue names (be bg ca gl ur) and for all of ``other`` by source language;
- the confusions, per language;
- ms per message (median and p95, one call at a time) and the process's memory.

``--cv`` also runs the honest check of the detector's few tuned settings (model weights and
the look-alike margin): two-fold over Tatoeba (each half chosen on flores + the other half,
then measured on the held-out half), so the figure reported is never one the settings saw.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hashdesk.assistant.langid import UNDETERMINED, LanguageDetector
from hashdesk.assistant.langid.detector import LOOKALIKE_MARGIN, MODEL_WEIGHTS
from hashdesk.assistant.langid.models import LanguageModel, load_models

NAMED_LOOKALIKES = {"bel", "bul", "cat", "glg", "urd"}  # the five the issue names
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Row:
    label: str  # a supported code or "other"
    source: str  # the data set's own language label (e.g. "bel", "cmn_Hant", "ukr_Cyrl")
    text: str


def read_tatoeba(folder: Path) -> list[Row]:
    lines = (folder / "langid_tatoeba" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    return [Row(*line.split("\t", 2)) for line in lines[1:] if line]


def read_flores(folder: Path) -> list[Row]:
    lines = (folder / "langid_flores200" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    rows = []
    for line in lines[1:]:
        _, label, source, text = line.split("\t", 3)
        rows.append(Row(label, source, text))
    return rows


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CachedModel:
    """Remembers a model's answers so a grid of settings re-reads nothing."""

    def __init__(self, model: LanguageModel) -> None:
        self.name = model.name
        self._model = model
        self._memo: dict[str, dict[str, float]] = {}

    def probabilities(self, text: str) -> dict[str, float]:
        if text not in self._memo:
            self._memo[text] = self._model.probabilities(text)
        return self._memo[text]


@dataclass
class Score:
    correct: int = 0
    supported: int = 0
    lookalike_taken: int = 0
    lookalikes: int = 0
    named_taken: int = 0
    named: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.supported)


def score(rows: Sequence[Row], predict: Callable[[str], str]) -> Score:
    result = Score()
    for row in rows:
        lang = predict(row.text)
        if row.label == "other":
            taken = lang != UNDETERMINED
            result.lookalikes += 1
            result.lookalike_taken += taken
            if row.source in NAMED_LOOKALIKES:
                result.named += 1
                result.named_taken += taken
        else:
            result.supported += 1
            result.correct += lang == row.label
    return result


def report(name: str, rows: Sequence[Row], detector: LanguageDetector) -> None:
    predictions = [detector.detect(row.text).lang for row in rows]
    by_text = dict(zip((row.text for row in rows), predictions, strict=True))
    result = score(rows, by_text.__getitem__)
    print(f"\n== {name}: {len(rows)} rows")
    print(
        f"accuracy on supported languages: {result.accuracy:.2%} "
        f"({result.supported - result.correct} wrong of {result.supported})"
    )
    chinese = [
        (row, p) for row, p in zip(rows, predictions, strict=True) if row.label.startswith("zh")
    ]
    if chinese:
        agree = sum(p == row.label for row, p in chinese)
        print(f"zh-Hans/zh-Hant told apart: {agree / len(chinese):.2%} ({agree}/{len(chinese)})")
    if result.lookalikes:
        print_lookalikes(rows, predictions, result)
    print_confusions(rows, predictions)


def print_lookalikes(rows: Sequence[Row], predictions: Sequence[str], result: Score) -> None:
    print(
        f"look-alikes taken for a supported language: be bg ca gl ur "
        f"{result.named_taken}/{result.named} ({result.named_taken / result.named:.0%}); "
        f"all 'other' {result.lookalike_taken}/{result.lookalikes} "
        f"({result.lookalike_taken / result.lookalikes:.0%})"
    )
    taken: dict[str, Counter[str]] = defaultdict(Counter)
    for row, lang in zip(rows, predictions, strict=True):
        if row.label == "other":
            taken[row.source.split("_")[0]][lang] += 1
    for source, counts in sorted(taken.items()):
        total = sum(counts.values())
        shown = ", ".join(f"{lang} {n}" for lang, n in counts.most_common())
        print(f"  {source:4} taken {total - counts[UNDETERMINED]:2}/{total}: {shown}")


def print_confusions(rows: Sequence[Row], predictions: Sequence[str]) -> None:
    wrong: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for row, lang in zip(rows, predictions, strict=True):
        if row.label == "other":
            continue
        totals[row.label] += 1
        if lang != row.label:
            wrong[row.label][lang] += 1
    print("per language (accuracy, then what the misses were taken for):")
    for label in sorted(totals):
        misses = wrong[label]
        missed = sum(misses.values())
        shown = ", ".join(f"{lang} {n}" for lang, n in misses.most_common())
        print(f"  {label:8} {1 - missed / totals[label]:7.2%}  {shown}")


def timing(rows: Sequence[Row], detector: LanguageDetector) -> None:
    """Wall-clock time, and the CPU time the process spent (other jobs on a shared machine
    stretch the first, not the second)."""
    wall, cpu = [], []
    for row in rows:
        start, start_cpu = time.perf_counter(), time.process_time()
        detector.detect(row.text)
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    for name, durations in (("wall-clock", wall), ("CPU", cpu)):
        durations.sort()
        p95 = durations[int(0.95 * len(durations)) - 1]
        print(
            f"{name} per message over {len(rows)} Tatoeba messages, one at a time: "
            f"median {statistics.median(durations):.3f} ms, p95 {p95:.3f} ms, "
            f"max {durations[-1]:.2f} ms"
        )


def language_of(detector: LanguageDetector) -> Callable[[str], str]:
    return lambda text: detector.detect(text).lang


GRID_FASTTEXT = (0.25, 0.5, 1.0)
GRID_LINGUA = (0.0, 0.25, 0.5, 1.0)
GRID_MARGIN = (1.0, 2.0, 4.0, 8.0)


def choose_settings(
    rows: Sequence[Row], models: Sequence[LanguageModel]
) -> tuple[dict[str, float], float]:
    """The settings with the best accuracy on ``rows``; ties go to fewer look-alikes taken."""
    best: tuple[float, float] | None = None
    chosen: tuple[dict[str, float], float] = (dict(MODEL_WEIGHTS), LOOKALIKE_MARGIN)
    for fasttext, lingua, margin in itertools.product(GRID_FASTTEXT, GRID_LINGUA, GRID_MARGIN):
        weights = {
            "py3langid": 1.0,
            "fasttext-lid176-lite": fasttext,
            "lingua-low-accuracy": lingua,
        }
        detector = LanguageDetector(models, weights=weights, lookalike_margin=margin)
        result = score(rows, language_of(detector))
        key = (result.accuracy, -result.named_taken / max(1, result.named))
        if best is None or key > best:
            best, chosen = key, (weights, margin)
    return chosen


def cross_validate(
    tatoeba: Sequence[Row], flores: Sequence[Row], models: Sequence[LanguageModel]
) -> None:
    """Two folds: alternate rows of each Tatoeba label go to one half or the other."""
    halves: tuple[list[Row], list[Row]] = ([], [])
    seen: Counter[str] = Counter()
    for row in tatoeba:
        halves[seen[row.source] % 2].append(row)
        seen[row.source] += 1
    total = Score()
    print("\n== two-fold cross-validation of the tuned settings (Tatoeba halves)")
    for fold in (0, 1):
        tuning, held_out = list(flores) + halves[1 - fold], halves[fold]
        weights, margin = choose_settings(tuning, models)
        detector = LanguageDetector(models, weights=weights, lookalike_margin=margin)
        result = score(held_out, language_of(detector))
        print(
            f"fold {fold}: chose fasttext {weights['fasttext-lid176-lite']}, "
            f"lingua {weights['lingua-low-accuracy']}, margin {margin}; held-out accuracy "
            f"{result.accuracy:.2%}, be/bg/ca/gl/ur taken {result.named_taken}/{result.named}"
        )
        for field in vars(total):
            setattr(total, field, getattr(total, field) + getattr(result, field))
    print(
        f"cross-validated estimate: accuracy {total.accuracy:.2%} "
        f"({total.supported - total.correct} wrong of {total.supported}); "
        f"be/bg/ca/gl/ur taken {total.named_taken}/{total.named} "
        f"({total.named_taken / total.named:.0%}); all 'other' taken "
        f"{total.lookalike_taken}/{total.lookalikes}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cv", action="store_true", help="also cross-validate the tuned settings")
    args = parser.parse_args()
    if not (args.data / "langid_tatoeba" / "dev.tsv").is_file():
        print(
            f"No language-ID data under {args.data} (expected langid_tatoeba/dev.tsv)",
            file=sys.stderr,
        )
        return 2
    tatoeba, flores = read_tatoeba(args.data), read_flores(args.data)
    before = rss_mb()
    start = time.perf_counter()
    models = load_models()
    detector = LanguageDetector(models)
    detector.detect("warm up")
    print(f"models loaded in {time.perf_counter() - start:.1f} s\n")
    timing(tatoeba, detector)
    report("langid_tatoeba/dev.tsv", tatoeba, detector)
    report("langid_flores200/dev.tsv", flores, detector)
    after = rss_mb()
    print(f"\nmemory: process RSS {after:.0f} MB, of which the detector {after - before:.0f} MB")
    if args.cv:
        cached = [CachedModel(model) for model in models]
        cross_validate(tatoeba, flores, cached)
    print(
        f"\nmachine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
