"""The listings' search index: tantivy (a Rust search library, like Lucene) on disk.

It holds the published listings' titles and descriptions, stemmed (English) and scored
with BM25, the title counting five times the description.  tantivy keeps each term's
postings in blocks with their best score, so the best 20 of a word found in ten thousand
listings are found without scoring them all (block-max WAND): a search costs about the
same at a million listings as at ten thousand.

One process writes at a time (tantivy's lock file); every process reads, and reloads
what others committed every ``refresh_seconds``.  The database stays the authority: the
core checks every id this index ranks against it (published, the request's filters), so
a listing paused a moment ago and still in the index is never shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tantivy

log = logging.getLogger("agorakit.search")

#: the title counts this many times the description in a listing's score
TITLE_BOOST = 5.0


class IndexBusy(Exception):
    """Another process is writing to the index: the events are delivered again later."""


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
        self.index = tantivy.Index(_schema(), path=str(folder), reuse=True)
        self.refresh_seconds = refresh_seconds
        self.writer_heap = writer_heap_mb * 1_000_000
        self._loaded = 0.0
        #: one batch of writes at a time in this process (tantivy allows one writer)
        self.writing = asyncio.Lock()

    # ----------------------------------------------------------------------------------
    # Reading
    # ----------------------------------------------------------------------------------

    def rank(self, words: list[str], offset: int, limit: int) -> list[int] | None:
        """Ids of the listings matching every word, best first, from ``offset``; None when
        the index is empty (not built yet) or the words make no query: the database
        ranks then."""
        self._refresh()
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
        self._refresh(force=True)
        return self.index.searcher().num_docs

    def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._loaded >= self.refresh_seconds:
            self.index.reload()
            self._loaded = now

    # ----------------------------------------------------------------------------------
    # Writing (blocking: call through :meth:`apply`)
    # ----------------------------------------------------------------------------------

    async def apply(self, upserts: list[dict[str, Any]], deletes: Iterable[int]) -> None:
        """(Re)index ``upserts`` (rows with id, title, description) and drop ``deletes``
        (ids), in one commit, in a thread: the loop goes on meanwhile."""
        async with self.writing:
            await asyncio.to_thread(self._write, upserts, list(deletes))
        self._refresh(force=True)

    async def rebuild(self, batches: Any) -> int:
        """Replace the whole index with the rows of ``batches`` (an async iterator of row
        lists); returns how many listings it holds."""
        async with self.writing:
            writer = await asyncio.to_thread(self._writer)
            try:
                await asyncio.to_thread(writer.delete_all_documents)
                async for rows in batches:
                    await asyncio.to_thread(_add_all, writer, rows)
                await asyncio.to_thread(_commit, writer)
            except BaseException:
                await asyncio.to_thread(_discard, writer)
                raise
        return self.count()

    def _writer(self) -> Any:
        try:
            return self.index.writer(heap_size=self.writer_heap, num_threads=1)
        except ValueError as exc:  # tantivy's "LockBusy": another process writes
            if "lock" in str(exc).lower():
                raise IndexBusy(
                    f"the search index {self.folder} is being written by another process"
                ) from exc
            raise

    def _write(self, upserts: list[dict[str, Any]], deletes: list[int]) -> None:
        writer = self._writer()
        try:
            for listing_id in {*deletes, *(row["id"] for row in upserts)}:
                writer.delete_documents_by_term("id", int(listing_id))
            _add_all(writer, upserts)
            _commit(writer)
        except BaseException:
            _discard(writer)
            raise


def _add_all(writer: Any, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        writer.add_document(
            tantivy.Document(
                id=int(row["id"]), title=row["title"] or "", description=row["description"] or ""
            )
        )


def _discard(writer: Any) -> None:
    """Undo what a failed batch added (a writer already committed cannot roll back)."""
    with contextlib.suppress(Exception):
        writer.rollback()


def _commit(writer: Any) -> None:
    writer.commit()
    writer.wait_merging_threads()  # also releases the writer's lock
