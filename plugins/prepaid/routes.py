"""HTTP routes of requests (buyers), the feed and locks (sellers), under ``/prepaid``."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter

from agorakit.accounts import is_operator
from agorakit.errors import NotFound
from agorakit.http import Id, IdempotencyKey, Limit, MemberRequest, problems
from agorakit.money import created_or_replayed
from agorakit.plugins.prepaid import feed, locks, requests, service_types
from agorakit.plugins.prepaid.schemas import (
    CreateRequest,
    PrepaidRequestOut,
    PrepaidRequestPage,
    ReleaseLock,
    ReleasePage,
    ServiceTypesOut,
)
from agorakit.runtime import Runtime

Slug = Annotated[str, QueryParameter(min_length=1, max_length=120)]
TypeName = Annotated[str | None, QueryParameter(max_length=40)]
PriceText = Annotated[str | None, QueryParameter(max_length=32, description='decimal string, e.g. "12.50"')]
Status = Annotated[
    Literal[
        "awaiting_payment",
        "open",
        "in_progress",
        "delivered",
        "reported",
        "completed",
        "refunded",
        "cancelled",
        "expired",
    ]
    | None,
    QueryParameter(description="only requests in this status"),
]


class RequestController(Controller):
    path = "/prepaid"
    tags = ["prepaid"]

    @get(
        "/service-types",
        operation_id="prepaidListServiceTypes",
        summary="The service types of a category and the details each asks for",
    )
    async def list_service_types(self, runtime: NamedDependency[Runtime], category: Slug) -> ServiceTypesOut:
        settings = requests.settings_of(runtime)
        types = await service_types.service_types_for(settings, category)
        return ServiceTypesOut(category=category, items=[service_types.to_out(t) for t in types])

    @post(
        "/requests",
        operation_id="prepaidCreateRequest",
        summary="Post a request: prepaid (pay now) or classic (sellers send offers)",
        responses=problems(409, 422, 503),
    )
    async def create(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[CreateRequest],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PrepaidRequestOut]:
        out, replayed = await requests.create_request(
            runtime, data, buyer=request.user, idempotency_key=idempotency_key
        )
        return created_or_replayed(out, replayed)

    @get("/requests", operation_id="prepaidListMyRequests", summary="Your requests as a buyer, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        status: Status = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> PrepaidRequestPage:
        items, next_cursor = await requests.list_my_requests(
            runtime, buyer=request.user, status=status, cursor=cursor, limit=limit
        )
        return PrepaidRequestPage(items=items, next_cursor=next_cursor)

    @get(
        "/requests/{request_id:int}",
        operation_id="prepaidGetRequest",
        summary="One request",
        responses=problems(403, 404),
    )
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], request_id: Id
    ) -> PrepaidRequestOut:
        return await requests.get_request(runtime, request_id, caller=request.user)

    @post(
        "/requests/{request_id:int}/cancel",
        operation_id="prepaidCancelRequest",
        summary="Cancel a request nobody works on (a paid one is refunded to your credit)",
        responses=problems(403, 404, 409),
        status_code=200,
    )
    async def cancel(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], request_id: Id
    ) -> PrepaidRequestOut:
        return await requests.cancel_request(runtime, request_id, caller=request.user)

    @get(
        "/feed",
        operation_id="prepaidFeed",
        summary="Open requests in the categories you have access to, newest first",
        responses=problems(403, 422),
    )
    async def list_feed(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        category: Annotated[str | None, QueryParameter(max_length=120)] = None,
        service_type: TypeName = None,
        mode: FromQuery[Literal["prepaid", "classic"] | None] = None,
        min_price: PriceText = None,
        max_price: PriceText = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> PrepaidRequestPage:
        query = feed.FeedQuery(
            category=category,
            service_type=service_type,
            mode=mode,
            min_price=min_price,
            max_price=max_price,
            cursor=cursor,
            limit=limit,
        )
        items, next_cursor = await feed.feed(runtime, query, caller=request.user)
        return PrepaidRequestPage(items=items, next_cursor=next_cursor)

    @post(
        "/requests/{request_id:int}/lock",
        operation_id="prepaidLockRequest",
        summary="Lock a paid request: it is yours to deliver within its timeframe",
        responses=problems(403, 404, 409),
        status_code=200,
    )
    async def lock(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], request_id: Id
    ) -> PrepaidRequestOut:
        return await locks.lock_request(runtime, request_id, caller=request.user)

    @post(
        "/requests/{request_id:int}/release",
        operation_id="prepaidReleaseLock",
        summary="Give up your lock before the timeframe ends (kept in your history)",
        responses=problems(403, 404, 409),
        status_code=200,
    )
    async def release(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        request_id: Id,
        data: JSONBody[ReleaseLock | None] = None,
    ) -> PrepaidRequestOut:
        reason = data.reason if data is not None else ""
        return await locks.release_request(runtime, request_id, caller=request.user, reason=reason)

    @post(
        "/requests/{request_id:int}/return",
        operation_id="prepaidReturnToPool",
        summary="After the timeframe passed undelivered, send the request back to the feed",
        responses=problems(403, 404, 409),
        status_code=200,
    )
    async def return_to_pool(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], request_id: Id
    ) -> PrepaidRequestOut:
        return await locks.return_request(runtime, request_id, caller=request.user)

    @get(
        "/sellers/{seller_id:int}/releases",
        operation_id="prepaidSellerReleases",
        summary="Locks a seller held that ended without a delivery (the seller and operators)",
        responses=problems(404),
    )
    async def releases(
        self,
        request: MemberRequest,
        seller_id: Id,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> ReleasePage:
        if request.user.id != seller_id and not is_operator(request.user):
            raise NotFound(f"there is no release history of member {seller_id} for you")
        items, next_cursor = await locks.seller_releases(seller_id, cursor=cursor, limit=limit)
        return ReleasePage(items=items, next_cursor=next_cursor)
