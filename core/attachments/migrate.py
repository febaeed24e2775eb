"""Moving attachments' files from one storage to another (``agorakit attachments migrate``).

A site that changes ``[attachments] storage`` keeps serving its old files from the storage
each row names; this copies them into the new one so the old one can go.  Each file is
read from the storage its row names, checked against the row's size and SHA-256, written
to the target under the same key, read back and checked again; only then does its row
name the target.  Rows move in batches, each batch with one conditional update per
source storage, so a run that stops half way leaves every row pointing at a complete
copy, and the next run goes on with the rows that still name another storage: running it
again when everything is moved copies nothing.  A file that is missing or does not match
is reported and left where it is.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agorakit.attachments.storage import Storage, storage_for
from agorakit.attachments.tables import Attachment
from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.attachments")

#: rows read and moved at a time
DEFAULT_BATCH = 100


@dataclass
class Migration:
    """What a run did: counts by source storage and a line per file it left behind."""

    target: str
    dry_run: bool = False
    #: files copied (or, in a dry run, that would be), by the storage they came from
    copied: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: old copies removed after the rows named the target (``delete_source``)
    deleted: int = 0
    #: files whose source storage does not have them
    missing: list[str] = field(default_factory=list)
    #: files that could not be read, copied or checked, or whose storage is not available
    failed: list[str] = field(default_factory=list)

    @property
    def left(self) -> int:
        """Files still in another storage than the target."""
        return len(self.missing) + len(self.failed)

    def lines(self) -> list[str]:
        """The report, one line each: the problems, then the counts."""
        out = [f"missing: {line}" for line in self.missing] + [f"failed: {line}" for line in self.failed]
        total = sum(self.copied.values())
        verb = "would copy" if self.dry_run else "copied"
        sources = ", ".join(f"{count} from {name}" for name, count in sorted(self.copied.items()))
        out.append(
            f"{verb} {total} file{'' if total == 1 else 's'} to {self.target}"
            + (f" ({sources})" if sources else "")
        )
        if self.deleted:
            out.append(f"deleted {self.deleted} old cop{'y' if self.deleted == 1 else 'ies'}")
        if self.left:
            out.append(
                f"left {self.left} file{'' if self.left == 1 else 's'} in their old storage "
                f"({len(self.missing)} missing, {len(self.failed)} failed); run the command again once they are fixed"
            )
        return out


async def migrate_files(
    runtime: Runtime,
    *,
    to: str,
    delete_source: bool = False,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
) -> Migration:
    """Copy every file whose row names another storage than ``to`` into ``to`` and point
    its row there (see the module's docstring); ``delete_source`` then removes the old
    copies, ``dry_run`` only reads and checks them.

    Raises :class:`~agorakit.settings.ConfigError` when no plugin provides ``to``.
    """
    target = storage_for(runtime, to)
    report = Migration(target=to, dry_run=dry_run)
    after = 0
    while True:
        rows = await (
            Attachment.select(
                Attachment.id, Attachment.storage, Attachment.storage_key, Attachment.size, Attachment.sha256
            )
            .where((Attachment.storage != to) & (Attachment.id > after))
            .order_by(Attachment.id)
            .limit(batch_size)
        )
        if not rows:
            return report
        after = rows[-1]["id"]
        copied: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            if await _copy(runtime, row, target, report):
                copied[row["storage"]].append(row)
        for source, moved in copied.items():
            if dry_run:
                report.copied[source] += len(moved)
                continue
            updated = await (
                Attachment.update({Attachment.storage: to})
                .where(Attachment.id.is_in([r["id"] for r in moved]) & (Attachment.storage == source))
                .returning(Attachment.id)
            )
            ids = {r["id"] for r in updated}
            report.copied[source] += len(ids)
            if delete_source:
                storage = storage_for(runtime, source)
                for row in moved:
                    if row["id"] in ids:
                        report.deleted += await _delete(storage, row)


async def _copy(runtime: Runtime, row: dict[str, Any], target: Storage, report: Migration) -> bool:
    """Copy one row's file into ``target`` and check the copy (in a dry run: read and check
    the source only); False, with the reason in ``report``, when it is left behind."""
    what = f"attachment {row['id']} (key {row['storage_key']} in {row['storage']})"
    try:
        source = storage_for(runtime, row["storage"])
    except ConfigError:
        report.failed.append(f"{what}: no enabled plugin provides the storage {row['storage']!r}")
        return False
    try:
        data = await source.read(row["storage_key"])
    except FileNotFoundError:
        report.missing.append(f"{what}: the file is not in {row['storage']}")
        return False
    except Exception as exc:
        log.warning("migrate: %s could not be read: %r", what, exc)
        report.failed.append(f"{what}: could not be read ({type(exc).__name__})")
        return False
    if not _matches(data, row):
        report.failed.append(f"{what}: the file does not match the size and SHA-256 its row records")
        return False
    if report.dry_run:
        return True
    try:
        await target.save(row["storage_key"], data)
        copy = await target.read(row["storage_key"])
    except Exception as exc:
        log.warning("migrate: %s could not be copied to %s: %r", what, report.target, exc)
        report.failed.append(f"{what}: could not be copied to {report.target} ({type(exc).__name__})")
        return False
    if not _matches(copy, row):
        report.failed.append(f"{what}: the copy in {report.target} does not match the original")
        return False
    return True


def _matches(data: bytes, row: dict[str, Any]) -> bool:
    return len(data) == row["size"] and hashlib.sha256(data).hexdigest() == row["sha256"]


async def _delete(storage: Storage, row: dict[str, Any]) -> int:
    try:
        await storage.delete(row["storage_key"])
    except Exception as exc:  # the row points at the copy already: an old file left over harms nothing
        log.warning(
            "migrate: old copy of attachment %s not deleted from %s: %r", row["id"], storage.name, exc
        )
        return 0
    return 1
