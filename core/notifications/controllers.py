"""HTTP routes of the notifications area: the inbox, email settings, operator views."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from agorakit.accounts.auth import operator_only
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.notifications import outboxes, service
from agorakit.notifications.schemas import (
    EmailOut,
    EmailPage,
    EventOut,
    EventPage,
    MarkedRead,
    NotificationOut,
    NotificationPage,
    NotificationSettings,
    UnreadCount,
    UpdateNotificationSettings,
)
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.runtime import Runtime


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get("", operation_id="listNotifications", summary="Your notifications, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        unread: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> NotificationPage:
        items, next_cursor = await service.list_notifications(
            request.user.id, unread=unread, cursor=cursor, limit=limit
        )
        return NotificationPage(items=items, next_cursor=next_cursor)

    @get(
        "/unread-count",
        operation_id="countUnreadNotifications",
        summary="How many notifications you have not read",
    )
    async def count_unread(self, request: MemberRequest) -> UnreadCount:
        return UnreadCount(unread=await service.unread_count(request.user.id))

    @post(
        "/{notification_id:int}/read",
        operation_id="markNotificationRead",
        summary="Mark one of your notifications read",
        status_code=HTTP_200_OK,
    )
    async def read_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], notification_id: Id
    ) -> NotificationOut:
        return await service.mark_read(runtime, request.user.id, notification_id)

    @post(
        "/read-all",
        operation_id="markAllNotificationsRead",
        summary="Mark every notification of yours read",
        status_code=HTTP_200_OK,
    )
    async def read_all(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> MarkedRead:
        marked = await service.mark_all_read(runtime, request.user.id)
        return MarkedRead(marked=marked, unread=await service.unread_count(request.user.id))


class NotificationSettingsController(Controller):
    path = "/me/notification-settings"
    tags = ["notifications"]

    @get(
        "",
        operation_id="getNotificationSettings",
        summary="Which notification categories you also get by email",
    )
    async def get_settings(self, request: MemberRequest) -> NotificationSettings:
        return await service.email_preferences(request.user.id)

    @put("", operation_id="updateNotificationSettings", summary="Turn email on or off per category")
    async def update_settings(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[UpdateNotificationSettings],
    ) -> NotificationSettings:
        return await service.set_email_preferences(runtime, request.user.id, data.email)


class OperatorEmailController(Controller):
    path = "/operator/emails"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "",
        operation_id="operatorListEmails",
        summary="Emails of the outbox, newest first (e.g. the failed ones)",
    )
    async def list_emails(
        self,
        status: FromQuery[Literal["pending", "sending", "sent", "failed"] | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> EmailPage:
        items, next_cursor = await outboxes.list_emails(status=status, cursor=cursor, limit=limit)
        return EmailPage(items=items, next_cursor=next_cursor)

    @post(
        "/{email_id:int}/retry",
        operation_id="operatorRetryEmail",
        summary="Try a failed email again, starting now",
        status_code=HTTP_200_OK,
    )
    async def retry(self, runtime: NamedDependency[Runtime], email_id: Id) -> EmailOut:
        return await outboxes.retry_email(runtime, email_id)


class OperatorEventController(Controller):
    path = "/operator/events"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "",
        operation_id="operatorListEvents",
        summary="Domain events, newest first (e.g. the ones no handler took)",
    )
    async def list_events(
        self,
        status: FromQuery[Literal["pending", "published", "failed"] | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> EventPage:
        items, next_cursor = await outboxes.list_events(status=status, cursor=cursor, limit=limit)
        return EventPage(items=items, next_cursor=next_cursor)

    @post(
        "/{event_id:int}/retry",
        operation_id="operatorRetryEvent",
        summary="Publish a failed event again (at the worker's next sweep)",
        status_code=HTTP_200_OK,
    )
    async def retry(self, runtime: NamedDependency[Runtime], event_id: Id) -> EventOut:
        return await outboxes.retry_event(runtime, event_id)
