"""``hashdesk assistant ask``: the kept JSON contract, one question or a stream on stdin, on
the configured database's help center, with the real search index and models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from hashdesk.cli import main
from tests.assistant.assistant_fakes import make_corpus

CONTRACT = {"answered", "article", "confidence", "candidates"}


@pytest.fixture
def ids(session: Session) -> dict[str, int]:
    return make_corpus(session)


def _objects(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_one_question_prints_the_contract(cli: CliRunner, ids: dict[str, int]) -> None:
    result = cli.invoke(main, ["assistant", "ask", "--json",
                               "I forgot my password, how can I reset it?"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (shaped,) = _objects(result.output)
    assert set(shaped) == CONTRACT
    assert shaped["answered"] is True
    article = shaped["article"]
    assert isinstance(article, dict) and set(article) == {"id", "title", "url"}
    assert article["id"] == ids["password"] and article["title"] == "Reset a forgotten password"
    assert str(article["url"]).startswith(f"/hc/en/articles/{ids['password']}")
    candidates = shaped["candidates"]
    assert isinstance(candidates, list) and candidates[0]["id"] == ids["password"]
    assert all(set(c) == {"id", "title", "score"} for c in candidates)
    assert 0.0 <= float(shaped["confidence"]) <= 1.0  # type: ignore[arg-type]


def test_dash_streams_one_object_per_line(cli: CliRunner, ids: dict[str, int]) -> None:
    questions = "How do I set up an anti-phishing code?\n\nWhat's a good recipe for lasagne?\n"
    result = cli.invoke(main, ["assistant", "ask", "--json", "-"], input=questions)
    assert result.exit_code == 0, result.output
    first, blank, off_topic = _objects(result.output)
    assert first["answered"] is True and first["article"]["id"] == ids["anti_phishing"]  # type: ignore[index]
    assert blank == {"answered": False, "article": None, "confidence": 0.0, "candidates": []}
    assert off_topic["answered"] is False and off_topic["article"] is None


def test_a_locale_answers_from_its_translations(cli: CliRunner, ids: dict[str, int]) -> None:
    result = cli.invoke(main, ["assistant", "ask", "--locale", "es", "--json",
                               "¿Cómo restablezco mi contraseña olvidada?"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (shaped,) = _objects(result.output)
    assert shaped["answered"] is True
    article = shaped["article"]
    assert isinstance(article, dict)
    assert (article["id"], article["title"]) == (
        ids["password"],
        "Restablecer una contraseña olvidada",
    )
    assert str(article["url"]).startswith(f"/hc/es/articles/{ids['password']}-restablecer")


def test_a_bad_locale_is_refused(cli: CliRunner, ids: dict[str, int]) -> None:
    result = cli.invoke(main, ["assistant", "ask", "--locale", "klingon", "--json", "hello"])
    assert result.exit_code == 2 and "unknown locale 'klingon'" in result.output


def test_an_empty_help_center_is_a_clear_error(cli: CliRunner) -> None:
    result = cli.invoke(main, ["assistant", "ask", "--json", "hello"])
    assert result.exit_code == 1
    assert "has no published articles" in result.output and "Traceback" not in result.output


def test_a_database_without_schema_is_a_clear_error(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from hashdesk.config import get_settings

    monkeypatch.setenv("HASHDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["assistant", "ask", "--json", "hello"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "has no help-center schema (run `hashdesk migrate`)" in result.output


def test_settle_and_deflection_commands(cli: CliRunner, session: Session) -> None:
    from datetime import timedelta

    from hashdesk.assistant.actions import check_start_conversation
    from hashdesk.assistant.queries import Asker
    from hashdesk.core.clock import utcnow

    check_start_conversation(session, Asker(guest_key="g"), None, "en",
                             now=utcnow() - timedelta(hours=2))  # fmt: skip
    session.commit()
    settled = cli.invoke(main, ["assistant", "settle"])
    assert settled.exit_code == 0, settled.output
    assert "abandoned 1" in settled.output
    figures = cli.invoke(main, ["assistant", "deflection", "--days", "7"])
    assert figures.exit_code == 0, figures.output
    shaped = json.loads(figures.output)
    assert (shaped["conversations"], shaped["abandoned"], shaped["deflection_rate"]) == (1, 1, 0.0)
