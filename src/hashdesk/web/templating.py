"""Jinja2 environments: HTML pages (autoescaped) and plain-text emails, both translatable.

Each domain keeps its templates in ``<domain>/templates/<domain>/``; one loader finds them all.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from hashdesk.core.i18n import LOCALE_NAMES, LOCALES, gettext_for, text_direction

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _template_folders() -> list[str]:
    return sorted(str(path) for path in PACKAGE_ROOT.glob("*/templates") if path.is_dir())


def _build(autoescape: bool) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(_template_folders())]),
        # Plain-text emails are never HTML, so escaping would only mangle them.
        autoescape=select_autoescape(["html"]) if autoescape else False,  # noqa: S701
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(LOCALES=LOCALES, LOCALE_NAMES=LOCALE_NAMES)
    return env


@lru_cache
def html_environment() -> Environment:
    return _build(autoescape=True)


@lru_cache
def text_environment() -> Environment:
    return _build(autoescape=False)


def render(env: Environment, template: str, locale: str, context: dict[str, Any]) -> str:
    """Render ``template`` with gettext bound to ``locale`` for this call only."""
    translations = gettext_for(locale)
    values = {
        **context,
        "locale": locale,
        "dir": text_direction(locale),
        "_": translations.gettext,
        "gettext": translations.gettext,
        "ngettext": translations.ngettext,
    }
    return env.get_template(template).render(values)
