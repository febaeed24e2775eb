"""Listings: drafts, review, publication, pausing, closing, moderation and eligibility.

Statuses: ``draft → pending_review → published | rejected``, plus ``paused`` (by the
owner, from published) and ``closed`` (by the owner, final).  Editing a listing whose
content an operator already approved (published or paused) of a kind that needs review
sends it back to ``pending_review``: what the public sees is always what was reviewed.
Editing a rejected listing makes it a draft again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec import UNSET

from agorakit.accounts import MemberOut, is_operator
from agorakit.accounts.tables import Member
from agorakit.catalog import service
from agorakit.catalog.checks import check_draft, clean_text, countries_of, kind_named, validate_attributes
from agorakit.catalog.errors import NotEligible, WrongListingState
from agorakit.catalog.events import (
    ListingApproved,
    ListingClosed,
    ListingCreated,
    ListingPaused,
    ListingPublished,
    ListingRejected,
    ListingResumed,
    ListingSubmitted,
    ListingUpdated,
)
from agorakit.catalog.kinds import ListingKind
from agorakit.catalog.schemas import (
    CreateListing,
    ListingDraft,
    ListingOut,
    PendingListing,
    RatingSummary,
    ScreenFlagOut,
    SellerOut,
    UpdateListing,
)
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.money import max_amount, money, parse_money
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import Runtime

#: statuses only the owner (and operators) may see
HIDDEN = ("draft", "pending_review", "rejected")


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


class _NoRatings:
    """Listings without a ratings provider: no seller or listing has ratings."""

    async def sellers(self, member_ids: list[int]) -> dict[int, Any]:
        return {i: RatingSummary(average=None, count=0) for i in member_ids}

    async def listings(self, listing_ids: list[int]) -> dict[int, Any]:
        return {i: RatingSummary(average=None, count=0) for i in listing_ids}


#: where listings' ratings come from (``agorakit_listing_ratings``, bound at start-up)
_ratings: Any = _NoRatings()


def bind_ratings(provider: Any) -> None:
    """Use ``provider`` for the ratings listings show (None: no ratings)."""
    global _ratings
    _ratings = provider if provider is not None else _NoRatings()


async def rating_summaries(member_ids: list[int]) -> dict[int, RatingSummary]:
    """Sellers' rating summaries: what buyers wrote, hidden reviews left out."""
    found = await _ratings.sellers(member_ids)
    return {i: RatingSummary(average=s.average, count=s.count) for i, s in found.items()}


async def listing_rating_summaries(listing_ids: list[int]) -> dict[int, RatingSummary]:
    """Listings' own rating summaries: what buyers of each listing wrote."""
    found = await _ratings.listings(listing_ids)
    return {i: RatingSummary(average=s.average, count=s.count) for i, s in found.items()}


_SELLERS = Prepared(
    lambda ids: Member.select(Member.id, Member.display_name, Member.country).where(any_of(Member.id, ids))
)


async def to_listings(rows: list[dict[str, Any]], *, slugs: dict[int, str] | None = None) -> list[ListingOut]:
    """API views of listing rows; ``slugs`` (category id to slug) when the caller has them."""
    if not rows:
        return []
    owner_ids = sorted({r["owner_id"] for r in rows})
    members = {m["id"]: m for m in await _SELLERS.run(owner_ids)}
    ratings = await rating_summaries(owner_ids)
    listing_ratings = await listing_rating_summaries([r["id"] for r in rows])
    if slugs is None:
        slugs = await service.category_slugs()
    out = []
    for row in rows:
        owner = members[row["owner_id"]]
        out.append(
            ListingOut(
                id=row["id"],
                kind=row["kind"],
                status=row["status"],
                title=row["title"],
                description=row["description"],
                price=money(row["price"], row["currency"]),
                category=slugs.get(row["category_id"], ""),
                attributes=row["attributes"],
                seller=SellerOut(
                    id=owner["id"],
                    display_name=owner["display_name"],
                    country=owner["country"],
                    rating=ratings[owner["id"]],
                ),
                rating=listing_ratings[row["id"]],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                submitted_at=row["submitted_at"],
                published_at=row["published_at"],
                rejection_reason=row["rejection_reason"],
            )
        )
    return out


_LISTING = Prepared(lambda id: Listing.select().where(Listing.id == id).first().output(load_json=True))


async def _row(listing_id: int) -> dict[str, Any] | None:
    return await _LISTING.run(listing_id)


async def get_listing(listing_id: int, *, viewer: MemberOut | None = None) -> ListingOut:
    """A listing as ``viewer`` may see it.

    Drafts, pending and rejected listings exist only for their owner and operators; for
    anyone else they are a 404, exactly like a listing that does not exist.
    """
    row = await _row(listing_id)
    if row is None or not _may_see(row, viewer):
        raise NotFound(f"there is no listing {listing_id}")
    return (await to_listings([row]))[0]


def _may_see(row: dict[str, Any], viewer: MemberOut | None) -> bool:
    if row["status"] not in HIDDEN:
        return True
    return viewer is not None and (is_operator(viewer) or viewer.id == row["owner_id"])


async def list_own(
    member_id: int, *, cursor: str | None, limit: int, status: str | None = None
) -> tuple[list[ListingOut], str | None]:
    """A member's own listings, newest first."""
    query = Listing.select().where(Listing.owner_id == member_id).order_by(Listing.id, ascending=False)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Listing.id < position["id"])
    if status is not None:
        query = query.where(Listing.status == status)
    rows, next_cursor = page(
        await query.limit(limit + 1).output(load_json=True), limit, lambda r: {"id": r["id"]}
    )
    return await to_listings(rows), next_cursor


# --------------------------------------------------------------------------------------
# Changing (owner)
# --------------------------------------------------------------------------------------


async def create_listing(runtime: Runtime, cmd: CreateListing, *, owner: MemberOut) -> ListingOut:
    """Create a draft.  Nothing is public until it is submitted (and approved)."""
    errors: list[FieldError] = []
    kind = attributes = price = currency = category = None
    title, description, text_errors = clean_text(runtime, cmd.title, cmd.description)
    errors += text_errors
    for check in (
        lambda: kind_named(runtime, cmd.kind),
        lambda: parse_money(
            cmd.price,
            accepted=runtime.currencies,
            field="price",
            maximum=max_amount(runtime, cmd.price.currency),
        ),
    ):
        try:
            result = check()
        except ValidationFailed as exc:
            errors += exc.errors
            continue
        if isinstance(result, ListingKind):
            kind = result
        else:
            price, currency = result
    if kind is not None:
        try:
            attributes = validate_attributes(kind, cmd.attributes)
        except ValidationFailed as exc:
            errors += exc.errors
    try:
        category = await service.category_by_slug(cmd.category)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    assert kind is not None and price is not None and currency and category is not None
    draft = ListingDraft(
        id=None,
        owner_id=owner.id,
        kind=kind.name,
        title=title,
        description=description,
        price=price,
        currency=currency,
        category=cmd.category,
        attributes=attributes,
    )
    flags = await check_draft(runtime, draft)
    async with runtime.unit_of_work() as uow:
        rows = await Listing.insert(
            Listing(
                kind=kind.name,
                owner_id=owner.id,
                category_id=category["id"],
                title=title,
                description=description,
                price=price,
                currency=currency,
                attributes=msgspec.to_builtins(attributes),
                countries=countries_of(attributes),
                status="draft",
                screening_flags=msgspec.to_builtins(flags),
                created_at=uow.now,
                updated_at=uow.now,
            )
        ).returning(Listing.id)
        listing_id = rows[0]["id"]
        # in this transaction: the reviews area stores the seller's rating (sort=rating)
        await runtime.hooks.collect(
            "agorakit_listing_created", uow=uow, listing_id=listing_id, owner_id=owner.id, runtime=runtime
        )
        created = ListingCreated(listing_id=listing_id, kind=kind.name)
        uow.record(created, subject=f"listing:{listing_id}", actor_id=owner.id)
    return await get_listing(listing_id, viewer=owner)


async def _owned(listing_id: int, owner: MemberOut) -> dict[str, Any]:
    row = await _row(listing_id)
    if row is None or row["owner_id"] != owner.id:
        # Another member's listing is a 404 whatever its status: no probing for drafts.
        raise NotFound(f"you have no listing {listing_id}")
    return row


def _wrong_state(row: dict[str, Any], action: str, allowed: tuple[str, ...]) -> WrongListingState:
    return WrongListingState(
        f"listing {row['id']} is {row['status']}; it can be {action} only when {' or '.join(allowed)}",
        extra={"status": row["status"]},
    )


def _draft_of(row: dict[str, Any], slug: str, attributes: msgspec.Struct) -> ListingDraft:
    return ListingDraft(
        id=row["id"],
        owner_id=row["owner_id"],
        kind=row["kind"],
        title=row["title"],
        description=row["description"],
        price=row["price"],
        currency=row["currency"],
        category=slug,
        attributes=attributes,
    )


async def update_listing(
    runtime: Runtime, listing_id: int, cmd: UpdateListing, *, owner: MemberOut
) -> ListingOut:
    """Edit a listing (not a closed one).  See the module docstring for the status rules."""
    row = await _owned(listing_id, owner)
    if row["status"] == "closed":
        raise _wrong_state(row, "edited", ("draft", "pending_review", "published", "rejected", "paused"))
    kind = kind_named(runtime, row["kind"])
    errors: list[FieldError] = []
    new = dict(row)
    slugs = await service.category_slugs()
    slug = slugs.get(row["category_id"], "")
    title = cmd.title if cmd.title is not UNSET else row["title"]
    description = cmd.description if cmd.description is not UNSET else row["description"]
    new["title"], new["description"], text_errors = clean_text(runtime, title, description)
    errors += text_errors
    if cmd.price is not UNSET:
        try:
            new["price"], new["currency"] = parse_money(
                cmd.price,
                accepted=runtime.currencies,
                field="price",
                maximum=max_amount(runtime, cmd.price.currency),
            )
        except ValidationFailed as exc:
            errors += exc.errors
    if cmd.category is not UNSET:
        try:
            new["category_id"] = (await service.category_by_slug(cmd.category))["id"]
            slug = cmd.category
        except ValidationFailed as exc:
            errors += exc.errors
    attributes: Any = None
    try:
        attributes = validate_attributes(
            kind, cmd.attributes if cmd.attributes is not UNSET else row["attributes"]
        )
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    flags = await check_draft(runtime, _draft_of(new, slug, attributes))
    async with runtime.unit_of_work() as uow:
        current = await _owned(listing_id, owner)  # re-read inside the transaction
        status = current["status"]
        if status == "closed":
            raise _wrong_state(
                current, "edited", ("draft", "pending_review", "published", "rejected", "paused")
            )
        changes: dict[Any, Any] = {
            Listing.title: new["title"],
            Listing.description: new["description"],
            Listing.price: new["price"],
            Listing.currency: new["currency"],
            Listing.category_id: new["category_id"],
            Listing.attributes: msgspec.to_builtins(attributes),
            Listing.countries: countries_of(attributes),
            Listing.screening_flags: msgspec.to_builtins(flags),
            Listing.updated_at: uow.now,
        }
        if status == "rejected":
            changes[Listing.status] = "draft"
        elif status in ("published", "paused") and (kind.review_required or flags):
            changes.update({Listing.status: "pending_review", Listing.submitted_at: uow.now})
            submitted = ListingSubmitted(listing_id=listing_id, kind=row["kind"])
            uow.record(submitted, subject=f"listing:{listing_id}", actor_id=owner.id)
        await Listing.update(changes).where(Listing.id == listing_id)
        uow.record(ListingUpdated(listing_id=listing_id), subject=f"listing:{listing_id}", actor_id=owner.id)
    return await get_listing(listing_id, viewer=owner)


async def submit_listing(runtime: Runtime, listing_id: int, *, owner: MemberOut) -> ListingOut:
    """Send a draft (or a rejected listing) to review; kinds without review publish at once.

    A listing with screening flags (``screening = "flag"``) always goes to review.
    """
    row = await _owned(listing_id, owner)
    if row["status"] not in ("draft", "rejected"):
        raise _wrong_state(row, "submitted", ("draft", "rejected"))
    kind = kind_named(runtime, row["kind"])
    attributes = validate_attributes(kind, row["attributes"])
    slug = (await service.category_slugs()).get(row["category_id"], "")
    flags = await check_draft(runtime, _draft_of(row, slug, attributes))
    async with runtime.unit_of_work() as uow:
        current = await _owned(listing_id, owner)
        if current["status"] not in ("draft", "rejected"):
            raise _wrong_state(current, "submitted", ("draft", "rejected"))
        changes: dict[Any, Any] = {
            Listing.submitted_at: uow.now,
            Listing.updated_at: uow.now,
            Listing.rejection_reason: None,
            Listing.screening_flags: msgspec.to_builtins(flags),
        }
        subject = f"listing:{listing_id}"
        if kind.review_required or flags:
            changes[Listing.status] = "pending_review"
            uow.record(
                ListingSubmitted(listing_id=listing_id, kind=row["kind"]), subject=subject, actor_id=owner.id
            )
        else:
            changes.update(_publication(uow.now))
            uow.record(
                ListingPublished(listing_id=listing_id, kind=row["kind"]), subject=subject, actor_id=owner.id
            )
        await Listing.update(changes).where(Listing.id == listing_id)
    return await get_listing(listing_id, viewer=owner)


def _publication(now: datetime) -> dict[Any, Any]:
    return {
        Listing.status: "published",
        Listing.published_at: now,
        Listing.published_us: _epoch_us(now),
    }


def _epoch_us(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_OWNER_MOVES = {
    # action: (allowed from, to, event)
    "pause": (("published",), "paused", ListingPaused),
    "resume": (("paused",), "published", ListingResumed),
    "close": (("draft", "pending_review", "published", "rejected", "paused"), "closed", ListingClosed),
}


async def move_listing(runtime: Runtime, listing_id: int, action: str, *, owner: MemberOut) -> ListingOut:
    """Pause, resume or close one of the owner's listings."""
    allowed, target, event = _OWNER_MOVES[action]
    past = {"pause": "paused", "resume": "resumed", "close": "closed"}[action]
    async with runtime.unit_of_work() as uow:
        row = await _owned(listing_id, owner)
        if row["status"] not in allowed:
            raise _wrong_state(row, past, allowed)
        await Listing.update({Listing.status: target, Listing.updated_at: uow.now}).where(
            Listing.id == listing_id
        )
        uow.record(event(listing_id=listing_id), subject=f"listing:{listing_id}", actor_id=owner.id)
    return await get_listing(listing_id, viewer=owner)


# --------------------------------------------------------------------------------------
# Moderation (operators)
# --------------------------------------------------------------------------------------


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


async def pending_queue(
    runtime: Runtime, *, cursor: str | None, limit: int
) -> tuple[list[PendingListing], str | None]:
    """Listings waiting for review, longest waiting first."""
    query = (
        Listing.select()
        .where(Listing.status == "pending_review")
        .order_by(Listing.submitted_at)
        .order_by(Listing.id)
    )
    position = decode_cursor(cursor, keys=("at", "id"))
    if position is not None:
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=position["at"])
        query = query.where(
            (Listing.submitted_at > at) | ((Listing.submitted_at == at) & (Listing.id > position["id"]))
        )
    rows, next_cursor = page(
        await query.limit(limit + 1).output(load_json=True),
        limit,
        lambda r: {"at": _epoch_us(r["submitted_at"]), "id": r["id"]},
    )
    listings = await to_listings(rows)
    now = runtime.clock.now()
    target = runtime.settings.listings.review_target_hours * 3600
    items = []
    for row, listing in zip(rows, listings, strict=False):
        seconds = working_seconds(row["submitted_at"], now)
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
        row = await _row(listing_id)
        if row is None:
            raise NotFound(f"there is no listing {listing_id}")
        if row["status"] != "pending_review":
            raise _wrong_state(row, "approved" if approve else "rejected", ("pending_review",))
        subject = f"listing:{listing_id}"
        if approve:
            changes = _publication(uow.now)
            approved = ListingApproved(listing_id=listing_id, owner_id=row["owner_id"])
            uow.record(approved, subject=subject, actor_id=actor_id)
        else:
            changes = {Listing.status: "rejected", Listing.rejection_reason: reason}
            rejected = ListingRejected(listing_id=listing_id, owner_id=row["owner_id"], reason=reason or "")
            uow.record(rejected, subject=subject, actor_id=actor_id)
        changes[Listing.updated_at] = uow.now
        await Listing.update(changes).where(Listing.id == listing_id)
    return (await to_listings([await _row(listing_id)]))[0]  # type: ignore[list-item]


# --------------------------------------------------------------------------------------
# Eligibility
# --------------------------------------------------------------------------------------


async def eligibility_reasons(runtime: Runtime, listing: ListingOut, member: MemberOut) -> list[str]:
    """Why ``member`` may not take ``listing`` (empty when they may)."""
    reasons: list[str] = []
    if listing.seller.id == member.id:
        reasons.append("this is your own listing")
    if listing.status != "published":
        reasons.append(f"the listing is {listing.status}, not published")
    for veto in await runtime.hooks.collect("agorakit_can_take", listing=listing, member=member):
        if veto:
            reasons.append(str(veto))
    return reasons


async def check_can_take(runtime: Runtime, listing: ListingOut, member: MemberOut) -> None:
    """Raise 403 ``not_eligible`` (with every reason) unless ``member`` may take ``listing``."""
    reasons = await eligibility_reasons(runtime, listing, member)
    if reasons:
        raise NotEligible("; ".join(reasons), extra={"reasons": reasons})
