"""What operators read of leads besides the shared queues (reviews are the catalog's
listing queue, reports the dispute queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.catalog import category_slugs, category_subtree, pending_review_count
from agorakit.http import OperatorQueue
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.leads import jobs
from agorakit.plugins.leads.profiles import NAME, settings_of
from agorakit.plugins.leads.schemas import LeadPage
from agorakit.plugins.leads.tables import Lead

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


async def list_leads(
    runtime: Runtime, *, status: str | None, category: str | None, cursor: str | None, limit: int
) -> LeadPage:
    """Jobs, newest first (pending ones oldest first: the review order)."""
    oldest_first = status == "pending_review"
    query = Lead.select().order_by(Lead.id, ascending=oldest_first)
    if status is not None:
        query = query.where(Lead.status == status)
    if category is not None:
        ids = {slug: i for i, slug in (await category_slugs()).items()}
        query = query.where(Lead.category_id.is_in([ids[s] for s in await category_subtree([category])]))
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Lead.id > position["id"] if oldest_first else Lead.id < position["id"])
    rows, next_cursor = page(
        await query.limit(limit + 1).output(load_json=True), limit, lambda r: {"id": r["id"]}
    )
    return LeadPage(items=[jobs.to_lead(r) for r in rows], next_cursor=next_cursor)


async def review_queue(runtime: Runtime) -> OperatorQueue:
    """Jobs waiting for review: the catalog's review queue of the ``lead`` kind, counted
    by its rule (overdue past ``review_hours`` working hours)."""
    counted = await pending_review_count(runtime, jobs.KIND)
    return OperatorQueue(
        key="leads.pending",
        title="Jobs to review",
        count=counted.count,
        oldest_at=counted.oldest_at,
        overdue=counted.overdue,
        due_hours=settings_of(runtime).review_hours,
        list_path=f"/operator/listings/pending?kind={jobs.KIND}",
        area=NAME,
    )
