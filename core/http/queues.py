"""Operators' work queues: what ``agorakit_operator_queues`` returns, and one statement
that counts a queue.

Each area and plugin reports the queues of its own tables (``GET /operator/queues``
gathers them): how many items wait, since when the oldest one waits and how many are
past the area's own due rule.  :func:`count_queue` reads the three with one aggregate
query, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.query.functions.aggregate import Count, Min
from piccolo.querystring import QueryString

if TYPE_CHECKING:  # pragma: no cover
    from piccolo.columns import Column
    from piccolo.custom_types import Combinable
    from piccolo.table import Table


class OperatorQueue(msgspec.Struct, frozen=True, kw_only=True):
    """One work queue of the site, as an area or a plugin reports it."""

    #: stable, dotted: ``disputes.open``, ``withdrawals.stuck``, ``prepaid.offers_flagged``
    key: str
    #: plain English for a person: "Disputes to resolve"
    title: str
    #: items waiting
    count: int
    #: since when the oldest item waits (None when the queue is empty)
    oldest_at: datetime | None
    #: the API list route that shows the items, with its query (``/operator/disputes?status=open``)
    list_path: str
    #: the core area or plugin that reports it
    area: str
    #: items past the area's due rule (0 where it has none)
    overdue: int = 0
    #: the due rule's limit in hours (None: no rule, or no single one)
    due_hours: int | None = None


class QueueCount(msgspec.Struct, frozen=True):
    """What :func:`count_queue` read: the items, the oldest one's time, the overdue ones."""

    count: int
    oldest_at: datetime | None
    overdue: int = 0


async def count_queue(
    table: type[Table], where: Combinable, *, since: Column, overdue: Combinable | None = None
) -> QueueCount:
    """``COUNT(*)``, ``MIN(since)`` and the number of rows that also match ``overdue``,
    over the rows of ``table`` matching ``where``, in one statement."""
    columns: list[Any] = [Count(alias="n"), Min(since, alias="oldest")]
    if overdue is not None:
        late = QueryString("COUNT(CASE WHEN {} THEN 1 END)", overdue.querystring)
        columns.append(late.as_alias("late"))
    row = await table.select(*columns).where(where).first()
    assert row is not None  # an aggregate without GROUP BY always has its row
    return QueueCount(
        count=int(row["n"] or 0),
        oldest_at=_instant(row["oldest"]),
        overdue=int(row.get("late") or 0),
    )


def _instant(value: Any) -> datetime | None:
    """An aggregate's timestamp: PostgreSQL gives a datetime, SQLite the stored text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
