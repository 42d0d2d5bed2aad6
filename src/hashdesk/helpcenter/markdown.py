"""Article Markdown to safe HTML.

Two layers, on purpose: markdown-it runs with raw HTML off (a ``<script>`` in an article is
shown as text), and nh3 then keeps only the tags and attributes an article needs, so a link
to ``javascript:`` or an attribute smuggled through Markdown cannot reach a reader either.
Only the result of ``render_markdown`` may be marked safe in a template.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset({
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "img",
    "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "s",
})  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# An image may come from our own uploads (a relative address) or an http(s) address; a
# ``mailto:`` (allowed for links) makes no sense as an image source and is dropped.
IMAGE_SCHEMES = frozenset({"", "http", "https"})  # "": a relative address


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _only_web_image_sources(tag: str, attribute: str, value: str) -> str | None:
    if tag != "img" or attribute != "src":
        return value
    scheme = urlsplit(value).scheme.lower()
    return value if scheme in IMAGE_SCHEMES else None


def render_markdown(text: str) -> Markup:
    html = _parser().render(text)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        attribute_filter=_only_web_image_sources,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - sanitised by nh3 just above
