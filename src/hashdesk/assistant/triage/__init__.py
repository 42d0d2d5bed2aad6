"""The triage classifier: a predicted category and a confidence, or an abstention.

    from hashdesk.assistant.triage import Classifier, train_file

    train_file(Path("examples.csv"), Path("var/triage"))
    Classifier.load(Path("var/triage")).predict(["my deposit has not arrived"])
    # [Prediction(label='deposit', confidence=0.93)]

``predict_category(text)`` does the same with the model of ``HASHDESK_TRIAGE_MODEL_DIR``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hashdesk.assistant.triage.data import OOS_LABEL, Examples, parse_examples, read_examples
    from hashdesk.assistant.triage.errors import ModelError, TrainingDataError
    from hashdesk.assistant.triage.features import FeatureSettings
    from hashdesk.assistant.triage.model import Classifier, Prediction
    from hashdesk.assistant.triage.service import predict_category
    from hashdesk.assistant.triage.training import Say, TrainingOptions, ValidationReport, train

# scikit-learn and SciPy take seconds to import: every ``hashdesk`` command would pay for them
# if this package imported its modules eagerly, so the names load on first use.
_HOMES = {
    "OOS_LABEL": "data", "Examples": "data", "parse_examples": "data", "read_examples": "data",
    "ModelError": "errors", "TrainingDataError": "errors", "FeatureSettings": "features",
    "Classifier": "model", "Prediction": "model", "predict_category": "service",
    "Say": "training", "TrainingOptions": "training", "ValidationReport": "training",
    "train": "training",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def train_file(
    data: Path, model_dir: Path, options: TrainingOptions | None = None, say: Say | None = None
) -> tuple[Classifier, ValidationReport]:
    """Read the labelled examples of ``data`` (CSV or TSV) and train a model into ``model_dir``."""
    from hashdesk.assistant.triage.data import read_examples
    from hashdesk.assistant.triage.training import train

    return train(read_examples(data), model_dir, options, say)


__all__ = [
    "OOS_LABEL",
    "Classifier",
    "Examples",
    "FeatureSettings",
    "ModelError",
    "Prediction",
    "TrainingDataError",
    "TrainingOptions",
    "ValidationReport",
    "parse_examples",
    "predict_category",
    "read_examples",
    "train",
    "train_file",
]
