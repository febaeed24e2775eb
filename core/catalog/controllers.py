"""HTTP routes of the catalog area: categories, qualifications, listings, moderation, search."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts import MemberOut, operator_only
from agorakit.accounts import service as accounts
from agorakit.catalog import listings, moderation, qualifications, search, service
from agorakit.catalog.schemas import (
    ApplyQualification,
    CategoryNode,
    CategoryOut,
    CreateCategory,
    CreateListing,
    Eligibility,
    ListingOut,
    ListingPage,
    ListingStatus,
    OperatorMoveBody,
    PendingListingPage,
    QualificationOut,
    QualificationPage,
    QualificationStatus,
    RejectBody,
    Sort,
    UpdateCategory,
    UpdateListing,
    UpdateMyQualification,
)
from agorakit.db import read_from_primary
from agorakit.errors import FieldError, Unauthenticated, ValidationFailed
from agorakit.http.openapi import problems
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.money import parse_amount
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime

Currency = Annotated[str | None, QueryParameter(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str | None, QueryParameter(pattern=r"^[A-Za-z]{2}$")]
PriceText = Annotated[str | None, QueryParameter(max_length=32, description='decimal string, e.g. "12.50"')]
CategoryFilter = Annotated[str | None, QueryParameter(max_length=60)]
PUBLIC = {"exclude_from_auth": True}
#: a public read: on a site with a read replica ([database] read_url) it reads from there
PUBLIC_READ = {**PUBLIC, "read_replica": True}


async def optional_member(request: Request) -> MemberOut | None:
    """The caller on a public route: None without a token, 401 with a bad one."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    jwt_auth = request.app.state.jwt_auth
    try:
        if scheme.lower() != "bearer" or not encoded:
            raise NotAuthorizedException()
        token = jwt_auth.token_cls.decode(encoded, secret=jwt_auth.token_secret, algorithm=jwt_auth.algorithm)
        member = await accounts.member_for_token(int(token.sub), str(token.extras.get("ss", "")))
    except (NotAuthorizedException, ValueError):
        member = None
    if member is None:
        raise Unauthenticated("the bearer token is invalid, expired or revoked; log in again")
    return member


class CategoryController(Controller):
    tags = ["catalog"]

    @get("/categories", operation_id="listCategories", summary="The category tree", opt=PUBLIC_READ)
    async def tree(self) -> list[CategoryNode]:
        return await service.category_tree()

    @post(
        "/operator/categories",
        operation_id="operatorCreateCategory",
        summary="Create a category",
        guards=[operator_only],
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[CreateCategory]
    ) -> CategoryOut:
        return await service.create_category(runtime, data, actor_id=request.user.id)

    @patch(
        "/operator/categories/{category_id:int}",
        operation_id="operatorUpdateCategory",
        summary="Rename, move or reorder a category",
        guards=[operator_only],
    )
    async def update(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        category_id: Id,
        data: JSONBody[UpdateCategory],
    ) -> CategoryOut:
        return await service.update_category(runtime, category_id, data, actor_id=request.user.id)


class QualificationController(Controller):
    tags = ["catalog"]

    @post(
        "/qualifications",
        operation_id="applyForQualification",
        summary="Apply to sell in a category",
        status_code=HTTP_201_CREATED,
    )
    async def apply(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[ApplyQualification]
    ) -> QualificationOut:
        return await qualifications.apply_for_qualification(runtime, data, member_id=request.user.id)

    @get("/me/qualifications", operation_id="listMyQualifications", summary="Your applications, oldest first")
    async def mine(
        self, request: MemberRequest, cursor: FromQuery[str | None] = None, limit: Limit = DEFAULT_LIMIT
    ) -> QualificationPage:
        items, next_cursor = await qualifications.list_qualifications(
            cursor=cursor, limit=limit, member_id=request.user.id
        )
        return QualificationPage(items=items, next_cursor=next_cursor)

    @patch(
        "/me/qualifications/{qualification_id:int}",
        operation_id="updateMyQualification",
        summary="Choose whether you hear of new work in a category you are approved for",
    )
    async def update_mine(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        qualification_id: Id,
        data: JSONBody[UpdateMyQualification],
    ) -> QualificationOut:
        return await qualifications.update_my_qualification(
            runtime, qualification_id, data, member_id=request.user.id
        )

    @get(
        "/operator/qualifications",
        operation_id="operatorListQualifications",
        summary="Applications in one status (pending by default), oldest first",
        guards=[operator_only],
    )
    async def listed(
        self,
        status: FromQuery[QualificationStatus] = "pending",
        category: CategoryFilter = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> QualificationPage:
        items, next_cursor = await qualifications.list_qualifications(
            cursor=cursor, limit=limit, status=status, category=category
        )
        return QualificationPage(items=items, next_cursor=next_cursor)

    @post(
        "/operator/qualifications/{qualification_id:int}/approve",
        operation_id="operatorApproveQualification",
        summary="Approve an application",
        guards=[operator_only],
        status_code=HTTP_200_OK,
    )
    async def approve(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], qualification_id: Id
    ) -> QualificationOut:
        return await qualifications.decide_qualification(
            runtime, qualification_id, approve=True, actor_id=request.user.id
        )

    @post(
        "/operator/qualifications/{qualification_id:int}/reject",
        operation_id="operatorRejectQualification",
        summary="Reject an application with a reason",
        guards=[operator_only],
        status_code=HTTP_200_OK,
    )
    async def reject(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        qualification_id: Id,
        data: JSONBody[RejectBody],
    ) -> QualificationOut:
        return await qualifications.decide_qualification(
            runtime, qualification_id, approve=False, actor_id=request.user.id, reason=data.reason
        )

    @post(
        "/operator/qualifications/{qualification_id:int}/revoke",
        operation_id="operatorRevokeQualification",
        summary="Revoke an approved member's access to a category, with a reason",
        guards=[operator_only],
        status_code=HTTP_200_OK,
    )
    async def revoke(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        qualification_id: Id,
        data: JSONBody[RejectBody],
    ) -> QualificationOut:
        return await qualifications.revoke_qualification(
            runtime, qualification_id, actor_id=request.user.id, reason=data.reason
        )


class ListingController(Controller):
    tags = ["listings"]

    @get(
        "/listings",
        operation_id="browseListings",
        summary="Browse and search published listings",
        opt=PUBLIC_READ,
    )
    async def browse(
        self,
        runtime: NamedDependency[Runtime],
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        kind: Annotated[str | None, QueryParameter(max_length=40)] = None,
        category: Annotated[str | None, QueryParameter(max_length=60)] = None,
        owner: Annotated[int | None, QueryParameter(ge=1, le=2_147_483_647)] = None,
        country: Country = None,
        currency: Currency = None,
        min_price: PriceText = None,
        max_price: PriceText = None,
        sort: FromQuery[Sort | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ListingPage:
        if (min_price or max_price) and not currency:
            currency = runtime.settings.site.currency  # a price means nothing without its currency
        prices = [
            parse_amount(text, currency or "", field=name, allow_zero=True) if text else None
            for name, text in (("min_price", min_price), ("max_price", max_price))
        ]
        items, next_cursor = await search.browse(
            runtime,
            q=q,
            kind=kind,
            category=category,
            owner=owner,
            country=country,
            currency=currency,
            min_price=prices[0],
            max_price=prices[1],
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        return ListingPage(items=items, next_cursor=next_cursor)

    @get(
        "/listings/{listing_id:int}",
        operation_id="getListing",
        responses=problems(401, 403),
        summary="One listing",
        opt=PUBLIC_READ,
    )
    async def get_one(
        self, request: Request, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> ListingOut:
        if "authorization" in request.headers:
            # A signed-in caller (whose token must not outlive a logout) may be the owner,
            # who sees the drafts they just wrote: from the primary.
            read_from_primary()
        viewer = await optional_member(request)
        return await listings.get_listing(listing_id, viewer=viewer, runtime=runtime)

    @get(
        "/listings/{listing_id:int}/eligibility",
        operation_id="getListingEligibility",
        summary="Whether you may take (order) a listing, and why not",
    )
    async def eligibility(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> Eligibility:
        listing = await listings.get_listing(listing_id, viewer=request.user)
        reasons = await listings.eligibility_reasons(runtime, listing, request.user)
        return Eligibility(eligible=not reasons, reasons=reasons)

    @post(
        "/listings",
        operation_id="createListing",
        summary="Create a listing (a draft)",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[CreateListing]
    ) -> ListingOut:
        return await listings.create_listing(runtime, data, owner=request.user)

    @patch("/listings/{listing_id:int}", operation_id="updateListing", summary="Edit one of your listings")
    async def update(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[UpdateListing],
    ) -> ListingOut:
        return await listings.update_listing(runtime, listing_id, data, owner=request.user)

    @post(
        "/listings/{listing_id:int}/submit",
        operation_id="submitListing",
        summary="Submit a draft for review (or publish it when its kind needs none)",
        status_code=HTTP_200_OK,
    )
    async def submit(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> ListingOut:
        return await listings.submit_listing(runtime, listing_id, owner=request.user)

    @post(
        "/listings/{listing_id:int}/pause",
        operation_id="pauseListing",
        summary="Hide a published listing for a while",
        status_code=HTTP_200_OK,
    )
    async def pause(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> ListingOut:
        return await moderation.move_own_listing(runtime, listing_id, "pause", owner=request.user)

    @post(
        "/listings/{listing_id:int}/resume",
        operation_id="resumeListing",
        summary="Publish a paused listing again",
        status_code=HTTP_200_OK,
    )
    async def resume(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> ListingOut:
        return await moderation.move_own_listing(runtime, listing_id, "resume", owner=request.user)

    @post(
        "/listings/{listing_id:int}/close",
        operation_id="closeListing",
        summary="Close a listing for good",
        status_code=HTTP_200_OK,
    )
    async def close(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> ListingOut:
        return await moderation.move_own_listing(runtime, listing_id, "close", owner=request.user)

    @get("/me/listings", operation_id="listMyListings", summary="Your listings in every status, newest first")
    async def mine(
        self,
        request: MemberRequest,
        status: FromQuery[ListingStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ListingPage:
        items, next_cursor = await listings.list_own(
            request.user.id, cursor=cursor, limit=limit, status=status
        )
        return ListingPage(items=items, next_cursor=next_cursor)


class ModerationController(Controller):
    path = "/operator/listings"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "/pending",
        operation_id="operatorPendingListings",
        summary="Listings waiting for review, oldest first",
    )
    async def pending(
        self,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        kind: Annotated[
            str | None,
            QueryParameter(max_length=40, description="only listings of this kind (gig, lead ...)"),
        ] = None,
    ) -> PendingListingPage:
        items, next_cursor = await moderation.pending_queue(runtime, cursor=cursor, limit=limit, kind=kind)
        return PendingListingPage(
            items=items,
            next_cursor=next_cursor,
            review_target_hours=runtime.settings.listings.review_target_hours,
        )

    @post(
        "/{listing_id:int}/approve",
        operation_id="operatorApproveListing",
        summary="Approve a listing (it is published)",
        status_code=HTTP_200_OK,
    )
    async def approve(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], listing_id: Id
    ) -> ListingOut:
        return await moderation.moderate(runtime, listing_id, approve=True, actor_id=request.user.id)

    @post(
        "/{listing_id:int}/reject",
        operation_id="operatorRejectListing",
        summary="Reject a listing with a reason shown to its owner",
        status_code=HTTP_200_OK,
    )
    async def reject(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[RejectBody],
    ) -> ListingOut:
        return await moderation.moderate(
            runtime, listing_id, approve=False, actor_id=request.user.id, reason=data.reason.strip()
        )

    @post(
        "/{listing_id:int}/pause",
        operation_id="operatorPauseListing",
        summary="Pause any published listing, with a reason told to its owner",
        status_code=HTTP_200_OK,
    )
    async def pause(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[OperatorMoveBody],
    ) -> ListingOut:
        return await _operator_move(runtime, request, listing_id, "pause", data)

    @post(
        "/{listing_id:int}/resume",
        operation_id="operatorResumeListing",
        summary="Publish any paused listing again, with a reason told to its owner",
        status_code=HTTP_200_OK,
    )
    async def resume(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[OperatorMoveBody],
    ) -> ListingOut:
        return await _operator_move(runtime, request, listing_id, "resume", data)

    @post(
        "/{listing_id:int}/close",
        operation_id="operatorCloseListing",
        summary="Close any listing for good, with a reason told to its owner",
        status_code=HTTP_200_OK,
    )
    async def close(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[OperatorMoveBody],
    ) -> ListingOut:
        return await _operator_move(runtime, request, listing_id, "close", data)


async def _operator_move(
    runtime: Runtime, request: MemberRequest, listing_id: int, action: str, data: OperatorMoveBody
) -> ListingOut:
    reason = data.reason.strip()
    if not reason:
        raise ValidationFailed([FieldError("reason", "say why, so the owner knows")])
    return await moderation.move_listing(runtime, listing_id, action, actor=request.user, reason=reason)
