"""Moving listings (pause, resume, close: owners and operators; publish too: a plugin's
code in its unit of work) and moderation (operators).

Each changing function is one transaction (or joins the caller's, :func:`move_listing_in`)
that runs ``agorakit_listing_status_changed``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from agorakit.accounts import MemberOut, is_operator
from agorakit.catalog.events import (
    ListingApproved,
    ListingClosed,
    ListingEvent,
    ListingPaused,
    ListingPublished,
    ListingRejected,
    ListingResumed,
)
from agorakit.catalog.kinds import listing_kinds
from agorakit.catalog.listings import (
    epoch_us,
    get_listing,
    listing_row,
    locked_listing_row,
    publication,
    status_changed,
    to_listings,
    wrong_state,
)
from agorakit.catalog.schemas import ListingOut, PendingListing, ScreenFlagOut
from agorakit.catalog.tables import Listing
from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.http import QueueCount, count_queue
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import Runtime, UnitOfWork

_MOVES: dict[str, tuple[tuple[str, ...], str, Any, str]] = {
    # action: (allowed from, to, event, past tense)
    "pause": (("published",), "paused", ListingPaused, "paused"),
    "resume": (("paused",), "published", ListingResumed, "resumed"),
    "close": (
        ("draft", "pending_review", "published", "rejected", "paused"),
        "closed",
        ListingClosed,
        "closed",
    ),
}
#: what a plugin's code may also do inside its unit of work (:func:`move_listing_in`):
#: publish a listing whose publication the plugin drives, without review
_MOVES_IN = {**_MOVES, "publish": (("draft", "paused"), "published", ListingPublished, "published")}


async def move_listing(
    runtime: Runtime, listing_id: int, action: str, *, actor: MemberOut, reason: str | None = None
) -> ListingOut:
    """Pause, resume or close a listing (``action``: pause, resume or close).

    ``actor`` is the listing's owner or an operator (operators act on any listing; for
    anyone else another member's listing is a 404).  The event's ``actor_id`` is who
    acted; ``reason`` (an operator's, told to the owner) is kept when the actor is not
    the owner.
    """
    return await _move(
        runtime, listing_id, action, actor=actor, reason=reason, any_listing=is_operator(actor)
    )


async def move_own_listing(runtime: Runtime, listing_id: int, action: str, *, owner: MemberOut) -> ListingOut:
    """The owner's routes: another member's listing is a 404, also to an operator (who
    has the operator's routes, with a reason)."""
    return await _move(runtime, listing_id, action, actor=owner, reason=None, any_listing=False)


async def _move(
    runtime: Runtime, listing_id: int, action: str, *, actor: MemberOut, reason: str | None, any_listing: bool
) -> ListingOut:
    _check_action(action, _MOVES)
    async with runtime.unit_of_work() as uow:
        row = await locked_listing_row(listing_id)
        if row is None or (row["owner_id"] != actor.id and not any_listing):
            raise NotFound(f"you have no listing {listing_id}")
        await _move_row(uow, row, action, actor_id=actor.id, reason=reason)
    return await get_listing(listing_id, viewer=actor)


async def move_listing_in(
    uow: UnitOfWork, listing_id: int, action: str, *, actor_id: int | None, reason: str | None = None
) -> None:
    """Move a listing inside the caller's unit of work, e.g. a plugin's order effect
    that changes its listing in the transaction of the order's transition.

    ``action``: ``publish`` (draft or paused → published, without review: for kinds
    whose publication a plugin drives, such as a request published when its payment
    settles), ``pause``, ``resume`` or ``close``.  No ownership check: the calling code
    decides who may.  The same events as :func:`move_listing` (``listing.published`` for
    ``publish``) with ``actor_id`` (None: the site itself), and
    ``agorakit_listing_status_changed``, in the caller's transaction; ``reason`` is kept
    when the actor is not the owner.  A move from a status that does not allow it is the
    409 ``wrong_state``; an unknown listing a 404.
    """
    _check_action(action, _MOVES_IN)
    row = await locked_listing_row(listing_id)
    if row is None:
        raise NotFound(f"there is no listing {listing_id}")
    await _move_row(uow, row, action, actor_id=actor_id, reason=reason)


def _check_action(action: str, moves: dict[str, Any]) -> None:
    if action not in moves:
        message = f"unknown action {action!r}; one of: {', '.join(moves)}"
        raise ValidationFailed([FieldError("action", message, "path")])


async def _move_row(
    uow: UnitOfWork, row: dict[str, Any], action: str, *, actor_id: int | None, reason: str | None
) -> None:
    """The move of every path: the status checked, the row changed, the event recorded
    and ``agorakit_listing_status_changed`` run, in ``uow``."""
    allowed, target, event, past = _MOVES_IN[action]
    if row["status"] not in allowed:
        raise wrong_state(row, past, allowed)
    listing_id = row["id"]
    changes: dict[Any, Any] = {Listing.status: target, Listing.updated_at: uow.now}
    if action == "publish":
        changes.update(publication(uow.now))
        recorded: ListingEvent = ListingPublished(listing_id=listing_id, kind=row["kind"])
    else:
        why = reason if actor_id != row["owner_id"] else None
        recorded = event(listing_id=listing_id, owner_id=row["owner_id"], reason=why)
    await Listing.update(changes).where(Listing.id == listing_id)
    uow.record(recorded, subject=f"listing:{listing_id}", actor_id=actor_id)
    await status_changed(uow.runtime, uow, row, row["status"], target)


def working_seconds(start: datetime, end: datetime) -> float:
    """Seconds between two instants that fall on Monday-Friday (UTC); weekends do not count."""
    if end <= start:
        return 0.0
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = 0.0
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        if day.weekday() < 5:
            total += (min(end, following) - max(start, day)).total_seconds()
        day = following
    return total


def working_since(end: datetime, seconds: float) -> datetime:
    """The earliest instant from which :func:`working_seconds` up to ``end`` is at most
    ``seconds``: what started before it has more working time behind it (is overdue)."""
    end = end.astimezone(UTC)
    at, remaining = end, seconds
    day = datetime(end.year, end.month, end.day, tzinfo=UTC)
    while True:
        if day.weekday() < 5:
            available = (at - day).total_seconds()
            if remaining < available:
                return at - timedelta(seconds=remaining)
            remaining -= available
        at, day = day, day - timedelta(days=1)


async def pending_review_count(runtime: Runtime, kind: str | None = None) -> QueueCount:
    """The review queue of :func:`pending_queue` counted (only listings of ``kind`` if
    given): how many wait, since when the longest waiting one was submitted, and how
    many are overdue by the same rule, in one statement."""
    kinds = listing_kinds(runtime)
    now = runtime.clock.now()
    site_target = runtime.settings.listings.review_target_hours
    own = {name: k.review_target_hours for name, k in kinds.items() if k.review_target_hours}
    if kind is not None:
        own = {kind: own.get(kind) or site_target}
    late: Any = Listing.submitted_at < working_since(now, site_target * 3600)
    if own:
        late = Listing.kind.not_in(list(own)) & late
        for name, hours in own.items():
            late = late | ((Listing.kind == name) & (Listing.submitted_at < working_since(now, hours * 3600)))
    where = Listing.status == "pending_review"
    if kind is not None:
        where = where & (Listing.kind == kind)
    return await count_queue(Listing, where, since=Listing.submitted_at, overdue=late)


async def pending_queue(
    runtime: Runtime, *, cursor: str | None, limit: int, kind: str | None = None
) -> tuple[list[PendingListing], str | None]:
    """Listings waiting for review, longest waiting first (only those of ``kind`` if given).

    A listing is overdue past its kind's ``review_target_hours``, else the site's
    ``[listings] review_target_hours``, counted in working hours."""
    kinds = listing_kinds(runtime)
    if kind is not None and kind not in kinds:
        known = ", ".join(sorted(kinds))
        raise ValidationFailed([FieldError("kind", f"unknown listing kind {kind!r}; the kinds are {known}")])
    query = (
        Listing.select()
        .where(Listing.status == "pending_review")
        .order_by(Listing.submitted_at)
        .order_by(Listing.id)
    )
    if kind is not None:
        query = query.where(Listing.kind == kind)
    position = decode_cursor(cursor, keys=("at", "id"))
    if position is not None:
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=position["at"])
        query = query.where(
            (Listing.submitted_at > at) | ((Listing.submitted_at == at) & (Listing.id > position["id"]))
        )
    rows, next_cursor = page(
        await query.limit(limit + 1).output(load_json=True),
        limit,
        lambda r: {"at": epoch_us(r["submitted_at"]), "id": r["id"]},
    )
    listings = await to_listings(rows)
    now = runtime.clock.now()
    site_target = runtime.settings.listings.review_target_hours
    items = []
    for row, listing in zip(rows, listings, strict=False):
        seconds = working_seconds(row["submitted_at"], now)
        kind_of = kinds.get(row["kind"])
        target = ((kind_of and kind_of.review_target_hours) or site_target) * 3600
        flags = [msgspec.convert(f, ScreenFlagOut) for f in row["screening_flags"]]
        items.append(
            PendingListing(
                listing=listing,
                age_working_hours=round(seconds / 3600, 1),
                overdue=seconds > target,
                screening_flags=flags,
            )
        )
    return items, next_cursor


async def moderate(
    runtime: Runtime, listing_id: int, *, approve: bool, actor_id: int, reason: str | None = None
) -> ListingOut:
    """Approve (→ published) or reject (→ rejected, with the reason shown to the owner)."""
    if not approve and not (reason or "").strip():
        raise ValidationFailed([FieldError("reason", "say why, so the owner knows what to change")])
    async with runtime.unit_of_work() as uow:
        row = await listing_row(listing_id)
        if row is None:
            raise NotFound(f"there is no listing {listing_id}")
        if row["status"] != "pending_review":
            raise wrong_state(row, "approved" if approve else "rejected", ("pending_review",))
        subject = f"listing:{listing_id}"
        if approve:
            changes = publication(uow.now)
            approved = ListingApproved(listing_id=listing_id, owner_id=row["owner_id"])
            uow.record(approved, subject=subject, actor_id=actor_id)
        else:
            changes = {Listing.status: "rejected", Listing.rejection_reason: reason}
            rejected = ListingRejected(listing_id=listing_id, owner_id=row["owner_id"], reason=reason or "")
            uow.record(rejected, subject=subject, actor_id=actor_id)
        changes[Listing.updated_at] = uow.now
        await Listing.update(changes).where(Listing.id == listing_id)
        await status_changed(runtime, uow, row, "pending_review", changes[Listing.status])
    return (await to_listings([await listing_row(listing_id)]))[0]  # type: ignore[list-item]
