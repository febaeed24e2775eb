"""The gig order process: the core's fixed-price process, built from the plugin's
settings, plus the gigs' mutual cancellation."""

from __future__ import annotations

from agorakit.orders import Process, Transition, fixed_price_process
from agorakit.plugins.gigs.settings import GigsSettings

PROCESS = "gig_order"

REPORT_REASONS = {
    "not_delivered": "The order was marked complete without a delivery",
    "not_as_described": "The delivery is not what the gig promised",
}

CANCEL_MUTUAL = Transition(
    name="cancel_mutual",
    sources=("in_progress", "delivered"),
    target="cancelled",
    actors=("buyer", "seller"),
    guards=("gigs_other_party_proposed",),
    effects=("gigs_close_proposal", "refund_escrow"),
    summary="a party accepts the other's cancellation proposal: full refund to credit",
)


def gig_order_process(settings: GigsSettings) -> Process:
    return fixed_price_process(
        PROCESS,
        version=1,
        auto_complete_days=settings.auto_complete_days,
        unpaid_expiry_hours=settings.unpaid_expiry_hours,
        report_window_days=settings.report_window_days,
        report_review_hours=settings.report_review_hours,
        report_reasons=REPORT_REASONS,
        extra_transitions=(CANCEL_MUTUAL,),
        delivery_route="/gigs/orders/{id}/delivery",
        seller_cancel=True,
        report_after_completion_days=settings.report_after_completion_days,
    )
