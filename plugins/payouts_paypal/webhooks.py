"""PayPal's payout webhooks (``PAYMENT.PAYOUTS-ITEM.*``, ``PAYMENT.PAYOUTSBATCH.*``).

The paypal plugin verifies each delivery and offers it to the bound methods; the
``paypal`` payout method hands it to :func:`handle_event`.  Item events go through the
same :func:`~agorakit.plugins.payouts_paypal.items.apply_item_status` as polling, so
both agree; batch events carry no items, so the batch is synced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.plugins.payouts_paypal.items import apply_item_status
from agorakit.plugins.payouts_paypal.service import sync_batch
from agorakit.plugins.payouts_paypal.store import store_submission
from agorakit.plugins.payouts_paypal.tables import PayPalPayoutBatch

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: The item status a ``PAYMENT.PAYOUTS-ITEM.*`` event means when its resource has none.
ITEM_EVENTS = {
    "PAYMENT.PAYOUTS-ITEM.SUCCEEDED": "SUCCESS",
    "PAYMENT.PAYOUTS-ITEM.BLOCKED": "BLOCKED",
    "PAYMENT.PAYOUTS-ITEM.CANCELED": "CANCELED",
    "PAYMENT.PAYOUTS-ITEM.DENIED": "DENIED",
    "PAYMENT.PAYOUTS-ITEM.FAILED": "FAILED",
    "PAYMENT.PAYOUTS-ITEM.HELD": "ONHOLD",
    "PAYMENT.PAYOUTS-ITEM.REFUNDED": "REFUNDED",
    "PAYMENT.PAYOUTS-ITEM.RETURNED": "RETURNED",
    "PAYMENT.PAYOUTS-ITEM.UNCLAIMED": "UNCLAIMED",
}


async def handle_event(runtime: Runtime, event: Any) -> str | None:
    """A verified payout webhook; None when it is not a payout event of this site."""
    resource = event.resource or {}
    if event.event_type.startswith("PAYMENT.PAYOUTS-ITEM."):
        status = resource.get("transaction_status") or ITEM_EVENTS.get(event.event_type)
        if status is None:
            return None
        return await apply_item_status(runtime, resource, status=status, source="webhook")
    if event.event_type.startswith("PAYMENT.PAYOUTSBATCH."):
        # Batch events carry no item details: fetch the items.
        header = resource.get("batch_header") or {}
        paypal_batch_id = header.get("payout_batch_id")
        sender_batch_id = (header.get("sender_batch_header") or {}).get("sender_batch_id")
        batch = None
        if paypal_batch_id:
            batch = (
                await PayPalPayoutBatch.select()
                .where(PayPalPayoutBatch.paypal_batch_id == paypal_batch_id)
                .first()
            )
        if batch is None and sender_batch_id:
            batch = (
                await PayPalPayoutBatch.select()
                .where(PayPalPayoutBatch.sender_batch_id == sender_batch_id)
                .first()
            )
        if batch is None or not paypal_batch_id:
            return None
        if batch["status"] == "created":
            await store_submission(runtime, batch["id"], {"batch_header": header})
        synced = await sync_batch(runtime, batch["id"])
        return f"payout batch {batch['id']} synced ({synced.paypal_status})"
    return None
