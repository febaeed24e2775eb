"""Order timers: the worker fires due timers in batches, sets of one transition at once
where its guards and effects allow; operators list them."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db import is_lock_conflict
from agorakit.db.prepared import Prepared, any_of
from agorakit.errors import AgorakitError
from agorakit.http import OperatorQueue, count_queue
from agorakit.orders.engine import _fire, fire_set
from agorakit.orders.events import OrderTimerFailed
from agorakit.orders.process import Process, Transition
from agorakit.orders.process_registry import fires_as_set, registry
from agorakit.orders.queries import _order_row
from agorakit.orders.schemas import TimerOut
from agorakit.orders.tables import Order, OrderItem, OrderTimer
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.orders")

#: Attempts before a failing timer is marked ``failed`` (and shown to operators).
TIMER_MAX_ATTEMPTS = 5


class TimerReport(msgspec.Struct):
    fired: list[int] = []
    retried: list[int] = []
    failed: list[int] = []


async def fire_due_timers(runtime: Runtime, *, limit: int = 1000) -> TimerReport:
    """Fire pending timers that are due (at most ``limit``), in batches.

    A batch is one unit of work: it claims up to ``[worker] timer_batch`` due timers
    (on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several workers can run at once
    and each timer fires exactly once; SQLite runs one writer at a time), fires each in a
    savepoint, marks them, and commits once; the events of the whole batch are delivered
    together afterwards.  A batch takes no further timers once it has run
    ``[worker] batch_seconds``.  On PostgreSQL ``[worker] timer_concurrency`` batches run
    at once, each on its own connection.

    A timer whose transition fails is rolled back to its savepoint alone: the others of
    the batch still fire, and it is retried with backoff and, after
    ``TIMER_MAX_ATTEMPTS``, marked ``failed`` for operators — never dropped silently.
    If the batch's commit itself fails (PostgreSQL's balanced-ledger check runs at
    commit), its timers are fired again one per transaction, so the one at fault is the
    only one retried.  A timer that loses a deadlock (another worker's batch, a request)
    ends its batch early: the timers before it commit, and it waits for the next batch
    without counting an attempt.
    """
    report = TimerReport()
    concurrency = runtime.settings.worker.timer_concurrency if runtime.db.is_postgres else 1
    if concurrency > 1:
        # Each task claims its own batches (SKIP LOCKED keeps them apart) in a transaction
        # of its own: the transaction is per task (a context variable).
        shares = [limit // concurrency + (i < limit % concurrency) for i in range(concurrency)]
        try:
            async with asyncio.TaskGroup() as group:  # one failing cancels the others
                tasks = [group.create_task(_fire_due(runtime, share)) for share in shares if share]
        except ExceptionGroup as failed:  # the sweep reports the first error, as with one task
            raise failed.exceptions[0] from failed
        for task in tasks:
            part = task.result()
            report.fired += part.fired
            report.retried += part.retried
            report.failed += part.failed
        return report
    return await _fire_due(runtime, limit)


async def _fire_due(runtime: Runtime, limit: int) -> TimerReport:
    """Fire due timers batch after batch until none is left or ``limit`` were handled."""
    report = TimerReport()
    handled = 0
    size = runtime.settings.worker.timer_batch
    while handled < limit:
        claimed: list[int] = []
        try:
            outcomes = await _fire_batch(runtime, min(size, limit - handled), claimed)
        except Exception:
            if not claimed:
                raise  # the claim itself failed: nothing of ours is at fault
            log.exception("a batch of %d timers did not commit; firing them one at a time", len(claimed))
            outcomes = []
            for timer_id in claimed:
                outcomes += await _fire_alone(runtime, timer_id)
        if not outcomes:
            break
        for timer_id, result in outcomes:
            handled += 1
            if result != "cancelled":  # its state was left before it fired: nothing to report
                getattr(report, result).append(timer_id)
    return report


def _claim_query(locking: bool, size: int | None) -> Prepared:
    """The claim of up to ``size`` due timers, oldest first (run with the time), or with
    ``size`` None of the due timer with a given id (run with the time and the id);
    ``locking``: PostgreSQL's ``FOR UPDATE SKIP LOCKED``."""

    def due(now: Any) -> Any:
        return OrderTimer.select(
            OrderTimer.id, OrderTimer.order, OrderTimer.transition, OrderTimer.state
        ).where((OrderTimer.status == "pending") & (OrderTimer.due_at <= now))

    def locked(query: Any) -> Any:
        return query.lock_rows(skip_locked=True) if locking else query

    if size is None:
        return Prepared(lambda now, id: locked(due(now).where(OrderTimer.id == id)))
    return Prepared(
        lambda now: locked(due(now).order_by(OrderTimer.due_at).order_by(OrderTimer.id).limit(size))
    )


@functools.cache
def _claim(locking: bool, size: int | None) -> Prepared:
    return _claim_query(locking, size)


#: what a batch groups and orders its timers by (read without a lock)
_BATCH_ORDERS = Prepared(
    lambda ids: Order.select(
        Order.id, Order.seller_id, Order.state, Order.process, Order.process_version
    ).where(any_of(Order.id, ids))
)
#: the items of several orders, each order's in position order
_ITEMS_OF = Prepared(
    lambda orders: (
        OrderItem.select()
        .where(any_of(OrderItem.order, orders))
        .order_by(OrderItem.order)
        .order_by(OrderItem.position)
        .output(load_json=True)
    )
)
_MARK_TIMERS = Prepared(
    lambda status, at, ids: OrderTimer.update({OrderTimer.status: status, OrderTimer.fired_at: at}).where(
        any_of(OrderTimer.id, ids)
    )
)


async def _fire_batch(
    runtime: Runtime, size: int, claimed: list[int], *, only: int | None = None
) -> list[tuple[int, str]]:
    """Claim up to ``size`` due timers (or the timer ``only``) and fire them in one unit
    of work; ``claimed`` gets their ids before any is fired."""
    started = time.perf_counter()
    budget = runtime.settings.worker.batch_seconds
    outcomes: list[tuple[int, str]] = []
    async with runtime.unit_of_work() as uow:
        claim = _claim(runtime.db.is_postgres, None if only is not None else size)
        timers = await (claim.run(uow.now) if only is None else claim.run(uow.now, only))
        # Fired by seller, then order: concurrent batches lock the sellers' accounts (and
        # the orders of each seller) in one order, so they cannot deadlock on them.
        order_ids = sorted({t["order"] for t in timers})
        orders = {r["id"]: r for r in await _BATCH_ORDERS.run(order_ids)} if timers else {}
        timers.sort(key=lambda t: (_seller(orders, t), t["order"], t["id"]))
        items: dict[int, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
        for item in await _ITEMS_OF.run(order_ids) if timers else []:
            items[item["order"]].append(item)
        claimed.extend(t["id"] for t in timers)
        fired: list[int] = []
        cancelled: list[int] = []
        singles = timers
        if runtime.settings.worker.fire_in_sets:
            sets, singles = _sets(runtime, timers, orders)
            for (process, transition), group in sets:
                if outcomes and time.perf_counter() - started > budget:
                    singles = []  # the rest stay pending (and unlocked at commit)
                    break
                mark = uow.mark()
                try:
                    async with runtime.db.savepoint():
                        done, gone, rest = await fire_set(uow, process, transition, group, items)
                except Exception as exc:
                    uow.cut_back(mark)
                    if is_lock_conflict(exc):  # as below: commit the timers before it
                        log.info("a set of %d timers met a concurrent transaction (%s)", len(group), exc)
                        singles = []
                        break
                    # The single forms decide which of its timers fails, and how.
                    log.warning(
                        "a set of %d %s timers failed (%r); firing them one by one",
                        len(group),
                        transition.name,
                        exc,
                    )
                    done, gone, rest = [], [], group
                fired += done
                cancelled += gone
                outcomes += [(timer_id, "fired") for timer_id in done]
                outcomes += [(timer_id, "cancelled") for timer_id in gone]
                singles += rest
            singles.sort(key=lambda t: (_seller(orders, t), t["order"], t["id"]))
        for timer in singles:
            if outcomes and time.perf_counter() - started > budget:
                break  # the rest stay pending (and unlocked at commit) for the next batch
            timer_id = timer["id"]
            mark = uow.mark()
            try:
                async with runtime.db.savepoint():
                    row = await _order_row(timer["order"], for_update=True)
                    if row["state"] != timer["state"]:
                        cancelled.append(timer_id)
                        outcomes.append((timer_id, "cancelled"))
                        continue
                    await _fire(
                        uow,
                        row["id"],
                        timer["transition"],
                        caller=None,
                        data={"timer": timer_id},
                        row=row,
                        items=items[row["id"]],
                    )
                fired.append(timer_id)
                outcomes.append((timer_id, "fired"))
            except Exception as exc:
                uow.cut_back(mark)  # what the rolled-back part recorded
                if is_lock_conflict(exc):
                    # A deadlock with another worker or a request (the batch holds the rows
                    # of the timers before this one): commit those, and let this timer wait
                    # for the next batch; it is not the timer's failure.
                    log.info(
                        "timer %s met a concurrent transaction (%s); it fires in the next batch",
                        timer_id,
                        exc,
                    )
                    break
                if not isinstance(exc, AgorakitError):
                    log.exception("timer %s failed", timer_id)
                    exc = AgorakitError(f"unexpected error: {exc!r}")
                outcomes.append(await _record_timer_failure(runtime, timer_id, exc))
        if fired:
            await _MARK_TIMERS.run("fired", uow.now, fired)
        if cancelled:
            await _MARK_TIMERS.run("cancelled", None, cancelled)
    return outcomes


def _seller(orders: dict[int, dict[str, Any]], timer: dict[str, Any]) -> int:
    row = orders.get(timer["order"])
    return (row["seller_id"] or 0) if row else 0


def _sets(
    runtime: Runtime, timers: list[dict[str, Any]], orders: dict[int, dict[str, Any]]
) -> tuple[list[tuple[tuple[Process, Transition], list[dict[str, Any]]]], list[dict[str, Any]]]:
    """The timers whose transitions fire as sets, grouped by process and transition (an
    order at most once per group), and the others."""
    reg = registry(runtime)
    groups: dict[tuple[Any, ...], tuple[tuple[Process, Transition], list[dict[str, Any]]]] = {}
    seen: set[tuple[Any, ...]] = set()
    singles = []
    for timer in timers:
        row = orders.get(timer["order"])
        process = reg.processes.get((row["process"], row["process_version"])) if row else None
        transition = process.transition(timer["transition"]) if process else None
        key = (row["process"], row["process_version"], timer["transition"]) if row else None
        if row is None or process is None or key is None:
            singles.append(timer)
            continue
        if (
            transition is None
            or "system" not in transition.actors
            or (key, timer["order"]) in seen
            or not fires_as_set(runtime, transition)
        ):
            singles.append(timer)
            continue
        seen.add((key, timer["order"]))
        groups.setdefault(key, ((process, transition), []))[1].append(timer)
    return list(groups.values()), singles


async def _fire_alone(runtime: Runtime, timer_id: int) -> list[tuple[int, str]]:
    """Fire one timer in a unit of work of its own; a commit that fails counts as its failure."""
    try:
        return await _fire_batch(runtime, 1, [], only=timer_id)
    except Exception as exc:
        log.exception("timer %s did not commit", timer_id)
        error = exc if isinstance(exc, AgorakitError) else AgorakitError(f"unexpected error: {exc!r}")
        return [await _record_timer_failure(runtime, timer_id, error)]


async def _record_timer_failure(runtime: Runtime, timer_id: int, error: AgorakitError) -> tuple[int, str]:
    async with runtime.unit_of_work() as uow:
        row = await OrderTimer.select(OrderTimer.attempts).where(OrderTimer.id == timer_id).first()
        if row is None:  # gone with its order meanwhile: nothing left to fire
            return timer_id, "cancelled"
        attempts = row["attempts"] + 1
        failed = attempts >= TIMER_MAX_ATTEMPTS
        await OrderTimer.update(
            {
                OrderTimer.attempts: attempts,
                OrderTimer.last_error: error.detail,
                OrderTimer.status: "failed" if failed else "pending",
                OrderTimer.due_at: uow.now + timedelta(minutes=2**attempts),
            }
        ).where(OrderTimer.id == timer_id)
        log.warning("timer %s failed (attempt %s): %s", timer_id, attempts, error.detail)
        if failed:
            uow.record(OrderTimerFailed(timer_id=timer_id, error=error.detail), subject=f"timer:{timer_id}")
    return timer_id, "failed" if failed else "retried"


async def failed_timers_queue() -> OperatorQueue:
    """The failed timers (``GET /operator/timers?status=failed``), counted; the oldest one
    waits since it was due."""
    counted = await count_queue(OrderTimer, OrderTimer.status == "failed", since=OrderTimer.due_at)
    return OperatorQueue(
        key="timers.failed",
        title="Order timers that failed",
        count=counted.count,
        oldest_at=counted.oldest_at,
        list_path="/operator/timers?status=failed",
        area="orders",
    )


async def list_timers(
    *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[TimerOut], str | None]:
    query = OrderTimer.select().order_by(OrderTimer.id).limit(limit + 1)
    if status:
        query = query.where(OrderTimer.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(OrderTimer.id > position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    items = [
        TimerOut(
            id=r["id"],
            order_id=r["order"],
            state=r["state"],
            transition=r["transition"],
            due_at=r["due_at"],
            status=r["status"],
            attempts=r["attempts"],
            last_error=r["last_error"],
        )
        for r in rows
    ]
    return items, next_cursor
