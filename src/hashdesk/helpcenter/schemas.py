"""What an editor (or an import file) sends for one article translation."""

from __future__ import annotations

from pydantic import BaseModel, Field

from hashdesk.helpcenter.models import ArticleStatus

SECTION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}/[a-z0-9][a-z0-9-]{0,63}$"


class TranslationSave(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=200_000)
    tags: list[str] = Field(default_factory=list, max_length=30)
    status: ArticleStatus = ArticleStatus.DRAFT


class ArticleCreate(TranslationSave):
    section: str = Field(pattern=SECTION_PATTERN)
    locale: str = "en"
    internal: bool = False
    # Set by an import, which keeps the ids (and so the addresses) of the help center it moves in.
    id: int | None = Field(default=None, gt=0)


class EditorSave(TranslationSave):
    """The editor's form: one translation's text plus the article's own settings."""

    section: str = Field(pattern=SECTION_PATTERN)
    internal: bool = False


class RelatedSet(BaseModel):
    """An article's "Related articles", in the order readers see them."""

    related_ids: list[int] = Field(default_factory=list, max_length=10)
