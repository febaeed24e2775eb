"""The operators' side of webhooks: registering endpoints, their secrets, resuming,
reading deliveries and their attempts, and replaying events.

An endpoint is ``enabled`` or not, and ``status`` says where its sending is: ``active``;
``failing`` once a delivery failed through the whole retry schedule (new deliveries are
still queued, none is sent until an operator resumes it); ``disabled`` while
``enabled`` is false (nothing is queued for it, and what was queued waits).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.query.functions.aggregate import Count, Max

from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.events import (
    FeedPosition,
    check_patterns,
    event_names_between,
    last_event_id,
    matches,
    public_event_id,
)
from agorakit.pagination import decode_cursor, page
from agorakit.webhooks.addresses import check_url
from agorakit.webhooks.schemas import (
    AttemptOut,
    CreateEndpoint,
    DeliveryDetail,
    DeliveryOut,
    EndpointCreated,
    EndpointOut,
    ReplayRange,
    SecretRotated,
    UpdateEndpoint,
)
from agorakit.webhooks.signing import new_secret
from agorakit.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookFeed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime

#: how long a rotated-out secret still signs
ROTATION_OVERLAP = timedelta(hours=24)
#: the one row of the fan-out's position
FEED_ROW = 1


def subscribes(patterns: list[str], name: str) -> bool:
    """Whether an endpoint with ``patterns`` takes events named ``name``: a ``webhook.*``
    event (about the webhooks themselves) only when a pattern names it (``webhook.*`` or
    the name itself; ``*`` is not enough), any other when a pattern matches."""
    if name.startswith("webhook."):
        patterns = [pattern for pattern in patterns if pattern.startswith("webhook.")]
    return matches(name, tuple(patterns))


def patterns_of(row: dict[str, Any]) -> list[str]:
    value = row["event_types"]
    return list(msgspec.json.decode(value) if isinstance(value, str | bytes) else value or [])


def instant(value: Any) -> datetime | None:
    """A timestamp from an aggregate: PostgreSQL gives a datetime, SQLite the stored text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------


def _check(runtime: Runtime, *, url: str | None, event_types: list[str] | None) -> None:
    """A 422 naming each field that is wrong."""
    errors = []
    if url is not None:
        reason = check_url(url, allow_private=runtime.settings.webhooks.allow_private_addresses)
        if reason:
            errors.append(FieldError("url", reason))
    if event_types is not None:
        errors += [
            FieldError("event_types", problem) for problem in check_patterns(runtime.event_types, event_types)
        ]
    if errors:
        raise ValidationFailed(errors)


async def endpoint_row(endpoint_id: int) -> dict[str, Any]:
    """The endpoint (not deleted), or a 404."""
    row = (
        await WebhookEndpoint.select()
        .where((WebhookEndpoint.id == endpoint_id) & WebhookEndpoint.deleted_at.is_null())
        .first()
    )
    if row is None:
        raise NotFound(f"there is no webhook endpoint {endpoint_id}")
    return row


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "description": row["description"],
        "event_types": patterns_of(row),
        "enabled": row["enabled"],
        "status": row["status"],
        "failing_since": row["failing_since"],
        "created_at": row["created_at"],
    }


async def _counted(rows: list[dict[str, Any]]) -> list[EndpointOut]:
    """The endpoints with their pending and failed deliveries and last delivery time."""
    ids = [row["id"] for row in rows]
    counts: dict[tuple[int, str], int] = {}
    last: dict[int, datetime | None] = {}
    if ids:
        d = WebhookDelivery
        for item in (
            await d.select(d.endpoint_id, d.status, Count(alias="n"))
            .where(d.endpoint_id.is_in(ids) & d.status.is_in(["pending", "failed"]))
            .group_by(d.endpoint_id, d.status)
        ):
            counts[item["endpoint_id"], item["status"]] = int(item["n"])
        for item in (
            await d.select(d.endpoint_id, Max(d.delivered_at, alias="last"))
            .where(d.endpoint_id.is_in(ids) & (d.status == "delivered"))
            .group_by(d.endpoint_id)
        ):
            last[item["endpoint_id"]] = instant(item["last"])
    return [
        EndpointOut(
            **_fields(row),
            created_by=row["created_by"],
            pending=counts.get((row["id"], "pending"), 0),
            failed=counts.get((row["id"], "failed"), 0),
            last_delivered_at=last.get(row["id"]),
        )
        for row in rows
    ]


async def create_endpoint(runtime: Runtime, data: CreateEndpoint, *, operator: MemberOut) -> EndpointCreated:
    """Register an endpoint: it gets the events stored from now on."""
    _check(runtime, url=data.url, event_types=data.event_types)
    async with runtime.unit_of_work() as uow:
        after = await last_event_id(runtime)
        # the fan-out starts where the first endpoint starts (later ones start further on)
        await WebhookFeed.insert(
            WebhookFeed(id=FEED_ROW, position=FeedPosition(after=after).encode().decode(), version=0)
        ).on_conflict(action="DO NOTHING")
        [row] = await WebhookEndpoint.insert(
            WebhookEndpoint(
                url=data.url,
                description=data.description,
                event_types=data.event_types,
                secret=new_secret(),
                enabled=data.enabled,
                status="active" if data.enabled else "disabled",
                created_at=uow.now,
                created_by=operator.id,
                start_after_event_id=after,
            )
        ).returning(*WebhookEndpoint.all_columns())
    return EndpointCreated(**_fields(row), secret=row["secret"])


async def list_endpoints(
    *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[EndpointOut], str | None]:
    """The endpoints, newest first."""
    query = (
        WebhookEndpoint.select()
        .where(WebhookEndpoint.deleted_at.is_null())
        .order_by(WebhookEndpoint.id, ascending=False)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(WebhookEndpoint.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(WebhookEndpoint.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda r: {"id": r["id"]})
    return await _counted(rows), next_cursor


async def get_endpoint(endpoint_id: int) -> EndpointOut:
    [out] = await _counted([await endpoint_row(endpoint_id)])
    return out


async def update_endpoint(runtime: Runtime, endpoint_id: int, data: UpdateEndpoint) -> EndpointOut:
    """Change an endpoint; ``enabled: true`` also resumes a failing one."""
    _check(runtime, url=data.url, event_types=data.event_types)
    changes: dict[Any, Any] = {}
    if data.url is not None:
        changes[WebhookEndpoint.url] = data.url
    if data.event_types is not None:
        changes[WebhookEndpoint.event_types] = data.event_types
    if data.description is not None:
        changes[WebhookEndpoint.description] = data.description
    if data.enabled is not None:
        changes[WebhookEndpoint.enabled] = data.enabled
        changes[WebhookEndpoint.status] = "active" if data.enabled else "disabled"
        changes[WebhookEndpoint.failing_since] = None
    async with runtime.unit_of_work():
        await endpoint_row(endpoint_id)
        if changes:
            await WebhookEndpoint.update(changes).where(WebhookEndpoint.id == endpoint_id)
    return await get_endpoint(endpoint_id)


async def resume_endpoint(runtime: Runtime, endpoint_id: int) -> EndpointOut:
    """A failing (or disabled) endpoint is active again: sending goes on with its next
    pending delivery."""
    return await update_endpoint(runtime, endpoint_id, UpdateEndpoint(enabled=True))


async def delete_endpoint(runtime: Runtime, endpoint_id: int) -> None:
    """Delete an endpoint: nothing more is queued or sent; its pending deliveries are
    cancelled (its deliveries and attempts stay in the database)."""
    async with runtime.unit_of_work() as uow:
        await endpoint_row(endpoint_id)
        await WebhookEndpoint.update(
            {
                WebhookEndpoint.deleted_at: uow.now,
                WebhookEndpoint.enabled: False,
                WebhookEndpoint.status: "disabled",
            }
        ).where(WebhookEndpoint.id == endpoint_id)
        await WebhookDelivery.update({WebhookDelivery.status: "cancelled"}).where(
            (WebhookDelivery.endpoint_id == endpoint_id) & (WebhookDelivery.status == "pending")
        )


async def rotate_secret(runtime: Runtime, endpoint_id: int) -> SecretRotated:
    """A new secret; the previous one still signs (a second signature) for 24 hours."""
    async with runtime.unit_of_work() as uow:
        row = await endpoint_row(endpoint_id)
        secret, until = new_secret(), uow.now + ROTATION_OVERLAP
        await WebhookEndpoint.update(
            {
                WebhookEndpoint.secret: secret,
                WebhookEndpoint.previous_secret: row["secret"],
                WebhookEndpoint.previous_secret_until: until,
            }
        ).where(WebhookEndpoint.id == endpoint_id)
    return SecretRotated(secret=secret, previous_secret_expires_at=until)


# --------------------------------------------------------------------------------------
# Deliveries
# --------------------------------------------------------------------------------------


def to_delivery(row: dict[str, Any]) -> DeliveryOut:
    return DeliveryOut(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=public_event_id(row["event_id"]),
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        replay=bool(row["replay"]),
    )


async def list_deliveries(
    endpoint_id: int, *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[DeliveryOut], str | None]:
    """An endpoint's deliveries, newest first."""
    await endpoint_row(endpoint_id)
    d = WebhookDelivery
    query = d.select().where(d.endpoint_id == endpoint_id).order_by(d.id, ascending=False).limit(limit + 1)
    if status is not None:
        query = query.where(d.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(d.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda r: {"id": r["id"]})
    return [to_delivery(row) for row in rows], next_cursor


async def delivery_row(endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    """One of the endpoint's deliveries, or a 404 (also when it is another endpoint's)."""
    await endpoint_row(endpoint_id)
    row = (
        await WebhookDelivery.select()
        .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.endpoint_id == endpoint_id))
        .first()
    )
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint_id} has no delivery {delivery_id}")
    return row


async def get_delivery(endpoint_id: int, delivery_id: int) -> DeliveryDetail:
    row = await delivery_row(endpoint_id, delivery_id)
    a = WebhookAttempt
    attempts = await a.select().where(a.delivery_id == delivery_id).order_by(a.id)
    return DeliveryDetail(
        delivery=to_delivery(row),
        attempts=[
            AttemptOut(
                id=item["id"],
                at=item["at"],
                duration_ms=item["duration_ms"],
                status_code=item["status_code"],
                error=item["error"],
                response_body=item["response_body"],
            )
            for item in attempts
        ],
    )


def _queued(endpoint_id: int, event_id: int, name: str, now: datetime, *, replay: bool) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type=name,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        replay=replay,
    )


async def replay_delivery(runtime: Runtime, endpoint_id: int, delivery_id: int) -> DeliveryOut:
    """Queue the delivery's event again for its endpoint (a new delivery, same ``webhook-id``)."""
    async with runtime.unit_of_work() as uow:
        row = await delivery_row(endpoint_id, delivery_id)
        [new] = await WebhookDelivery.insert(
            _queued(endpoint_id, row["event_id"], row["event_type"], uow.now, replay=True)
        ).returning(*WebhookDelivery.all_columns())
    return to_delivery(new)


async def replay_range(runtime: Runtime, endpoint_id: int, data: ReplayRange) -> int:
    """Queue again every stored event recorded in ``[from, to)`` that the endpoint takes;
    how many were queued."""
    errors = [
        FieldError(name, "give the instant with its timezone, e.g. 2026-05-01T12:00:00Z")
        for name, value in (("from", data.start), ("to", data.end))
        if value.tzinfo is None
    ]
    if errors:
        raise ValidationFailed(errors)
    if data.start >= data.end:
        raise ValidationFailed([FieldError("to", "must be after from")])
    cap = runtime.settings.webhooks.max_replay_events
    row = await endpoint_row(endpoint_id)
    found = await event_names_between(data.start, data.end, limit=cap + 1)
    if len(found) > cap:
        message = f"more than {cap} events were recorded in that range; replay a shorter one"
        raise ValidationFailed([FieldError("to", message)], detail=message)
    patterns = patterns_of(row)
    wanted = [(event_id, name) for event_id, name in found if subscribes(patterns, name)]
    if not wanted:
        return 0
    async with runtime.unit_of_work() as uow:
        await endpoint_row(endpoint_id)  # not deleted in the meantime
        for start in range(0, len(wanted), 500):
            await WebhookDelivery.insert(
                *[
                    _queued(endpoint_id, event_id, name, uow.now, replay=True)
                    for event_id, name in wanted[start : start + 500]
                ]
            )
    return len(wanted)
