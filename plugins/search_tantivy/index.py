"""The listings' search index: tantivy (a Rust search library, like Lucene) on disk.

It holds the published listings' titles and descriptions, stemmed (English) and scored
with BM25, the title counting five times the description.  tantivy keeps each term's
postings in blocks with their best score, so the best 20 of a word found in ten thousand
listings are found without scoring them all (block-max WAND): a search costs about the
same at a million listings as at ten thousand.

The folder belongs to one host.  Next to tantivy's files it holds the index's position in
the event feed (``agorakit-position.json``: which listing events it has applied), written
after each commit of the index while the writer's lock is held.  One process writes at a
time (tantivy's lock file, ``.tantivy-writer.lock``); every process of the host reads,
and reloads what another committed every ``refresh_seconds``.  The database stays the
authority: the core checks every id this index ranks against it (published, the
request's filters), so a listing paused a moment ago and still in the index is never
shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import msgspec
import tantivy

from agorakit.events import FeedPosition

log = logging.getLogger("agorakit.search")

#: the title counts this many times the description in a listing's score
TITLE_BOOST = 5.0
#: the index's position in the event feed, in its folder
POSITION_FILE = "agorakit-position.json"


class IndexBusy(Exception):
    """Another process is writing to the index."""


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("title", tokenizer_name="en_stem", index_option="freq")
    builder.add_text_field("description", tokenizer_name="en_stem", index_option="freq")
    return builder.build()


class ListingIndex:
    """One process's handle on the index folder: searches, and writes a batch at a time."""

    def __init__(self, folder: Path, *, refresh_seconds: float, writer_heap_mb: int) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "meta.json").exists():
            # a new index: a position left in the folder belongs to an index that is gone
            (folder / POSITION_FILE).unlink(missing_ok=True)
        self.index = tantivy.Index(_schema(), path=str(folder), reuse=True)
        self.refresh_seconds = refresh_seconds
        self.writer_heap = writer_heap_mb * 1_000_000
        self._loaded = 0.0
        #: one batch of writes at a time in this process (tantivy allows one writer)
        self.writing_lock = asyncio.Lock()

    # ----------------------------------------------------------------------------------
    # Reading
    # ----------------------------------------------------------------------------------

    def rank(self, words: list[str], offset: int, limit: int) -> list[int] | None:
        """Ids of the listings matching every word, best first, from ``offset``; None when
        the index is empty (not built yet) or the words make no query: the database
        ranks then."""
        self.refresh()
        # Words are \w+ runs, lower case: no query syntax reaches the parser.
        try:
            query = self.index.parse_query(
                " ".join(words),
                ["title", "description"],
                field_boosts={"title": TITLE_BOOST},
                conjunction_by_default=True,
            )
        except ValueError as exc:
            log.warning("search words %r make no tantivy query (%s); the database ranks them", words, exc)
            return None
        searcher = self.index.searcher()
        if not searcher.num_docs:
            return None  # not built yet (or nothing published): the database ranks
        hits = searcher.search(query, limit, count=False, offset=offset).hits
        return [searcher.doc(address)["id"][0] for _, address in hits]

    def count(self) -> int:
        self.refresh(force=True)
        return self.index.searcher().num_docs

    def refresh(self, *, force: bool = False) -> None:
        """See what was committed since the last reload (by any process), at most every
        ``refresh_seconds`` unless ``force``."""
        now = time.monotonic()
        if force or now - self._loaded >= self.refresh_seconds:
            self.index.reload()
            self._loaded = now

    # ----------------------------------------------------------------------------------
    # The position in the event feed
    # ----------------------------------------------------------------------------------

    @property
    def position_path(self) -> Path:
        return self.folder / POSITION_FILE

    def position(self) -> FeedPosition | None:
        """The listing events the index has applied; None when it has none yet (a new
        folder, or one from before positions were kept): it must be built."""
        try:
            data = self.position_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return FeedPosition.decode(data)
        except msgspec.DecodeError:
            log.warning("%s is not a position; the index will be built again", self.position_path)
            return None

    def _save_position(self, position: FeedPosition) -> None:
        """Replace the stored position in one step (a reader sees the old or the new one)."""
        temporary = self.folder / f".{POSITION_FILE}.{os.getpid()}"
        with temporary.open("wb") as file:
            file.write(position.encode())
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(self.position_path)

    # ----------------------------------------------------------------------------------
    # Writing
    # ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def writing(self, *, wait: float = 0.0) -> AsyncIterator[IndexWrite]:
        """Hold the index's writer (its lock file) for one batch: :meth:`IndexWrite.apply`
        or :meth:`IndexWrite.replace_all`, then :meth:`IndexWrite.commit`.  Raises
        :class:`IndexBusy` when another process holds it for more than ``wait`` seconds.
        Leaving the block without a commit discards the batch."""
        async with self.writing_lock:
            writer = await self._take_writer(wait)
            write = IndexWrite(self, writer)
            try:
                yield write
            finally:
                await asyncio.to_thread(_release, writer, write.committed)
        self.refresh(force=True)

    async def _take_writer(self, wait: float) -> Any:
        deadline = time.monotonic() + wait
        while True:
            try:
                return await asyncio.to_thread(self._writer)
            except IndexBusy:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.1)

    def _writer(self) -> Any:
        try:
            return self.index.writer(heap_size=self.writer_heap, num_threads=1)
        except ValueError as exc:  # tantivy's "LockBusy": another process writes
            if "lock" in str(exc).lower():
                raise IndexBusy(
                    f"the search index {self.folder} is being written by another process"
                ) from exc
            raise


class IndexWrite:
    """One batch of writes, under the writer's lock (:meth:`ListingIndex.writing`).

    Writing runs in a thread, so the event loop goes on meanwhile."""

    def __init__(self, index: ListingIndex, writer: Any) -> None:
        self.index = index
        self.writer = writer
        self.committed = False

    async def apply(self, upserts: list[dict[str, Any]], deletes: Iterable[int]) -> None:
        """(Re)index ``upserts`` (rows with id, title, description) and drop ``deletes`` (ids)."""
        await asyncio.to_thread(self._apply, upserts, list(deletes))

    def _apply(self, upserts: list[dict[str, Any]], deletes: list[int]) -> None:
        for listing_id in {*deletes, *(row["id"] for row in upserts)}:
            self.writer.delete_documents_by_term("id", int(listing_id))
        _add_all(self.writer, upserts)

    async def replace_all(self, batches: Any) -> None:
        """Drop every listing and index the rows of ``batches`` (an async iterator of row
        lists) instead."""
        await asyncio.to_thread(self.writer.delete_all_documents)
        async for rows in batches:
            await asyncio.to_thread(_add_all, self.writer, rows)

    async def commit(self, position: FeedPosition) -> None:
        """Commit the batch, then store ``position`` (the events it applied), before the
        lock is released: a crash in between applies the same events again, which
        changes nothing."""
        await asyncio.to_thread(self.writer.commit)
        self.committed = True
        await asyncio.to_thread(self.index._save_position, position)


def _add_all(writer: Any, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        writer.add_document(
            tantivy.Document(
                id=int(row["id"]), title=row["title"] or "", description=row["description"] or ""
            )
        )


def _release(writer: Any, committed: bool) -> None:
    """Undo an uncommitted batch, and give the writer's lock back."""
    if not committed:
        with contextlib.suppress(Exception):
            writer.rollback()
    writer.wait_merging_threads()
