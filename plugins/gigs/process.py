"""The gig order process: built from the plugin's settings."""

from __future__ import annotations

from datetime import timedelta

from agorakit.orders import DisputePolicy, Process, Timer, Transition
from agorakit.plugins.gigs.settings import GigsSettings

PROCESS = "gig_order"

REPORT_REASONS = {
    "not_delivered": "The order was marked complete without a delivery",
    "not_as_described": "The delivery is not what the gig promised",
}


def gig_order_process(settings: GigsSettings) -> Process:
    return Process(
        name=PROCESS,
        version=1,
        states=(
            "awaiting_payment",
            "in_progress",
            "delivered",
            "reported",
            "completed",
            "cancelled",
            "refunded",
        ),
        initial="awaiting_payment",
        final=("completed", "cancelled", "refunded"),
        transitions=(
            Transition(
                name="paid",
                sources=("awaiting_payment",),
                target="in_progress",
                actors=("system",),
                effects=("gigs_start_clock",),
                summary="the payment settled: the seller's clock starts",
            ),
            Transition(
                name="cancel_unpaid",
                sources=("awaiting_payment",),
                target="cancelled",
                actors=("buyer",),
                summary="the buyer drops an order that is not paid yet",
            ),
            Transition(
                name="expire",
                sources=("awaiting_payment",),
                target="cancelled",
                actors=("system",),
                summary="nobody paid in time",
            ),
            Transition(
                name="deliver",
                sources=("in_progress",),
                target="delivered",
                actors=("seller",),
                guards=("gigs_has_delivery",),
                summary="the seller delivers (POST /gigs/orders/{id}/delivery) and marks the order complete",
            ),
            Transition(
                name="accept",
                sources=("delivered",),
                target="completed",
                actors=("buyer",),
                effects=("gigs_accept_delivery", "release_escrow"),
                summary="the buyer accepts the delivery: the seller is paid",
            ),
            Transition(
                name="auto_complete",
                sources=("delivered",),
                target="completed",
                actors=("system",),
                effects=("gigs_accept_delivery", "release_escrow"),
                summary=f"{settings.auto_complete_days} days after delivery the order completes by itself",
            ),
            Transition(
                name="cancel_late",
                sources=("in_progress",),
                target="cancelled",
                actors=("buyer",),
                guards=("gigs_deadline_passed",),
                effects=("refund_escrow",),
                summary="after the delivery deadline the buyer may cancel: full refund to credit",
            ),
            Transition(
                name="cancel_mutual",
                sources=("in_progress", "delivered"),
                target="cancelled",
                actors=("buyer", "seller"),
                guards=("gigs_other_party_proposed",),
                effects=("gigs_close_proposal", "refund_escrow"),
                summary="a party accepts the other's cancellation proposal: full refund to credit",
            ),
        ),
        timers=(
            Timer(
                state="awaiting_payment",
                after=timedelta(hours=settings.unpaid_expiry_hours),
                transition="expire",
            ),
            Timer(
                state="delivered",
                after=timedelta(days=settings.auto_complete_days),
                transition="auto_complete",
            ),
        ),
        on_payment="paid",
        on_proof={"submitted": "deliver"},
        reviewable=("completed",),
        disputes=DisputePolicy(
            reasons=REPORT_REASONS,
            states=("delivered",),
            openers=("buyer",),
            window=timedelta(days=settings.report_window_days),
            review_within=timedelta(hours=settings.report_review_hours),
            hold="reported",
            refunded="refunded",
            released="completed",
        ),
    )
