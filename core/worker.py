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


async def sweep(runtime: Any) -> SweepReport:
    from agorakit.money.payments import expire_payments

    report = SweepReport(expired_payments=await expire_payments(runtime))
    if report.expired_payments:
        log.info("expired payments %s", report.expired_payments)
    return report
