"""The PayPal payout batches and items this site keeps: their state changes and their views.

A batch's state moves here: :func:`store_submission` (PayPal accepted it), :func:`note_error`
(PayPal did not answer or refused a call; the worker tries again), :func:`block` (its
``sender_batch_id`` belongs to another batch at PayPal) and :func:`reject` (PayPal refused
the batch: :func:`finish_rejected` fails its withdrawals, the money goes back).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.errors import NotFound
from agorakit.money import fail_payout, money
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.payouts_paypal.events import (
    PayPalPayoutBatchBlocked,
    PayPalPayoutBatchRejected,
    PayPalPayoutBatchSubmitted,
)
from agorakit.plugins.payouts_paypal.methods import PLUGIN
from agorakit.plugins.payouts_paypal.schemas import PayoutItemOut, PaypalPayoutBatchOut
from agorakit.plugins.payouts_paypal.tables import PayPalPayoutBatch, PayPalPayoutItem
from agorakit.plugins.paypal.client import PayPalError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.paypal.payouts")


def plugin_settings(runtime: Runtime) -> Any:
    """The site's ``[plugins.payouts_paypal]``."""
    return runtime.plugin_settings(PLUGIN)


async def store_submission(runtime: Runtime, batch_id: int, answer: dict[str, Any]) -> None:
    """Keep PayPal's batch id: the batch is submitted (from the answer, a lookup or a webhook)."""
    header = answer.get("batch_header") or {}
    paypal_batch_id = header.get("payout_batch_id")
    async with runtime.unit_of_work() as uow:
        updated = (
            await PayPalPayoutBatch.update(
                {
                    PayPalPayoutBatch.status: "submitted",
                    PayPalPayoutBatch.paypal_batch_id: paypal_batch_id,
                    PayPalPayoutBatch.paypal_status: header.get("batch_status"),
                    PayPalPayoutBatch.submitted_at: uow.now,
                    PayPalPayoutBatch.claimed_until: None,
                    PayPalPayoutBatch.next_sync_at: uow.now,
                    PayPalPayoutBatch.last_error: None,
                    PayPalPayoutBatch.updated_at: uow.now,
                }
            )
            .where((PayPalPayoutBatch.id == batch_id) & (PayPalPayoutBatch.status == "created"))
            .returning(PayPalPayoutBatch.sender_batch_id)
        )
        if updated:
            uow.record(
                PayPalPayoutBatchSubmitted(
                    batch_id=batch_id,
                    sender_batch_id=updated[0]["sender_batch_id"],
                    paypal_batch_id=paypal_batch_id,
                ),
                subject=f"paypal_payout_batch:{batch_id}",
            )


# --------------------------------------------------------------------------------------
# Errors of a batch
# --------------------------------------------------------------------------------------


async def note_error(runtime: Runtime, batch_id: int, exc: PayPalError, *, release: bool = False) -> None:
    log.warning("payout batch %s: %s", batch_id, exc.describe())
    values: dict[Any, Any] = {
        PayPalPayoutBatch.last_error: exc.describe()[:2000],
        PayPalPayoutBatch.updated_at: runtime.clock.now(),
    }
    if release:
        values[PayPalPayoutBatch.claimed_until] = None
    else:
        minutes = plugin_settings(runtime).sync_interval_minutes
        values[PayPalPayoutBatch.next_sync_at] = runtime.clock.now() + timedelta(minutes=minutes)
    async with runtime.unit_of_work():
        await PayPalPayoutBatch.update(values).where(PayPalPayoutBatch.id == batch_id)


async def block(runtime: Runtime, batch_id: int, why: str) -> None:
    message = f"sender_batch_id already used at PayPal for another batch: {why}; an operator must check it"
    log.error("payout batch %s: %s", batch_id, message)
    async with runtime.unit_of_work() as uow:
        await PayPalPayoutBatch.update(
            {
                PayPalPayoutBatch.status: "blocked",
                PayPalPayoutBatch.last_error: message[:2000],
                PayPalPayoutBatch.claimed_until: None,
                PayPalPayoutBatch.updated_at: uow.now,
            }
        ).where((PayPalPayoutBatch.id == batch_id) & (PayPalPayoutBatch.status == "created"))
        uow.record(
            PayPalPayoutBatchBlocked(batch_id=batch_id, reason=message),
            subject=f"paypal_payout_batch:{batch_id}",
        )


async def reject(runtime: Runtime, batch_id: int, exc: PayPalError) -> None:
    """PayPal refused the batch (it paid nobody): fail its withdrawals, money back."""
    log.warning("payout batch %s refused: %s", batch_id, exc.describe())
    async with runtime.unit_of_work() as uow:
        await PayPalPayoutBatch.update(
            {
                PayPalPayoutBatch.status: "rejected",
                PayPalPayoutBatch.last_error: exc.describe()[:2000],
                PayPalPayoutBatch.claimed_until: None,
                PayPalPayoutBatch.updated_at: uow.now,
            }
        ).where((PayPalPayoutBatch.id == batch_id) & (PayPalPayoutBatch.status == "created"))
        uow.record(
            PayPalPayoutBatchRejected(batch_id=batch_id, error=exc.name, debug_id=exc.debug_id),
            subject=f"paypal_payout_batch:{batch_id}",
        )
    await finish_rejected(runtime)


async def finish_rejected(runtime: Runtime) -> None:
    """Fail the withdrawals of refused batches that are not failed yet (also after a crash)."""
    rows = await (
        PayPalPayoutItem.select(
            *PayPalPayoutItem.all_columns(), PayPalPayoutItem.batch.last_error.as_alias("batch_error")
        )
        .where((PayPalPayoutItem.batch.status == "rejected") & PayPalPayoutItem.outcome.is_null())
        .order_by(PayPalPayoutItem.id)
    )
    for item in rows:
        reason = f"PayPal refused the payout batch: {item['batch_error'] or 'no reason given'}"
        # "failed", or what the withdrawal already became (a second run moves no money)
        outcome = await fail_payout(runtime, item["withdrawal_id"], reason=reason[:500])
        async with runtime.unit_of_work():
            await PayPalPayoutItem.update(
                {PayPalPayoutItem.outcome: outcome, PayPalPayoutItem.updated_at: runtime.clock.now()}
            ).where(PayPalPayoutItem.id == item["id"])


# --------------------------------------------------------------------------------------
# Reading batches and items
# --------------------------------------------------------------------------------------


async def batch_row(batch_id: int) -> dict[str, Any]:
    row = await PayPalPayoutBatch.select().where(PayPalPayoutBatch.id == batch_id).first()
    if row is None:
        raise NotFound(f"there is no PayPal payout batch {batch_id}")
    return row


async def item_rows(batch_id: int) -> list[dict[str, Any]]:
    return (
        await PayPalPayoutItem.select()
        .where(PayPalPayoutItem.batch == batch_id)
        .order_by(PayPalPayoutItem.id)
    )


async def item_by_withdrawal(withdrawal_id: int) -> dict[str, Any]:
    row = await PayPalPayoutItem.select().where(PayPalPayoutItem.withdrawal_id == withdrawal_id).first()
    if row is None:
        raise NotFound(f"withdrawal {withdrawal_id} has not been sent to PayPal")
    return row


def _to_item(row: dict[str, Any]) -> PayoutItemOut:
    return PayoutItemOut(
        withdrawal_id=row["withdrawal_id"],
        member_id=row["member_id"],
        batch_id=row["batch"],
        sender_item_id=row["sender_item_id"],
        paypal_item_id=row["paypal_item_id"],
        transaction_id=row["transaction_id"],
        receiver=row["receiver"],
        amount=money(row["amount"], row["currency"]),
        status=row["status"],
        outcome=row["outcome"],
        late_status=row["late_status"],
        error=row["error"],
        updated_at=row["updated_at"],
    )


async def get_item(withdrawal_id: int) -> PayoutItemOut:
    return _to_item(await item_by_withdrawal(withdrawal_id))


async def get_batch(batch_id: int) -> PaypalPayoutBatchOut:
    return await _to_batch(await batch_row(batch_id), with_items=True)


async def _to_batch(row: dict[str, Any], *, with_items: bool) -> PaypalPayoutBatchOut:
    items = [_to_item(r) for r in await item_rows(row["id"])] if with_items else None
    return PaypalPayoutBatchOut(
        id=row["id"],
        sender_batch_id=row["sender_batch_id"],
        paypal_batch_id=row["paypal_batch_id"],
        status=row["status"],
        paypal_status=row["paypal_status"],
        currency=row["currency"],
        count=row["item_count"],
        total=money(row["total"], row["currency"]),
        submit_attempts=row["submit_attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        submitted_at=row["submitted_at"],
        synced_at=row["synced_at"],
        items=items,
    )


async def list_batches(
    *, cursor: str | None, limit: int, status: str | None = None
) -> tuple[list[PaypalPayoutBatchOut], str | None]:
    """Newest first."""
    query = PayPalPayoutBatch.select().order_by(PayPalPayoutBatch.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(PayPalPayoutBatch.id < int(position["id"]))
    if status:
        query = query.where(PayPalPayoutBatch.status == status)
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [await _to_batch(r, with_items=False) for r in rows], next_cursor
