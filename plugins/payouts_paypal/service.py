"""PayPal payouts: batch requested withdrawals, send them once, follow them to the end.

The worker's step (:func:`run`, called each sweep through the method's ``sync``):

1. :func:`create_batches`: requested ``paypal`` withdrawals of one currency become a
   batch row (its ``sender_batch_id`` fixed now) and ``processing``, in one transaction.
2. :func:`submit_batch`: ``POST /v1/payments/payouts``, outside any transaction, by the
   one worker that claimed the batch.  PayPal pays a ``sender_batch_id`` once: after a
   timeout or a 5xx the client retries with the same body, and a later attempt (a worker
   that died before storing the answer) gets "already used" with a link to the original
   batch, which is then looked up and stored instead.  A batch PayPal refuses outright
   (4xx) is ``rejected`` and its withdrawals fail with their money back.
3. :func:`sync_batch`: ``GET /v1/payments/payouts/{id}`` (all pages) and each item's
   ``transaction_status`` through :func:`apply_item_status`.

Webhooks (:func:`handle_event`) use the same :func:`apply_item_status`, so polling and
webhooks agree: an item's status only moves to a higher rank (``PENDING`` <
``ONHOLD``/``UNCLAIMED`` < final), never back, and the withdrawal is completed or
failed once (the core's conditional transitions and ledger keys make a second attempt a
no-op).  ``SUCCESS`` completes the withdrawal (``clearing → external:paypal``, fee →
``platform:fees``); ``FAILED``, ``RETURNED``, ``REFUNDED``, ``REVERSED``, ``BLOCKED``,
``DENIED`` and ``CANCELED`` fail it (the whole amount back to the member's available
balance); ``PENDING``, ``ONHOLD`` and ``UNCLAIMED`` keep it processing.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta
from typing import Any

from agorakit.errors import Conflict, NotFound, ServiceUnavailable
from agorakit.money import withdrawals
from agorakit.money.tables import Withdrawal
from agorakit.pagination import decode_cursor, encode_cursor
from agorakit.plugins.payouts_paypal.methods import METHOD, PLUGIN
from agorakit.plugins.payouts_paypal.schemas import PayoutBatchOut, PayoutItemOut
from agorakit.plugins.payouts_paypal.tables import PayPalPayoutBatch, PayPalPayoutItem
from agorakit.plugins.paypal.amounts import from_paypal, to_paypal
from agorakit.plugins.paypal.client import PayPalAuthError, PayPalError, client_for, paypal_settings

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
_BATCH_LINK = re.compile(r"/v1/payments/payouts/([A-Za-z0-9_-]{1,40})(?:[/?#]|$)")


class ItemNotCancellable(Conflict):
    code = "paypal_item_not_cancellable"
    title = "Only unclaimed PayPal payouts can be cancelled"


class PayPalRefused(Conflict):
    code = "paypal_refused"
    title = "PayPal refused the request"


def _settings(runtime: Any) -> Any:
    return runtime.plugin_settings(PLUGIN)


# --------------------------------------------------------------------------------------
# The worker's step
# --------------------------------------------------------------------------------------


async def run(runtime: Any) -> dict[str, Any]:
    """Batch, send and follow PayPal withdrawals; returns what it did (for the sweep report).

    PayPal errors are recorded on the batch and logged, never raised: the sweep goes on,
    and the next one tries again with the same ids.
    """
    report: dict[str, Any] = {"batched": [], "submitted": [], "synced": [], "errors": []}
    if not client_for(runtime).configured:
        waiting = await Withdrawal.count().where(
            (Withdrawal.method == METHOD) & (Withdrawal.status == "requested")
        )
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
            await _note_error(runtime, row["id"], exc)
            report["errors"].append(row["id"])
    await _finish_rejected(runtime)
    return report


async def create_batches(runtime: Any) -> list[int]:
    """Batch every requested PayPal withdrawal, per currency, oldest first; new batch ids."""
    settings = _settings(runtime)
    created: list[int] = []
    async with runtime.unit_of_work() as uow:
        query = (
            Withdrawal.select(
                Withdrawal.id,
                Withdrawal.member_id,
                Withdrawal.amount,
                Withdrawal.fee,
                Withdrawal.currency,
                Withdrawal.destination,
            )
            .where((Withdrawal.method == METHOD) & (Withdrawal.status == "requested"))
            .order_by(Withdrawal.id)
            .output(load_json=True)
        )
        if runtime.db.is_postgres:
            # Two workers at once split the withdrawals instead of batching one twice.
            query = query.lock_rows(skip_locked=True)
        rows = await query
        by_currency: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_currency.setdefault(row["currency"], []).append(row)
        now = uow.now
        for currency, group in sorted(by_currency.items()):
            for start in range(0, len(group), settings.batch_max_items):
                chunk = group[start : start + settings.batch_max_items]
                total = sum(r["amount"] - r["fee"] for r in chunk)
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
                await withdrawals.mark_processing(uow, [r["id"] for r in chunk], batch_ref=sender_batch_id)
                for r in chunk:
                    await PayPalPayoutItem.insert(
                        PayPalPayoutItem(
                            batch=batch_id,
                            withdrawal_id=r["id"],
                            member_id=r["member_id"],
                            sender_item_id=f"WD-{r['id']}",
                            receiver=(r["destination"] or {}).get("email", ""),
                            amount=r["amount"] - r["fee"],
                            currency=currency,
                            status="NEW",
                            rank=0,
                            updated_at=now,
                        )
                    )
                uow.record(
                    "paypal_payout.batch_created",
                    subject=f"paypal_payout_batch:{batch_id}",
                    sender_batch_id=sender_batch_id,
                    currency=currency,
                    count=len(chunk),
                    total=total,
                )
                created.append(batch_id)
    return created


def payout_body(runtime: Any, batch: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``POST /v1/payments/payouts`` body: the same for every attempt at a batch."""
    settings = _settings(runtime)
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


async def submit_batch(runtime: Any, batch_id: int) -> str:
    """Send a created batch to PayPal once; returns submitted | busy | retry | rejected | blocked."""
    settings = _settings(runtime)
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
    batch = await _batch_row(batch_id)
    items = await _item_rows(batch_id)
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
                await _block(runtime, batch_id, mismatch)
                return "blocked"
    except PayPalError as exc:
        if exc.outcome_unknown or isinstance(exc, PayPalAuthError) or exc.status in (None, 404, 409):
            # Unknown outcome or a setup problem: try again later with the same sender_batch_id.
            await _note_error(runtime, batch_id, exc, release=True)
            return "retry"
        await _reject(runtime, batch_id, exc)
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


async def store_submission(runtime: Any, batch_id: int, answer: dict[str, Any]) -> None:
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
                "paypal_payout.batch_submitted",
                subject=f"paypal_payout_batch:{batch_id}",
                sender_batch_id=updated[0]["sender_batch_id"],
                paypal_batch_id=paypal_batch_id,
            )


async def sync_batch(runtime: Any, batch_id: int) -> PayoutBatchOut:
    """Ask PayPal for a submitted batch and every item's status (all pages)."""
    settings = _settings(runtime)
    client = client_for(runtime)
    batch = await _batch_row(batch_id)
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
        for item in await _item_rows(batch_id):
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
# One item's status: polling and webhooks alike
# --------------------------------------------------------------------------------------


async def apply_item_status(
    runtime: Any,
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
    runtime: Any, item: dict[str, Any], new: str, paypal_item_id: str | None, reason: str | None
) -> str:
    withdrawal_id = item["withdrawal_id"]
    wanted = "completed" if new == SUCCESS else "failed"
    try:
        if wanted == "completed":
            await withdrawals.complete_withdrawal(
                runtime, withdrawal_id=withdrawal_id, actor_id=None, provider_ref=paypal_item_id
            )
        else:
            why = f"PayPal reported the payout {new}" + (f": {reason}" if reason else "")
            await withdrawals.fail_withdrawal(
                runtime, withdrawal_id=withdrawal_id, actor_id=None, reason=why[:500]
            )
    except Conflict:
        current = await withdrawals.get_withdrawal(withdrawal_id)
        if current.status != wanted:
            log.error(
                "withdrawal %s is %s but PayPal says %s (item %s); an operator must check it",
                withdrawal_id,
                current.status,
                new,
                paypal_item_id,
            )
            return current.status
    return wanted


async def _move(
    runtime: Any,
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
                "paypal_payout.item_updated",
                subject=f"withdrawal:{item['withdrawal_id']}",
                status=new,
                paypal_item_id=paypal_item_id,
                outcome=outcome,
            )
        elif paypal_item_id and not item["paypal_item_id"]:
            await PayPalPayoutItem.update({PayPalPayoutItem.paypal_item_id: paypal_item_id}).where(
                (PayPalPayoutItem.id == item["id"]) & PayPalPayoutItem.paypal_item_id.is_null()
            )
    return bool(moved)


async def _late_status(runtime: Any, item: dict[str, Any], new: str) -> str:
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
                "paypal_payout.late_status",
                subject=f"withdrawal:{item['withdrawal_id']}",
                status=new,
                previous=item["status"],
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
    batch = await _batch_row(row["batch"])
    theirs_sender = resource.get("sender_batch_id")
    theirs_paypal = resource.get("payout_batch_id")
    if theirs_sender and theirs_sender != batch["sender_batch_id"]:
        return None
    if theirs_paypal and batch["paypal_batch_id"] and theirs_paypal != batch["paypal_batch_id"]:
        return None
    return row


async def _adopt_batch(runtime: Any, item: dict[str, Any], resource: dict[str, Any]) -> None:
    """A verified report about an item of a batch we have not stored as accepted yet
    (the webhook came before the submit answer was stored): PayPal has the batch."""
    paypal_batch_id = resource.get("payout_batch_id")
    if not paypal_batch_id:
        return
    batch = await _batch_row(item["batch"])
    if batch["status"] == "created" and batch["paypal_batch_id"] is None:
        await store_submission(runtime, batch["id"], {"batch_header": {"payout_batch_id": paypal_batch_id}})


def _item_error(resource: dict[str, Any]) -> str | None:
    errors = resource.get("errors")
    if isinstance(errors, dict) and (errors.get("name") or errors.get("message")):
        return f"{errors.get('name', '')}: {errors.get('message', '')}".strip(": ")
    return None


# --------------------------------------------------------------------------------------
# Errors of a batch
# --------------------------------------------------------------------------------------


async def _note_error(runtime: Any, batch_id: int, exc: PayPalError, *, release: bool = False) -> None:
    log.warning("payout batch %s: %s", batch_id, exc.describe())
    values: dict[Any, Any] = {
        PayPalPayoutBatch.last_error: exc.describe()[:2000],
        PayPalPayoutBatch.updated_at: runtime.clock.now(),
    }
    if release:
        values[PayPalPayoutBatch.claimed_until] = None
    else:
        minutes = _settings(runtime).sync_interval_minutes
        values[PayPalPayoutBatch.next_sync_at] = runtime.clock.now() + timedelta(minutes=minutes)
    async with runtime.unit_of_work():
        await PayPalPayoutBatch.update(values).where(PayPalPayoutBatch.id == batch_id)


async def _block(runtime: Any, batch_id: int, why: str) -> None:
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
        uow.record("paypal_payout.batch_blocked", subject=f"paypal_payout_batch:{batch_id}", reason=message)


async def _reject(runtime: Any, batch_id: int, exc: PayPalError) -> None:
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
            "paypal_payout.batch_rejected",
            subject=f"paypal_payout_batch:{batch_id}",
            error=exc.name,
            debug_id=exc.debug_id,
        )
    await _finish_rejected(runtime)


async def _finish_rejected(runtime: Any) -> None:
    """Fail the withdrawals of refused batches that are not failed yet (also after a crash)."""
    rows = await (
        PayPalPayoutItem.select(
            PayPalPayoutItem.all_columns(), PayPalPayoutItem.batch.last_error.as_alias("batch_error")
        )
        .where((PayPalPayoutItem.batch.status == "rejected") & PayPalPayoutItem.outcome.is_null())
        .order_by(PayPalPayoutItem.id)
    )
    for item in rows:
        reason = f"PayPal refused the payout batch: {item['batch_error'] or 'no reason given'}"
        try:
            await withdrawals.fail_withdrawal(
                runtime, withdrawal_id=item["withdrawal_id"], actor_id=None, reason=reason[:500]
            )
            outcome = "failed"
        except Conflict:
            outcome = (await withdrawals.get_withdrawal(item["withdrawal_id"])).status
        async with runtime.unit_of_work():
            await PayPalPayoutItem.update(
                {PayPalPayoutItem.outcome: outcome, PayPalPayoutItem.updated_at: runtime.clock.now()}
            ).where(PayPalPayoutItem.id == item["id"])


# --------------------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------------------


async def handle_event(runtime: Any, event: Any) -> str | None:
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


# --------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------


async def cancel_unclaimed(runtime: Any, *, withdrawal_id: int, operator_id: int) -> PayoutItemOut:
    """Cancel an UNCLAIMED PayPal payout; PayPal returns the money and the withdrawal fails."""
    item = await _item_by_withdrawal(withdrawal_id)
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


async def _batch_row(batch_id: int) -> dict[str, Any]:
    row = await PayPalPayoutBatch.select().where(PayPalPayoutBatch.id == batch_id).first()
    if row is None:
        raise NotFound(f"there is no PayPal payout batch {batch_id}")
    return row


async def _item_rows(batch_id: int) -> list[dict[str, Any]]:
    return (
        await PayPalPayoutItem.select()
        .where(PayPalPayoutItem.batch == batch_id)
        .order_by(PayPalPayoutItem.id)
    )


async def _item_by_withdrawal(withdrawal_id: int) -> dict[str, Any]:
    row = await PayPalPayoutItem.select().where(PayPalPayoutItem.withdrawal_id == withdrawal_id).first()
    if row is None:
        raise NotFound(f"withdrawal {withdrawal_id} has not been sent to PayPal")
    return row


def _to_item(row: dict[str, Any]) -> PayoutItemOut:
    from agorakit.money.amounts import money

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
    return _to_item(await _item_by_withdrawal(withdrawal_id))


async def get_batch(batch_id: int) -> PayoutBatchOut:
    return await _to_batch(await _batch_row(batch_id), with_items=True)


async def _to_batch(row: dict[str, Any], *, with_items: bool) -> PayoutBatchOut:
    from agorakit.money.amounts import money

    items = [_to_item(r) for r in await _item_rows(row["id"])] if with_items else None
    return PayoutBatchOut(
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
) -> tuple[list[PayoutBatchOut], str | None]:
    """Newest first."""
    query = PayPalPayoutBatch.select().order_by(PayPalPayoutBatch.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(PayPalPayoutBatch.id < int(position["id"]))
    if status:
        query = query.where(PayPalPayoutBatch.status == status)
    rows = await query
    items = [await _to_batch(r, with_items=False) for r in rows[:limit]]
    return items, encode_cursor({"id": rows[limit - 1]["id"]}) if len(rows) > limit else None


async def sync_now(runtime: Any, batch_id: int) -> PayoutBatchOut:
    """An operator asks PayPal now (instead of waiting for the worker)."""
    if not client_for(runtime).configured:
        paypal_settings(runtime)
    try:
        return await sync_batch(runtime, batch_id)
    except PayPalError as exc:
        await _note_error(runtime, batch_id, exc)
        if exc.outcome_unknown:
            raise _unavailable(exc) from exc
        raise PayPalRefused(
            exc.describe(), extra={"debug_id": exc.debug_id, "paypal_error": exc.name}
        ) from exc
