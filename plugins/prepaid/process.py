"""The two order processes of prepaid requests, built on the core's fixed-price process.

``prepaid_request`` (prepaid mode) is pooled: the buyer pays when posting, the paid order
waits ``open`` without a seller, a qualified seller locks it (``lock``: exactly one
wins) and the timeframe starts; before the timeframe ends the seller may ``release`` it
back to the pool, after it the buyer may ``cancel_late`` (full refund to credit) or
``return_to_pool``; the buyer may ``cancel_open`` a request nobody locked.
``prepaid_offer`` (classic mode) is the order made when the buyer accepts an offer: it
has its seller from the start and its clock starts when it is paid.  Both are delivered
with evidence, confirmed by the buyer (``accept``) or after ``auto_confirm_days``
(``auto_complete``), and may be reported within ``report_days`` of the delivery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.orders import fixed_price_process

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.orders import Process
    from agorakit.plugins.prepaid.settings import PrepaidSettings

REQUEST_PROCESS = "prepaid_request"
OFFER_PROCESS = "prepaid_offer"
PROCESSES = (REQUEST_PROCESS, OFFER_PROCESS)
#: the fee kind fee plugins see for both (``[fees] commission_by_kind.request``)
FEE_KIND = "request"

REPORT_REASONS = {
    "not_delivered": "The request was marked delivered but the service was not done",
    "not_as_requested": "The delivery does not match the request's details",
}

#: the plugin's effects, run in the transaction of each move (they keep the request row
#: and its listing in step with the order)
SYNC = "prepaid_sync"
LOCK_LIMIT = "prepaid_lock_limit"
RECORD_RELEASE = "prepaid_record_release"

_SYNCED = (
    "paid",
    "lock",
    "release",
    "return_to_pool",
    "cancel_open",
    "cancel_unpaid",
    "expire",
    "deliver",
    "accept",
    "auto_complete",
    "cancel_late",
)


def _common(settings: PrepaidSettings) -> dict:
    return {
        "auto_complete_days": settings.auto_confirm_days,
        "unpaid_expiry_hours": settings.unpaid_expiry_hours,
        "report_window_days": settings.report_days,
        "report_review_hours": settings.report_review_hours,
        "report_reasons": REPORT_REASONS,
        "delivery_unit": "hours",
    }


def request_process(settings: PrepaidSettings) -> Process:
    """The pooled process of prepaid-mode requests."""
    effects: dict[str, tuple[str, ...]] = {name: (SYNC,) for name in _SYNCED}
    effects["release"] = (RECORD_RELEASE, SYNC)
    effects["return_to_pool"] = (RECORD_RELEASE, SYNC)
    return fixed_price_process(
        REQUEST_PROCESS,
        pooled=True,
        extra_guards={"lock": (LOCK_LIMIT,)},
        extra_effects=effects,
        **_common(settings),
    )


def offer_process(settings: PrepaidSettings) -> Process:
    """The process of an accepted offer's order (classic mode)."""
    names = [n for n in _SYNCED if n not in ("lock", "release", "return_to_pool", "cancel_open")]
    return fixed_price_process(OFFER_PROCESS, extra_effects={n: (SYNC,) for n in names}, **_common(settings))
