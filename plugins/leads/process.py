"""The order process of an unlock: a business buys one lead.

``lead_unlock`` orders have the business as their buyer and no seller: the lead price
is the platform's.  Paid from the business's balance the order is ``charged`` at once;
paid with an outside method (bank transfer) it waits ``awaiting_payment`` until the
payment settles, and is cancelled (its place on the lead freed) if the business drops it
or nobody pays within ``unpaid_expiry_hours``.  When charged, the whole escrow goes to
``platform:fees`` in the same transaction (effect ``leads_charge``), the conversation with
the customer opens and the lead's snapshot is kept.

A charged lead may be reported by the business within ``report_days`` of the charge
(``job_changed``, ``tos_violation``, ``other``); operators decide within
``report_review_hours``; a refund comes back from the site's fees to the business's
credit, never as cash.  The order stays ``charged`` either way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from agorakit.orders import DisputePolicy, Process, Timer, Transition

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.plugins.leads.settings import LeadsSettings

PROCESS = "lead_unlock"
#: the kind fee plugins would see (a lead charge pays no fees on top: it is the site's)
FEE_KIND = "lead"

#: what a business may report a lead for; "the customer didn't hire me" is not one
REPORT_REASONS = {
    "job_changed": "The job is drastically different from the request (another location, a service I don't offer)",
    "tos_violation": "The job or the customer violates the terms (e.g. a business looking for employees, a minor)",
    "other": "Something else (say what; operators may still refund)",
}

CHARGE = "leads_charge"
FREE_PLACE = "leads_free_place"


def unlock_process(settings: LeadsSettings) -> Process:
    return Process(
        name=PROCESS,
        version=1,
        states=("awaiting_payment", "charged", "cancelled"),
        initial="awaiting_payment",
        final=("charged", "cancelled"),
        transitions=(
            Transition(
                name="paid",
                sources=("awaiting_payment",),
                target="charged",
                actors=("system",),
                effects=(CHARGE,),
                summary="the payment settled: the lead price goes to the site and the chat opens",
            ),
            Transition(
                name="cancel_unpaid",
                sources=("awaiting_payment",),
                target="cancelled",
                actors=("buyer",),
                effects=(FREE_PLACE,),
                summary="the business drops an unlock it has not paid yet",
            ),
            Transition(
                name="expire",
                sources=("awaiting_payment",),
                target="cancelled",
                actors=("system",),
                effects=(FREE_PLACE,),
                summary="nobody paid in time; the place on the lead is freed",
            ),
        ),
        timers=(
            Timer(
                state="awaiting_payment",
                after=timedelta(hours=settings.unpaid_expiry_hours),
                transition="expire",
            ),
        ),
        on_payment="paid",
        # the chat with the customer is the plugin's conversation; the order has no other party
        order_conversation=False,
        disputes=DisputePolicy(
            reasons=REPORT_REASONS,
            states=("charged",),
            openers=("buyer",),
            window=timedelta(days=settings.report_days),
            review_within=timedelta(hours=settings.report_review_hours),
            hold=None,
            refund_from="fees",
        ),
    )
