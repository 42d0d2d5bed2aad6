"""``hashdesk assistant|triage|lang ...``."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import click
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hashdesk.assistant.langid.commands import lang
from hashdesk.assistant.triage.commands import triage
from hashdesk.config import get_settings
from hashdesk.core.i18n import LOCALES, match_locale

if TYPE_CHECKING:
    from hashdesk.assistant.engine import Engine, Reply
    from hashdesk.runtime import Runtime


@click.group()
def assistant() -> None:
    """The self-service assistant."""


def _redacted(url: str) -> str:
    from hashdesk.cli import _redacted as redact

    return redact(url)


def _ready_runtime(*, answering: bool = True) -> Runtime:
    """A runtime on the configured database, after checking it has the schema and (when
    ``answering``) a help center to answer from: a clear error instead of a traceback."""
    from hashdesk.helpcenter.models import ArticleStatus, ArticleTranslation
    from hashdesk.runtime import Runtime

    settings = get_settings()
    runtime = Runtime(settings)
    where = _redacted(settings.database_url)
    try:
        with runtime.database.session() as session:
            published = session.scalar(
                select(func.count()).select_from(ArticleTranslation)
                .where(ArticleTranslation.status == ArticleStatus.PUBLISHED.value)
            )  # fmt: skip
    except SQLAlchemyError as error:
        _close(runtime)
        raise click.ClickException(
            f"The database {where} has no help-center schema (run `hashdesk migrate`): "
            f"{str(getattr(error, 'orig', error)).splitlines()[0]}"
        ) from error
    if answering and not published:
        _close(runtime)
        raise click.ClickException(
            f"The help center in {where} has no published articles to answer from: import some "
            "first (`hashdesk helpcenter import PATH`)."
        )
    return runtime


def _close(runtime: Runtime) -> None:
    # Never started (no outbox worker here): release the bus and the database only.
    runtime.bus.close()
    runtime.database.dispose()


def _human(reply: Reply) -> str:
    article = reply.article
    if article is not None:
        return f"{article.title}\n{article.url}\n(confidence {reply.confidence:.2f})"
    if reply.options:
        first, second = reply.options
        return (
            f"Did you mean {first.title!r} or {second.title!r}? (confidence {reply.confidence:.2f})"
        )
    return f"No confident answer: hand off to a person (confidence {reply.confidence:.2f})"


def _answer(engine: Engine, question: str, locale: str | None, as_json: bool) -> str:
    from hashdesk.assistant.engine import reply_json

    if not question.strip():
        empty: dict[str, object] = {
            "answered": False,
            "article": None,
            "confidence": 0.0,
            "candidates": [],
        }
        return json.dumps(empty) if as_json else ""
    reply = engine.respond(question.strip(), locale=locale)
    return json.dumps(reply_json(reply), ensure_ascii=False) if as_json else _human(reply)


@assistant.command()
@click.option("--locale", default=None, help=f"answer in this locale ({', '.join(LOCALES)}); "
              "detected from each question when left out")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="one JSON object per question")
@click.argument("question")
def ask(locale: str | None, as_json: bool, question: str) -> None:
    """Ask the assistant QUESTION, or with - one question per line from stdin.

    JSON: {"answered", "article": {"id", "title", "url"} | null, "confidence", "candidates"}.
    """
    from hashdesk.assistant.service import complete_tools

    chosen = None
    if locale is not None:
        chosen = match_locale(locale)
        if chosen is None:
            raise click.BadParameter(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}",
                                     param_hint="--locale")  # fmt: skip
    runtime = _ready_runtime()
    try:
        engine = complete_tools(runtime).engine
        questions = sys.stdin if question == "-" else [question]
        for line in questions:
            click.echo(_answer(engine, line.rstrip("\n"), chosen, as_json))
            sys.stdout.flush()
    finally:
        _close(runtime)


@assistant.command()
def settle() -> None:
    """Give idle conversations their outcome (run every few minutes, e.g. from cron)."""
    from hashdesk.assistant.actions import do_settle_outcomes

    runtime = _ready_runtime(answering=False)
    try:
        with runtime.database.transaction() as session:
            summary = do_settle_outcomes(session)
    finally:
        _close(runtime)
    click.echo(f"resolved {summary.resolved}, abandoned {summary.abandoned}, "
               f"waiting for the 72-hour window {summary.waiting}")  # fmt: skip


@assistant.command()
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 366))
def deflection(days: int) -> None:
    """Outcomes and the deflection rate of the last DAYS days' conversations, as JSON."""
    from hashdesk.assistant.queries import deflection as figures_of
    from hashdesk.core.clock import utcnow

    runtime = _ready_runtime(answering=False)
    try:
        with runtime.database.session() as session:
            until = utcnow()
            figures = figures_of(session, until - timedelta(days=days), until)
    finally:
        _close(runtime)
    values = {**figures.__dict__, "deflection_rate": figures.deflection_rate}
    click.echo(json.dumps(values, default=str))


COMMANDS = [assistant, triage, lang]
