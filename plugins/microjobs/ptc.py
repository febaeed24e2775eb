"""Paid to click: a worker opens the job, visits the employer's page, confirms, is paid.

``POST /microjobs/jobs/{id}/visit`` takes the worker's position (an order of the
``microjob_click`` process, state ``visited``) and hands out a visit token; only its
SHA-256 is stored.  Opening ``GET /microjobs/go/{token}`` records when the worker got
to the page and sends them there (303).  After ``ptc_min_seconds`` the worker confirms
(``POST /microjobs/tasks/{order_id}/confirm``) and is paid at once.  Once per worker and
campaign, however often they click: a second visit returns the same task with a new
token, and a second confirm is refused.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import TYPE_CHECKING

from agorakit import orders
from agorakit.accounts import MemberOut
from agorakit.errors import Forbidden, NotFound
from agorakit.plugins.microjobs.campaigns import settings_of
from agorakit.plugins.microjobs.schemas import TaskOut, VisitOut
from agorakit.plugins.microjobs.tables import Campaign, Task
from agorakit.plugins.microjobs.tasks import AlreadyTaken, get_task, take_task, task_by_order

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _task_of(campaign_id: int, worker_id: int):
    return (
        await Task.select(Task.order_id, Task.ptc)
        .where((Task.campaign_id == campaign_id) & (Task.worker_id == worker_id))
        .first()
    )


async def visit(runtime: Runtime, campaign_id: int, *, worker: MemberOut) -> tuple[VisitOut, bool]:
    """Open a paid-to-click job: ``(visit, created)``; the worker's one task in it, taken
    on the first visit, with a fresh visit token each time."""
    existing = await _task_of(campaign_id, worker.id)
    created = existing is None
    if existing is None:
        try:
            order_id = await take_task(runtime, campaign_id, worker=worker, ptc=True)
        except AlreadyTaken:
            existing = await _task_of(campaign_id, worker.id)  # a concurrent visit took it
            if existing is None:
                raise
            created = False
            order_id = existing["order_id"]
    else:
        order_id = existing["order_id"]
    if existing is not None and not existing["ptc"]:
        raise AlreadyTaken(
            f"you took job {campaign_id} as task {order_id}; it is not paid to click (submit its proof)"
        )
    token = secrets.token_urlsafe(32)
    async with runtime.unit_of_work() as uow:
        await Task.update({Task.visit_token: token_hash(token), Task.updated_at: uow.now}).where(
            Task.order_id == order_id
        )
    task = await get_task(runtime, order_id, caller=worker)
    settings = settings_of(runtime)
    return (
        VisitOut(task=task, go_url=f"/microjobs/go/{token}", confirm_after_seconds=settings.ptc_min_seconds),
        created,
    )


async def go(runtime: Runtime, token: str) -> str:
    """The employer's page a visit token leads to; the first use records the visit."""
    row = None
    if _TOKEN.match(token):
        row = (
            await Task.select(Task.id, Task.campaign_id, Task.status, Task.visited_at)
            .where(Task.visit_token == token_hash(token))
            .first()
        )
    if row is None:
        raise NotFound("there is no such visit; open the job again for a new link")
    campaign = await Campaign.select(Campaign.ptc_url).where(Campaign.id == row["campaign_id"]).first()
    if campaign is None or not campaign["ptc_url"]:
        raise NotFound("there is no such visit; open the job again for a new link")
    if row["visited_at"] is None and row["status"] == "visited":
        async with runtime.unit_of_work() as uow:
            await Task.update({Task.visited_at: uow.now, Task.updated_at: uow.now}).where(
                (Task.id == row["id"]) & Task.visited_at.is_null()
            )
    return campaign["ptc_url"]


async def confirm(runtime: Runtime, order_id: int, *, caller: MemberOut) -> TaskOut:
    """The worker confirms a visit of at least ``ptc_min_seconds``: paid at once.  Too
    early is the 409 ``guard_failed`` with the seconds to go; a second confirm is the
    409 ``transition_not_allowed`` (paid once)."""
    row = await task_by_order(order_id)
    if row is None or not row["ptc"]:
        raise NotFound(f"there is no paid-to-click task {order_id}")
    if row["worker_id"] != caller.id:
        await get_task(runtime, order_id, caller=caller)  # a 404 for strangers
        raise Forbidden("only the worker who visited confirms the visit")
    if row["status"] != "visited":
        raise orders.TransitionNotAllowed(
            f"task {order_id} is {row['status']}; a visit is confirmed and paid once"
        )
    await orders.fire(runtime, order_id, "confirm", caller=caller)
    return await get_task(runtime, order_id, caller=caller)
