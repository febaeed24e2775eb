"""Keeping the search index in step with the listings, and its command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agorakit.catalog import ListingEvent, listing_texts, published_listing_texts
from agorakit.events import DomainEvent, EventsFailed
from agorakit.plugins.search_tantivy.index import IndexBusy, ListingIndex
from agorakit.runtime import run_with_runtime

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

NAME = "search_tantivy"

#: listings read per statement while the index is rebuilt
REBUILD_BATCH = 5_000


def listing_index(runtime: Runtime) -> ListingIndex:
    """This process's handle on the site's index (opened, or created empty, on first use)."""
    found = getattr(runtime, "_search_index", None)
    if found is None:
        settings = runtime.plugin_settings(NAME)
        # kept on the runtime: one index per site, dropped with it
        found = runtime._search_index = ListingIndex(  # pyright: ignore[reportAttributeAccessIssue]
            index_folder(runtime.settings.source, settings.index_dir),
            refresh_seconds=settings.refresh_seconds,
            writer_heap_mb=settings.writer_heap_mb,
        )
    return found


def index_folder(source: str, index_dir: str) -> Path:
    """``index_dir``; a relative one is in the site config file's folder (two sites
    started from one folder keep their own), or the working directory without a file."""
    folder = Path(index_dir)
    config = Path(source)
    if not folder.is_absolute() and config.is_file():
        folder = config.parent / folder
    return folder


def _listing_id(event: DomainEvent) -> int | None:
    """The listing a listing event is about (None for any other event)."""
    return event.payload.listing_id if isinstance(event.payload, ListingEvent) else None


async def index_listing_events(runtime: Runtime, events: list[DomainEvent]) -> None:
    """Bring the listings these events are about up to date in the index, as the
    database has them now: listed ones (published, of a kind everyone sees) (re)indexed,
    the others dropped.  One read and
    one commit for the batch; another process writing makes the batch fail, and the
    outbox delivers it again."""
    ids = sorted({i for i in map(_listing_id, events) if i is not None})
    if not ids:
        return
    rows = {row["id"]: row for row in await listing_texts(runtime, ids)}
    published = [row for row in rows.values() if row["listed"]]
    gone = [i for i in ids if i not in rows or not rows[i]["listed"]]
    try:
        await listing_index(runtime).apply(published, gone)
    except IndexBusy as busy:
        raise EventsFailed(
            {event.id: str(busy) for event in events if _listing_id(event) is not None}
        ) from busy


async def _published(runtime: Runtime, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
    after = 0
    while True:
        rows = await published_listing_texts(runtime, after=after, limit=batch)
        if not rows:
            return
        yield rows
        after = rows[-1]["id"]


async def rebuild(runtime: Runtime) -> int:
    """Index every published listing anew; returns how many the index holds."""
    return await listing_index(runtime).rebuild(_published(runtime, REBUILD_BATCH))


@click.group(name="search-index")
def command() -> None:
    """The listings' search index (search_tantivy plugin)."""


@command.command(name="rebuild")
@click.pass_context
def rebuild_command(ctx: click.Context) -> None:
    """Index every published listing anew (after enabling the plugin, or restoring a backup)."""

    try:
        count = run_with_runtime(ctx, rebuild)
    except IndexBusy as busy:
        raise click.ClickException(f"{busy}; try again when it is done") from None
    click.echo(f"indexed {count} published listings")


@command.command(name="count")
@click.pass_context
def count_command(ctx: click.Context) -> None:
    """How many listings the index holds (compare with the published listings)."""

    async def count(runtime: Runtime) -> int:
        return listing_index(runtime).count()

    click.echo(str(run_with_runtime(ctx, count)))
