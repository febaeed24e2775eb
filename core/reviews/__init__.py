"""Reviews: buyers' and sellers' ratings of each other after an order, and the sellers' summaries.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.reviews.schemas import PostReview as PostReview
    from agorakit.reviews.service import listing_summaries as listing_summaries
    from agorakit.reviews.service import post_review as post_review
    from agorakit.reviews.service import seller_summaries as seller_summaries
    from agorakit.reviews.service import store_seller_rating as store_seller_rating

EXPORTS: dict[str, str] = {
    "listing_summaries": "agorakit.reviews.service",
    "post_review": "agorakit.reviews.service",
    "PostReview": "agorakit.reviews.schemas",
    "seller_summaries": "agorakit.reviews.service",
    "store_seller_rating": "agorakit.reviews.service",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
