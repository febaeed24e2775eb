"""The core's own plugin for reviews: its table, its routes and its notifications."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.errors import NotFound
from agorakit.notifications import Notice
from agorakit.reviews.controllers import (
    OperatorReviewController,
    OrderReviewController,
    PublicReviewController,
)
from agorakit.reviews.events import EVENTS, ReviewPosted
from agorakit.reviews.piccolo_app import APP_CONFIG
from agorakit.reviews.service import get_review, listing_summaries, seller_summaries, store_seller_rating

#: longest excerpt of a review's text put in the notification
EXCERPT_LENGTH = 200


class ListingRatings:
    """The ratings listings show: visible reviews by buyers, of the seller and of the listing.

    This area keeps both summaries on each listing's row as well, in the transactions
    that change them (:func:`~agorakit.reviews.service.store_seller_rating`,
    :func:`~agorakit.reviews.service.count_listing_rating`): listing views read them from
    there and never call the methods below."""

    stored_on_listings = True

    async def sellers(self, member_ids):
        return await seller_summaries(member_ids)

    async def listings(self, listing_ids):
        return await listing_summaries(listing_ids)


@hookimpl
def agorakit_listing_ratings():
    return ListingRatings()


@hookimpl
async def agorakit_listing_created(listing_id, owner_id, runtime):
    """A new listing carries its seller's rating from the start (``sort=rating``)."""
    await store_seller_rating(runtime, owner_id, listing_id=listing_id)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [OrderReviewController, PublicReviewController, OperatorReviewController]


@hookimpl
async def agorakit_notify(event, runtime):
    """Tell the reviewed member about a review of them (``review.posted``)."""

    posted = event.payload
    if not isinstance(posted, ReviewPosted):
        return None

    try:
        review = await get_review(posted.review_id)
    except NotFound:  # reviews are never deleted; only a wiped database gets here
        return None
    return [
        Notice(
            member_id=posted.subject_member_id,
            category="reviews",
            template="review_received",
            context={
                "rating": review.rating,
                "text": excerpt(review.text),
                "author": review.author_name,
                "author_role": review.author_role,
                "order": posted.order_id,
                "review": review.id,
            },
            link=f"/orders/{posted.order_id}",
        )
    ]


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    """The start of ``text``, cut at a word boundary with an ellipsis when longer than ``length``."""
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" .,;:") + "…"


@hookimpl
def agorakit_event_types():

    return EVENTS
