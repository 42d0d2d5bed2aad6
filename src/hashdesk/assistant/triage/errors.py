"""Errors of the triage classifier.

DomainError
├── InvalidInput
│   └── TrainingDataError   the training file cannot be used (says which line and why)
└── ServiceUnavailable
    └── ModelError          the model directory is missing, incomplete or corrupt
"""

from __future__ import annotations

from hashdesk.core.errors import InvalidInput, ServiceUnavailable


class TrainingDataError(InvalidInput):
    code = "triage_training_data"
    title = "Unusable training data"


class ModelError(ServiceUnavailable):
    code = "triage_model"
    title = "Triage model unavailable"
