"""The worker's sweep: everything that happens because time passed.

``agorakit tick [--at ISO8601]`` runs one sweep as of an instant (tests and operators);
the order engine adds its timers to the sweep.  Each step runs in its own transaction.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

log = logging.getLogger("agorakit.worker")


class SweepReport(msgspec.Struct):
    expired_payments: list[int] = []
    timers_fired: list[int] = []
    timers_retried: list[int] = []
    timers_failed: list[int] = []


async def sweep(runtime: Any) -> SweepReport:
    """One pass: expire unpaid payments, fire due order timers."""
    from agorakit.money.payments import expire_payments
    from agorakit.orders.service import fire_due_timers

    expired = await expire_payments(runtime)
    timers = await fire_due_timers(runtime)
    report = SweepReport(
        expired_payments=expired,
        timers_fired=timers.fired,
        timers_retried=timers.retried,
        timers_failed=timers.failed,
    )
    if expired or timers.fired or timers.retried or timers.failed:
        log.info("sweep: %s", msgspec.to_builtins(report))
    return report


async def run_worker(runtime: Any, *, interval: float, stop: Any = None, sweeps: int | None = None) -> int:
    """Sweep every ``interval`` seconds until ``stop`` (an asyncio.Event) is set; returns sweeps run."""
    import asyncio

    done = 0
    while (stop is None or not stop.is_set()) and (sweeps is None or done < sweeps):
        try:
            await sweep(runtime)
        except Exception:
            log.exception("worker sweep failed; retrying after the interval")
        done += 1
        if sweeps is not None and done >= sweeps:
            break
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval) if stop else await asyncio.sleep(interval)
        except TimeoutError:
            pass
    return done
