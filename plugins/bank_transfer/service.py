"""Operator actions of the bank_transfer plugin; each runs in one unit of work.

- :func:`confirm_payment`: the money of an awaiting bank transfer arrived; settle it
  (``external:bank_transfer`` → the payer's credit, or the order's escrow) exactly once.
- :func:`create_payout_batch`: take every requested bank withdrawal of a currency,
  mark them ``processing`` and record the batch; :func:`payout_batch_csv` is the file
  the operator pays from.  Each withdrawal is then completed or failed with the core's
  operator routes.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime
from typing import Any

from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.money import ledger, payments, withdrawals
from agorakit.money.amounts import Money, format_amount, money, parse_amount
from agorakit.money.schemas import PaymentOut
from agorakit.money.tables import Withdrawal
from agorakit.pagination import decode_cursor, encode_cursor
from agorakit.plugins.bank_transfer.methods import METHOD
from agorakit.plugins.bank_transfer.schemas import PayoutBatchOut
from agorakit.plugins.bank_transfer.tables import PayoutBatch

#: Columns of the payout CSV, in order.
CSV_COLUMNS = (
    "withdrawal_id",
    "member_id",
    "account_holder",
    "iban",
    "bic",
    "account_number",
    "routing_number",
    "amount",
    "currency",
    "reference",
)


class EmptyBatch(Conflict):
    code = "empty_batch"
    title = "There is nothing to batch"


# --------------------------------------------------------------------------------------
# Pay-ins
# --------------------------------------------------------------------------------------


async def confirm_payment(
    runtime: Any, *, payment_id: int, operator_id: int, amount: Money, reference: str
) -> PaymentOut:
    """Settle an awaiting bank transfer whose money an operator saw arrive.

    :raises NotFound: no such payment.
    :raises ValidationFailed: not a bank transfer, or the amount/currency differ.
    :raises Conflict: the payment is no longer awaiting funds (confirmed, expired, ...).
    """
    statement_reference = " ".join(reference.split())
    if not statement_reference:
        message = "give the reference the bank statement shows for the transfer"
        raise ValidationFailed([FieldError("reference", message)])
    async with runtime.unit_of_work() as uow:
        payment = await payments.get_payment(payment_id)
        if payment.method != METHOD:
            message = (
                f"payment {payment_id} is paid by {payment.method}, not by bank transfer; "
                "only bank transfers are confirmed here"
            )
            raise ValidationFailed([FieldError("payment_id", message, "path")])
        _check_open(payment, uow.now)
        cents = _confirmed_amount(payment, amount)
        await payments.settle(
            uow,
            payment,
            sources=[(ledger.external(METHOD), cents)],
            actor_id=operator_id,
            details={"confirmed_reference": statement_reference, "confirmed_by": operator_id},
        )
    return await payments.get_payment(payment_id)


def _check_open(payment: PaymentOut, now: datetime) -> None:
    late = "if the money arrived anyway, send it back or ask the payer for a new payment and confirm that one"
    if payment.status != "awaiting_funds":
        message = f"payment {payment.id} is {payment.status}; only payments awaiting funds can be confirmed"
        if payment.status == "expired":
            message += f"; {late}"
        raise Conflict(message, extra={"status": payment.status})
    if payment.expires_at is not None and payment.expires_at <= now:
        # Past its expiry but not swept yet: it is expired all the same.
        message = f"payment {payment.id} expired at {payment.expires_at.isoformat()}; {late}"
        raise Conflict(message, extra={"status": "expired"})


def _confirmed_amount(payment: PaymentOut, confirmed: Money) -> int:
    """The payment's amount in minor units, if ``confirmed`` is exactly it."""
    currency = payment.amount.currency
    expected = parse_amount(payment.amount.amount, currency)
    errors: list[FieldError] = []
    if confirmed.currency != currency:
        message = f"payment {payment.id} is in {currency}, not {confirmed.currency}"
        errors.append(FieldError("amount.currency", message))
    try:
        arrived = parse_amount(confirmed.amount, currency, field="amount.amount")
    except ValidationFailed as exc:
        errors += exc.errors
    else:
        if arrived != expected:
            message = (
                f"payment {payment.id} is for {payment.amount.amount} {currency}, "
                f"not {format_amount(arrived, currency)}; partial and excess payments are not "
                "supported: send the money back and ask the payer for a transfer of the exact amount"
            )
            errors.append(FieldError("amount.amount", message))
    if errors:
        raise ValidationFailed(errors)
    return expected


# --------------------------------------------------------------------------------------
# Payout batches
# --------------------------------------------------------------------------------------


async def create_payout_batch(runtime: Any, *, currency: str, operator_id: int) -> PayoutBatchOut:
    """Batch every requested bank withdrawal in ``currency``, oldest first.

    :raises ValidationFailed: the site does not accept ``currency``.
    :raises EmptyBatch: there is no requested bank withdrawal in ``currency``.
    """
    if currency not in runtime.currencies:
        message = f"{currency} is not accepted here; use {', '.join(runtime.currencies)}"
        raise ValidationFailed([FieldError("currency", message)])
    async with runtime.unit_of_work() as uow:
        query = (
            Withdrawal.select(Withdrawal.id)
            .where(
                (Withdrawal.method == METHOD)
                & (Withdrawal.status == "requested")
                & (Withdrawal.currency == currency)
            )
            .order_by(Withdrawal.id)
        )
        if runtime.db.is_postgres:
            # Two operators batching at once split the withdrawals instead of colliding.
            query = query.lock_rows(skip_locked=True)
        ids = [row["id"] for row in await query]
        if not ids:
            message = f"there are no requested bank transfer withdrawals in {currency}; nothing was batched"
            raise EmptyBatch(message, extra={"currency": currency})
        ref = f"BT-{uow.now:%Y%m%d}-{secrets.token_hex(4).upper()}"
        rows = await withdrawals.mark_processing(uow, ids, batch_ref=ref, actor_id=operator_id)
        total = sum(row["amount"] - row["fee"] for row in rows)
        await PayoutBatch.insert(
            PayoutBatch(
                ref=ref,
                currency=currency,
                withdrawal_count=len(rows),
                total=total,
                created_by=operator_id,
                created_at=uow.now,
            )
        )
        uow.record(
            "bank_transfer.payout_batch_created",
            subject=f"bank_transfer_batch:{ref}",
            actor_id=operator_id,
            currency=currency,
            count=len(rows),
            total=total,
        )
    return await get_payout_batch(ref)


async def get_payout_batch(ref: str) -> PayoutBatchOut:
    row = await PayoutBatch.select().where(PayoutBatch.ref == ref).first()
    if row is None:
        raise NotFound(f"there is no payout batch {ref[:40]!r}")
    return await _to_batch(row)


async def _to_batch(row: dict[str, Any]) -> PayoutBatchOut:
    ids = (
        await Withdrawal.select(Withdrawal.id)
        .where(Withdrawal.batch_ref == row["ref"])
        .order_by(Withdrawal.id)
    )
    return PayoutBatchOut(
        ref=row["ref"],
        currency=row["currency"],
        count=row["withdrawal_count"],
        total=money(row["total"], row["currency"]),
        withdrawal_ids=[r["id"] for r in ids],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


async def list_payout_batches(*, cursor: str | None, limit: int) -> tuple[list[PayoutBatchOut], str | None]:
    """Newest first."""
    query = PayoutBatch.select().order_by(PayoutBatch.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(PayoutBatch.id < position["id"])
    rows = await query
    items = [await _to_batch(row) for row in rows[:limit]]
    next_cursor = encode_cursor({"id": rows[limit - 1]["id"]}) if len(rows) > limit else None
    return items, next_cursor


async def payout_batch_csv(ref: str) -> str:
    """The batch as CSV: one row per withdrawal, with the net amount the bank must send.

    The file is the batch as it was sent: exporting it again gives the same rows,
    whatever happened to the withdrawals since.
    """
    batch = await get_payout_batch(ref)
    rows = await (
        Withdrawal.select().where(Withdrawal.batch_ref == ref).order_by(Withdrawal.id).output(load_json=True)
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        destination = row["destination"] or {}
        writer.writerow(
            [
                row["id"],
                row["member_id"],
                *(destination.get(field) or "" for field in CSV_COLUMNS[2:7]),
                format_amount(row["amount"] - row["fee"], batch.currency),
                batch.currency,
                f"WD-{row['id']}",
            ]
        )
    return out.getvalue()
