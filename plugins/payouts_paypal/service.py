"""PayPal payouts: batch requested withdrawals, send them once, follow them to the end.

The worker's step (:func:`run`, called each sweep through the method's ``sync``):

1. :func:`create_batches`: requested ``paypal`` withdrawals of one currency, claimed from
   the core's payout queue, become a batch row (its ``sender_batch_id`` fixed now) and
   ``processing``, in one transaction.
2. :func:`submit_batch`: ``POST /v1/payments/payouts``, outside any transaction, by the
   one worker that claimed the batch.  PayPal pays a ``sender_batch_id`` once: after a
   timeout or a 5xx the client retries with the same body, and a later attempt (a worker
   that died before storing the answer) gets "already used" with a link to the original
   batch, which is then looked up and stored instead.  A batch PayPal refuses outright
   (4xx) is ``rejected`` and its withdrawals fail with their money back.
3. :func:`sync_batch`: ``GET /v1/payments/payouts/{id}`` (all pages) and each item's
   ``transaction_status`` through
   :func:`~agorakit.plugins.payouts_paypal.items.apply_item_status`.

Webhooks (:mod:`agorakit.plugins.payouts_paypal.webhooks`) use the same
``apply_item_status``, so polling and webhooks agree.  Operators sync a batch now
(:func:`sync_now`) and cancel unclaimed payouts (:func:`cancel_unclaimed`); the batches'
and items' rows and views are in :mod:`agorakit.plugins.payouts_paypal.store`.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.errors import Conflict, ServiceUnavailable
from agorakit.money import QueuedWithdrawal, attach_to_batch, claim_waiting, count_waiting
from agorakit.plugins.payouts_paypal.events import PayPalPayoutBatchCreated
from agorakit.plugins.payouts_paypal.items import FINAL, apply_item_status
from agorakit.plugins.payouts_paypal.methods import METHOD
from agorakit.plugins.payouts_paypal.schemas import PayoutItemOut, PaypalPayoutBatchOut
from agorakit.plugins.payouts_paypal.store import (
    batch_row,
    block,
    finish_rejected,
    get_batch,
    get_item,
    item_by_withdrawal,
    item_rows,
    note_error,
    plugin_settings,
    reject,
    store_submission,
)
from agorakit.plugins.payouts_paypal.tables import PayPalPayoutBatch, PayPalPayoutItem
from agorakit.plugins.paypal.amounts import from_paypal, to_paypal
from agorakit.plugins.paypal.client import PayPalAuthError, PayPalError, client_for, paypal_settings

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.paypal.payouts")

_BATCH_LINK = re.compile(r"/v1/payments/payouts/([A-Za-z0-9_-]{1,40})(?:[/?#]|$)")


class ItemNotCancellable(Conflict):
    code = "paypal_item_not_cancellable"
    title = "Only unclaimed PayPal payouts can be cancelled"


class PayPalRefused(Conflict):
    code = "paypal_refused"
    title = "PayPal refused the request"


# --------------------------------------------------------------------------------------
# The worker's step
# --------------------------------------------------------------------------------------


async def run(runtime: Runtime) -> dict[str, Any]:
    """Batch, send and follow PayPal withdrawals; returns what it did (for the sweep report).

    PayPal errors are recorded on the batch and logged, never raised: the sweep goes on,
    and the next one tries again with the same ids.
    """
    report: dict[str, Any] = {"batched": [], "submitted": [], "synced": [], "errors": []}
    if not client_for(runtime).configured:
        waiting = await count_waiting(METHOD)
        if waiting:
            log.warning(
                "%d PayPal withdrawals wait: [plugins.paypal] has no client_id/client_secret", waiting
            )
        return report
    report["batched"] = await create_batches(runtime)
    now = runtime.clock.now()
    to_submit = await (
        PayPalPayoutBatch.select(PayPalPayoutBatch.id)
        .where(
            (PayPalPayoutBatch.status == "created")
            & (PayPalPayoutBatch.claimed_until.is_null() | (PayPalPayoutBatch.claimed_until <= now))
        )
        .order_by(PayPalPayoutBatch.id)
    )
    for row in to_submit:
        outcome = await submit_batch(runtime, row["id"])
        (report["submitted"] if outcome == "submitted" else report["errors"]).append(row["id"])
    due = await (
        PayPalPayoutBatch.select(PayPalPayoutBatch.id)
        .where(
            (PayPalPayoutBatch.status == "submitted")
            & (PayPalPayoutBatch.next_sync_at.is_null() | (PayPalPayoutBatch.next_sync_at <= now))
        )
        .order_by(PayPalPayoutBatch.id)
    )
    for row in due:
        try:
            await sync_batch(runtime, row["id"])
            report["synced"].append(row["id"])
        except PayPalError as exc:
            await note_error(runtime, row["id"], exc)
            report["errors"].append(row["id"])
    await finish_rejected(runtime)
    return report


async def create_batches(runtime: Runtime) -> list[int]:
    """Batch every requested PayPal withdrawal, per currency, oldest first; new batch ids."""
    settings = plugin_settings(runtime)
    created: list[int] = []
    async with runtime.unit_of_work() as uow:
        # Two workers at once split the withdrawals instead of batching one twice.
        waiting = await claim_waiting(uow, METHOD)
        by_currency: dict[str, list[QueuedWithdrawal]] = {}
        for withdrawal in waiting:
            by_currency.setdefault(withdrawal.currency, []).append(withdrawal)
        now = uow.now
        for currency, group in sorted(by_currency.items()):
            for start in range(0, len(group), settings.batch_max_items):
                chunk = group[start : start + settings.batch_max_items]
                total = sum(w.net for w in chunk)
                inserted = await PayPalPayoutBatch.insert(
                    PayPalPayoutBatch(
                        sender_batch_id=f"pending-{secrets.token_hex(8)}",
                        currency=currency,
                        status="created",
                        item_count=len(chunk),
                        total=total,
                        created_at=now,
                        updated_at=now,
                    )
                ).returning(PayPalPayoutBatch.id)
                batch_id = inserted[0]["id"]
                # Fixed here, for every attempt: the row id, and a random part so that a
                # restored or reset database never reuses an id PayPal still remembers.
                sender_batch_id = f"{settings.sender_batch_prefix}{batch_id}-{secrets.token_hex(4)}"
                await PayPalPayoutBatch.update({PayPalPayoutBatch.sender_batch_id: sender_batch_id}).where(
                    PayPalPayoutBatch.id == batch_id
                )
                await attach_to_batch(uow, [w.id for w in chunk], batch_ref=sender_batch_id)
                for w in chunk:
                    await PayPalPayoutItem.insert(
                        PayPalPayoutItem(
                            batch=batch_id,
                            withdrawal_id=w.id,
                            member_id=w.member_id,
                            sender_item_id=f"WD-{w.id}",
                            receiver=w.destination.get("email", ""),
                            amount=w.net,
                            currency=currency,
                            status="NEW",
                            rank=0,
                            updated_at=now,
                        )
                    )
                uow.record(
                    PayPalPayoutBatchCreated(
                        batch_id=batch_id,
                        sender_batch_id=sender_batch_id,
                        currency=currency,
                        count=len(chunk),
                        total=total,
                    ),
                    subject=f"paypal_payout_batch:{batch_id}",
                )
                created.append(batch_id)
    return created


def payout_body(runtime: Runtime, batch: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``POST /v1/payments/payouts`` body: the same for every attempt at a batch."""
    settings = plugin_settings(runtime)
    site = runtime.settings.site.name
    message = settings.email_message or f"You have received a payout from {site}."
    return {
        "sender_batch_header": {
            "sender_batch_id": batch["sender_batch_id"],
            "recipient_type": "EMAIL",
            "email_subject": settings.email_subject,
            "email_message": message,
        },
        "items": [
            {
                "recipient_type": "EMAIL",
                "amount": to_paypal(item["amount"], item["currency"]),
                "receiver": item["receiver"],
                "sender_item_id": item["sender_item_id"],
                "note": f"Withdrawal {item['withdrawal_id']} from {site}"[:4000],
            }
            for item in items
        ],
    }


async def submit_batch(runtime: Runtime, batch_id: int) -> str:
    """Send a created batch to PayPal once; returns submitted | busy | retry | rejected | blocked."""
    settings = plugin_settings(runtime)
    client = client_for(runtime)
    async with runtime.unit_of_work() as uow:
        claimed = (
            await PayPalPayoutBatch.update(
                {
                    PayPalPayoutBatch.claimed_until: uow.now
                    + timedelta(minutes=settings.submit_lease_minutes),
                    PayPalPayoutBatch.submit_attempts: PayPalPayoutBatch.submit_attempts + 1,
                    PayPalPayoutBatch.updated_at: uow.now,
                }
            )
            .where(
                (PayPalPayoutBatch.id == batch_id)
                & (PayPalPayoutBatch.status == "created")
                & (PayPalPayoutBatch.claimed_until.is_null() | (PayPalPayoutBatch.claimed_until <= uow.now))
            )
            .returning(PayPalPayoutBatch.id)
        )
    if not claimed:
        return "busy"  # another worker sends it, or it was sent
    batch = await batch_row(batch_id)
    items = await item_rows(batch_id)
    try:
        try:
            answer = await client.create_payout(payout_body(runtime, batch, items))
        except PayPalError as exc:
            original = duplicate_batch(exc)
            if original is None:
                raise
            # Sent before (the answer was lost, or a worker died before storing it): PayPal
            # kept the original; use it instead of paying again.
            log.info(
                "payout batch %s was already accepted by PayPal as %s", batch["sender_batch_id"], original
            )
            answer = await client.get_payout_batch(original, page_size=1000)
            mismatch = _mismatch(answer, batch, items)
            if mismatch:
                await block(runtime, batch_id, mismatch)
                return "blocked"
    except PayPalError as exc:
        if exc.outcome_unknown or isinstance(exc, PayPalAuthError) or exc.status in (None, 404, 409):
            # Unknown outcome or a setup problem: try again later with the same sender_batch_id.
            await note_error(runtime, batch_id, exc, release=True)
            return "retry"
        await reject(runtime, batch_id, exc)
        return "rejected"
    await store_submission(runtime, batch_id, answer)
    for item in answer.get("items") or []:
        await apply_item_status(runtime, item, source="lookup")
    return "submitted"


def duplicate_batch(exc: PayPalError) -> str | None:
    """The original batch's id when PayPal refused a ``sender_batch_id`` used before."""
    if exc.status not in (400, 409, 422):
        return None
    text = " ".join([exc.name or "", exc.message, *(str(d) for d in exc.details)]).lower()
    if "sender_batch_id" not in text and "duplicate" not in text:
        return None
    hrefs = [link.get("href", "") for link in exc.links if isinstance(link, dict)]
    for detail in exc.details:  # some answers link it from the detail
        for link in detail.get("link") or detail.get("links") or [] if isinstance(detail, dict) else []:
            if isinstance(link, dict):
                hrefs.append(link.get("href", ""))
    for href in hrefs:
        match = _BATCH_LINK.search(str(href))
        if match:
            return match.group(1)
    return None


def _mismatch(answer: dict[str, Any], batch: dict[str, Any], items: list[dict[str, Any]]) -> str | None:
    """Why PayPal's batch under our sender_batch_id is not this batch (None: it is)."""
    header = answer.get("batch_header") or {}
    theirs = (header.get("sender_batch_header") or {}).get("sender_batch_id")
    if theirs != batch["sender_batch_id"]:
        return f"PayPal's batch has sender_batch_id {theirs!r}, not {batch['sender_batch_id']!r}"
    ours = {i["sender_item_id"]: i for i in items}
    for item in answer.get("items") or []:
        detail = item.get("payout_item") or {}
        mine = ours.get(detail.get("sender_item_id"))
        amount = detail.get("amount") or {}
        if mine is None:
            return f"PayPal's batch has an item {detail.get('sender_item_id')!r} this batch does not"
        try:
            same = (
                amount.get("currency") == mine["currency"]
                and from_paypal(amount.get("value", ""), mine["currency"]) == mine["amount"]
            )
        except ValueError:
            same = False
        if not same:
            return f"PayPal's item {mine['sender_item_id']} has another amount than this batch"
    return None


async def sync_batch(runtime: Runtime, batch_id: int) -> PaypalPayoutBatchOut:
    """Ask PayPal for a submitted batch and every item's status (all pages)."""
    settings = plugin_settings(runtime)
    client = client_for(runtime)
    batch = await batch_row(batch_id)
    if batch["paypal_batch_id"] is None:
        message = f"payout batch {batch_id} has not been accepted by PayPal yet; nothing to sync"
        raise Conflict(message)
    page, pages, status = 1, 1, batch["paypal_status"]
    while page <= pages:
        answer = await client.get_payout_batch(batch["paypal_batch_id"], page=page, page_size=100)
        status = (answer.get("batch_header") or {}).get("batch_status") or status
        for item in answer.get("items") or []:
            await apply_item_status(runtime, item, source="sync")
        pages = int(answer.get("total_pages") or 1)
        page += 1
    if status in ("DENIED", "CANCELED"):
        for item in await item_rows(batch_id):
            if item["rank"] < FINAL:
                await apply_item_status(
                    runtime,
                    {"payout_item": {"sender_item_id": item["sender_item_id"]}},
                    status="DENIED",
                    source="sync",
                    error=f"PayPal {status.lower()} the whole batch",
                )
    async with runtime.unit_of_work() as uow:
        open_items = await PayPalPayoutItem.count().where(
            (PayPalPayoutItem.batch == batch_id) & PayPalPayoutItem.outcome.is_null()
        )
        await PayPalPayoutBatch.update(
            {
                PayPalPayoutBatch.paypal_status: status,
                PayPalPayoutBatch.synced_at: uow.now,
                PayPalPayoutBatch.next_sync_at: uow.now + timedelta(minutes=settings.sync_interval_minutes),
                PayPalPayoutBatch.last_error: None,
                PayPalPayoutBatch.updated_at: uow.now,
                **({PayPalPayoutBatch.status: "done"} if not open_items else {}),
            }
        ).where((PayPalPayoutBatch.id == batch_id) & (PayPalPayoutBatch.status == "submitted"))
    return await get_batch(batch_id)


# --------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------


async def cancel_unclaimed(runtime: Runtime, *, withdrawal_id: int, operator_id: int) -> PayoutItemOut:
    """Cancel an UNCLAIMED PayPal payout; PayPal returns the money and the withdrawal fails."""
    item = await item_by_withdrawal(withdrawal_id)
    if item["status"] != "UNCLAIMED" or not item["paypal_item_id"]:
        message = f"withdrawal {withdrawal_id}'s PayPal payout is {item['status']}; only UNCLAIMED ones can be cancelled"
        raise ItemNotCancellable(message, extra={"status": item["status"]})
    client = client_for(runtime)
    try:
        answer = await client.cancel_payout_item(item["paypal_item_id"])
    except PayPalError as exc:
        if exc.outcome_unknown:
            raise _unavailable(exc) from exc
        raise PayPalRefused(
            exc.describe(), extra={"debug_id": exc.debug_id, "paypal_error": exc.name}
        ) from exc
    await apply_item_status(runtime, answer, source=f"cancelled by operator {operator_id}")
    return await get_item(withdrawal_id)


def _unavailable(exc: PayPalError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"PayPal did not answer; try again ({exc.describe()})", extra={"debug_id": exc.debug_id}
    )


async def sync_now(runtime: Runtime, batch_id: int) -> PaypalPayoutBatchOut:
    """An operator asks PayPal now (instead of waiting for the worker)."""
    if not client_for(runtime).configured:
        paypal_settings(runtime)
    try:
        return await sync_batch(runtime, batch_id)
    except PayPalError as exc:
        await note_error(runtime, batch_id, exc)
        if exc.outcome_unknown:
            raise _unavailable(exc) from exc
        raise PayPalRefused(
            exc.describe(), extra={"debug_id": exc.debug_id, "paypal_error": exc.name}
        ) from exc
