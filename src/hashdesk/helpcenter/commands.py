"""``hashdesk helpcenter import PATH``, ``hashdesk helpcenter export PATH`` and
``hashdesk helpcenter embed``.

The command line acts as the system (audited as such). An import names every file and field
at fault and writes nothing unless the whole folder is good; with Redis configured its
publish events reach every running node, so the public pages change at once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hashdesk.config import get_settings
from hashdesk.core.auth import SYSTEM
from hashdesk.core.command_session import command_transaction
from hashdesk.helpcenter.transfer import (
    FAQ_SECTION,
    ImportFailed,
    do_import_source,
    export_folder,
    read_source,
)

if TYPE_CHECKING:
    from hashdesk.helpcenter.search import VectorCache

EMBED_BATCH = 64  # pages per step of the progress bar (and per call of the encoders)
WHAT_WAS_READ = {"markdown": "files", "zendesk": "Zendesk article texts",
                 "faq": "FAQ entries"}  # fmt: skip


@click.group()
def helpcenter() -> None:
    """Help-center articles: import (Markdown, Zendesk, FAQ bank), export (Markdown) and
    the search vectors (embed)."""


@helpcenter.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--section", default=FAQ_SECTION, show_default=True,
              help="category/section for the articles of a FAQ bank")  # fmt: skip
def import_(path: Path, section: str) -> None:
    """Import PATH (all or nothing): a folder of Markdown files, a Zendesk Help Center JSON
    export (a file, or a folder of categories/sections/articles/translations JSON), or a FAQ
    bank JSON file. The format is recognised from the content."""
    try:
        source = read_source(path, faq_section=section)
        with command_transaction() as session:
            summary = do_import_source(session, SYSTEM, source)
    except ImportFailed as failure:
        for problem in failure.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(
            f"Nothing imported: {len(failure.problems)} problem(s) in {path}."
        ) from failure
    what = WHAT_WAS_READ[source.format]
    click.echo(f"Imported {len(source.files)} {what}: {summary.articles} new articles, "
               f"{summary.translations} translations written.")  # fmt: skip


@helpcenter.command("export")
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
def export(path: Path) -> None:
    """Write every article translation to PATH as Markdown with front matter."""
    try:
        with command_transaction() as session:
            count = export_folder(session, path)
    except OSError as error:
        raise click.ClickException(f"Cannot write to {path}: {error.strerror}") from error
    click.echo(f"Exported {count} files to {path}.")


@helpcenter.command("embed")
def embed() -> None:
    """Compute the search vectors of every published page into this node's vector cache
    (HASHDESK_SEARCH_VECTOR_CACHE). A node started afterwards has them from its first
    request; otherwise it embeds them in the background, and until then the assistant
    hands every question to a person. Pages already in the cache are read back."""
    from hashdesk.helpcenter.search import SearchIndex, vector_cache_for  # loads the encoders
    from hashdesk.helpcenter.search.documents import load_documents

    cache = vector_cache_for(get_settings())
    if cache is None:
        raise click.ClickException(
            "No vector cache is configured (HASHDESK_SEARCH_VECTOR_CACHE is empty): "
            "there is nowhere to keep the vectors."
        )
    started, before = time.perf_counter(), cache.count()
    _require_usable(cache)  # found before hours of embedding, not after
    with command_transaction() as session:
        documents = load_documents(session)
    index = SearchIndex(vector_cache=cache)
    index.add_documents(documents, embed=False)  # the words, and the vectors already kept
    with click.progressbar(length=index.pending_embeddings(), label="Embedding pages") as bar:
        while done := index.embed_pending(EMBED_BATCH):
            bar.update(done)
    _require_usable(cache)
    click.echo(f"Search vectors ready for {len(index)} pages in "
               f"{time.perf_counter() - started:.1f} s: {cache.count() - before} passage vectors "
               f"computed, the others read back from {cache.path}.")  # fmt: skip


def _require_usable(cache: VectorCache) -> None:
    if not cache.usable:
        raise click.ClickException(f"Cannot use the vector cache {cache.path} (see above).")


COMMANDS = [helpcenter]
