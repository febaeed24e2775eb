"""Request and response bodies of the integrations API: integration tokens and the
events feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

#: a scope, e.g. ``events:read`` (``GET /operator/integration-scopes`` lists them)
Scope = Annotated[str, msgspec.Meta(min_length=1, max_length=60, examples=["events:read"])]


class CreateIntegrationToken(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: what the token is for, e.g. the system that uses it
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["CRM sync"])]
    #: what it may read: one or more scopes
    scopes: Annotated[list[Scope], msgspec.Meta(max_length=20)]
    #: when it stops working (with a time zone, in the future); none: never
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class IntegrationTokenOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    scopes: list[str]
    #: the secret's first characters, to tell tokens apart (the secret is never shown again)
    prefix: str
    created_by: int
    created_at: datetime
    expires_at: datetime | None
    #: when a request last used it (noted at most once a minute); null: never
    last_used_at: datetime | None
    revoked_at: datetime | None
    #: revoked by an operator: it no longer works
    revoked: bool


class NewIntegrationToken(msgspec.Struct, kw_only=True):
    #: the new token (as the list shows it)
    integration_token: IntegrationTokenOut
    #: the secret, for ``Authorization: Bearer <token>``: shown only here, never again
    token: str


class IntegrationTokenPage(msgspec.Struct):
    items: list[IntegrationTokenOut]
    next_cursor: str | None


class IntegrationScopeOut(msgspec.Struct):
    scope: str
    description: str


class IntegrationScopeList(msgspec.Struct):
    items: list[IntegrationScopeOut]


class FeedEvent(msgspec.Struct):
    """An event as it leaves the site: the feed's items and webhooks' bodies."""

    #: stable across retries and replays (``evt_<n>``): deduplicate on it
    id: Annotated[str, msgspec.Meta(examples=["evt_41"])]
    #: the event type, e.g. ``order.transitioned``
    type: str
    #: when it happened, UTC
    created_at: str
    #: the event's fields (``GET /events/types``), without those kept on the site
    data: dict[str, Any]


class EventFeedPage(msgspec.Struct):
    items: list[FeedEvent]
    #: where to read on from (``?after=``): follow it, and poll with the last one
    next_cursor: str
    #: more events are stored after this page: read again at once
    has_more: bool


class EventFieldOut(msgspec.Struct):
    name: str
    #: the field's type, e.g. ``int``, ``str | None``, ``list[int]``
    type: str


class EventTypeOut(msgspec.Struct):
    #: the event type, e.g. ``order.transitioned``
    name: str
    description: str
    #: the fields of its ``data`` (those kept on the site left out)
    fields: list[EventFieldOut]
    #: the core area or the plugin that registers it
    registered_by: str


class EventTypeList(msgspec.Struct):
    items: list[EventTypeOut]
