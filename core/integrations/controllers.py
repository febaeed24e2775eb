"""HTTP routes of the integrations area: integration tokens (operators) and the events
feed (operators, and integration tokens with ``events:read``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from agorakit.accounts import INTEGRATION_SCOPE, operator_only
from agorakit.http.openapi import problems
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.integrations import feed, service
from agorakit.integrations.schemas import (
    CreateIntegrationToken,
    EventFeedPage,
    EventTypeList,
    IntegrationScopeList,
    IntegrationScopeOut,
    IntegrationTokenOut,
    IntegrationTokenPage,
    NewIntegrationToken,
)
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime

#: the feed's routes: operators, and integration tokens holding ``events:read``
EVENTS_READ = {INTEGRATION_SCOPE: "events:read"}
#: who is refused with a 403
_FEED_403 = problems(
    s403="The caller is not an operator (`forbidden`), or the integration token lacks `events:read` (`scope_missing`)."
)

#: ``?limit=`` of the feed (validated by the service: 1-500, a 422 beyond)
FeedLimit = Annotated[int, QueryParameter(description="Events per page, 1 to 500.")]


class OperatorIntegrationTokenController(Controller):
    path = "/operator/integration-tokens"
    tags = ["operator"]
    guards = [operator_only]

    @post(
        "",
        operation_id="createIntegrationToken",
        summary="Make a read-only integration token with scopes (its secret is shown only here)",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[CreateIntegrationToken],
    ) -> NewIntegrationToken:
        return await service.create_token(runtime, data, operator=request.user)

    @get(
        "", operation_id="listIntegrationTokens", summary="Every integration token, newest first (no secrets)"
    )
    async def list_tokens(
        self, cursor: FromQuery[str | None] = None, limit: Limit = DEFAULT_LIMIT
    ) -> IntegrationTokenPage:
        items, next_cursor = await service.list_tokens(cursor=cursor, limit=limit)
        return IntegrationTokenPage(items=items, next_cursor=next_cursor)

    @get("/{token_id:int}", operation_id="getIntegrationToken", summary="One integration token (no secret)")
    async def get_one(self, token_id: Id) -> IntegrationTokenOut:
        return await service.get_token(token_id)

    @delete(
        "/{token_id:int}",
        operation_id="revokeIntegrationToken",
        summary="Revoke an integration token: it stops working on the next request",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def revoke(self, request: MemberRequest, runtime: NamedDependency[Runtime], token_id: Id) -> None:
        await service.revoke_token(runtime, token_id, operator=request.user)


class OperatorIntegrationScopeController(Controller):
    path = "/operator/integration-scopes"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="listIntegrationScopes", summary="The scopes an integration token may hold")
    async def list_scopes(self, runtime: NamedDependency[Runtime]) -> IntegrationScopeList:
        scopes = service.integration_scopes(runtime)
        return IntegrationScopeList(
            items=[IntegrationScopeOut(scope=s, description=d) for s, d in scopes.items()]
        )


class EventFeedController(Controller):
    path = "/events"
    tags = ["events"]
    guards = [operator_only]

    @get(
        "",
        operation_id="listEvents",
        summary="The site's events in order, after a cursor (operators, integration tokens with events:read)",
        opt=EVENTS_READ,
        responses=_FEED_403,
    )
    async def list_events(
        self,
        runtime: NamedDependency[Runtime],
        after: FromQuery[str | None] = None,
        types: FromQuery[str | None] = None,
        limit: FeedLimit = feed.DEFAULT_LIMIT,
    ) -> EventFeedPage:
        return await feed.read_events(runtime, after=after, types=types, limit=limit)

    @get(
        "/types",
        operation_id="listEventTypes",
        summary="Every event type: its fields and who registers it",
        opt=EVENTS_READ,
        responses=_FEED_403,
    )
    async def list_event_types(self, runtime: NamedDependency[Runtime]) -> EventTypeList:
        return EventTypeList(items=feed.event_types(runtime))
