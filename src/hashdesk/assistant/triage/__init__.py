"""The triage classifier: a predicted category and a confidence, or an abstention."""
