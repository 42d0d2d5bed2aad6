"""``hashdesk i18n``: extract the UI strings and check that every locale translates them."""

from __future__ import annotations

import click

from hashdesk.core.catalogs import (
    check_catalogs,
    extract_messages,
    untranslatable_errors,
    write_catalogs,
)
from hashdesk.core.i18n import LOCALE_DIR


@click.group()
def i18n() -> None:
    """Gettext catalogs of the user interface."""


@i18n.command()
def extract() -> None:
    """Write locale/messages.pot from the source and merge it into every locale's catalog."""
    template = extract_messages()
    changed = write_catalogs(template, LOCALE_DIR)
    click.echo(f"{len(template)} messages; {len(changed)} catalog files changed.")
    for path in changed:
        click.echo(f"  {path.relative_to(LOCALE_DIR.parent)}")


@i18n.command()
@click.option("--limit", default=20, show_default=True, help="problems shown per locale")
def check(limit: int) -> None:
    """Fail when a locale misses, leaves untranslated or fuzzy, or mistranslates the
    placeholders of, any string the source uses, or when an error cannot be translated."""
    template = extract_messages()
    report = check_catalogs(template, LOCALE_DIR)
    for locale, problems in report.items():
        click.echo(f"{locale}: {len(problems)} problems", err=True)
        for problem in problems[:limit]:
            click.echo(f"  {problem}", err=True)
    untranslatable = untranslatable_errors()
    for place in untranslatable:
        click.echo(f"{place}: an error message is an f-string; use {{name}} parameters", err=True)
    if report or untranslatable:
        raise click.ClickException(
            f"{len(report)} locales are incomplete, {len(untranslatable)} messages untranslatable"
        )
    click.echo(f"All locales translate all {len(template)} messages.")


COMMANDS = [i18n]
