"""Reviews: the parties of a completed order rate (1-5) and describe each other.

Who and when: the buyer reviews the seller and the seller reviews the buyer, once each,
while the order is in one of its process's ``reviewable`` states (the final states of a
successful order) and no later than ``[reviews] window_days`` after it entered that
state.  One review per order and author is also a unique index, so two racing requests
end with one review and one 409.

Summaries count only visible reviews: a review an operator hides drops out of every
public list and average at once (it stays visible to the order's parties and operators,
marked hidden).  A member has two summaries: as a seller (what buyers wrote) and as a
buyer (what sellers wrote); a listing's summary is what buyers of that listing wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from piccolo.query.functions.aggregate import Count

from agorakit import orders
from agorakit.accounts.roles import is_operator
from agorakit.accounts.tables import Member
from agorakit.catalog.tables import Listing
from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.orders.tables import Order
from agorakit.pagination import decode_cursor, page
from agorakit.reviews.events import ReviewHidden, ReviewPosted, ReviewUnhidden
from agorakit.reviews.schemas import MemberRating, PostReview, ReviewOut, ReviewSummary
from agorakit.reviews.tables import Review

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
STARS = (1, 2, 3, 4, 5)


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
    title = "You already reviewed this order"


class NotReviewable(Conflict):
    code = "order_not_reviewable"
    title = "The order cannot be reviewed in its state"


class ReviewWindowClosed(Conflict):
    code = "review_window_closed"
    title = "The time to review this order is over"


# --------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------


def format_average(total: int, count: int) -> str | None:
    """``total / count`` rounded half up to 2 decimals ("4.50"); None without ratings."""
    if not count:
        return None
    average = (Decimal(total) / Decimal(count)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{average:.2f}"


_NO_STARS: dict[int, int] = dict.fromkeys(STARS, 0)


def _summary(distribution: dict[int, int]) -> ReviewSummary:
    if not distribution:  # most sellers and listings on a page
        return ReviewSummary(average=None, count=0, distribution=_NO_STARS.copy())
    count = sum(distribution.values())
    total = sum(stars * n for stars, n in distribution.items())
    return ReviewSummary(
        average=format_average(total, count),
        count=count,
        distribution={stars: distribution.get(stars, 0) for stars in STARS},
    )


def _distribution_query(column: Any, author_role: str) -> Prepared:
    """Stars per id of the visible reviews by ``author_role`` whose ``column`` is in a list."""
    return Prepared(
        lambda ids: (
            Review.select(column.as_alias("key"), Review.rating, Count(alias="n"))
            .where(any_of(column, ids) & (Review.hidden == False) & (Review.author_role == author_role))  # noqa: E712
            .group_by(column, Review.rating)
        )
    )


_DISTRIBUTIONS = {
    "seller": _distribution_query(Review.subject_id, "buyer"),  # members as sellers: what buyers wrote
    "buyer": _distribution_query(Review.subject_id, "seller"),
    "listing": _distribution_query(Review.listing_id, "buyer"),
}


async def _distributions(kind: str, ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """``{id: {stars: number}}`` of the visible reviews of ``kind`` (seller, buyer, listing)."""
    wanted = sorted(set(ids))
    out: dict[int, dict[int, int]] = {i: {} for i in wanted}
    if not wanted:
        return out
    for row in await _DISTRIBUTIONS[kind].run(wanted):
        out[row["key"]][row["rating"]] = row["n"]
    return out


async def seller_summaries(member_ids: Iterable[int]) -> dict[int, ReviewSummary]:
    """Members' ratings as sellers (what buyers wrote), by member id."""
    found = await _distributions("seller", member_ids)
    return {member_id: _summary(d) for member_id, d in found.items()}


async def buyer_summaries(member_ids: Iterable[int]) -> dict[int, ReviewSummary]:
    """Members' ratings as buyers (what sellers wrote), by member id."""
    found = await _distributions("buyer", member_ids)
    return {member_id: _summary(d) for member_id, d in found.items()}


async def listing_summaries(listing_ids: Iterable[int]) -> dict[int, ReviewSummary]:
    """Listings' ratings: what buyers wrote about orders of each listing, by listing id."""
    found = await _distributions("listing", listing_ids)
    return {listing_id: _summary(d) for listing_id, d in found.items()}


#: A seller's rating as one integer, best first: floor(average * 10^6) * 10^5 + the number
#: of ratings (capped at 99999), so equal averages rank the better-tried seller first; -1
#: for a seller without ratings, who comes last.  Visible reviews by buyers only (as
#: ``seller.rating`` shows).  Integer arithmetic, the same on SQLite and PostgreSQL, so the
#: keyset cursor of ``sort=rating`` stays exact.  With it, the summary ``seller.rating``
#: shows: the number of those ratings and their stars added up.
_SELLER_RATING = (
    "(SELECT CASE WHEN COUNT(*) = 0 THEN -1 "
    "ELSE (SUM(r.rating) * 1000000 / COUNT(*)) * 100000 "
    "+ (CASE WHEN COUNT(*) > 99999 THEN 99999 ELSE COUNT(*) END) END, "
    "COUNT(*), COALESCE(SUM(r.rating), 0) "
    "FROM core_review r WHERE r.subject_id = {} AND r.author_role = 'buyer' AND r.hidden = {})"
)


async def store_seller_rating(runtime: Runtime, member_id: int, *, listing_id: int | None = None) -> None:
    """Store ``member_id``'s rating as a seller on their listings, or on one of them: the
    key of ``sort=rating`` (``core_listing.seller_rating``, read from an index) and the
    summary every listing view shows as ``seller.rating`` (``seller_rating_count``,
    ``seller_rating_sum``).

    Call it inside the unit of work that changes what the rating counts (a buyer's review
    posted, hidden or shown again) or that creates a listing.  On PostgreSQL it first locks
    the member's row, so that such units of work about one seller take turns and the
    figures are computed in a statement that sees every one committed before it: two
    reviews posted at once both count.  (SQLite runs one write transaction at a time anyway.)
    """
    if runtime.db.is_postgres:
        await Member.raw("SELECT id FROM core_member WHERE id = {} FOR NO KEY UPDATE", member_id)
    where, args = "owner_id = {}", [member_id]
    if listing_id is not None:
        where, args = "id = {}", [listing_id]
    await Listing.raw(
        f"UPDATE core_listing SET (seller_rating, seller_rating_count, seller_rating_sum) = {_SELLER_RATING} "
        f"WHERE {where}",
        member_id,
        False,
        *args,
    )


async def count_listing_rating(listing_id: int | None, stars: int, *, step: int) -> None:
    """Add (``step=1``) or take away (``step=-1``) a buyer's visible rating of ``stars`` to
    the summary stored on the listing (``core_listing.rating_count``, ``rating_sum``: the
    listing's ``rating``), in the caller's unit of work; nothing for an order without a
    listing.

    An increment rather than a count of the reviews: the listing's reviews may be about
    several sellers (a campaign's workers), so no one lock orders their units of work,
    and an increment is exact under any number of them (each waits for the row's lock and
    adds to what the one before it left)."""
    if listing_id is None:
        return
    await Listing.raw(
        "UPDATE core_listing SET rating_count = rating_count + {}, rating_sum = rating_sum + {} WHERE id = {}",
        step,
        step * stars,
        listing_id,
    )


async def member_rating(member_id: int) -> MemberRating:
    """A member's two summaries (as seller, as buyer); 404 for an unknown member."""
    await _check_member(member_id)
    return await _member_rating(member_id)


async def _member_rating(member_id: int) -> MemberRating:
    as_seller = (await seller_summaries([member_id]))[member_id]
    as_buyer = (await buyer_summaries([member_id]))[member_id]
    return MemberRating(member_id=member_id, as_seller=as_seller, as_buyer=as_buyer)


async def listing_rating(listing_id: int) -> ReviewSummary:
    await _check_listing(listing_id)
    return (await listing_summaries([listing_id]))[listing_id]


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def _to_reviews(rows: list[dict[str, Any]], *, operator: bool = False) -> list[ReviewOut]:
    if not rows:
        return []
    authors = sorted({r["author_id"] for r in rows})
    names = {
        m["id"]: m["display_name"]
        for m in await Member.select(Member.id, Member.display_name).where(Member.id.is_in(authors))
    }
    return [
        ReviewOut(
            id=r["id"],
            order_id=r["order_id"],
            listing_id=r["listing_id"],
            author_id=r["author_id"],
            author_name=names.get(r["author_id"], ""),
            author_role=r["author_role"],
            subject_id=r["subject_id"],
            rating=r["rating"],
            text=r["text"],
            created_at=r["created_at"],
            hidden=bool(r["hidden"]),
            hidden_reason=r["hidden_reason"],
            hidden_by=r["hidden_by"] if operator else None,
            hidden_at=r["hidden_at"] if operator else None,
        )
        for r in rows
    ]


async def _review_row(review_id: int) -> dict[str, Any]:
    row = await Review.select().where(Review.id == review_id).first()
    if row is None:
        raise NotFound(f"there is no review {review_id}")
    return row


async def get_review(review_id: int, *, operator: bool = False) -> ReviewOut:
    return (await _to_reviews([await _review_row(review_id)], operator=operator))[0]


async def order_reviews(runtime: Runtime, order_id: int, *, caller: MemberOut) -> list[ReviewOut]:
    """Both reviews of an order, hidden ones included (marked), for its parties and operators."""
    await orders.get_order(runtime, order_id, caller=caller)  # 404 for anyone else
    rows = await Review.select().where(Review.order_id == order_id).order_by(Review.id)
    return await _to_reviews(rows, operator=is_operator(caller))


async def _page(query: Any, cursor: str | None, limit: int) -> tuple[list[ReviewOut], str | None]:
    """Newest first, keyset on the id."""
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Review.id < position["id"])
    rows, next_cursor = page(
        await query.order_by(Review.id, ascending=False).limit(limit + 1),
        limit,
        lambda row: {"id": row["id"]},
    )
    return await _to_reviews(rows), next_cursor


async def member_reviews(
    member_id: int, *, role: str | None = None, cursor: str | None = None, limit: int = 20
) -> tuple[list[ReviewOut], str | None]:
    """Visible reviews about a member, newest first; ``role`` = the member's role in the orders."""
    await _check_member(member_id)
    where = (Review.subject_id == member_id) & (Review.hidden == False)  # noqa: E712
    if role is not None:
        where &= Review.author_role == ("buyer" if role == "seller" else "seller")
    return await _page(Review.select().where(where), cursor, limit)


async def listing_reviews(
    listing_id: int, *, cursor: str | None = None, limit: int = 20
) -> tuple[list[ReviewOut], str | None]:
    """Visible reviews buyers wrote about orders of a listing, newest first."""
    await _check_listing(listing_id)
    where = (
        (Review.listing_id == listing_id) & (Review.author_role == "buyer") & (Review.hidden == False)  # noqa: E712
    )
    return await _page(Review.select().where(where), cursor, limit)


async def list_reviews(
    *, hidden: bool | None = None, cursor: str | None = None, limit: int = 20
) -> tuple[list[ReviewOut], str | None]:
    """Every review (operators), newest first; ``hidden`` filters by moderation status."""
    query = Review.select()
    if hidden is not None:
        query = query.where(Review.hidden == hidden)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Review.id < position["id"])
    rows, next_cursor = page(
        await query.order_by(Review.id, ascending=False).limit(limit + 1),
        limit,
        lambda row: {"id": row["id"]},
    )
    return await _to_reviews(rows, operator=True), next_cursor


async def _check_member(member_id: int) -> None:
    if not await Member.exists().where(Member.id == member_id):
        raise NotFound(f"there is no member {member_id}")


async def _check_listing(listing_id: int) -> None:
    if not await Listing.exists().where(Listing.id == listing_id):
        raise NotFound(f"there is no listing {listing_id}")


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def clean_text(runtime: Runtime, text: str) -> str:
    """The feedback without surrounding blanks; 422 when empty, too long or with control characters."""
    text = text.strip()
    limit = runtime.settings.reviews.max_text_length
    if not text:
        raise ValidationFailed([FieldError("text", "write a few words about how the order went")])
    if _CONTROL.search(text):
        raise ValidationFailed([FieldError("text", "must not contain control characters")])
    if len(text) > limit:
        message = f"must be at most {limit} characters (it has {len(text)})"
        raise ValidationFailed([FieldError("text", message)])
    return text


async def post_review(runtime: Runtime, order_id: int, cmd: PostReview, *, caller: MemberOut) -> ReviewOut:
    """A party of a completed order reviews the other party (once, within the window)."""
    order = await orders.get_order(runtime, order_id, caller=caller)  # 404 for non-parties
    if caller.id == order.buyer_id and caller.id != order.seller_id:
        author_role, subject_id = "buyer", order.seller_id
    elif caller.id == order.seller_id and caller.id != order.buyer_id:
        author_role, subject_id = "seller", order.buyer_id
    else:
        raise Forbidden("only the buyer and the seller of an order review it")
    text = clean_text(runtime, cmd.text)
    process = orders.registry(runtime).get(order.process, order.process_version)
    try:
        async with runtime.unit_of_work() as uow:
            row = await Order.select(Order.state, Order.state_entered_at).where(Order.id == order_id).first()
            if row is None:
                raise NotFound(f"there is no order {order_id}")
            _check_reviewable(runtime, order_id, row["state"], row["state_entered_at"], process, uow.now)
            if subject_id is None:
                raise NotReviewable(f"order {order_id} has no seller to review")
            if await Review.exists().where((Review.order_id == order_id) & (Review.author_id == caller.id)):
                raise _already(order_id)
            inserted = await Review.insert(
                Review(
                    order_id=order_id,
                    author_id=caller.id,
                    subject_id=subject_id,
                    author_role=author_role,
                    listing_id=order.listing_id,
                    rating=cmd.rating,
                    text=text,
                    hidden=False,
                    created_at=uow.now,
                )
            ).returning(Review.id)
            review_id = inserted[0]["id"]
            if author_role == "buyer":
                await store_seller_rating(runtime, subject_id)
                await count_listing_rating(order.listing_id, cmd.rating, step=1)
            posted = ReviewPosted(
                review_id=review_id,
                order_id=order_id,
                subject_member_id=subject_id,
                author_role=author_role,
                rating=cmd.rating,
                listing_id=order.listing_id,
            )
            uow.record(posted, subject=f"review:{review_id}", actor_id=caller.id)
    except Exception as exc:
        if is_unique_violation(exc):  # a concurrent request of the same author won
            raise _already(order_id) from None
        raise
    return await get_review(review_id)


def _already(order_id: int) -> AlreadyReviewed:
    return AlreadyReviewed(f"you already reviewed order {order_id}; each party reviews an order once")


def _check_reviewable(
    runtime: Runtime, order_id: int, state: str, entered_at: Any, process: Any, now: Any
) -> None:
    if not process.reviewable:
        raise NotReviewable(f"orders of {process.name} cannot be reviewed", extra={"state": state})
    if state not in process.reviewable:
        message = f"order {order_id} is {state}; reviews open when it is {' or '.join(process.reviewable)}"
        raise NotReviewable(message, extra={"state": state})
    days = runtime.settings.reviews.window_days
    closes = entered_at + timedelta(days=days)
    if now > closes:
        message = (
            f"the review window of order {order_id} closed on {closes.date().isoformat()} "
            f"({days} days after it was {state})"
        )
        raise ReviewWindowClosed(message, extra={"closed_at": closes.isoformat()})


async def hide_review(runtime: Runtime, review_id: int, *, reason: str, operator: Any) -> ReviewOut:
    """Hide a review (operators): it leaves public lists and summaries at once."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed([FieldError("reason", "say why the review is hidden")])
    async with runtime.unit_of_work() as uow:
        changed = (
            await Review.update(
                {
                    Review.hidden: True,
                    Review.hidden_reason: reason,
                    Review.hidden_by: operator.id,
                    Review.hidden_at: uow.now,
                }
            )
            .where((Review.id == review_id) & (Review.hidden == False))  # noqa: E712
            .returning(Review.id)
        )
        row = await _review_row(review_id)
        if not changed:
            raise Conflict(f"review {review_id} is already hidden")
        if row["author_role"] == "buyer":
            await store_seller_rating(runtime, row["subject_id"])
            await count_listing_rating(row["listing_id"], row["rating"], step=-1)
        hidden = ReviewHidden(
            review_id=review_id,
            order_id=row["order_id"],
            subject_member_id=row["subject_id"],
            author_id=row["author_id"],
            reason=reason,
        )
        uow.record(hidden, subject=f"review:{review_id}", actor_id=operator.id)
    return await get_review(review_id, operator=True)


async def unhide_review(runtime: Runtime, review_id: int, *, operator: Any) -> ReviewOut:
    """Show a hidden review again (operators)."""
    async with runtime.unit_of_work() as uow:
        changed = (
            await Review.update(
                {
                    Review.hidden: False,
                    Review.hidden_reason: None,
                    Review.hidden_by: None,
                    Review.hidden_at: None,
                }
            )
            .where((Review.id == review_id) & (Review.hidden == True))  # noqa: E712
            .returning(Review.id)
        )
        row = await _review_row(review_id)
        if not changed:
            raise Conflict(f"review {review_id} is not hidden")
        if row["author_role"] == "buyer":
            await store_seller_rating(runtime, row["subject_id"])
            await count_listing_rating(row["listing_id"], row["rating"], step=1)
        unhidden = ReviewUnhidden(
            review_id=review_id,
            order_id=row["order_id"],
            subject_member_id=row["subject_id"],
            author_id=row["author_id"],
        )
        uow.record(unhidden, subject=f"review:{review_id}", actor_id=operator.id)
    return await get_review(review_id, operator=True)
