"""One payout item's status, from polling and webhooks alike: :func:`apply_item_status`.

An item's status only moves to a higher rank (``PENDING`` < ``ONHOLD``/``UNCLAIMED`` <
final), never back, and the withdrawal is completed or failed once (the core's payout
queue moves the money at most once).  ``SUCCESS`` completes the withdrawal
(``clearing → external:paypal``, fee → ``platform:fees``); ``FAILED``, ``RETURNED``,
``REFUNDED``, ``REVERSED``, ``BLOCKED``, ``DENIED`` and ``CANCELED`` fail it (the whole
amount back to the member's available balance); ``PENDING``, ``ONHOLD`` and ``UNCLAIMED``
keep it processing.  A final status after another final one is kept for operators and
moves no money.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agorakit.money import complete_payout, fail_payout
from agorakit.plugins.payouts_paypal.events import PayPalPayoutItemUpdated, PayPalPayoutLateStatus
from agorakit.plugins.payouts_paypal.store import batch_row, store_submission
from agorakit.plugins.payouts_paypal.tables import PayPalPayoutItem

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.paypal.payouts")

PENDING_STATUSES = {"PENDING": 1, "ONHOLD": 2, "UNCLAIMED": 2}
SUCCESS = "SUCCESS"
#: Final statuses in which PayPal did not pay (or took the money back before we knew).
FAILURE_STATUSES = {"FAILED", "RETURNED", "REFUNDED", "REVERSED", "BLOCKED", "DENIED", "CANCELED"}
FINAL = 3
RANK: dict[str, int] = {
    "NEW": 0,
    **PENDING_STATUSES,
    SUCCESS: FINAL,
    **dict.fromkeys(FAILURE_STATUSES, FINAL),
}


async def apply_item_status(
    runtime: Runtime,
    resource: dict[str, Any],
    *,
    status: str | None = None,
    source: str,
    error: str | None = None,
) -> str | None:
    """Apply what PayPal says about one payout item; returns what happened (None: not ours).

    ``resource`` is an item as PayPal shows it (batch items, ``GET`` item, webhooks).  The
    withdrawal's outcome is applied *before* the item row moves, so a crash in between is
    repaired by the next report (the core refuses to complete or fail twice).
    """
    item = await _find_item(resource)
    if item is None:
        return None
    new = (status or resource.get("transaction_status") or "").upper()
    if new not in RANK:
        log.warning("payout item %s: unknown PayPal status %r ignored", item["sender_item_id"], new)
        return f"payout item {item['sender_item_id']}: unknown status {new or '(none)'} ignored"
    paypal_item_id = resource.get("payout_item_id") or item["paypal_item_id"]
    reason = error or _item_error(resource)
    await _adopt_batch(runtime, item, resource)
    rank = RANK[new]
    if rank < FINAL or item["outcome"] is not None:
        if rank == FINAL and item["outcome"] is not None and new != item["status"]:
            return await _late_status(runtime, item, new)
        moved = await _move(runtime, item, new, paypal_item_id, resource, reason, outcome=None)
        if not moved:
            return f"withdrawal {item['withdrawal_id']}: PayPal {new} is not newer than {item['status']}; unchanged"
        return f"withdrawal {item['withdrawal_id']}: PayPal {new}, still processing"
    outcome = await _settle_withdrawal(runtime, item, new, paypal_item_id, reason)
    await _move(runtime, item, new, paypal_item_id, resource, reason, outcome=outcome)
    return f"withdrawal {item['withdrawal_id']} {outcome} (PayPal {new}, {source})"


async def _settle_withdrawal(
    runtime: Runtime, item: dict[str, Any], new: str, paypal_item_id: str | None, reason: str | None
) -> str:
    withdrawal_id = item["withdrawal_id"]
    wanted = "completed" if new == SUCCESS else "failed"
    if wanted == "completed":
        current = await complete_payout(runtime, withdrawal_id, provider_ref=paypal_item_id)
    else:
        why = f"PayPal reported the payout {new}" + (f": {reason}" if reason else "")
        current = await fail_payout(runtime, withdrawal_id, reason=why[:500])
    if current != wanted:
        log.error(
            "withdrawal %s is %s but PayPal says %s (item %s); an operator must check it",
            withdrawal_id,
            current,
            new,
            paypal_item_id,
        )
    return current


async def _move(
    runtime: Runtime,
    item: dict[str, Any],
    new: str,
    paypal_item_id: str | None,
    resource: dict[str, Any],
    reason: str | None,
    *,
    outcome: str | None,
) -> bool:
    """Move the item row forward (a higher rank only); False when it was already there."""
    values: dict[Any, Any] = {
        PayPalPayoutItem.status: new,
        PayPalPayoutItem.rank: RANK[new],
        PayPalPayoutItem.updated_at: runtime.clock.now(),
    }
    if paypal_item_id:
        values[PayPalPayoutItem.paypal_item_id] = paypal_item_id
    if resource.get("transaction_id"):
        values[PayPalPayoutItem.transaction_id] = str(resource["transaction_id"])[:40]
    if reason:
        values[PayPalPayoutItem.error] = reason[:2000]
    if outcome:
        values[PayPalPayoutItem.outcome] = outcome
    async with runtime.unit_of_work() as uow:
        moved = (
            await PayPalPayoutItem.update(values)
            .where((PayPalPayoutItem.id == item["id"]) & (PayPalPayoutItem.rank < RANK[new]))
            .returning(PayPalPayoutItem.id)
        )
        if moved:
            uow.record(
                PayPalPayoutItemUpdated(
                    withdrawal_id=item["withdrawal_id"],
                    status=new,
                    paypal_item_id=paypal_item_id,
                    outcome=outcome,
                ),
                subject=f"withdrawal:{item['withdrawal_id']}",
            )
        elif paypal_item_id and not item["paypal_item_id"]:
            await PayPalPayoutItem.update({PayPalPayoutItem.paypal_item_id: paypal_item_id}).where(
                (PayPalPayoutItem.id == item["id"]) & PayPalPayoutItem.paypal_item_id.is_null()
            )
    return bool(moved)


async def _late_status(runtime: Runtime, item: dict[str, Any], new: str) -> str:
    """A final status after another (e.g. REVERSED after SUCCESS): recorded, no money moves."""
    async with runtime.unit_of_work() as uow:
        changed = (
            await PayPalPayoutItem.update(
                {PayPalPayoutItem.late_status: new, PayPalPayoutItem.updated_at: uow.now}
            )
            .where((PayPalPayoutItem.id == item["id"]) & (PayPalPayoutItem.late_status.is_null()))
            .returning(PayPalPayoutItem.id)
        )
        if changed:
            uow.record(
                PayPalPayoutLateStatus(
                    withdrawal_id=item["withdrawal_id"], status=new, previous=item["status"]
                ),
                subject=f"withdrawal:{item['withdrawal_id']}",
            )
    if changed:
        log.warning(
            "withdrawal %s was %s at PayPal and is now %s; no money moved, an operator should check it",
            item["withdrawal_id"],
            item["status"],
            new,
        )
    return f"withdrawal {item['withdrawal_id']}: PayPal {new} after {item['status']}; recorded for operators"


async def _find_item(resource: dict[str, Any]) -> dict[str, Any] | None:
    paypal_item_id = resource.get("payout_item_id")
    if paypal_item_id:
        row = await PayPalPayoutItem.select().where(PayPalPayoutItem.paypal_item_id == paypal_item_id).first()
        if row is not None:
            return row
    sender_item_id = (resource.get("payout_item") or {}).get("sender_item_id")
    if not sender_item_id:
        return None
    row = await PayPalPayoutItem.select().where(PayPalPayoutItem.sender_item_id == sender_item_id).first()
    if row is None:
        return None
    # The same sender_item_id in another site's batch (a shared PayPal account) is not ours.
    batch = await batch_row(row["batch"])
    theirs_sender = resource.get("sender_batch_id")
    theirs_paypal = resource.get("payout_batch_id")
    if theirs_sender and theirs_sender != batch["sender_batch_id"]:
        return None
    if theirs_paypal and batch["paypal_batch_id"] and theirs_paypal != batch["paypal_batch_id"]:
        return None
    return row


async def _adopt_batch(runtime: Runtime, item: dict[str, Any], resource: dict[str, Any]) -> None:
    """A verified report about an item of a batch we have not stored as accepted yet
    (the webhook came before the submit answer was stored): PayPal has the batch."""
    paypal_batch_id = resource.get("payout_batch_id")
    if not paypal_batch_id:
        return
    batch = await batch_row(item["batch"])
    if batch["status"] == "created" and batch["paypal_batch_id"] is None:
        await store_submission(runtime, batch["id"], {"batch_header": {"payout_batch_id": paypal_batch_id}})


def _item_error(resource: dict[str, Any]) -> str | None:
    errors = resource.get("errors")
    if isinstance(errors, dict) and (errors.get("name") or errors.get("message")):
        return f"{errors.get('name', '')}: {errors.get('message', '')}".strip(": ")
    return None
