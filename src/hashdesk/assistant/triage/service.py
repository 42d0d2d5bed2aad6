"""The product's use of the triage model: the category of a new chat or ticket, if a model is set.

The model directory comes from the ``HASHDESK_TRIAGE_MODEL_DIR`` setting; it is loaded once per
process (and again only if its manifest changes, so a retrained model is picked up).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from hashdesk.assistant.triage.errors import ModelError
from hashdesk.assistant.triage.model import MANIFEST, Classifier, Prediction
from hashdesk.config import get_settings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded: dict[Path, tuple[float, Classifier]] = {}


def predict_category(text: str) -> Prediction | None:
    """The predicted category of ``text`` (label None: abstained, a person decides).

    None when no model is configured, or when the configured one cannot be loaded: triage
    helps routing but must never stop a chat or a ticket, so a broken model is logged, not raised.
    """
    model_dir = get_settings().triage_model_dir
    if model_dir is None:
        return None
    try:
        classifier = loaded_classifier(model_dir)
    except ModelError as error:
        log.error("triage model unavailable: %s", error)
        return None
    return classifier.predict_one(text)


def loaded_classifier(model_dir: Path) -> Classifier:
    """The classifier in ``model_dir``, loaded once per process while its files stay the same."""
    try:
        stamp = (model_dir / MANIFEST).stat().st_mtime
    except OSError:
        stamp = -1.0  # let load() say what is missing
    with _lock:
        cached = _loaded.get(model_dir)
        if cached is None or cached[0] != stamp:
            classifier = Classifier.load(model_dir)
            classifier.warm_up()
            _loaded[model_dir] = (stamp, classifier)
        return _loaded[model_dir][1]
