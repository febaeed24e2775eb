"""Sending: the worker POSTs each endpoint's pending deliveries, in order, one at a time.

Per endpoint, strictly one delivery is in flight, in delivery-id order (the order of the
events): a delivery waiting for its retry holds back the later ones of its endpoint only.
Endpoints are sent to side by side, each by its own asyncio task, ``[webhooks]
concurrency`` at once; a hanging endpoint holds one task for at most ``[webhooks]
timeout_seconds``.  Before it sends, a task leases its endpoint (an atomic update that
only succeeds when no other worker holds a lease), so that several workers, on several
hosts, never send to one endpoint at once.

An attempt is one POST of the event's public form, signed (:mod:`.signing`); a 2xx
answer delivers it; any other answer (a redirect is not followed), a timeout or a
connection error is a failed attempt, retried after ``[webhooks] retry_schedule_seconds``
by the site's clock.  When the schedule is used up the delivery has failed, the endpoint
is ``failing`` (its later deliveries wait) and ``webhook.endpoint_failing`` is recorded,
which tells the operators.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec
from piccolo.query.functions.aggregate import Min

import agorakit
from agorakit.events import public_event, public_event_id, stored_events
from agorakit.webhooks import addresses
from agorakit.webhooks.events import WebhookEndpointFailing
from agorakit.webhooks.fanout import fan_out
from agorakit.webhooks.signing import signature_header
from agorakit.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events import DomainEvent
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.webhooks")

USER_AGENT = f"agorakit-webhooks/{agorakit.__version__}"
#: a lease outlasts one attempt by this much (it is renewed before each attempt)
LEASE_MARGIN = timedelta(seconds=30)
#: seconds one task goes on sending to one endpoint (a long backlog goes on at the next
#: poll or sweep, after the other endpoints had their turn)
DRAIN_SECONDS = 30.0
#: statuses whose ``Retry-After`` is honoured
RETRY_AFTER_STATUSES = (429, 503)


class Outcome(msgspec.Struct, kw_only=True):
    """What one attempt came to."""

    status_code: int | None = None
    #: None: delivered
    error: str | None = None
    body: str = ""
    duration_ms: int = 0
    #: seconds the endpoint asked to wait (``Retry-After`` on a 429 or 503)
    retry_after: int | None = None


# --------------------------------------------------------------------------------------
# Which endpoints have something to send
# --------------------------------------------------------------------------------------


async def queue_heads() -> dict[int, datetime]:
    """For each active endpoint with pending deliveries, when its first one (the next to
    send) may be sent."""
    e, d = WebhookEndpoint, WebhookDelivery
    active = await e.select(e.id).where(
        (e.enabled == True) & (e.status == "active") & e.deleted_at.is_null()  # noqa: E712
    )
    if not active:
        return {}
    heads = (
        await d.select(Min(d.id, alias="head"))
        .where((d.status == "pending") & d.endpoint_id.is_in([row["id"] for row in active]))
        .group_by(d.endpoint_id)
    )
    if not heads:
        return {}
    rows = await d.select(d.endpoint_id, d.next_attempt_at).where(d.id.is_in([row["head"] for row in heads]))
    return {row["endpoint_id"]: row["next_attempt_at"] for row in rows}


async def next_due(after: datetime | None, until: datetime | None) -> datetime | None:
    """When an endpoint's next delivery may be sent: the earliest after ``after``, or at
    or before ``until`` (the worker's ``agorakit_next_due``)."""
    times = list((await queue_heads()).values())
    if after is not None:
        times = [at for at in times if at > after]
    elif until is not None:
        times = [at for at in times if at <= until]
    return min(times, default=None)


# --------------------------------------------------------------------------------------
# The sweep's part
# --------------------------------------------------------------------------------------


async def send_due(runtime: Runtime) -> dict[str, int]:
    """Send what is due to every endpoint, ``[webhooks] concurrency`` endpoints at once,
    and wait for it (a lone sweep's part); counts of the deliveries delivered, to be
    retried and failed."""
    now = runtime.clock.now()
    due = sorted(endpoint_id for endpoint_id, at in (await queue_heads()).items() if at <= now)
    if not due:
        return {}
    owner = secrets.token_hex(8)
    slots = asyncio.Semaphore(runtime.settings.webhooks.concurrency)
    counts: Counter[str] = Counter()
    await asyncio.gather(*(_send_to(runtime, endpoint_id, owner, slots, counts) for endpoint_id in due))
    return {f"webhooks_{name}": count for name, count in sorted(counts.items())}


async def send_loop(runtime: Runtime, stop: asyncio.Event) -> None:
    """The long-running worker's loop (``agorakit_worker_loops``): every ``[webhooks]
    poll_seconds`` queue the new events' deliveries and start sending to each endpoint
    that has one due and is not being sent to already, without waiting for the sends: a
    hanging endpoint holds its own task only, never the next poll or another endpoint."""
    settings = runtime.settings.webhooks
    owner = secrets.token_hex(8)
    slots = asyncio.Semaphore(settings.concurrency)
    counts: Counter[str] = Counter()
    sending: dict[int, asyncio.Task[None]] = {}
    while not stop.is_set():
        try:
            await fan_out(runtime)
            now = runtime.clock.now()
            for endpoint_id, at in sorted((await queue_heads()).items()):
                if at <= now and endpoint_id not in sending:
                    task = asyncio.create_task(_send_to(runtime, endpoint_id, owner, slots, counts))
                    sending[endpoint_id] = task
                    task.add_done_callback(lambda _, key=endpoint_id: sending.pop(key, None))
        except Exception:
            log.exception("webhooks: the send loop failed; it tries again")
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.poll_seconds)
        except TimeoutError:
            pass
    if sending:  # let the attempts under way finish (each is bounded by the timeout)
        await asyncio.gather(*sending.values(), return_exceptions=True)


async def _send_to(
    runtime: Runtime, endpoint_id: int, owner: str, slots: asyncio.Semaphore, counts: Counter[str]
) -> None:
    """Take one of the ``slots``, lease the endpoint and send its due deliveries in order."""
    async with slots:
        if not await _lease(runtime, endpoint_id, owner):
            return
        try:
            await _drain(runtime, endpoint_id, owner, counts)
        except Exception:
            log.exception("webhooks: sending to endpoint %s failed; it is tried again", endpoint_id)
        finally:
            await _release(endpoint_id, owner)


def _lease_span(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.webhooks.timeout_seconds) + LEASE_MARGIN


async def _lease(runtime: Runtime, endpoint_id: int, owner: str) -> bool:
    """Take the endpoint for this sender (or renew its lease); False when another
    sender holds it, or it is no longer active."""
    e = WebhookEndpoint
    wall = runtime.wall_clock.now()
    free = e.lease_until.is_null() | (e.lease_until < wall) | (e.lease_owner == owner)
    won = await (
        e.update({e.lease_owner: owner, e.lease_until: wall + _lease_span(runtime)})
        .where((e.id == endpoint_id) & free & (e.enabled == True) & (e.status == "active"))  # noqa: E712
        .returning(e.id)
    )
    return bool(won)


async def _release(endpoint_id: int, owner: str) -> None:
    e = WebhookEndpoint
    await e.update({e.lease_owner: None, e.lease_until: None}).where(
        (e.id == endpoint_id) & (e.lease_owner == owner)
    )


async def _drain(runtime: Runtime, endpoint_id: int, owner: str, counts: Counter[str]) -> None:
    """Send the endpoint's due deliveries in order until none is due or one fails."""
    settings = runtime.settings.webhooks
    timeout = httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds)
    # a client per endpoint: its connections (and their TLS names) are that endpoint's only
    deadline = time.monotonic() + DRAIN_SECONDS
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        while True:
            endpoint = await WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint_id).first()
            if endpoint is None or not endpoint["enabled"] or endpoint["status"] != "active":
                return
            d = WebhookDelivery
            head = (
                await d.select()
                .where((d.endpoint_id == endpoint_id) & (d.status == "pending"))
                .order_by(d.id)
                .first()
            )
            if head is None or head["next_attempt_at"] > runtime.clock.now():
                return
            found = await stored_events(runtime, [head["event_id"]])
            if not found:
                await _cancel(head, "the event is no longer stored")
                continue
            outcome = await attempt(runtime, client, endpoint, found[0])
            result = await _record(runtime, endpoint, head, outcome)
            counts[result] += 1
            if result != "delivered" or time.monotonic() > deadline:
                return
            if not await _lease(runtime, endpoint_id, owner):  # renewed for the next attempt
                return


async def _cancel(head: dict[str, Any], reason: str) -> None:
    d = WebhookDelivery
    await d.update({d.status: "cancelled", d.last_error: reason}).where(
        (d.id == head["id"]) & (d.status == "pending")
    )


# --------------------------------------------------------------------------------------
# One attempt
# --------------------------------------------------------------------------------------


def _secrets_in_use(endpoint: dict[str, Any], now: datetime) -> list[str]:
    """The secret, and the previous one while it still signs."""
    in_use = [endpoint["secret"]]
    until = endpoint["previous_secret_until"]
    if endpoint["previous_secret"] and until is not None and now < until:
        in_use.append(endpoint["previous_secret"])
    return in_use


async def attempt(
    runtime: Runtime, client: httpx.AsyncClient, endpoint: dict[str, Any], event: DomainEvent
) -> Outcome:
    """POST ``event`` to ``endpoint`` once; what came of it (never raises for what the
    endpoint or the network does)."""
    assert event.id is not None
    settings = runtime.settings.webhooks
    body = msgspec.json.encode(public_event(event))  # encoded once: the bytes signed are the bytes sent
    msg_id = public_event_id(event.id)
    # the receiver checks the timestamp against its own clock: the real time, not the site's
    timestamp = int(runtime.wall_clock.now().timestamp())
    url = endpoint["url"]
    parts = urlsplit(url)
    started = time.monotonic()

    def spent() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        address = await addresses.checked_address(url, allow_private=settings.allow_private_addresses)
    except addresses.AddressRefused as exc:
        return Outcome(error=str(exc), duration_ms=spent())
    host = parts.hostname or ""
    netloc_host = f"[{address}]" if ":" in address else address
    target = urlunsplit(
        (parts.scheme, f"{netloc_host}:{addresses.default_port(parts)}", parts.path or "/", parts.query, "")
    )
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            _secrets_in_use(endpoint, runtime.clock.now()), msg_id, timestamp, body
        ),
    }
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        async with asyncio.timeout(settings.timeout_seconds):
            async with client.stream(
                "POST", target, content=body, headers=headers, extensions=extensions
            ) as response:
                kept = await _read_capped(response, settings.max_response_bytes)
    except TimeoutError:
        return Outcome(error=f"no answer within {settings.timeout_seconds:g} s", duration_ms=spent())
    except httpx.TimeoutException as exc:
        return Outcome(error=f"timed out ({type(exc).__name__})", duration_ms=spent())
    except httpx.HTTPError as exc:
        return Outcome(error=f"connection failed: {str(exc) or type(exc).__name__}", duration_ms=spent())
    code = response.status_code
    outcome = Outcome(status_code=code, body=kept, duration_ms=spent())
    if 200 <= code < 300:
        return outcome
    if 300 <= code < 400:
        location = response.headers.get("location", "")
        outcome.error = (
            f"redirect not followed ({code} to {location})" if location else f"redirect not followed ({code})"
        )
    else:
        outcome.error = f"the endpoint answered {code}"
    if code in RETRY_AFTER_STATUSES:
        value = response.headers.get("retry-after", "").strip()
        outcome.retry_after = int(value) if value.isdigit() else None
    return outcome


async def _read_capped(response: httpx.Response, cap: int) -> str:
    """The start of the response's body, at most ``cap`` bytes (the rest is never read)."""
    kept = bytearray()
    if cap:
        async for chunk in response.aiter_bytes():
            kept += chunk[: cap - len(kept)]
            if len(kept) >= cap:
                break
    # (PostgreSQL's text holds no NUL character)
    return kept.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _wait(runtime: Runtime, attempts: int, retry_after: int | None) -> int | None:
    """Seconds before the next attempt after ``attempts`` failed ones (None: give up).
    A ``Retry-After`` within the schedule's bounds is honoured."""
    schedule = runtime.settings.webhooks.retry_schedule_seconds
    if attempts > len(schedule):
        return None
    wait = schedule[attempts - 1]
    if retry_after is not None and min(schedule) <= retry_after <= max(schedule):
        wait = retry_after
    return wait


async def _record(runtime: Runtime, endpoint: dict[str, Any], head: dict[str, Any], outcome: Outcome) -> str:
    """Store the attempt and what it means for the delivery (and the endpoint): one of
    ``delivered``, ``retried``, ``failed``."""
    d, e = WebhookDelivery, WebhookEndpoint
    attempts = head["attempts"] + 1
    if outcome.error is not None:
        outcome.error = outcome.error[:500]
    async with runtime.unit_of_work() as uow:
        now = uow.now
        await WebhookAttempt.insert(
            WebhookAttempt(
                delivery_id=head["id"],
                at=now,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
                response_body=outcome.body,
            )
        )
        changes: dict[Any, Any] = {
            d.attempts: attempts,
            d.last_status_code: outcome.status_code,
            d.last_error: outcome.error,
        }
        if outcome.error is None:
            result = "delivered"
            changes.update({d.status: "delivered", d.delivered_at: now})
        elif (wait := _wait(runtime, attempts, outcome.retry_after)) is not None:
            result = "retried"
            changes[d.next_attempt_at] = now + timedelta(seconds=wait)
        else:
            result = "failed"
            changes[d.status] = "failed"
        await d.update(changes).where((d.id == head["id"]) & (d.status == "pending"))
        if result == "failed":
            failing = await (
                e.update({e.status: "failing", e.failing_since: now})
                .where((e.id == endpoint["id"]) & (e.status == "active"))
                .returning(e.id)
            )
            if failing:
                uow.record(
                    WebhookEndpointFailing(
                        endpoint_id=endpoint["id"],
                        url=endpoint["url"],
                        delivery_id=head["id"],
                        event_id=head["event_id"],
                        attempts=attempts,
                        last_error=outcome.error,
                    ),
                    subject=f"webhook:{endpoint['id']}",
                )
    if result != "delivered":
        log.info(
            "webhooks: delivery %s to endpoint %s %s: %s", head["id"], endpoint["id"], result, outcome.error
        )
    return result
