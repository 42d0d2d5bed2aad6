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

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nh3
import yaml
from markdownify import markdownify
from sqlalchemy.orm import Session

from hashdesk.core.auth import Principal
from hashdesk.core.errors import DomainError
from hashdesk.core.i18n import LOCALES, match_locale
from hashdesk.helpcenter import actions, queries
from hashdesk.helpcenter.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES
from hashdesk.helpcenter.models import Article, ArticleStatus, ArticleTranslation
from hashdesk.helpcenter.schemas import SECTION_PATTERN, ArticleCreate, TranslationSave

MAX_ARTICLE_ID = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
    # From another system (Zendesk, a FAQ bank): ``article_id`` is that system's until
    # ``_resolve_ids`` maps it to ours; ``external_id`` when that id is not a number.
    external: bool = False
    external_id: str | None = None


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
        # The C parser when PyYAML has it: several times faster on a large folder.
        header = yaml.load("".join(lines[1:end]), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
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
    if value > MAX_ARTICLE_ID:
        raise ValueError(f"must be at most {MAX_ARTICLE_ID}")
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
    # Every article the files name, with its translations, in one query (not one per file).
    articles = queries.get_articles(session, {item.article_id for item in files})
    for item in sorted(files, key=lambda f: (f.is_translation, f.article_id, f.locale)):
        try:
            _import_one(session, actor, item, summary, articles)
        except DomainError as error:
            raise ImportFailed([Problem(item.name, error.field or "file", str(error))]) from error
    actions.do_sync_id_sequence(session)
    return summary


def _import_one(
    session: Session, actor: Principal, item: ArticleFile, summary: ImportSummary,
    articles: dict[int, Article],
) -> None:  # fmt: skip
    article = articles.get(item.article_id)
    save = TranslationSave(title=item.title, body=item.body, tags=item.tags, status=item.status)
    if article is None:
        if item.is_translation:
            raise ImportFailed([Problem(item.name, "translation_of",
                                        f"no article {item.article_id} here or in the database")])  # fmt: skip
        data = ArticleCreate(**save.model_dump(), id=item.article_id, locale=item.locale,
                             section=item.section, internal=bool(item.internal))  # fmt: skip
        articles[item.article_id] = actions.do_create_article(session, actor, data)
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


# --- other formats: a Zendesk Help Center export and a FAQ bank -----------------------------
#
# ``read_source`` tells the formats apart by their content, not by names: a folder of ``.md``
# files; JSON documents shaped like the Zendesk Help Center API's answers
# (``{"categories": [...]}``, ``{"sections": [...]}``, ``{"articles": [...]}``,
# ``{"translations": [...]}``, one file each or several pages of each); or a FAQ bank
# (``[{"faq_id", "question", "answers": [...]}, ...]``). Articles from another system keep
# their ids when those are free here; otherwise they get new ones, and the mapping is kept in
# ``help_imported_ids`` so that importing the same export again updates the same articles.

MARKDOWN, ZENDESK, FAQ = "markdown", "zendesk", "faq"
ZENDESK_KEYS = ("categories", "sections", "articles", "translations")
FAQ_SECTION = "faq/general"
# Tags an imported Zendesk body may keep on its way to Markdown; everything else is unwrapped
# (its text kept) and script/style dropped with their content.
IMPORT_HTML_TAGS = ALLOWED_TAGS | {"div", "span", "figure", "figcaption", "b", "i", "u", "del",
                                  "sub", "sup", "dl", "dt", "dd", "kbd", "samp"}  # fmt: skip


@dataclass
class ImportSource:
    """What ``read_source`` found: the files to write and, for another help desk's export,
    the names its categories and sections had."""

    format: str
    files: list[ArticleFile]
    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # section path → names


def read_source(path: Path, faq_section: str = FAQ_SECTION) -> ImportSource:
    if path.is_dir():
        markdown = any(path.rglob("*.md"))
        documents = sorted(path.rglob("*.json"))
        if markdown and documents:
            raise ImportFailed([Problem(str(path), "path", "holds both .md and .json files; "
                                        "import one format at a time")])  # fmt: skip
        if markdown:
            return ImportSource(MARKDOWN, read_folder(path))
        if not documents:
            raise ImportFailed([Problem(str(path), "path", "no .md or .json files in this folder")])
        return _read_json(path, documents, faq_section)
    if path.is_file() and path.suffix.lower() == ".json":
        return _read_json(path.parent, [path], faq_section)
    if path.is_file() and path.suffix.lower() == ".md":
        return ImportSource(MARKDOWN, [read_file(path, path.name)])
    raise ImportFailed([Problem(str(path), "path", "not a folder, .md or .json file")])


def _read_json(base: Path, documents: list[Path], faq_section: str) -> ImportSource:
    loaded: list[tuple[str, Any]] = []
    problems: list[Problem] = []
    for document in documents:
        name = str(document.relative_to(base)) if document.is_relative_to(base) else document.name
        try:
            loaded.append((name, json.loads(document.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(name, "file", f"cannot be read as UTF-8 text ({error})"))
        except json.JSONDecodeError as error:
            problems.append(Problem(name, "file", f"not valid JSON (line {error.lineno}: "
                                                  f"{error.msg})"))  # fmt: skip
    if problems:
        raise ImportFailed(problems)
    kinds = {name: _json_kind(content) for name, content in loaded}
    unknown = [name for name, kind in kinds.items() if kind is None]
    if unknown:
        raise ImportFailed([Problem(name, "format", "unknown: expected a Zendesk Help Center "
                                    'export ({"articles": [...]}, {"sections": [...]}, '
                                    '{"categories": [...]}, {"translations": [...]}) or a FAQ '
                                    'bank ([{"faq_id", "question", "answers"}, ...])')
                            for name in unknown])  # fmt: skip
    if len(set(kinds.values())) > 1:
        raise ImportFailed([Problem(documents[0].parent.name or str(base), "format",
                                    "mixes a Zendesk export and a FAQ bank; import one at a time")])  # fmt: skip
    if FAQ in kinds.values():
        return read_faq_bank(loaded, faq_section)
    return read_zendesk(loaded)


def _json_kind(content: Any) -> str | None:
    if isinstance(content, dict) and any(key in content for key in ZENDESK_KEYS):
        return ZENDESK
    if (
        isinstance(content, list)
        and content
        and all(isinstance(item, dict) and "question" in item for item in content)
    ):
        return FAQ
    return None


# --- Zendesk ---------------------------------------------------------------------------------


@dataclass
class _ZendeskExport:
    categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    sections: dict[int, dict[str, Any]] = field(default_factory=dict)
    articles: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    translations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def read_zendesk(documents: list[tuple[str, Any]]) -> ImportSource:
    export, problems = _ZendeskExport(), []
    for name, content in documents:
        for key in ZENDESK_KEYS:
            items = content.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                problems.append(Problem(name, key, "must be a list"))
                continue
            problems.extend(_collect(export, name, key, items))
    paths, names = _section_paths(export, problems)
    files = _zendesk_files(export, paths, problems)
    problems.extend(_duplicates(files))
    if problems:
        raise ImportFailed(problems)
    if not files:
        raise ImportFailed([Problem(documents[0][0], "articles", "the export has no articles")])
    return ImportSource(ZENDESK, files, names)


def _collect(export: _ZendeskExport, name: str, key: str, items: list[Any]) -> list[Problem]:
    problems = []
    for index, item in enumerate(items):
        where = f"{name}: {key}[{index}]"
        if not isinstance(item, dict):
            problems.append(Problem(where, "item", "must be an object"))
            continue
        if not _is_id(item.get("id")) and key != "translations":
            problems.append(Problem(where, "id", "must be a positive whole number"))
            continue
        if key == "categories":
            _keep_source_locale(export.categories, item)
        elif key == "sections":
            _keep_source_locale(export.sections, item)
        elif key == "articles":
            export.articles.append((f"{where} (id {item['id']})", item))
        else:
            export.translations.append((where, item))
    return problems


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _keep_source_locale(found: dict[int, dict[str, Any]], item: dict[str, Any]) -> None:
    """Categories and sections come once per locale in a per-locale export; keep the one in
    the source locale (its name is the original)."""
    current = found.get(item["id"])
    if current is None or item.get("locale") == item.get("source_locale"):
        found[item["id"]] = item


def zendesk_slug(name: Any, fallback: str) -> str:
    """A section-path part (``[a-z0-9-]``, as import files write it) from a Zendesk name."""
    text = name if isinstance(name, str) else ""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")
    return slug or fallback


def _section_paths(
    export: _ZendeskExport, problems: list[Problem]
) -> tuple[dict[int, str], dict[str, tuple[str, str]]]:
    """Our ``category/section`` path for each Zendesk section id, unique even when two
    sections share a name (the id is appended then)."""
    category_slugs: dict[int, str] = {}
    used: set[str] = set()
    for category_id, category in sorted(export.categories.items()):
        slug = zendesk_slug(category.get("name"), f"category-{category_id}")
        slug = f"{slug}-{category_id}"[:64] if slug in used else slug
        used.add(slug)
        category_slugs[category_id] = slug
    paths: dict[int, str] = {}
    names: dict[str, tuple[str, str]] = {}
    for section_id, section in sorted(export.sections.items()):
        parent: Any = section.get("category_id")
        if export.categories and parent not in export.categories:
            problems.append(Problem(f"sections (id {section_id})", "category_id",
                                    f"no category {parent} in this export"))  # fmt: skip
            continue
        category_slug = category_slugs.get(parent, "help") if _is_id(parent) else "help"
        slug = zendesk_slug(section.get("name"), f"section-{section_id}")
        path = f"{category_slug}/{slug}"
        if path in names:
            path = f"{category_slug}/{slug}-{section_id}"[: 64 + len(category_slug) + 1]
        category = export.categories.get(parent, {})
        names[path] = (str(category.get("name") or category_slug)[:120],
                       str(section.get("name") or slug)[:120])  # fmt: skip
        paths[section_id] = path
    return paths, names


def _zendesk_files(
    export: _ZendeskExport, paths: dict[int, str], problems: list[Problem]
) -> list[ArticleFile]:
    files: list[ArticleFile] = []
    seen: set[tuple[int, str]] = set()
    # The entry in the article's source locale is the original; other locales translate it.
    ordered = sorted(export.articles, key=lambda pair: (pair[1].get("locale") !=
                                                        pair[1].get("source_locale")))  # fmt: skip
    originals: set[int] = set()
    for where, item in ordered:
        made = _zendesk_article(where, item, paths, problems, item["id"] in originals)
        if made is not None and (made.article_id, made.locale) not in seen:
            seen.add((made.article_id, made.locale))
            originals.add(made.article_id)
            files.append(made)
    for where, item in export.translations:
        if str(item.get("source_type", "")).lower() != "article":
            continue  # section and category names: we keep one name per section
        made = _zendesk_translation(where, item, problems)
        if made is not None and (made.article_id, made.locale) not in seen:
            seen.add((made.article_id, made.locale))
            files.append(made)
    return files


def _zendesk_article(
    where: str, item: dict[str, Any], paths: dict[int, str], problems: list[Problem],
    is_translation: bool,
) -> ArticleFile | None:  # fmt: skip
    found: list[Problem] = []
    section_id: Any = item.get("section_id")
    section = paths.get(section_id) if _is_id(section_id) else None
    if section is None and (paths or not _is_id(section_id)):
        found.append(Problem(where, "section_id", f"no section {section_id} in this export"))
    elif section is None:
        section = f"help/section-{section_id}"  # an export of articles alone
    made = _zendesk_text(where, item, found, is_translation)
    if made is not None:
        made.section = section
        # A Zendesk user segment limits who may read; the nearest we have is "internal".
        made.internal = item.get("user_segment_id") is not None
        made.tags = _labels(where, item.get("label_names"), found)
    problems.extend(found)
    return None if found else made


def _zendesk_translation(
    where: str, item: dict[str, Any], problems: list[Problem]
) -> ArticleFile | None:
    found: list[Problem] = []
    if not _is_id(item.get("source_id")):
        found.append(Problem(where, "source_id", "must be a positive whole number"))
        problems.extend(found)
        return None
    made = _zendesk_text(where, {**item, "id": item["source_id"]}, found, True)
    problems.extend(found)
    return None if found else made


def _zendesk_text(
    where: str, item: dict[str, Any], found: list[Problem], is_translation: bool
) -> ArticleFile | None:
    locale = match_locale(item.get("locale")) if isinstance(item.get("locale"), str) else None
    if locale is None:
        found.append(Problem(where, "locale", f"{item.get('locale')!r} is not one of ours "
                                              f"({', '.join(LOCALES)})"))  # fmt: skip
    title = item.get("title") if isinstance(item.get("title"), str) else item.get("name")
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
        found.append(Problem(where, "title", "required, 1 to 200 characters"))
    body = item.get("body")
    markdown = html_to_markdown(body) if isinstance(body, str) else ""
    if not markdown.strip():
        found.append(Problem(where, "body", "the article has no text"))
    draft = item.get("draft", False)
    if not isinstance(draft, bool):
        found.append(Problem(where, "draft", "must be true or false"))
    if found or locale is None or not isinstance(title, str):
        return None
    status = ArticleStatus.DRAFT if draft else ArticleStatus.PUBLISHED
    return ArticleFile(name=where, article_id=item["id"], locale=locale, title=title.strip(),
                       body=markdown, status=status, is_translation=is_translation,
                       external=True)  # fmt: skip


def _labels(where: str, value: Any, found: list[Problem]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        found.append(Problem(where, "label_names", "must be a list of words"))
        return []
    labels = [label.strip()[:64] for label in value if label.strip()]
    return list(dict.fromkeys(labels))[:30]


def html_to_markdown(html: str) -> str:
    """An imported HTML body as Markdown. The HTML is sanitised first (only the tags an
    article may have, only http(s)/mailto links, script and style dropped with their text),
    so nothing unsafe survives even as Markdown text."""
    cleaned = nh3.clean(html, tags=set(IMPORT_HTML_TAGS),
                        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
                        url_schemes=set(URL_SCHEMES))  # fmt: skip
    text = markdownify(cleaned, heading_style="ATX", bullets="-", escape_misc=False)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --- a FAQ bank ------------------------------------------------------------------------------


def read_faq_bank(documents: list[tuple[str, Any]], section: str = FAQ_SECTION) -> ImportSource:
    """Each entry becomes an English article: the question as title, the answers as the
    body's paragraphs, all in ``section``."""
    if not re.match(SECTION_PATTERN, section):
        raise ImportFailed([Problem("--section", "section", "must look like category/section")])
    files: list[ArticleFile] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for name, entries in documents:
        for index, entry in enumerate(entries):
            where = f"{name}: [{index}]"
            key = str(entry.get("faq_id"))
            if key in seen:
                problems.append(Problem(where, "faq_id", f"{key} is also used by {seen[key]}"))
            seen.setdefault(key, where)
            made = _faq_entry(where, entry, section, problems)
            if made is not None:
                files.append(made)
    if problems:
        raise ImportFailed(problems)
    return ImportSource(FAQ, files)


def _faq_entry(
    where: str, entry: dict[str, Any], section: str, problems: list[Problem]
) -> ArticleFile | None:
    found: list[Problem] = []
    faq_id = entry.get("faq_id")
    if isinstance(faq_id, bool) or not isinstance(faq_id, int | str) or str(faq_id) == "":
        found.append(Problem(where, "faq_id", "required: a number or a short text"))
    elif len(str(faq_id)) > 64:
        found.append(Problem(where, "faq_id", "at most 64 characters"))
    question = entry.get("question")
    if not isinstance(question, str) or not question.strip() or len(question.strip()) > 200:
        found.append(Problem(where, "question", "required, 1 to 200 characters"))
    answers = entry.get("answers")
    if not isinstance(answers, list) or not all(isinstance(answer, str) for answer in answers):
        found.append(Problem(where, "answers", "must be a list of texts"))
    elif not any(answer.strip() for answer in answers):
        found.append(Problem(where, "answers", "needs at least one answer"))
    problems.extend(found)
    if found:
        return None
    assert isinstance(question, str) and isinstance(answers, list)
    body = "\n\n".join(" ".join(answer.split()) for answer in answers if answer.strip()) + "\n"
    return ArticleFile(name=f"{where} (faq_id {faq_id})", article_id=_faq_key(faq_id),
                       locale="en", title=question.strip(), body=body, section=section,
                       external=True, external_id=str(faq_id))  # fmt: skip


def _faq_key(faq_id: Any) -> int:
    """A stand-in article number until ``_resolve_ids`` maps the FAQ id to ours (FAQ ids may
    be 0 or text); only used to tell entries apart."""
    text = str(faq_id)
    return int(text) + 1 if text.isdigit() else -abs(hash(text)) - 1


# --- writing another system's articles --------------------------------------------------------


def do_import_source(session: Session, actor: Principal, source: ImportSource) -> ImportSummary:
    """Write what ``read_source`` found (all or nothing: the caller's transaction)."""
    if source.format != MARKDOWN:
        ours = _resolve_ids(session, source)
        if source.format == ZENDESK:
            _rewrite_links(source.files, ours)
    for path, (category_name, section_name) in source.names.items():
        actions.do_name_section(session, actor, path, category_name, section_name)
    return do_import(session, actor, source.files)


def _resolve_ids(session: Session, source: ImportSource) -> dict[str, int]:
    """Give every imported article our id: the one an earlier import gave it, else its own
    when that is free here, else the next free one; new mappings are recorded."""
    known = queries.imported_ids(session, source.format)
    taken = queries.article_ids(session)
    ours: dict[str, int] = {}
    next_free = max(taken | set(known.values()), default=0) + 1
    problems: list[Problem] = []
    for item in sorted(source.files, key=lambda f: (f.is_translation, f.article_id)):
        external = item.external_id or str(item.article_id)
        if external not in ours and external in known:
            ours[external] = known[external]
        elif external not in ours and not item.is_translation:
            wanted = int(external) if external.isdigit() else 0
            if (
                0 < wanted <= MAX_ARTICLE_ID
                and wanted not in taken
                and wanted not in known.values()
            ):
                ours[external] = wanted
            else:
                ours[external], next_free = next_free, next_free + 1
            taken.add(ours[external])
            actions.do_record_imported_id(session, source.format, "article", external,
                                          ours[external])  # fmt: skip
        if external not in ours:
            problems.append(Problem(item.name, "source_id",
                                    f"no article {external} in this export or an earlier import"))  # fmt: skip
            continue
        item.article_id = ours[external]
    if problems:
        raise ImportFailed(problems)
    return {**known, **ours}


# A link to a Zendesk article, absolute or relative: /hc/en-us/articles/360001234-Some-title
ZENDESK_LINK = re.compile(r"\]\((?:https?://[^/\s()]+)?/hc/([A-Za-z-]+)/articles/(\d+)[^\s()]*\)")


def _rewrite_links(files: list[ArticleFile], ours: dict[str, int]) -> None:
    """Point links between the imported articles at their new addresses here; links to
    articles the export does not hold are left as they were."""

    def ours_for(match: re.Match[str]) -> str:
        locale, article = match_locale(match.group(1)), ours.get(match.group(2))
        if locale is None or article is None:
            return match.group(0)
        return f"](/hc/{locale}/articles/{article})"

    for item in files:
        item.body = ZENDESK_LINK.sub(ours_for, item.body)
