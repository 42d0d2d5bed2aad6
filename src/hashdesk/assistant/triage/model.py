"""A trained triage model: its files, and predictions from it.

A model directory holds only data, nothing executable (no pickle):

- ``manifest.json``: format version, labels, abstain threshold, softmax temperature, feature
  settings (which encoder), and the validation report of the training run; written last, so a
  half-written directory is refused rather than half-loaded;
- ``vocabulary.json``: the word and character n-gram vocabularies;
- ``arrays.npz``: IDF weights, and the linear model's weights and biases (loaded with
  ``allow_pickle=False``); with a fast path, also the weights and biases of its n-gram model.

Scores are a linear function of the stacked features; a softmax with the temperature fitted on
validation data turns them into probabilities. The label ``oos`` (when the training data had
it) is a reject class: it takes probability mass away from the real labels and is never output.

The fast path: the sentence encoder is most of the cost of a message (about 5 ms of CPU here,
against 1 ms for everything else). A second linear model reads the n-gram columns alone; when
it is sure of a real label (probability at least its gate, chosen on validation so that the
pair answers no worse than the full model did there and changes few of its answers), its answer
stands and the text is never embedded. The other texts go through the full model.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from hashdesk.assistant.triage.data import OOS_LABEL
from hashdesk.assistant.triage.errors import ModelError
from hashdesk.assistant.triage.features import FeatureSettings, FittedViews, embed

FORMAT = "hashdesk-triage"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VOCABULARY = "vocabulary.json"
ARRAYS = "arrays.npz"

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Prediction:
    """A category, or None when the classifier abstains (a person decides), and how sure it is:
    the probability of the best category (also when it abstains)."""

    label: str | None
    confidence: float


@dataclass
class LinearModel:
    """Scores = features · weights + biases; one column per class (``oos`` included)."""

    classes: list[str]
    weights: Matrix  # (features, classes)
    biases: Matrix  # (classes,)

    def probabilities(self, features: Any, temperature: float) -> Matrix:
        scores = np.asarray(features @ self.weights, dtype=np.float32) + self.biases
        return softmax(scores, temperature)


def softmax(scores: Matrix, temperature: float) -> Matrix:
    scaled = scores / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exponent = np.exp(scaled)
    probabilities: Matrix = exponent / exponent.sum(axis=1, keepdims=True)
    return probabilities


def best_in_scope(probabilities: Matrix, classes: list[str]) -> tuple[npt.NDArray[np.intp], Matrix]:
    """For each row: the index of the most probable real class, and its probability.

    A row whose most probable class is ``oos`` still gets its best real class here;
    ``answered`` is what refuses it.
    """
    in_scope = np.array([label != OOS_LABEL for label in classes])
    masked = np.where(in_scope, probabilities, -1.0)
    best = masked.argmax(axis=1)
    return best, probabilities[np.arange(len(best)), best]


def answered(probabilities: Matrix, classes: list[str], threshold: float) -> npt.NDArray[np.bool_]:
    """Which rows get an answer: the best class is a real one and sure enough."""
    best, confidence = best_in_scope(probabilities, classes)
    top_is_real = probabilities.argmax(axis=1) == best
    result: npt.NDArray[np.bool_] = top_is_real & (confidence >= threshold)
    return result


@dataclass
class FastPath:
    """The n-gram model that answers alone the texts it is sure of (see the module's docstring)."""

    model: LinearModel  # over the n-gram columns only; same classes as the full model
    temperature: float
    gate: float  # never below the classifier's threshold: a fast answer is always an answer

    def sure(self, sparse: sp.csr_matrix) -> tuple[Matrix, npt.NDArray[np.bool_]]:
        """The fast model's probabilities, and which rows it answers alone."""
        probabilities = self.model.probabilities(sparse, self.temperature)
        return probabilities, answered(probabilities, self.model.classes, self.gate)


@dataclass
class Classifier:
    """A loaded triage model. ``predict`` is safe to call from several threads."""

    views: FittedViews
    model: LinearModel
    temperature: float
    threshold: float
    manifest: dict[str, Any]
    fast: FastPath | None = None

    @property
    def labels(self) -> list[str]:
        return [label for label in self.model.classes if label != OOS_LABEL]

    @property
    def encoder(self) -> str | None:
        return self.views.settings.encoder

    @classmethod
    def load(cls, model_dir: Path) -> Classifier:
        return load_classifier(model_dir)

    def probabilities(self, texts: list[str]) -> Matrix:
        sparse = self.views.sparse(texts)
        probabilities = np.empty((len(texts), len(self.model.classes)), dtype=np.float32)
        slow = np.arange(len(texts))
        if self.fast is not None:
            quick, sure = self.fast.sure(sparse)
            probabilities[sure] = quick[sure]
            slow = np.flatnonzero(~sure)
        if len(slow):
            rest = [texts[i] for i in slow]
            vectors = embed(self.views.settings.encoder, rest)
            features = self.views.transform(rest, vectors, sparse[slow])
            probabilities[slow] = self.model.probabilities(features, self.temperature)
        return probabilities

    def predict(self, texts: list[str]) -> list[Prediction]:
        if not texts:
            return []
        probabilities = self.probabilities(texts)
        best, confidence = best_in_scope(probabilities, self.model.classes)
        answer = answered(probabilities, self.model.classes, self.threshold)
        return [
            Prediction(self.model.classes[b] if ok else None, round(float(c), 4))
            for b, c, ok in zip(best, confidence, answer, strict=True)
        ]

    def warm_up(self) -> None:
        """Load the sentence encoder now, so the first real message does not wait for it."""
        # The fast path may answer the warm-up text alone: load the encoder in any case.
        embed(self.views.settings.encoder, ["warm up"])
        self.predict(["warm up"])

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]


# --- files ----------------------------------------------------------------------------------


def save_classifier(classifier: Classifier, model_dir: Path) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    vocabularies, idf = classifier.views.state()
    _write_atomically(model_dir / VOCABULARY, json.dumps(vocabularies, ensure_ascii=False).encode())
    arrays_path = model_dir / (ARRAYS + ".tmp")
    fast = classifier.fast
    arrays: dict[str, npt.NDArray[Any]] = {
        "weights": classifier.model.weights, "biases": classifier.model.biases,
        "word_idf": idf["word_idf"], "char_idf": idf["char_idf"],
    }  # fmt: skip
    if fast is not None:
        arrays.update(fast_weights=fast.model.weights, fast_biases=fast.model.biases)
    with arrays_path.open("wb") as file:
        np.savez_compressed(file, allow_pickle=False, **arrays)
    os.replace(arrays_path, model_dir / ARRAYS)
    manifest = dict(classifier.manifest)
    manifest.update(
        format=FORMAT, version=FORMAT_VERSION, classes=classifier.model.classes,
        labels=classifier.labels, threshold=classifier.threshold,
        temperature=classifier.temperature, features=classifier.views.settings.to_json(),
        encoder=classifier.views.settings.encoder,
        fast_path=None if fast is None else {"temperature": fast.temperature, "gate": fast.gate},
    )  # fmt: skip
    _write_atomically(model_dir / MANIFEST, json.dumps(manifest, indent=2).encode())


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def load_classifier(model_dir: Path) -> Classifier:
    """The model saved in ``model_dir``, or a ``ModelError`` saying what is wrong with it."""
    if not model_dir.is_dir():
        raise ModelError("{path}: no such model directory", path=str(model_dir))
    manifest = _read_json(model_dir / MANIFEST)
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise ModelError(
            "{path}: not a triage model of format version {version}",
            path=str(model_dir), version=FORMAT_VERSION,
        )  # fmt: skip
    try:
        return _assemble(manifest, _read_json(model_dir / VOCABULARY), _read_arrays(model_dir))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(
            "{path}: corrupt model ({reason})", path=str(model_dir), reason=str(error)
        ) from error


def _assemble(
    manifest: dict[str, Any], vocabularies: dict[str, Any], arrays: dict[str, Any]
) -> Classifier:
    settings = FeatureSettings.from_json(manifest["features"])
    if settings.encoder not in (None, "minilm", "e5"):
        raise ValueError(f"unknown encoder {settings.encoder!r}")
    views = FittedViews.restore(settings, vocabularies, arrays)
    classes = [str(label) for label in manifest["classes"]]
    weights = arrays["weights"].astype(np.float32)
    biases = arrays["biases"].astype(np.float32)
    if weights.shape != (views.width, len(classes)) or biases.shape != (len(classes),):
        raise ValueError("the weights do not match the features and labels")
    temperature, threshold = float(manifest["temperature"]), float(manifest["threshold"])
    if not (temperature > 0 and 0 <= threshold <= 1):
        raise ValueError("temperature or threshold out of range")
    model = LinearModel(classes, weights, biases)
    fast = _fast_path(manifest.get("fast_path"), arrays, views, classes, threshold)
    return Classifier(views, model, temperature, threshold, manifest, fast)


def _fast_path(
    settings: Any, arrays: dict[str, Any], views: FittedViews, classes: list[str], threshold: float
) -> FastPath | None:
    """The saved fast path (models saved before it existed, or without one, have none)."""
    if settings is None:
        return None
    weights = arrays["fast_weights"].astype(np.float32)
    biases = arrays["fast_biases"].astype(np.float32)
    if weights.shape != (views.sparse_width, len(classes)) or biases.shape != (len(classes),):
        raise ValueError("the fast path's weights do not match the features and labels")
    temperature, gate = float(settings["temperature"]), float(settings["gate"])
    if not (temperature > 0 and threshold <= gate <= 1):
        raise ValueError("the fast path's temperature or gate is out of range")
    return FastPath(LinearModel(classes, weights, biases), temperature, gate)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelError("{path} is missing: train the model again", path=str(path)) from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(
            "{path}: unreadable ({reason})", path=str(path), reason=str(error)
        ) from error
    if not isinstance(data, dict):
        raise ModelError("{path}: not a JSON object", path=str(path))
    return data


def _read_arrays(model_dir: Path) -> dict[str, Any]:
    path = model_dir / ARRAYS
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError as error:
        raise ModelError("{path} is missing: train the model again", path=str(path)) from error
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ModelError(
            "{path}: unreadable ({reason})", path=str(path), reason=str(error)
        ) from error
