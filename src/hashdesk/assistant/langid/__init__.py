"""Language detection for short chat messages."""
