"""HTTP routes of webhooks: operators register endpoints, follow and replay deliveries."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from agorakit.accounts import operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime
from agorakit.webhooks import service
from agorakit.webhooks.schemas import (
    CreateEndpoint,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    EndpointCreated,
    EndpointOut,
    EndpointPage,
    EndpointStatus,
    ReplayQueued,
    ReplayRange,
    SecretRotated,
    UpdateEndpoint,
)

#: integration tokens with this scope may read the endpoints and their deliveries
READ = {"integration_scope": "webhooks:read"}


class OperatorWebhooksController(Controller):
    path = "/operator/webhooks"
    tags = ["operator"]
    guards = [operator_only]

    @post(
        "",
        operation_id="operatorCreateWebhook",
        responses=problems(422),
        summary="Register a webhook endpoint: its URL and the event types it gets (returns its secret)",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[CreateEndpoint]
    ) -> EndpointCreated:
        return await service.create_endpoint(runtime, data, operator=request.user)

    @get("", operation_id="operatorListWebhooks", summary="The webhook endpoints, newest first", opt=READ)
    async def list_endpoints(
        self,
        status: FromQuery[EndpointStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> EndpointPage:
        items, next_cursor = await service.list_endpoints(status=status, cursor=cursor, limit=limit)
        return EndpointPage(items=items, next_cursor=next_cursor)

    @get(
        "/{endpoint_id:int}",
        operation_id="operatorGetWebhook",
        summary="One webhook endpoint with its pending and failed deliveries",
        opt=READ,
    )
    async def get_one(self, endpoint_id: Id) -> EndpointOut:
        return await service.get_endpoint(endpoint_id)

    @patch(
        "/{endpoint_id:int}",
        operation_id="operatorUpdateWebhook",
        responses=problems(422),
        summary="Change a webhook endpoint's URL, event types, description, or enable or disable it",
    )
    async def update(
        self, runtime: NamedDependency[Runtime], endpoint_id: Id, data: JSONBody[UpdateEndpoint]
    ) -> EndpointOut:
        return await service.update_endpoint(runtime, endpoint_id, data)

    @delete(
        "/{endpoint_id:int}",
        operation_id="operatorDeleteWebhook",
        summary="Delete a webhook endpoint (its pending deliveries are cancelled)",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_endpoint(self, runtime: NamedDependency[Runtime], endpoint_id: Id) -> None:
        await service.delete_endpoint(runtime, endpoint_id)

    @post(
        "/{endpoint_id:int}/rotate-secret",
        operation_id="operatorRotateWebhookSecret",
        summary="A new signing secret; the previous one still signs for 24 hours",
        status_code=HTTP_200_OK,
    )
    async def rotate_secret(self, runtime: NamedDependency[Runtime], endpoint_id: Id) -> SecretRotated:
        return await service.rotate_secret(runtime, endpoint_id)

    @post(
        "/{endpoint_id:int}/resume",
        operation_id="operatorResumeWebhook",
        summary="Resume a failing webhook endpoint: its waiting deliveries are sent in order",
        status_code=HTTP_200_OK,
    )
    async def resume(self, runtime: NamedDependency[Runtime], endpoint_id: Id) -> EndpointOut:
        return await service.resume_endpoint(runtime, endpoint_id)

    @get(
        "/{endpoint_id:int}/deliveries",
        operation_id="operatorListWebhookDeliveries",
        summary="A webhook endpoint's deliveries, newest first",
        opt=READ,
    )
    async def deliveries(
        self,
        endpoint_id: Id,
        status: FromQuery[DeliveryStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> DeliveryPage:
        items, next_cursor = await service.list_deliveries(
            endpoint_id, status=status, cursor=cursor, limit=limit
        )
        return DeliveryPage(items=items, next_cursor=next_cursor)

    @get(
        "/{endpoint_id:int}/deliveries/{delivery_id:int}",
        operation_id="operatorGetWebhookDelivery",
        summary="One delivery of a webhook endpoint with its attempts",
        opt=READ,
    )
    async def delivery(self, endpoint_id: Id, delivery_id: Id) -> DeliveryDetail:
        return await service.get_delivery(endpoint_id, delivery_id)

    @post(
        "/{endpoint_id:int}/deliveries/{delivery_id:int}/replay",
        operation_id="operatorReplayWebhookDelivery",
        summary="Send a delivery's event again (a new delivery with the same webhook-id)",
        status_code=HTTP_201_CREATED,
    )
    async def replay_delivery(
        self, runtime: NamedDependency[Runtime], endpoint_id: Id, delivery_id: Id
    ) -> DeliveryOut:
        return await service.replay_delivery(runtime, endpoint_id, delivery_id)

    @post(
        "/{endpoint_id:int}/replay",
        operation_id="operatorReplayWebhookEvents",
        responses=problems(422),
        summary="Send again every stored event of a time range that the endpoint's event types match",
        status_code=HTTP_200_OK,
    )
    async def replay_range(
        self, runtime: NamedDependency[Runtime], endpoint_id: Id, data: JSONBody[ReplayRange]
    ) -> ReplayQueued:
        return ReplayQueued(queued=await service.replay_range(runtime, endpoint_id, data))
