"""A folder of Markdown files with YAML front matter, in and out.

One file per translation::

    ---
    id: 12                        # the article's id (its address: /hc/en/articles/12-...)
    locale: en
    title: How to set up 2FA
    section: security/two-factor  # category/section
    tags: [2fa, security]
    internal: false
    status: published             # optional: published (default) or draft
    ---
    Markdown body...

A translation names its article with ``translation_of: 12`` (its ``id``, if given, must be
the same). Every file is read and checked before anything is written, and the import runs in
one transaction: a folder with one bad file imports nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from hashdesk.core.auth import Principal
from hashdesk.core.errors import DomainError
from hashdesk.core.i18n import LOCALES
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.models import Article, ArticleStatus, ArticleTranslation
from hashdesk.helpcenter.schemas import SECTION_PATTERN, ArticleCreate, TranslationSave

FIELDS = ("id", "locale", "title", "section", "tags", "translation_of", "internal", "status")
DELIMITER = "---"


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ImportFailed(Exception):
    """The folder cannot be imported; ``problems`` names each file and field at fault."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass
class ArticleFile:
    name: str
    article_id: int
    locale: str
    title: str
    body: str
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    internal: bool | None = None
    status: ArticleStatus = ArticleStatus.PUBLISHED
    is_translation: bool = False


# --- reading --------------------------------------------------------------------------------


def read_folder(folder: Path) -> list[ArticleFile]:
    if not folder.is_dir():
        raise ImportFailed([Problem(str(folder), "path", "not a folder")])
    files, problems = [], []
    for path in sorted(folder.rglob("*.md")):
        try:
            files.append(read_file(path, str(path.relative_to(folder))))
        except ImportFailed as failure:
            problems.extend(failure.problems)
    problems.extend(_duplicates(files))
    if problems:
        raise ImportFailed(problems)
    if not files:
        raise ImportFailed([Problem(str(folder), "path", "no .md files in this folder")])
    return files


def read_file(path: Path, name: str) -> ArticleFile:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailed(
            [Problem(name, "file", f"cannot be read as UTF-8 text ({error})")]
        ) from error
    header, body = _split(content, name)
    return _article_file(name, header, body)


def _split(content: str, name: str) -> tuple[dict[str, Any], str]:
    lines = content.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != DELIMITER:
        raise ImportFailed([Problem(name, "front matter", "the file must start with a '---' line")])
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == DELIMITER), None)
    if end is None:
        raise ImportFailed([Problem(name, "front matter", "no closing '---' line")])
    try:
        header = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise ImportFailed([Problem(name, "front matter", f"not valid YAML{where}")]) from error
    if not isinstance(header, dict):
        raise ImportFailed([Problem(name, "front matter", "must be a mapping of field: value")])
    return header, "".join(lines[end + 1 :]).strip("\n") + "\n"


def _article_file(name: str, header: dict[str, Any], body: str) -> ArticleFile:
    problems = [Problem(name, str(key), "unknown field") for key in header if key not in FIELDS]
    checked: dict[str, Any] = {}
    for key, check in _CHECKS.items():
        try:
            checked[key] = check(header.get(key))
        except ValueError as error:
            problems.append(Problem(name, key, str(error)))
    if not body.strip():
        problems.append(Problem(name, "body", "the article has no text"))
    problems.extend(_id_problems(name, checked))
    if problems:
        raise ImportFailed(problems)
    translation_of = checked["translation_of"]
    return ArticleFile(
        name=name, article_id=translation_of or checked["id"], locale=checked["locale"],
        title=checked["title"], body=body, section=checked["section"], tags=checked["tags"],
        internal=checked["internal"], status=checked["status"],
        is_translation=translation_of is not None,
    )  # fmt: skip


def _id_problems(name: str, checked: dict[str, Any]) -> list[Problem]:
    own, of = checked.get("id", False), checked.get("translation_of", False)
    if own is False or of is False:  # already reported as wrong
        return []
    if own is None and of is None:
        return [Problem(name, "id", "required (or translation_of, for a translation)")]
    if of is None and checked.get("section", False) is None:
        return [Problem(name, "section", "required on an article's original file")]
    if own is not None and of is not None and own != of:
        return [
            Problem(name, "id", "must equal translation_of (a translation shares its article's id)")
        ]
    return []


def _positive_id(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be a positive whole number")
    return value


def _locale(value: Any) -> str:
    if not isinstance(value, str) or value not in LOCALES:
        raise ValueError(f"must be one of {', '.join(LOCALES)}")
    return value


def _title(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ValueError("required, 1 to 200 characters")
    return value.strip()


def _section(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(SECTION_PATTERN, value):
        raise ValueError("must look like category/section (lower-case letters, digits, '-')")
    return value


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag for tag in value):
        raise ValueError("must be a list of words, like [2fa, security]")
    return list(value)


def _internal(value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _status(value: Any) -> ArticleStatus:
    if value is None:
        return ArticleStatus.PUBLISHED
    try:
        return ArticleStatus(value)
    except ValueError as error:
        raise ValueError("must be published or draft") from error


_CHECKS = {"id": _positive_id, "translation_of": _positive_id, "locale": _locale,
           "title": _title, "section": _section, "tags": _tags, "internal": _internal,
           "status": _status}  # fmt: skip


def _duplicates(files: list[ArticleFile]) -> list[Problem]:
    seen: dict[tuple[int, str], str] = {}
    problems = []
    for item in files:
        key = (item.article_id, item.locale)
        if key in seen:
            problems.append(Problem(item.name, "locale",
                                    f"article {key[0]} in {key[1]} is also in {seen[key]}"))  # fmt: skip
        seen.setdefault(key, item.name)
    return problems


# --- writing --------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    articles: int = 0
    translations: int = 0


def do_import(session: Session, actor: Principal, files: list[ArticleFile]) -> ImportSummary:
    """Write ``files`` (read by ``read_folder``): originals first, then translations.
    Re-importing updates in place, keeping each replaced text as a version."""
    summary = ImportSummary()
    for item in sorted(files, key=lambda f: (f.is_translation, f.article_id, f.locale)):
        try:
            _import_one(session, actor, item, summary)
        except DomainError as error:
            raise ImportFailed([Problem(item.name, error.field or "file", str(error))]) from error
    actions.do_sync_id_sequence(session)
    return summary


def _import_one(
    session: Session, actor: Principal, item: ArticleFile, summary: ImportSummary
) -> None:
    article = queries.get_article(session, item.article_id)
    save = TranslationSave(title=item.title, body=item.body, tags=item.tags, status=item.status)
    if article is None:
        if item.is_translation:
            raise ImportFailed([Problem(item.name, "translation_of",
                                        f"no article {item.article_id} here or in the database")])  # fmt: skip
        data = ArticleCreate(**save.model_dump(), id=item.article_id, locale=item.locale,
                             section=item.section, internal=bool(item.internal))  # fmt: skip
        actions.do_create_article(session, actor, data)
        summary.articles += 1
        summary.translations += 1
        return
    _check_consistent(item, article)
    if not item.is_translation:
        actions.do_update_article(session, actor, article, item.section or article.section.path,
                                  bool(item.internal))  # fmt: skip
    actions.do_save_translation(session, actor, article, item.locale, save)
    summary.translations += 1


def _check_consistent(item: ArticleFile, article: Article) -> None:
    """A translation cannot move its article or change its internal flag: that belongs to
    the original file, and two files disagreeing is a mistake to report, not to guess at."""
    if not item.is_translation:
        return
    if item.section is not None and item.section != article.section.path:
        raise ImportFailed([Problem(item.name, "section",
                                    f"differs from article {article.id}'s ({article.section.path})")])  # fmt: skip
    if item.internal is not None and item.internal != article.internal:
        raise ImportFailed([Problem(item.name, "internal",
                                    f"differs from article {article.id}'s ({article.internal})")])  # fmt: skip


def export_folder(session: Session, folder: Path) -> int:
    """Write every translation (drafts and internal articles included) to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for article in queries.list_all_articles(session):
        for translation in article.translations:
            path = folder / f"{article.id}.{translation.locale}.md"
            path.write_text(_file_text(article, translation), encoding="utf-8")
            count += 1
    return count


def _file_text(article: Article, translation: ArticleTranslation) -> str:
    header: dict[str, Any] = {"id": article.id}
    if translation.locale != article.source_locale:
        header["translation_of"] = article.id
    header.update({"locale": translation.locale, "title": translation.title,
                   "section": article.section.path, "tags": list(translation.tags),
                   "internal": article.internal, "status": translation.status})  # fmt: skip
    front = yaml.safe_dump(header, allow_unicode=True, sort_keys=False)
    return f"{DELIMITER}\n{front}{DELIMITER}\n{translation.body}"
