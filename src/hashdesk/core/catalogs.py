"""Keeping the gettext catalogs in step with the source.

Messages come from four kinds of call, in Python files and in the Jinja2 templates (HTML
pages and plain-text emails) of every domain:

* ``_()``, ``gettext()``, ``ngettext()`` and the ``N_()`` marker;
* the first argument of every ``DomainError`` subclass: error messages are English
  ``str.format`` templates that ``hashdesk.web.problems`` translates when it renders them;
* the ``title`` of every ``DomainError`` subclass, translated the same way.

The error classes are found by reading the source (any class deriving, however indirectly,
from ``DomainError``), so a domain that adds its own error needs no change here. An error
raised with an f-string cannot be translated: ``untranslatable_errors`` lists those.

``extract_messages`` builds the template catalog in memory, ``write_catalogs`` writes it to
``messages.pot`` and merges it into every locale's ``messages.po`` (translations kept, close
matches for new strings marked fuzzy), and ``check_catalogs`` lists what a translator still has
to do. ``hashdesk i18n extract`` and ``hashdesk i18n check`` are the commands around them.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from hashdesk import __version__
from hashdesk.core.errors import DomainError
from hashdesk.core.i18n import DEFAULT_LOCALE, LOCALE_DIR, LOCALE_NAMES, LOCALES

PACKAGE_DIR = LOCALE_DIR.parent
TEMPLATE_NAME = "messages.pot"
METHOD_MAP = [
    ("**/templates/**.html", "jinja2"),
    ("**/templates/**.txt", "jinja2"),
    ("**.py", "python"),
    # Guided diagnostics are data; their questions and answers are interface text too.
    ("assistant/flows/*.yaml", "hashdesk.assistant.diagnostics:extract_flow_messages"),
]
# ``silent: false``: a template that does not parse fails the extraction instead of
# silently contributing no strings.
_JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "silent": "false"}
OPTIONS_MAP = {pattern: _JINJA_OPTIONS for pattern, method in METHOD_MAP if method == "jinja2"}
GETTEXT_KEYWORDS: dict[str, Any] = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
COMMENT_TAGS = ("Translators:",)
HEADER_COMMENT = (
    "# HashDesk user-interface strings.\n"
    "# Written by `hashdesk i18n extract`: edit the translations, never the msgids."
)
# Header lines that change on every write; a catalog that differs only there is not rewritten.
_VOLATILE_HEADERS = (b'"POT-Creation-Date:', b'"PO-Revision-Date:')
_PERCENT = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
_BRACE = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class ErrorClass:
    """A ``DomainError`` subclass as written in the source."""

    name: str
    title: str | None
    filename: str
    lineno: int


@dataclass(frozen=True)
class Found:
    """A string for the catalog, or (``text`` None) an error message that cannot be one."""

    filename: str
    lineno: int
    text: str | None


# --- finding the strings ----------------------------------------------------------------
# Babel extracts the gettext calls. The errors are read from the syntax tree instead: a
# token-level keyword extractor cannot tell a message from an f-string passed as ``field=``,
# and only the tree knows which classes derive from DomainError.


def python_sources(root: Path) -> list[tuple[str, ast.Module]]:
    """Every Python file under ``root``, parsed, by its path relative to ``root``."""
    return [
        (path.relative_to(root).as_posix(), ast.parse(path.read_bytes(), filename=str(path)))
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    ]


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _class_title(node: ast.ClassDef) -> str | None:
    """The literal ``title`` a class sets, whether plainly or with an annotation."""
    for statement in node.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        if (
            isinstance(target, ast.Name)
            and target.id == "title"
            and isinstance(value, ast.Constant)
        ):
            return value.value if isinstance(value.value, str) else None
    return None


def _known_error_names() -> set[str]:
    """The error classes Python already knows, so that code outside the package (a plugin, a
    test) may derive from ``NotFound`` without the core source being scanned along with it."""
    names: set[str] = set()
    pending: list[type] = [DomainError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def find_error_classes(sources: list[tuple[str, ast.Module]]) -> list[ErrorClass]:
    """The ``DomainError`` classes defined in ``sources``: any class deriving from
    ``DomainError``, directly or through other classes."""
    definitions = [
        (node, filename)
        for filename, tree in sources
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    ]
    family = _known_error_names()
    grown = True
    while grown:  # a subclass of a subclass is found on a later round
        before = len(family)
        family |= {node.name for node, _ in definitions if {_name(b) for b in node.bases} & family}
        grown = len(family) > before
    return [
        ErrorClass(node.name, _class_title(node), filename, node.lineno)
        for node, filename in definitions
        if node.name in family
    ]


def error_messages(sources: list[tuple[str, ast.Module]], names: set[str]) -> Iterator[Found]:
    """The first argument of every call to one of the error classes ``names``. A literal is a
    message; an f-string cannot be translated (``text`` None); a variable holds a message
    marked elsewhere and is skipped."""
    for filename, tree in sources:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and _name(node.func) in names):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield Found(filename, first.lineno, first.value)
            elif isinstance(first, ast.JoinedStr):
                yield Found(filename, first.lineno, None)


def new_catalog(locale: str | None = None) -> Catalog:
    return Catalog(
        locale=babel_locale(locale) if locale else None,
        header_comment=HEADER_COMMENT,
        project="HashDesk",
        version=__version__,
        copyright_holder="HashDesk contributors",
        last_translator="HashDesk translators",
        language_team=LOCALE_NAMES.get(locale or "", "HashDesk translators"),
        fuzzy=False,
    )


def _errors_found(root: Path) -> Iterator[tuple[Found, str | None]]:
    """Error messages and titles under ``root``, each with a comment for the translator."""
    sources = python_sources(root)
    classes = find_error_classes(sources)
    for error in classes:
        if error.title:
            yield Found(error.filename, error.lineno, error.title), f"Title of {error.name} errors."
    names = _known_error_names() | {error.name for error in classes}
    for found in error_messages(sources, names):
        yield found, None


def untranslatable_errors(root: Path = PACKAGE_DIR) -> list[str]:
    """``file:line`` of every error raised with an f-string, which no catalog can translate."""
    return [f"{f.filename}:{f.lineno}" for f, _ in _errors_found(root) if f.text is None]


def extract_messages(root: Path = PACKAGE_DIR) -> Catalog:
    """The template catalog: every translatable string under ``root``, with its locations."""
    catalog = new_catalog()
    found = extract_from_dir(
        root, METHOD_MAP, OPTIONS_MAP, GETTEXT_KEYWORDS, COMMENT_TAGS, strip_comment_tags=True
    )
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    for error, comment in _errors_found(root):
        if error.text:
            catalog.add(error.text, None, [(error.filename, error.lineno)],
                        auto_comments=[comment] if comment else ())  # fmt: skip
    return catalog


# --- writing the catalogs ---------------------------------------------------------------


def babel_locale(locale: str) -> str:
    """Babel's spelling of our locale codes (``zh-Hant`` is ``zh_Hant`` to babel)."""
    return locale.replace("-", "_")


def translated_locales() -> tuple[str, ...]:
    """English is the source language: its msgids are the text, so it has no catalog."""
    return tuple(locale for locale in LOCALES if locale != DEFAULT_LOCALE)


def po_path(locale_dir: Path, locale: str) -> Path:
    return locale_dir / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=babel_locale(locale) if locale else None)


def _serialise(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    # No line numbers, so that moving code does not touch eighteen files; no obsolete
    # entries, so that the catalogs hold only what the source still uses (history is in git).
    write_po(buffer, catalog, width=100, ignore_obsolete=True, include_lineno=False)
    return buffer.getvalue()


def _stable(content: bytes) -> list[bytes]:
    return [line for line in content.splitlines() if not line.startswith(_VOLATILE_HEADERS)]


def write_if_changed(path: Path, catalog: Catalog) -> bool:
    """Write ``catalog`` unless the file already says the same; True when it was written."""
    content = _serialise(catalog)
    if path.exists() and _stable(path.read_bytes()) == _stable(content):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return True


def update_catalog(template: Catalog, path: Path, locale: str) -> Catalog:
    """``path``'s catalog merged with ``template``: translations kept, new strings added
    (marked fuzzy where an old translation is a close match), vanished strings dropped."""
    catalog = read_catalog(path, locale) if path.exists() else new_catalog(locale)
    catalog.update(template, update_creation_date=True)
    catalog.version = template.version
    # Only kept when something else changed too (see ``write_if_changed``).
    catalog.revision_date = datetime.now(UTC)
    return catalog


def write_catalogs(template: Catalog, locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write ``messages.pot`` and update every locale's catalog; the files that changed."""
    changed: list[Path] = []
    pot = locale_dir / TEMPLATE_NAME
    if write_if_changed(pot, template):
        changed.append(pot)
    for locale in translated_locales():
        path = po_path(locale_dir, locale)
        if write_if_changed(path, update_catalog(template, path, locale)):
            changed.append(path)
    return changed


# --- checking them ----------------------------------------------------------------------


def placeholders(text: str) -> set[str]:
    """The ``%(name)s`` and ``{name}`` placeholders of a message (escaped ``%%``, ``{{`` and
    ``}}`` are literal text, not placeholders)."""
    text = text.replace("%%", "").replace("{{", "").replace("}}", "")
    return set(_PERCENT.findall(text)) | set(_BRACE.findall(text))


def _forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def placeholder_problem(message: Message) -> str | None:
    """Why the translation's placeholders do not fit the msgid's, or None when they do.

    A plural translation may leave the number out of a form (many languages say "one
    ticket"), so only the union of its forms must carry exactly the msgid's placeholders.
    """
    expected = set().union(*(placeholders(form) for form in _forms(message.id)))
    forms = [form for form in _forms(message.string) if form]
    if not forms:
        return None
    union = set().union(*(placeholders(form) for form in forms))
    if union == expected:
        return None
    return f"has {sorted(union)}, the msgid has {sorted(expected)}"


def _label(message: Message) -> str:
    return repr(_forms(message.id)[0])


def message_problems(message: Message) -> list[str]:
    """What is wrong with one entry of a locale's catalog."""
    forms = _forms(message.string)
    if not forms or not all(forms):
        return [f"untranslated: {_label(message)}"]
    problems = [f"fuzzy: {_label(message)}"] if message.fuzzy else []
    mismatch = placeholder_problem(message)
    if mismatch:
        problems.append(f"placeholders differ in {_label(message)}: {mismatch}")
    return problems


def catalog_problems(template: Catalog, catalog: Catalog) -> list[str]:
    """Missing, untranslated and fuzzy entries and placeholder mismatches, template order."""
    problems: list[str] = []
    for expected in template:
        if not expected.id:
            continue  # the header
        message = catalog.get(expected.id, expected.context)
        if message is None:
            problems.append(f"missing: {_label(expected)} (run `hashdesk i18n extract`)")
        else:
            problems.extend(message_problems(message))
    return problems


def check_catalogs(template: Catalog, locale_dir: Path = LOCALE_DIR) -> dict[str, list[str]]:
    """Every locale that is not complete for ``template``, with what it lacks."""
    report: dict[str, list[str]] = {}
    for locale in translated_locales():
        path = po_path(locale_dir, locale)
        if not path.exists():
            report[locale] = [f"no catalog at {path}"]
            continue
        problems = catalog_problems(template, read_catalog(path, locale))
        if problems:
            report[locale] = problems
    return report
