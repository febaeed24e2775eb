"""Who the webhooks area tells, and the operators' queue of failing endpoints:

- ``webhook.endpoint_failing``: every active operator, category ``account``, template
  ``webhook_endpoint_failing``, linking to the endpoint;
- the queue ``webhooks.failing`` (``GET /operator/queues``): the failing endpoints, the
  longest failing first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.accounts import OPERATOR_ROLES
from agorakit.accounts.tables import Member
from agorakit.http import OperatorQueue, count_queue
from agorakit.notifications import Notice
from agorakit.webhooks.events import WebhookEndpointFailing
from agorakit.webhooks.tables import WebhookEndpoint

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events import DomainEvent


async def webhook_notices(event: DomainEvent) -> list[Notice] | None:
    payload = event.payload
    if not isinstance(payload, WebhookEndpointFailing):
        return None
    operators = await Member.select(Member.id).where(
        Member.role.is_in(sorted(OPERATOR_ROLES)) & (Member.status == "active")
    )
    context = {
        "endpoint": payload.endpoint_id,
        "url": payload.url,
        "delivery": payload.delivery_id,
        "attempts": payload.attempts,
        "last_error": payload.last_error,
    }
    return [
        Notice(
            member_id=row["id"],
            category="account",
            template="webhook_endpoint_failing",
            context=context,
            link=f"/operator/webhooks/{payload.endpoint_id}",
        )
        for row in sorted(operators, key=lambda row: row["id"])
    ]


async def failing_queue() -> OperatorQueue:
    """The endpoints that are failing, counted; the oldest since it began failing."""
    e = WebhookEndpoint
    counted = await count_queue(e, (e.status == "failing") & e.deleted_at.is_null(), since=e.failing_since)
    return OperatorQueue(
        key="webhooks.failing",
        title="Webhook endpoints failing",
        count=counted.count,
        oldest_at=counted.oldest_at,
        list_path="/operator/webhooks?status=failing",
        area="webhooks",
    )
