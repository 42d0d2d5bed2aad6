"""Language detection for short chat messages.

``detect(text)`` gives a ``Detection(lang, confidence)`` with ``lang`` one of
``SUPPORTED_LANGUAGES`` or ``"und"`` (empty, no letters, or a language HashDesk does not
support, such as Catalan or Belarusian). Thread-safe; the models load once per process, on
the first call.
"""

from hashdesk.assistant.langid.detector import (
    SUPPORTED_LANGUAGES,
    SURE_CONFIDENCE,
    UNDETERMINED,
    Detection,
    LanguageDetector,
    detect,
    detect_many,
    get_detector,
)

__all__ = [
    "SUPPORTED_LANGUAGES",
    "SURE_CONFIDENCE",
    "UNDETERMINED",
    "Detection",
    "LanguageDetector",
    "detect",
    "detect_many",
    "get_detector",
]
