"""What the search API answers."""

from __future__ import annotations

from pydantic import BaseModel


class SearchHitPublic(BaseModel):
    article_id: int
    locale: str
    title: str
    url: str
    snippet: str
    score: float
    semantic: float
    lexical: float


class SearchResults(BaseModel):
    query: str
    locale: str
    hits: list[SearchHitPublic]
