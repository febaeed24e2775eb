"""Listings: drafts, review, publication, pausing, closing, moderation and eligibility.

Statuses: ``draft → pending_review → published | rejected``, plus ``paused`` (by the
owner or an operator, from published) and ``closed`` (by the owner or an operator,
final).  Editing a listing whose
content an operator already approved (published or paused) of a kind that needs review
sends it back to ``pending_review``: what the public sees is always what was reviewed.
Editing a rejected listing makes it a draft again.  Every change of status runs the
``agorakit_listing_status_changed`` hook in its transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
from msgspec import UNSET

from agorakit.accounts import MemberOut, is_operator
from agorakit.accounts.tables import Member
from agorakit.catalog import qualifications, service
from agorakit.catalog.checks import check_draft, clean_text, countries_of, kind_named, validate_attributes
from agorakit.catalog.errors import NotEligible, WrongListingState
from agorakit.catalog.events import (
    ListingCreated,
    ListingPublished,
    ListingSubmitted,
    ListingUpdated,
)
from agorakit.catalog.kinds import ListingKind, qualified_kinds, unlisted_kinds
from agorakit.catalog.schemas import (
    CreateListing,
    ListingDraft,
    ListingOut,
    RatingSummary,
    SellerOut,
    UpdateListing,
)
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import FieldError, NotFound, Unauthenticated, ValidationFailed
from agorakit.money import max_amount, money, parse_money
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import Runtime, UnitOfWork

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


def ratings_on_rows() -> bool:
    """Whether the ratings provider keeps the summaries on the listing rows
    (``stored_on_listings``; the reviews area does): then a listing view reads them there."""
    return bool(getattr(_ratings, "stored_on_listings", False))


def stored_summary(total: int, count: int) -> RatingSummary:
    """A summary from the stars added up and their number: the average rounded half up
    to 2 decimals ("4.50"), None without ratings."""
    if not count:
        return RatingSummary(average=None, count=0)
    average = (Decimal(total) / Decimal(count)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return RatingSummary(average=f"{average:.2f}", count=count)


async def rating_summaries(member_ids: list[int]) -> dict[int, RatingSummary]:
    """Sellers' rating summaries: what buyers wrote, hidden reviews left out."""
    found = await _ratings.sellers(member_ids)
    return {i: RatingSummary(average=s.average, count=s.count) for i, s in found.items()}


async def listing_rating_summaries(listing_ids: list[int]) -> dict[int, RatingSummary]:
    """Listings' own rating summaries: what buyers of each listing wrote."""
    found = await _ratings.listings(listing_ids)
    return {i: RatingSummary(average=s.average, count=s.count) for i, s in found.items()}


_LISTINGS_BY_ID = Prepared(lambda ids: Listing.select().where(any_of(Listing.id, ids)).output(load_json=True))


async def get_listings(listing_ids: list[int]) -> list[ListingOut]:
    """Listings by id, in the order given (unknown ids are left out), with no visibility
    check: the caller decides what its viewer may see.  A fixed number of statements
    whatever the number of ids."""
    if not listing_ids:
        return []
    rows = {row["id"]: row for row in await _LISTINGS_BY_ID.run(list(listing_ids))}
    return await to_listings([rows[i] for i in listing_ids if i in rows])


_SELLERS = Prepared(
    lambda ids: Member.select(Member.id, Member.display_name, Member.country).where(any_of(Member.id, ids))
)

#: What a listing row may carry besides the listing's own columns, read with it (a page
#: of search results joins them): its owner's ``display_name`` and ``country``, and its
#: category's slug.  :func:`to_listings` reads none of these again.
SELLER_NAME, SELLER_COUNTRY, CATEGORY_SLUG = "seller_display_name", "seller_country", "category_slug"


async def to_listings(rows: list[dict[str, Any]], *, slugs: dict[int, str] | None = None) -> list[ListingOut]:
    """API views of listing rows; ``slugs`` (category id to slug) when the caller has them.

    What the rows do not carry is read, one statement each: the sellers (unless the rows
    carry :data:`SELLER_NAME` and :data:`SELLER_COUNTRY`), the two rating summaries
    (unless the provider keeps them on the rows: :func:`ratings_on_rows`), the category
    slugs (unless given, or carried as :data:`CATEGORY_SLUG`)."""
    if not rows:
        return []
    owner_ids = sorted({r["owner_id"] for r in rows})
    if SELLER_NAME in rows[0]:
        members = {
            r["owner_id"]: {"id": r["owner_id"], "display_name": r[SELLER_NAME], "country": r[SELLER_COUNTRY]}
            for r in rows
        }
    else:
        members = {m["id"]: m for m in await _SELLERS.run(owner_ids)}
    stored = ratings_on_rows()
    ratings: dict[int, RatingSummary] = {}
    listing_ratings: dict[int, RatingSummary] = {}
    if not stored:
        ratings = await rating_summaries(owner_ids)
        listing_ratings = await listing_rating_summaries([r["id"] for r in rows])
    if slugs is None and CATEGORY_SLUG not in rows[0]:
        slugs = await service.category_slugs()
    out = []
    for row in rows:
        owner = members[row["owner_id"]]
        if stored:
            seller_rating = stored_summary(row["seller_rating_sum"], row["seller_rating_count"])
            rating = stored_summary(row["rating_sum"], row["rating_count"])
        else:
            seller_rating, rating = ratings[owner["id"]], listing_ratings[row["id"]]
        category = slugs.get(row["category_id"], "") if slugs is not None else row[CATEGORY_SLUG] or ""
        out.append(
            ListingOut(
                id=row["id"],
                kind=row["kind"],
                status=row["status"],
                title=row["title"],
                description=row["description"],
                price=money(row["price"], row["currency"]),
                category=category,
                attributes=row["attributes"],
                seller=SellerOut(
                    id=owner["id"],
                    display_name=owner["display_name"],
                    country=owner["country"],
                    rating=seller_rating,
                ),
                rating=rating,
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                submitted_at=row["submitted_at"],
                published_at=row["published_at"],
                rejection_reason=row["rejection_reason"],
            )
        )
    return out


_LISTING = Prepared(lambda id: Listing.select().where(Listing.id == id).first().output(load_json=True))


_LISTING_FOR_UPDATE = Prepared(
    lambda id: Listing.select().where(Listing.id == id).first().output(load_json=True).lock_rows()
)


async def listing_row(listing_id: int) -> dict[str, Any] | None:
    return await _LISTING.run(listing_id)


async def locked_listing_row(listing_id: int) -> dict[str, Any] | None:
    """A listing's row, locked for the rest of the transaction (``FOR UPDATE`` on
    PostgreSQL; SQLite's one writer serialises instead): two moves of one listing wait
    for each other, so the second sees the status the first left."""
    if Listing._meta.db.engine_type != "postgres":
        return await _LISTING.run(listing_id)
    return await _LISTING_FOR_UPDATE.run(listing_id)


async def get_listing(
    listing_id: int, *, viewer: MemberOut | None = None, runtime: Runtime | None = None
) -> ListingOut:
    """A listing as ``viewer`` (None: a visitor who is not signed in) may see it.

    Drafts, pending and rejected listings exist only for their owner and operators; for
    anyone else they are a 404, exactly like a listing that does not exist.  With
    ``runtime``, a listing of a kind only eligible members see (``visible_to="eligible"``)
    is also checked: its owner and operators see it, a member only when no
    ``agorakit_can_take`` vetoes them (else the 403 ``not_eligible`` with the reasons),
    a visitor not at all (401).  Without ``runtime`` that check is the caller's (as
    :func:`check_can_take` makes it).
    """
    row = await listing_row(listing_id)
    if row is None or not _may_see(row, viewer):
        raise NotFound(f"there is no listing {listing_id}")
    listing = (await to_listings([row]))[0]
    if runtime is not None and row["kind"] in unlisted_kinds(runtime) and not _is_staff(row, viewer):
        if viewer is None:
            raise Unauthenticated(
                f"sign in to see listing {listing_id}: only the members who may take it see it"
            )
        reasons = await _access_reasons(runtime, listing, viewer)
        if reasons:
            raise NotEligible("; ".join(reasons), extra={"reasons": reasons})
    return listing


def _is_staff(row: dict[str, Any], viewer: MemberOut | None) -> bool:
    """The listing's owner or an operator."""
    return viewer is not None and (is_operator(viewer) or viewer.id == row["owner_id"])


def _may_see(row: dict[str, Any], viewer: MemberOut | None) -> bool:
    return row["status"] not in HIDDEN or _is_staff(row, viewer)


async def status_changed(
    runtime: Runtime, uow: UnitOfWork, row: dict[str, Any], old: str | None, new: str
) -> None:
    """Run ``agorakit_listing_status_changed`` in ``uow`` for listing ``row`` going from
    ``old`` to ``new`` (costs nothing when no plugin implements it)."""
    await runtime.hooks.collect(
        "agorakit_listing_status_changed",
        uow=uow,
        listing_id=row["id"],
        kind=row["kind"],
        owner_id=row["owner_id"],
        old_status=old,
        new_status=new,
        runtime=runtime,
    )


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
    """Create a draft.  Nothing is public until it is submitted (and approved).

    Called inside a caller's unit of work, it joins its transaction: a plugin creates a
    listing and its own rows together, or neither.
    """
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
        new_row = {"id": listing_id, "kind": kind.name, "owner_id": owner.id}
        await status_changed(runtime, uow, new_row, None, "draft")
    return await get_listing(listing_id, viewer=owner)


async def _owned(listing_id: int, owner: MemberOut) -> dict[str, Any]:
    row = await listing_row(listing_id)
    if row is None or row["owner_id"] != owner.id:
        # Another member's listing is a 404 whatever its status: no probing for drafts.
        raise NotFound(f"you have no listing {listing_id}")
    return row


def wrong_state(row: dict[str, Any], action: str, allowed: tuple[str, ...]) -> WrongListingState:
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
        raise wrong_state(row, "edited", ("draft", "pending_review", "published", "rejected", "paused"))
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
            raise wrong_state(
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
        if Listing.status in changes:
            await status_changed(runtime, uow, current, status, changes[Listing.status])
    return await get_listing(listing_id, viewer=owner)


async def submit_listing(runtime: Runtime, listing_id: int, *, owner: MemberOut) -> ListingOut:
    """Send a draft (or a rejected listing) to review; kinds without review publish at once.

    A listing with screening flags (``screening = "flag"``) always goes to review.  Called
    inside a caller's unit of work, it joins its transaction.
    """
    row = await _owned(listing_id, owner)
    if row["status"] not in ("draft", "rejected"):
        raise wrong_state(row, "submitted", ("draft", "rejected"))
    kind = kind_named(runtime, row["kind"])
    attributes = validate_attributes(kind, row["attributes"])
    slug = (await service.category_slugs()).get(row["category_id"], "")
    flags = await check_draft(runtime, _draft_of(row, slug, attributes))
    async with runtime.unit_of_work() as uow:
        current = await _owned(listing_id, owner)
        if current["status"] not in ("draft", "rejected"):
            raise wrong_state(current, "submitted", ("draft", "rejected"))
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
            changes.update(publication(uow.now))
            uow.record(
                ListingPublished(listing_id=listing_id, kind=row["kind"]), subject=subject, actor_id=owner.id
            )
        await Listing.update(changes).where(Listing.id == listing_id)
        await status_changed(runtime, uow, current, current["status"], changes[Listing.status])
    return await get_listing(listing_id, viewer=owner)


def publication(now: datetime) -> dict[Any, Any]:
    return {
        Listing.status: "published",
        Listing.published_at: now,
        Listing.published_us: epoch_us(now),
    }


def epoch_us(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


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
    return reasons + await _access_reasons(runtime, listing, member)


async def _access_reasons(runtime: Runtime, listing: ListingOut, member: MemberOut) -> list[str]:
    """Why ``member`` may not take ``listing`` whatever its status: no approved access to
    its category (a kind with ``takers="qualified"``), and the plugins' vetoes."""
    reasons: list[str] = []
    if listing.kind in qualified_kinds(runtime) and not await qualifications.is_qualified(
        member.id, listing.category
    ):
        reasons.append(
            f"you have no approved access to category {listing.category!r}; "
            "apply for it with POST /qualifications"
        )
    return reasons + (await take_vetoes(runtime, [listing], member))[listing.id]


async def take_vetoes(
    runtime: Runtime, listings: list[ListingOut], member: MemberOut
) -> dict[int, list[str]]:
    """The plugins' reasons why ``member`` may not take each of ``listings``
    (``agorakit_can_take``), by listing id (an empty list: no plugin vetoes it).

    Only the plugins': the listing's status, its owner and its kind's ``takers`` rule are
    the caller's to check (:func:`check_can_take` checks everything)."""
    out: dict[int, list[str]] = {}
    for listing in listings:
        vetoes = await runtime.hooks.collect(
            "agorakit_can_take", listing=listing, member=member, runtime=runtime
        )
        out[listing.id] = [str(veto) for veto in vetoes if veto]
    return out


async def check_can_take(runtime: Runtime, listing: ListingOut, member: MemberOut) -> None:
    """Raise 403 ``not_eligible`` (with every reason) unless ``member`` may take ``listing``:
    published, not their own, their access to its category when its kind has
    ``takers="qualified"``, and no ``agorakit_can_take`` veto."""
    reasons = await eligibility_reasons(runtime, listing, member)
    if reasons:
        raise NotEligible("; ".join(reasons), extra={"reasons": reasons})
