"""Training: fit on part of the examples, choose the abstain threshold on the rest, refit on all.

1. A stratified, seeded validation split is carved from the examples.
2. Every text is embedded once (the slow part), then the n-gram views are fitted on the
   training part and a linear SVM (one-vs-rest; ``oos`` is one more class) is fitted for each
   candidate regularisation strength; the best on validation wins.
3. On validation, a softmax temperature turns the SVM's scores into calibrated probabilities,
   and the abstain threshold is the lowest confidence at which the answers meet the precision
   target and let through at most the allowed share of ``oos`` examples: the lowest such
   threshold answers the most.
4. With an encoder, a second SVM over the n-gram columns alone is the fast path (see
   ``model``): its own temperature, and the lowest gate at which, on validation, the pair
   answers at least as many rows right and no more rows wrong (oos rows answered count as
   wrong) than the full model alone, and changes few answers: at 95% confidence, at most
   ``MAX_CHANGED`` of them. No such gate: no fast path. The bound is what keeps a small
   validation split from vouching for it (none changed in 80 rows still allows 3.7%).
5. The model is refitted on all examples with the chosen settings (the threshold, the
   temperatures and the gate carry over) and saved.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from hashdesk.assistant.triage.data import OOS_LABEL, Examples, stratified_split
from hashdesk.assistant.triage.errors import TrainingDataError
from hashdesk.assistant.triage.features import FeatureSettings, FittedViews, embed
from hashdesk.assistant.triage.model import (
    Classifier,
    FastPath,
    LinearModel,
    Matrix,
    answered,
    best_in_scope,
    save_classifier,
    softmax,
)
from hashdesk.core.embeddings import Vectors

Say = Callable[[str], None]
TEMPERATURES = np.geomspace(0.01, 3.0, 60)
GATES = np.round(np.arange(0.5, 1.0, 0.01), 2)  # candidate fast-path gates, lowest first
MAX_CHANGED = 0.005  # share of answers the fast path may change (95% upper bound)
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class TrainingOptions:
    features: FeatureSettings = field(default_factory=FeatureSettings)
    validation_share: float = 0.2
    seed: int = 13
    c_values: tuple[float, ...] = (0.3,)
    # None: 0.97 when the examples include oos rows, else 0 (answer whenever the model has a
    # best label: without oos examples there is nothing to tell strangers by).
    min_precision: float | None = None
    max_oos_answered: float = 0.05
    refit: bool = True


@dataclass
class ValidationReport:
    examples: int
    training_examples: int
    validation_examples: int
    labels: int
    oos_examples: int
    regularisation: float
    temperature: float
    threshold: float
    min_precision: float
    target_met: bool
    accuracy: float  # in-scope validation rows whose best label is right (nothing abstains)
    coverage: float  # in-scope validation rows answered at the threshold
    precision: float  # of those answered, the share right
    oos_answered: float | None  # oos validation rows answered (None: no oos rows)
    curve: list[dict[str, float]]  # precision at a few thresholds, for the operator
    fast_gate: float | None = None  # None: no fast path (no encoder, or no gate vouched for)
    fast_share: float = 0.0  # validation rows the fast path answers alone
    seconds_embedding: float = 0.0
    seconds_total: float = 0.0
    seconds_cpu: float = (
        0.0  # CPU time of this process (all threads): wall time on a busy host lies
    )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        lines = [
            f"examples: {self.examples} ({self.training_examples} training, "
            f"{self.validation_examples} validation), {self.labels} labels, "
            f"{self.oos_examples} oos",
            f"validation accuracy (no abstention): {self.accuracy:.2%}",
            f"threshold {self.threshold:.3f} (temperature {self.temperature:.3f}, "
            f"C {self.regularisation:g}): coverage {self.coverage:.2%}, "
            f"precision {self.precision:.2%}"
            + ("" if self.oos_answered is None else f", oos answered {self.oos_answered:.2%}"),
        ]
        if not self.target_met:
            lines.append(
                f"warning: no threshold reaches precision {self.min_precision:.0%} with at most "
                "the allowed share of oos answered on validation; this threshold keeps oos "
                "within bounds if it can, else it is the most precise one"
            )
        if self.fast_gate is not None:
            lines.append(
                f"fast path (n-grams alone, gate {self.fast_gate:.2f}): answers "
                f"{self.fast_share:.2%} of validation rows without the encoder"
            )
        for point in self.curve:
            lines.append(
                f"  at threshold {point['threshold']:.2f}: coverage {point['coverage']:.2%}, "
                f"precision {point['precision']:.2%}"
                + ("" if self.oos_answered is None else f", oos answered {point['oos']:.2%}")
            )
        return lines


@dataclass
class ThresholdOutcome:
    """Validation figures of one threshold."""

    threshold: float
    coverage: float
    precision: float
    oos: float


def train(
    examples: Examples,
    model_dir: Path,
    options: TrainingOptions | None = None,
    say: Say | None = None,
) -> tuple[Classifier, ValidationReport]:
    """Train on ``examples``, save the model in ``model_dir``; ``say`` receives progress lines."""
    options = options or TrainingOptions()
    say = say or (lambda _line: None)
    started, started_cpu = time.perf_counter(), time.process_time()
    training, validation = stratified_split(examples, options.validation_share, options.seed)
    if not validation:
        raise TrainingDataError("too few examples to hold some out for validation")
    if examples.skipped:
        say(f"left out {examples.skipped} rows without a text")
    say(f"embedding {len(examples)} texts with {options.features.encoder or 'no encoder'}")
    vectors = embed(options.features.encoder, examples.texts, _progress(say))
    seconds_embedding = time.perf_counter() - started
    classifier, report = _fit_and_validate(examples, vectors, training, validation, options, say)
    report.seconds_embedding = round(seconds_embedding, 1)
    if options.refit:
        say(f"refitting on all {len(examples)} examples")
        fast = classifier.fast
        classifier = _fit(examples, vectors, list(range(len(examples))), options.features,
                          report.regularisation, report.temperature, report.threshold,
                          fast_path=fast is not None)  # fmt: skip
        if fast is not None and classifier.fast is not None:  # carried over, as above
            classifier.fast.temperature, classifier.fast.gate = fast.temperature, fast.gate
    report.seconds_total = round(time.perf_counter() - started, 1)
    report.seconds_cpu = round(time.process_time() - started_cpu, 1)
    classifier.manifest.update(
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        refitted_on_all=options.refit, validation=report.to_json(),
    )  # fmt: skip
    save_classifier(classifier, model_dir)
    say(f"saved in {model_dir}")
    return classifier, report


def _progress(say: Say) -> Callable[[int, int], None]:
    reported = [-1]

    def progress(done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent // 10 != reported[0] // 10 or done == total:
            reported[0] = percent
            say(f"  embedded {done}/{total} ({percent}%)")

    return progress


def _fit_and_validate(
    examples: Examples,
    vectors: Vectors | None,
    training: list[int],
    validation: list[int],
    options: TrainingOptions,
    say: Say,
) -> tuple[Classifier, ValidationReport]:
    held_out = examples.subset(validation)
    best: tuple[float, Classifier, Matrix] | None = None
    for regularisation in options.c_values:
        say(f"fitting on {len(training)} examples (C {regularisation:g})")
        classifier = _fit(examples, vectors, training, options.features, regularisation, 1.0, 0.0)
        scores = _scores(classifier, held_out.texts, _rows(vectors, validation))
        accuracy = _accuracy(scores, classifier.model.classes, held_out.labels)
        if best is None or accuracy > best[0]:
            best = (accuracy, classifier, scores)
    assert best is not None  # c_values is never empty
    _, classifier, scores = best
    min_precision = options.min_precision
    if min_precision is None:
        min_precision = 0.97 if examples.has_oos else 0.0
    report = _validation_report(
        examples, held_out, len(training), classifier, scores, min_precision, options
    )
    classifier.temperature, classifier.threshold = report.temperature, report.threshold
    _choose_fast_path(classifier, held_out, scores, report)
    return classifier, report


def _choose_fast_path(
    classifier: Classifier, held_out: Examples, scores: Matrix, report: ValidationReport
) -> None:
    """Set the fast path's temperature and gate from validation, or drop it (see step 4)."""
    fast = classifier.fast
    if fast is None:
        return
    classes, labels = classifier.model.classes, np.array(held_out.labels)
    sparse = classifier.views.sparse(held_out.texts)
    fast_scores = np.asarray(sparse @ fast.model.weights, dtype=np.float32) + fast.model.biases
    fast.temperature = fit_temperature(fast_scores, classes, held_out.labels)
    quick = softmax(fast_scores, fast.temperature)
    full = softmax(scores, classifier.temperature)
    full_answer = answered(full, classes, classifier.threshold)
    full_best, _ = best_in_scope(full, classes)
    quick_best, _ = best_in_scope(quick, classes)
    right_full, wrong_full = _right_and_wrong(full_answer, np.array(classes)[full_best], labels)
    for gate in GATES[classifier.threshold <= GATES]:
        sure = answered(quick, classes, float(gate))
        best = np.where(sure, quick_best, full_best)
        right, wrong = _right_and_wrong(sure | full_answer, np.array(classes)[best], labels)
        changed = int((sure & (~full_answer | (best != full_best))).sum())
        if (
            right >= right_full
            and wrong <= wrong_full
            and changed_bound(changed, len(labels)) <= MAX_CHANGED
        ):
            fast.gate = float(gate)
            report.fast_gate, report.fast_share = float(gate), round(float(sure.mean()), 5)
            return
    classifier.fast = None


def changed_bound(changed: int, rows: int) -> float:
    """The 95% upper bound on the share of changed answers, ``changed`` seen in ``rows``
    (the exact Poisson bound: with none seen it is 3/rows)."""
    return float(chi2.ppf(0.95, 2 * changed + 2) / 2 / max(rows, 1))


def _right_and_wrong(
    answer: npt.NDArray[np.bool_], guesses: npt.NDArray[np.str_], labels: npt.NDArray[np.str_]
) -> tuple[int, int]:
    """Answered rows whose label is right, and the other answered rows (oos ones included)."""
    right = answer & (guesses == labels) & (labels != OOS_LABEL)
    return int(right.sum()), int((answer & ~right).sum())


def _rows(vectors: Vectors | None, indexes: list[int]) -> Vectors | None:
    return None if vectors is None else vectors[indexes]


def _fit(
    examples: Examples,
    vectors: Vectors | None,
    indexes: list[int],
    settings: FeatureSettings,
    regularisation: float,
    temperature: float,
    threshold: float,
    fast_path: bool = True,
) -> Classifier:
    """The views and the SVM fitted on ``indexes``; with an encoder, also the fast path's SVM
    (its temperature and gate are set by ``_choose_fast_path``; until then it answers nothing)."""
    part = examples.subset(indexes)
    views = FittedViews.fit(settings, part.texts)
    sparse = views.sparse(part.texts)
    features = views.transform(part.texts, _rows(vectors, indexes), sparse)
    model = _linear_svm(features, part.labels, regularisation)
    fast = None
    if settings.encoder and fast_path:
        fast = FastPath(_linear_svm(sparse, part.labels, regularisation), 1.0, gate=2.0)
    return Classifier(views, model, temperature, threshold, {"C": regularisation}, fast)


def _linear_svm(features: Any, labels: list[str], regularisation: float) -> LinearModel:
    with warnings.catch_warnings():
        # Near convergence the last iterations barely move the margins; an operator's terminal
        # full of solver warnings would say nothing useful.
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm = LinearSVC(C=regularisation, max_iter=3000).fit(features, labels)
    classes = [str(label) for label in svm.classes_]
    weights = svm.coef_.T.astype(np.float32)
    biases = svm.intercept_.astype(np.float32)
    if len(classes) == 2:  # one decision function d for two classes: scores ±d/2
        weights = np.hstack([-weights / 2, weights / 2])
        biases = np.array([-biases[0] / 2, biases[0] / 2], dtype=np.float32)
    return LinearModel(classes, weights, biases)


def _scores(classifier: Classifier, texts: list[str], vectors: Vectors | None) -> Matrix:
    features = classifier.views.transform(texts, vectors)
    model = classifier.model
    return np.asarray(features @ model.weights, dtype=np.float32) + model.biases


def _accuracy(scores: Matrix, classes: list[str], labels: list[str]) -> float:
    predicted = np.array(classes)[scores.argmax(axis=1)]
    return float(np.mean(predicted == np.array(labels)))


def fit_temperature(scores: Matrix, classes: list[str], labels: list[str]) -> float:
    """The softmax temperature that makes the validation probabilities most likely (least NLL)."""
    index = {label: i for i, label in enumerate(classes)}
    known = [(row, index[label]) for row, label in enumerate(labels) if label in index]
    rows = np.array([row for row, _ in known])
    targets = np.array([target for _, target in known])
    losses = [
        -np.log(np.maximum(softmax(scores[rows], t)[np.arange(len(rows)), targets], 1e-12)).mean()
        for t in TEMPERATURES
    ]
    return float(TEMPERATURES[int(np.argmin(losses))])


def _validation_report(
    examples: Examples,
    held_out: Examples,
    training_size: int,
    classifier: Classifier,
    scores: Matrix,
    min_precision: float,
    options: TrainingOptions,
) -> ValidationReport:
    classes = classifier.model.classes
    temperature = fit_temperature(scores, classes, held_out.labels)
    probabilities = softmax(scores, temperature)
    labels = np.array(held_out.labels)
    is_oos = labels == OOS_LABEL
    best, confidence = best_in_scope(probabilities, classes)
    right = (np.array(classes)[best] == labels) & ~is_oos
    outcomes = [
        _outcome(probabilities, classes, float(t), right, is_oos)
        for t in np.unique(np.concatenate([[0.0], confidence]))
    ]
    chosen, met = choose_threshold(outcomes, min_precision, options.max_oos_answered)
    curve = [_outcome(probabilities, classes, t, right, is_oos) for t in (0.3, 0.5, 0.7, 0.9)]
    return ValidationReport(
        examples=len(examples), training_examples=training_size,
        validation_examples=len(held_out), labels=len(examples.in_scope_labels),
        oos_examples=sum(label == OOS_LABEL for label in examples.labels),
        regularisation=float(classifier.manifest["C"]),
        temperature=round(temperature, 5), threshold=round(chosen.threshold, 5),
        min_precision=min_precision, target_met=met,
        accuracy=round(float(right[~is_oos].mean()) if (~is_oos).any() else 0.0, 5),
        coverage=round(chosen.coverage, 5), precision=round(chosen.precision, 5),
        oos_answered=round(chosen.oos, 5) if is_oos.any() else None,
        curve=[asdict(point) for point in curve],
    )  # fmt: skip


def _outcome(
    probabilities: Matrix,
    classes: list[str],
    threshold: float,
    right: npt.NDArray[np.bool_],
    is_oos: npt.NDArray[np.bool_],
) -> ThresholdOutcome:
    answer = answered(probabilities, classes, threshold)
    in_scope = ~is_oos
    answered_in_scope = answer & in_scope
    coverage = answered_in_scope.sum() / max(in_scope.sum(), 1)
    precision = (answered_in_scope & right).sum() / max(answered_in_scope.sum(), 1)
    oos = (answer & is_oos).sum() / max(is_oos.sum(), 1)
    return ThresholdOutcome(threshold, float(coverage), float(precision), float(oos))


def choose_threshold(
    outcomes: list[ThresholdOutcome], min_precision: float, max_oos: float
) -> tuple[ThresholdOutcome, bool]:
    """The lowest threshold meeting both targets (the most answers), and whether one did.

    A threshold that meets them only by answering less than half of the in-scope rows does
    not count: on a few hundred validation rows, the last confident handful reaches any
    precision by chance, and a classifier that abstains on most messages helps no one.
    When no threshold meets both, keeping strangers out comes first: the lowest threshold
    that answers at most ``max_oos`` of the oos examples, whatever its precision. Failing even
    that, the most precise threshold that still answers at least half of the in-scope rows.
    """
    ordered = sorted(outcomes, key=lambda outcome: outcome.threshold)
    for outcome in ordered:
        if outcome.coverage < MIN_COVERAGE:
            break
        if outcome.precision >= min_precision and outcome.oos <= max_oos:
            return outcome, True
    oos_kept_out = [o for o in ordered if o.oos <= max_oos and o.coverage >= MIN_COVERAGE]
    if oos_kept_out and any(o.oos > 0 for o in ordered):
        return oos_kept_out[0], False
    useful = [o for o in ordered if o.coverage >= MIN_COVERAGE] or ordered
    return max(useful, key=lambda o: (o.precision, -o.oos, o.coverage)), False
