"""Keep tasks in step with the disputes area's moves of their orders.

The core's disputes move an order with ``orders.move_in`` (into the hold state when a
dispute opens, then to the policy's refunded or released state, or back where it was
when the operator rejects the dispute); such moves run no process effects, so the
plugin's ``microjobs_task_moved`` does not see them.  This module's
``agorakit_on_events`` reads the ``order.transitioned`` events of those moves
(transitions ``dispute``, ``dispute_refund``, ``dispute_release`` and
``dispute_reject``) for ``microjob_task`` orders and, in one unit of work per order:

- sets the task's status to the order's new state (``disputed``, ``refunded``,
  ``satisfied``, or ``submitted``/``correcting`` again);
- for a final state (refunded or satisfied) counts the task done on its campaign
  (``tasks.count_done``: a campaign whose positions are all done finishes).

The task takes the order's *current* state (read with the order locked), and a task that
has ended is never changed: an event delivered twice, or late (delivery is at least
once), changes nothing more.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agorakit.events import DomainEvent
from agorakit.orders import OrderTransitioned, locked_order_row
from agorakit.plugins.microjobs.campaigns import locked_campaign
from agorakit.plugins.microjobs.process import TASK
from agorakit.plugins.microjobs.tables import Task
from agorakit.plugins.microjobs.tasks import count_done

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.plugins.microjobs")

#: the disputes area's moves of an order (``core/disputes``)
DISPUTE_MOVES = ("dispute", "dispute_refund", "dispute_release", "dispute_reject")
#: the states those moves end in that finish a task (the process's DisputePolicy)
DONE = ("refunded", "satisfied")
#: task statuses after which nothing changes a task (the processes' final states)
ENDED = ("satisfied", "unsatisfied", "expired", "given_up", "abandoned", "refunded", "paid", "lapsed")


def is_dispute_move(event: DomainEvent) -> bool:
    """Whether ``event`` is one of the disputes area's moves of a task order."""
    moved = event.payload
    return (
        isinstance(moved, OrderTransitioned) and moved.process == TASK and moved.transition in DISPUTE_MOVES
    )


def dispute_moves(events: list[DomainEvent]) -> list[OrderTransitioned]:
    """The events of ``events`` that are the disputes area's moves of task orders."""
    return [event.payload for event in events if is_dispute_move(event)]


async def sync_disputed_tasks(runtime: Runtime, events: list[DomainEvent]) -> None:
    """``agorakit_on_events``: apply the disputes' moves of task orders to their tasks."""
    for moved in dispute_moves(events):
        await apply_move(runtime, moved)


async def apply_move(runtime: Runtime, moved: OrderTransitioned) -> bool:
    """Bring the task of ``moved``'s order to the order's current state; returns whether
    it changed the task (False when it was applied before, or the task had ended)."""
    async with runtime.unit_of_work() as uow:
        order = await locked_order_row(moved.order_id)
        state = order["state"]
        changes = {Task.status: state, Task.updated_at: uow.now}
        if state in DONE:
            changes[Task.rated_at] = uow.now
        rows = (
            await Task.update(changes)
            .where(
                (Task.order_id == moved.order_id) & (Task.status != state) & Task.status.not_in(list(ENDED))
            )
            .returning(Task.campaign_id)
        )
        if not rows:
            return False
        if state in DONE:
            campaign = await locked_campaign(uow, rows[0]["campaign_id"])
            if campaign is not None:
                await count_done(uow, campaign, 1)
    return True
