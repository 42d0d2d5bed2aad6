"""Shared kernel: database, clock, ids, events, auth and roles, i18n, errors."""
