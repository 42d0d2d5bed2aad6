"""The gettext catalogs: complete for what the source says today, placeholders intact, every
locale loadable, and really used by the pages and the emails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from click.testing import CliRunner
from fastapi.testclient import TestClient

from hashdesk.cli import main
from hashdesk.core import commands
from hashdesk.core.catalogs import (
    TEMPLATE_NAME,
    check_catalogs,
    extract_messages,
    find_error_classes,
    placeholder_problem,
    po_path,
    python_sources,
    read_catalog,
    translated_locales,
    untranslatable_errors,
    write_catalogs,
)
from hashdesk.core.i18n import LOCALE_DIR, LOCALES, get_translations, gettext_for, text_direction
from hashdesk.notify.emails import render_email


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract_messages()


def _ids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if isinstance(message.id, str) and message.id}


def test_extraction_finds_every_kind_of_string(template: Catalog) -> None:
    ids = _ids(template)
    assert "Back to the start page" in ids  # a page template
    assert "[%(tracking_id)s] We received your request" in ids  # an email template
    assert "Waiting for your reply" in ids  # an N_ marker
    assert "No ticket {reference}." in ids  # a DomainError message
    assert "Invalid input" in ids  # a DomainError title
    assert "" not in ids


def test_every_locale_translates_every_string_the_source_uses(template: Catalog) -> None:
    """A string added to the source without translations fails here, naming the locales."""
    report = check_catalogs(template)
    assert report == {}, "\n".join(f"{loc}: {problems[:5]}" for loc, problems in report.items())


def test_the_committed_template_is_current(template: Catalog) -> None:
    assert _ids(read_catalog(LOCALE_DIR / TEMPLATE_NAME)) == _ids(template)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_loads_and_translates(locale: str) -> None:
    translations = get_translations(locale)
    greeting = translations.gettext("Hello,")
    if locale == "en":
        assert greeting == "Hello,"
    else:
        assert greeting and greeting != "Hello,"


@pytest.mark.parametrize("locale", ["ar", "fa"])
def test_arabic_and_persian_pages_render_right_to_left(client: TestClient, locale: str) -> None:
    assert text_direction(locale) == "rtl"
    html = _error_page(client, locale)
    assert f'lang="{locale}" dir="rtl"' in html
    assert gettext_for(locale).gettext("Back to the start page") in html
    assert "Back to the start page" not in html


def test_left_to_right_locales_stay_left_to_right() -> None:
    assert {text_direction(locale) for locale in LOCALES if locale not in ("ar", "fa")} == {"ltr"}


def _error_page(client: TestClient, locale: str) -> str:
    response = client.get(f"/no-such-page?lang={locale}", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["Content-Language"] == locale
    return response.text


def test_a_page_renders_translated(client: TestClient) -> None:
    html = _error_page(client, "ja")
    assert "トップページに戻る" in html
    assert 'lang="ja" dir="ltr"' in html


def test_an_email_renders_translated_in_korean() -> None:
    context = {"tracking_id": "HD-7KQ3-9XPA", "subject": "USDT 입금 미반영",
               "url": "https://desk.example/portal/t/HD-7KQ3-9XPA", "anti_phishing_code": "K7Q2"}  # fmt: skip
    subject, body = render_email("ticket_created", "ko", context)
    assert subject == "[HD-7KQ3-9XPA] 문의가 접수되었습니다"
    assert "접수 번호는 HD-7KQ3-9XPA입니다" in body
    assert "피싱 방지 코드: K7Q2" in body


def test_placeholder_mismatches_are_caught() -> None:
    assert placeholder_problem(Message("Code: %(code)s", "コード：%(code)s")) is None
    assert placeholder_problem(Message("Code: %(code)s", "コード：%(kode)s"))
    assert placeholder_problem(Message("Code: %(code)s", "コード"))
    assert placeholder_problem(Message("No ticket {reference}.", "Kein Vorgang.")) is not None
    assert placeholder_problem(Message("No ticket {reference}.", "Kein {reference}.")) is None
    assert placeholder_problem(Message("100%% sure", "sûr à 100 %%")) is None
    # A plural form may leave the number out ("one ticket"), but not all of them.
    plural = Message(("%(n)s ticket", "%(n)s tickets"), ("un ticket", "%(n)s tickets"))
    assert placeholder_problem(plural) is None
    plural.string = ("un ticket", "des tickets")
    assert placeholder_problem(plural)


def test_error_classes_and_messages_are_found_however_deep(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "errors.py").write_text(
        "from hashdesk.core import errors\n"
        "from hashdesk.core.errors import Conflict\n"
        "class Frozen(Conflict):\n    title = 'Frozen'\n"
        "class DeepFrozen(Frozen):\n    pass\n"
        "def f(n):\n"
        "    if n:\n        raise DeepFrozen('Account {n} is frozen.', field=f'x.{n}', n=n)\n"
        "    raise errors.NotFound(f'No account {n}.')\n"
    )
    names = {error.name for error in find_error_classes(python_sources(tmp_path))}
    assert {"Frozen", "DeepFrozen"} <= names
    ids = _ids(extract_messages(tmp_path))
    assert {"Account {n} is frozen.", "Frozen"} <= ids
    assert untranslatable_errors(tmp_path) == ["pkg/errors.py:10"]


def test_no_error_in_the_source_is_raised_with_an_f_string() -> None:
    assert untranslatable_errors() == []


def test_writing_keeps_translations_and_flags_what_is_new(
    template: Catalog, tmp_path: Path
) -> None:
    ja = po_path(tmp_path, "ja")
    ja.parent.mkdir(parents=True)
    shutil.copy(po_path(LOCALE_DIR, "ja"), ja)
    changed_template = extract_messages()
    changed_template.add("A brand-new string only this test knows.")

    written = write_catalogs(changed_template, tmp_path)

    assert tmp_path / TEMPLATE_NAME in written
    kept = read_catalog(ja, "ja").get("Back to the start page")
    assert kept is not None and kept.string == "トップページに戻る"
    report = check_catalogs(changed_template, tmp_path)
    assert report["ja"] == ["untranslated: 'A brand-new string only this test knows.'"]
    assert set(report) == set(translated_locales())  # the rest have no translations at all
    assert write_catalogs(changed_template, tmp_path) == []  # nothing changed: nothing written


def test_check_command_passes_on_the_committed_catalogs() -> None:
    result = CliRunner().invoke(main, ["i18n", "check"])
    assert result.exit_code == 0, result.output
    assert "All locales translate all" in result.output


def test_check_command_fails_naming_incomplete_locales(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "LOCALE_DIR", tmp_path)
    assert CliRunner().invoke(main, ["i18n", "extract"]).exit_code == 0
    assert (tmp_path / TEMPLATE_NAME).exists()
    result = CliRunner().invoke(main, ["i18n", "check", "--limit", "1000"])
    assert result.exit_code == 1
    assert "fa: " in result.output and "untranslated: 'Hello,'" in result.output
    assert "17 locales are incomplete" in result.output
