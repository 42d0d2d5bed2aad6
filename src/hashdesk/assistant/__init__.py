"""Self-service: the assistant's answers and guided diagnostics, the triage classifier
("reason for contact") and language detection."""
