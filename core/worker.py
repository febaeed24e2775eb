"""The worker's sweep: everything that happens because time passed.

``agorakit tick [--at ISO8601]`` runs one sweep as of an instant (tests and operators);
the order engine adds its timers to the sweep.  Each step runs in its own transaction.

Order of the steps: domain events left pending are published again first (at once those
of a process that is gone, see :mod:`agorakit.events.processes`), then unpaid
payments and due vouchers expire and due order timers fire, and last the email outbox
is delivered, so that the notifications all the earlier steps caused go out in the same
sweep.  Every
``[worker] escrow_check_minutes`` a sweep also checks that every order's escrow holds
what it must (the check ``agorakit check-ledger`` runs) and logs each violation.

A long-running worker (``agorakit worker``, :func:`run_worker`) also runs the plugins'
loops beside its sweeps (``agorakit_worker_loops``): work that waits on outside systems,
such as sending webhooks, runs there so that it never holds up a sweep.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.events.outbox import republish_events
from agorakit.money.payments import expire_payments
from agorakit.money.vouchers import expire_vouchers
from agorakit.notifications.outbox import deliver_emails
from agorakit.orders import fire_due_timers
from agorakit.orders.escrow import escrow_problem_lines

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.worker")


class SweepReport(msgspec.Struct):
    expired_payments: list[int] = []
    #: vouchers whose value went back to their issuer's credit
    expired_vouchers: list[int] = []
    timers_fired: list[int] = []
    timers_retried: list[int] = []
    timers_failed: list[int] = []
    #: ids of stored domain events published again (pending after a failure or a crash)
    events_republished: list[int] = []
    #: ids of outbox emails sent, failed and to be retried, failed for good
    emails_sent: list[int] = []
    emails_retried: list[int] = []
    emails_failed: list[int] = []
    #: what provider-backed methods did (e.g. "payout:paypal": batches sent and synced)
    method_syncs: dict[str, Any] = {}
    #: orders whose escrow does not hold what it must, when this sweep checked them
    escrow_problems: list[str] = []
    #: what plugins' sweeps did (``agorakit_sweep``), counts by name
    plugins: dict[str, int] = {}


async def sweep(runtime: Runtime, *, refresh_clock: bool = True) -> SweepReport:
    """One pass: republish pending events, expire unpaid payments and due vouchers, fire
    due order timers, deliver due emails.  On a site with a test clock the sweep first reads the clock's
    state (``refresh_clock``), so that it sees what an operator set in another process."""

    if refresh_clock:
        await runtime.refresh_clock()
    republished = await republish_events(runtime)
    expired = await expire_payments(runtime)
    vouchers = await expire_vouchers(runtime)
    timers = await fire_due_timers(runtime)
    plugins = await plugin_sweeps(runtime)
    synced = await sync_methods(runtime)  # provider-backed methods (PayPal), before the emails
    emails = await deliver_emails(runtime)
    escrow = await check_escrows(runtime)
    report = SweepReport(
        expired_payments=expired,
        expired_vouchers=vouchers,
        timers_fired=timers.fired,
        timers_retried=timers.retried,
        timers_failed=timers.failed,
        events_republished=republished,
        emails_sent=emails.sent,
        emails_retried=emails.retried,
        emails_failed=emails.failed,
        method_syncs=synced,
        escrow_problems=escrow,
        plugins=plugins,
    )
    if any(msgspec.to_builtins(report).values()):
        log.info("sweep: %s", msgspec.to_builtins(report))
    return report


async def plugin_sweeps(runtime: Runtime) -> dict[str, int]:
    """Run every plugin's ``agorakit_sweep``; the non-zero counts they report."""
    out: dict[str, int] = {}
    for counts in await runtime.hooks.collect("agorakit_sweep", runtime=runtime):
        out.update({name: count for name, count in (counts or {}).items() if count})
    return out


async def next_due(
    runtime: Runtime, *, after: datetime | None = None, until: datetime | None = None
) -> datetime | None:
    """The earliest instant after ``after`` (or at or before ``until``) at which the sweep
    has something to do: a pending order timer, an open payment's or an issued voucher's
    expiry, an email's next attempt, a plugin's (``agorakit_next_due``).  None: nothing in
    that range.  A test clock steps through these instants."""
    from agorakit.money.payments import OPEN_STATUSES
    from agorakit.money.tables import Payment, Voucher
    from agorakit.notifications.tables import EmailOutbox
    from agorakit.orders.tables import OrderTimer

    found: list[datetime] = []
    for column, pending in (
        (OrderTimer.due_at, OrderTimer.status == "pending"),
        (Payment.expires_at, Payment.status.is_in(list(OPEN_STATUSES)) & Payment.expires_at.is_not_null()),
        (Voucher.expires_at, Voucher.status == "issued"),
        (
            EmailOutbox.next_attempt_at,
            (EmailOutbox.status == "pending") & EmailOutbox.next_attempt_at.is_not_null(),
        ),
    ):
        where = pending & (column > after) if after is not None else pending & (column <= until)
        row = await column._meta.table.select(column.as_alias("due")).where(where).order_by(column).first()
        if row is not None:
            found.append(row["due"])
    found += [
        due
        for due in await runtime.hooks.collect("agorakit_next_due", runtime=runtime, after=after, until=until)
        if due
    ]
    return min(found, default=None)


async def check_escrows(runtime: Runtime) -> list[str]:
    """Every ``[worker] escrow_check_minutes`` (as the runtime's clock tells), the orders
    whose escrow does not hold what it must; each is logged as an error."""

    minutes = runtime.settings.worker.escrow_check_minutes
    now = runtime.clock.now()
    last = runtime.escrow_checked_at
    if not minutes or (last is not None and last <= now < last + timedelta(minutes=minutes)):
        return []
    runtime.escrow_checked_at = now
    problems = await escrow_problem_lines(runtime)
    for problem in problems:
        log.error("escrow check: %s", problem)
    return problems


async def sync_methods(runtime: Runtime) -> dict[str, Any]:
    """Let payment and payout methods that follow an outside provider catch up with it.

    A bound method may define ``async sync(runtime)`` (PayPal payouts send and follow
    batches, PayPal checkout captures approved orders); what it returns is reported under
    ``"payment:<name>"`` / ``"payout:<name>"`` when it did something.
    """
    from agorakit.money import SyncsWithProvider

    out: dict[str, Any] = {}
    for kind, methods in (("payment", runtime.payment_methods), ("payout", runtime.payout_methods)):
        for name, method in methods.items():
            if isinstance(method, SyncsWithProvider):
                result = await method.sync(runtime)
                if result and (not isinstance(result, dict) or any(result.values())):
                    out[f"{kind}:{name}"] = result
    return out


async def run_worker(
    runtime: Runtime, *, interval: float, stop: Any = None, sweeps: int | None = None
) -> int:
    """Sweep every ``interval`` seconds until ``stop`` (an asyncio.Event) is set, with the
    plugins' loops (``agorakit_worker_loops``) running beside the sweeps; returns sweeps
    run.  When it ends it stops the loops and waits for them (at most
    :data:`LOOP_STOP_SECONDS`, then they are cancelled)."""

    loops_stop = asyncio.Event()
    loops = await start_loops(runtime, loops_stop)
    done = 0
    try:
        while (stop is None or not stop.is_set()) and (sweeps is None or done < sweeps):
            try:
                await sweep(runtime)
            except Exception:
                log.exception("worker sweep failed; retrying after the interval")
            done += 1
            if sweeps is not None and done >= sweeps:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval) if stop else await asyncio.sleep(
                    interval
                )
            except TimeoutError:
                pass
    finally:
        await stop_loops(runtime, loops, loops_stop)
    return done


#: seconds a stopping worker waits for its loops to finish what they are doing
LOOP_STOP_SECONDS = 15.0


async def start_loops(runtime: Runtime, stop: asyncio.Event) -> dict[str, asyncio.Task[None]]:
    """Start the plugins' worker loops (``agorakit_worker_loops``) and name them in
    ``runtime.worker_loops``; the tasks by name."""
    loops: dict[str, Any] = {}
    for contributed in await runtime.hooks.collect("agorakit_worker_loops", runtime=runtime):
        for name, loop in (contributed or {}).items():
            if name in loops:
                raise ValueError(f"two plugins contribute a worker loop named {name!r}")
            loops[name] = loop
    tasks = {name: asyncio.create_task(_run_loop(name, loop, runtime, stop)) for name, loop in loops.items()}
    runtime.worker_loops = frozenset(tasks)
    return tasks


async def stop_loops(runtime: Runtime, tasks: dict[str, asyncio.Task[None]], stop: asyncio.Event) -> None:
    """Tell the loops to stop and wait for them (cancelled after :data:`LOOP_STOP_SECONDS`)."""
    stop.set()
    runtime.worker_loops = frozenset()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks.values(), timeout=LOOP_STOP_SECONDS)
    for task in pending:
        log.warning("worker loop %s did not stop in time; cancelled", task.get_name())
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _run_loop(name: str, loop: Any, runtime: Runtime, stop: asyncio.Event) -> None:
    asyncio.current_task().set_name(name)  # type: ignore[union-attr]
    try:
        await loop(runtime, stop)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("worker loop %s failed and stopped", name)
