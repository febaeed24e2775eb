"""Request and response bodies of the reviews API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

#: stars, 1 (worst) to 5 (best)
Stars = Annotated[int, msgspec.Meta(ge=1, le=5, examples=[5])]
#: the site's ``[reviews] max_text_length`` is checked by the service; this is a hard cap
ReviewText = Annotated[str, msgspec.Meta(max_length=20_000, examples=["Fast, friendly and spot on."])]
AuthorRole = Literal["buyer", "seller"]


class PostReview(msgspec.Struct, forbid_unknown_fields=True):
    rating: Stars
    #: the feedback, 1 to ``[reviews] max_text_length`` characters (default 2000)
    text: ReviewText


class HideReview(msgspec.Struct, forbid_unknown_fields=True):
    #: why it is hidden (kept for the record and shown to the order's parties)
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class ReviewOut(msgspec.Struct, kw_only=True):
    id: int
    order_id: int
    #: the order's listing, if it had one
    listing_id: int | None
    author_id: int
    author_name: str
    #: the author's role in the order: "buyer" (reviews the seller) or "seller"
    author_role: AuthorRole
    #: the reviewed member (the order's other party)
    subject_id: int
    rating: int
    text: str
    created_at: datetime
    #: hidden by an operator: out of public lists and summaries
    hidden: bool = False
    hidden_reason: str | None = None
    #: operators only
    hidden_by: int | None = None
    hidden_at: datetime | None = None


class ReviewSummary(msgspec.Struct):
    #: average of the visible ratings, rounded half up to 2 decimals ("4.50"); null without ratings
    average: str | None
    count: int
    #: number of visible ratings per star, "1" to "5"
    distribution: dict[int, int]


class MemberRating(msgspec.Struct):
    member_id: int
    #: reviews buyers wrote about the member's sales
    as_seller: ReviewSummary
    #: reviews sellers wrote about the member's purchases
    as_buyer: ReviewSummary


class MemberReviewPage(msgspec.Struct):
    items: list[ReviewOut]
    next_cursor: str | None
    rating: MemberRating


class ListingReviewPage(msgspec.Struct):
    items: list[ReviewOut]
    next_cursor: str | None
    #: buyers' ratings of orders of this listing
    rating: ReviewSummary


class ReviewPage(msgspec.Struct):
    items: list[ReviewOut]
    next_cursor: str | None


class OrderReviews(msgspec.Struct):
    items: list[ReviewOut]
