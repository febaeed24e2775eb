"""Keeping the search index in step with the listings, and its command line.

Every served app process follows the listing events of the event feed
(:class:`ListingFollower`, contributed through ``agorakit_event_followers``): every
``refresh_seconds`` it reads the events after the index's stored position, reads those
listings as the database has them now and writes them to the index, then stores the new
position.  Processes of one host share the folder: the one that gets the writer's lock
writes, the others only reload what it committed.  A host with an empty or new folder
builds the index from the database first.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agorakit.catalog import ListingEvent, listing_texts, published_listing_texts
from agorakit.events import (
    DomainEvent,
    EventFollower,
    FeedNotSettled,
    FeedPosition,
    feed_backlog,
    feed_head,
    last_event_id,
    read_feed,
)
from agorakit.plugins.search_tantivy.index import IndexBusy, ListingIndex
from agorakit.runtime import run_with_runtime

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.search")

NAME = "search_tantivy"

#: listings read per statement while the index is rebuilt
REBUILD_BATCH = 5_000
#: how long a listing event's handler waits for this process's follower to apply it
CATCH_UP_SECONDS = 2.0
#: how long ``agorakit search-index rebuild`` waits for another process's batch to end
REBUILD_WAIT_SECONDS = 30.0


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


def listing_follower(runtime: Runtime) -> ListingFollower:
    """This process's follower of the listing events (one per runtime)."""
    found = getattr(runtime, "_search_follower", None)
    if found is None:
        found = runtime._search_follower = ListingFollower(runtime)  # pyright: ignore[reportAttributeAccessIssue]
    return found


def index_folder(source: str, index_dir: str) -> Path:
    """``index_dir``; a relative one is in the site config file's folder (two sites
    started from one folder keep their own), or the working directory without a file."""
    folder = Path(index_dir)
    config = Path(source)
    if not folder.is_absolute() and config.is_file():
        folder = config.parent / folder
    return folder


def listing_event_names(runtime: Runtime) -> frozenset[str]:
    """The names of the registered listing events (the ones the index follows)."""
    return frozenset(
        name for name, cls in runtime.event_types.by_name.items() if issubclass(cls, ListingEvent)
    )


def _listing_id(event: DomainEvent) -> int | None:
    """The listing a listing event is about (None for any other event)."""
    return event.payload.listing_id if isinstance(event.payload, ListingEvent) else None


async def _changes(runtime: Runtime, events: list[DomainEvent]) -> tuple[list[dict[str, Any]], list[int]]:
    """What the index must hold of the listings ``events`` are about, as the database has
    them now: the listed ones (published, of a kind everyone sees) to (re)index, the
    others' ids to drop."""
    ids = sorted({i for i in map(_listing_id, events) if i is not None})
    rows = {row["id"]: row for row in await listing_texts(runtime, ids)}
    listed = [row for row in rows.values() if row["listed"]]
    gone = [i for i in ids if i not in rows or not rows[i]["listed"]]
    return listed, gone


class ListingFollower(EventFollower):
    """Keeps this host's index in step with the listing events, from its stored position."""

    name = NAME

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.interval = runtime.plugin_settings(NAME).refresh_seconds
        self.names = listing_event_names(runtime)
        #: whether this process has checked the stored position against the outbox
        self.checked = False
        #: whether this process is building the index from the database right now
        self.rebuilding = False

    async def step(self, runtime: Runtime) -> bool:
        index = listing_index(runtime)
        position = index.position()
        if position is None or not self.checked:
            if position is None or await _ahead_of_outbox(runtime, position):
                return await self._rebuild(runtime, index)  # built: read on from the head at once
            self.checked = True
        batch = await read_feed(runtime, position, names=self.names, limit=self.limit)
        if not batch.events and batch.position == position:
            return False  # nothing new (what another process wrote, rank() reloads)
        try:
            async with index.writing() as write:
                if index.position() != position:
                    return True  # another process of this host moved on: read from there
                upserts, deletes = await _changes(runtime, batch.events)
                await write.apply(upserts, deletes)
                await write.commit(batch.position)
        except IndexBusy:
            return False  # another process of this host is writing: it applies these
        return batch.more

    async def _rebuild(self, runtime: Runtime, index: ListingIndex) -> bool:
        """Build the index from the database (a new or empty folder), unless another
        process of this host is doing it; returns whether there is a position to read on
        from now."""
        self.rebuilding = True
        try:
            async with index.writing() as write:
                position = index.position()
                if position is not None and not await _ahead_of_outbox(runtime, position):
                    self.checked = True
                    return True  # another process built it meanwhile
                log.info("building the search index in %s from the database", index.folder)
                await _build(runtime, write)
                self.checked = True
                return True
        except IndexBusy:
            log.info("another process is writing the search index in %s; waiting for it", index.folder)
            return False
        finally:
            self.rebuilding = False


async def _ahead_of_outbox(runtime: Runtime, position: FeedPosition) -> bool:
    """Whether ``position`` is past the last stored event: the index was fed from another
    database (a restored backup, a copied folder) and must be built again."""
    last = await last_event_id(runtime)
    if position.after > last:
        log.warning("the search index's position (%d) is past the last event (%d)", position.after, last)
        return True
    return False


async def _build(runtime: Runtime, write: Any) -> int:
    """Index every published listing anew and set the position to the feed's head, taken
    before the listings are read: what changes meanwhile comes through the feed."""
    head = await feed_head(runtime)
    await write.replace_all(_published(runtime, REBUILD_BATCH))
    await write.commit(head)
    return head.after


async def nudge(runtime: Runtime, events: list[DomainEvent]) -> None:
    """Have this process's follower apply listing events now (those committed through this
    process: searchable without waiting for the next poll), at most
    :data:`CATCH_UP_SECONDS`; nothing in a process that does not follow (the worker)."""
    follower = listing_follower(runtime)
    if not follower.running or not any(_listing_id(event) is not None for event in events):
        return
    if follower.rebuilding:
        follower.nudge()
        return
    await follower.catch_up(timeout=CATCH_UP_SECONDS)


async def _published(runtime: Runtime, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
    after = 0
    while True:
        rows = await published_listing_texts(runtime, after=after, limit=batch)
        if not rows:
            return
        yield rows
        after = rows[-1]["id"]


async def rebuild(runtime: Runtime, *, wait: float = REBUILD_WAIT_SECONDS) -> int:
    """Index every published listing anew and reset the position to the feed's head;
    returns how many listings the index holds."""
    index = listing_index(runtime)
    async with index.writing(wait=wait) as write:
        await _build(runtime, write)
    return index.count()


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
    except FeedNotSettled as waiting:
        raise click.ClickException(str(waiting)) from None
    click.echo(f"indexed {count} published listings")


@command.command(name="count")
@click.pass_context
def count_command(ctx: click.Context) -> None:
    """How many listings the index holds (compare with the published listings)."""

    async def count(runtime: Runtime) -> int:
        return listing_index(runtime).count()

    click.echo(str(run_with_runtime(ctx, count)))


@command.command(name="status")
@click.pass_context
def status_command(ctx: click.Context) -> None:
    """The index's position in the event feed and the listing events after it."""

    for line in run_with_runtime(ctx, status_lines):
        click.echo(line)


async def status_lines(runtime: Runtime) -> list[str]:
    """What ``agorakit search-index status`` prints: the stored position, the ids below it
    still awaited, and how many listing events the index has not applied yet."""
    position = listing_index(runtime).position()
    if position is None:
        return [
            "position: none (the index is built when the app starts, or by `agorakit search-index rebuild`)"
        ]
    lines = [f"position: event {position.after}"]
    if position.missing:
        ids = ", ".join(str(gap.id) for gap in position.missing[:10])
        more = ", ..." if len(position.missing) > 10 else ""
        lines.append(f"awaited: {len(position.missing)} events below it not committed yet ({ids}{more})")
    backlog = await feed_backlog(runtime, position, names=listing_event_names(runtime))
    lines.append(f"backlog: {backlog} listing events after it")
    return lines
