"""HTTP routes of the reviews area: post and read reviews, ratings, moderation."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts.auth import operator_only
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.reviews import service
from agorakit.reviews.schemas import (
    HideReview,
    ListingReviewPage,
    MemberRating,
    MemberReviewPage,
    OrderReviews,
    PostReview,
    ReviewOut,
    ReviewPage,
)
from agorakit.runtime import Runtime

PUBLIC = {"exclude_from_auth": True}
#: a public read: on a site with a read replica ([database] read_url) it reads from there
PUBLIC_READ = {**PUBLIC, "read_replica": True}


class OrderReviewController(Controller):
    path = "/orders/{order_id:int}/reviews"
    tags = ["reviews"]

    @post(
        "",
        operation_id="postReview",
        summary="Review the other party of a completed order (once per party)",
        status_code=HTTP_201_CREATED,
    )
    async def post_review(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[PostReview],
    ) -> ReviewOut:
        return await service.post_review(runtime, order_id, data, caller=request.user)

    @get("", operation_id="listOrderReviews", summary="The reviews of an order (parties and operators)")
    async def list_order_reviews(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> OrderReviews:
        return OrderReviews(items=await service.order_reviews(runtime, order_id, caller=request.user))


class PublicReviewController(Controller):
    tags = ["reviews"]

    @get(
        "/members/{member_id:int}/reviews",
        operation_id="listMemberReviews",
        summary="Visible reviews about a member, newest first, with their rating",
        opt=PUBLIC_READ,
    )
    async def member_reviews(
        self,
        member_id: Id,
        role: FromQuery[Literal["seller", "buyer"] | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> MemberReviewPage:
        items, next_cursor = await service.member_reviews(member_id, role=role, cursor=cursor, limit=limit)
        rating = await service.member_rating(member_id)
        return MemberReviewPage(items=items, next_cursor=next_cursor, rating=rating)

    @get(
        "/members/{member_id:int}/rating",
        operation_id="getMemberRating",
        summary="A member's rating as a seller and as a buyer",
        opt=PUBLIC_READ,
    )
    async def member_rating(self, member_id: Id) -> MemberRating:
        return await service.member_rating(member_id)

    @get(
        "/listings/{listing_id:int}/reviews",
        operation_id="listListingReviews",
        summary="Visible reviews buyers wrote about a listing, newest first, with its rating",
        opt=PUBLIC_READ,
    )
    async def listing_reviews(
        self, listing_id: Id, cursor: FromQuery[str | None] = None, limit: Limit = DEFAULT_LIMIT
    ) -> ListingReviewPage:
        items, next_cursor = await service.listing_reviews(listing_id, cursor=cursor, limit=limit)
        rating = await service.listing_rating(listing_id)
        return ListingReviewPage(items=items, next_cursor=next_cursor, rating=rating)


class OperatorReviewController(Controller):
    path = "/operator/reviews"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="operatorListReviews", summary="Every review, newest first; filter by hidden")
    async def list_reviews(
        self,
        hidden: FromQuery[bool | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ReviewPage:
        items, next_cursor = await service.list_reviews(hidden=hidden, cursor=cursor, limit=limit)
        return ReviewPage(items=items, next_cursor=next_cursor)

    @get(
        "/{review_id:int}", operation_id="operatorGetReview", summary="One review with its moderation details"
    )
    async def get_one(self, review_id: Id) -> ReviewOut:
        return await service.get_review(review_id, operator=True)

    @post(
        "/{review_id:int}/hide",
        operation_id="operatorHideReview",
        summary="Hide a review from public lists and ratings",
        status_code=HTTP_200_OK,
    )
    async def hide(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        review_id: Id,
        data: JSONBody[HideReview],
    ) -> ReviewOut:
        return await service.hide_review(runtime, review_id, reason=data.reason, operator=request.user)

    @post(
        "/{review_id:int}/unhide",
        operation_id="operatorUnhideReview",
        summary="Show a hidden review again",
        status_code=HTTP_200_OK,
    )
    async def unhide(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], review_id: Id
    ) -> ReviewOut:
        return await service.unhide_review(runtime, review_id, operator=request.user)
