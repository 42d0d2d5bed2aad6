"""Shared web plumbing: dependencies, problem documents, templates, layout and static files."""
