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
from typing import TYPE_CHECKING, Any

from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.money import (
    Money,
    PaymentOut,
    attach_to_batch,
    batch_withdrawal_ids,
    batch_withdrawals,
    claim_waiting,
    external,
    format_amount,
    get_payment,
    money,
    parse_amount,
    settle,
)
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.bank_transfer.events import PayoutBatchCreated
from agorakit.plugins.bank_transfer.methods import METHOD
from agorakit.plugins.bank_transfer.schemas import BankTransferPayoutBatchOut
from agorakit.plugins.bank_transfer.tables import PayoutBatch

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

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
    runtime: Runtime, *, payment_id: int, operator_id: int, amount: Money, reference: str
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
        payment = await get_payment(payment_id)
        if payment.method != METHOD:
            message = (
                f"payment {payment_id} is paid by {payment.method}, not by bank transfer; "
                "only bank transfers are confirmed here"
            )
            raise ValidationFailed([FieldError("payment_id", message, "path")])
        _check_open(payment, uow.now)
        cents = _confirmed_amount(payment, amount)
        await settle(
            uow,
            payment,
            sources=[(external(METHOD), cents)],
            actor_id=operator_id,
            details={"confirmed_reference": statement_reference, "confirmed_by": operator_id},
        )
    return await get_payment(payment_id)


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


async def create_payout_batch(
    runtime: Runtime, *, currency: str, operator_id: int
) -> BankTransferPayoutBatchOut:
    """Batch every requested bank withdrawal in ``currency``, oldest first.

    :raises ValidationFailed: the site does not accept ``currency``.
    :raises EmptyBatch: there is no requested bank withdrawal in ``currency``.
    """
    if currency not in runtime.currencies:
        message = f"{currency} is not accepted here; use {', '.join(runtime.currencies)}"
        raise ValidationFailed([FieldError("currency", message)])
    async with runtime.unit_of_work() as uow:
        # Two operators batching at once split the withdrawals instead of colliding.
        waiting = await claim_waiting(uow, METHOD, currency=currency)
        if not waiting:
            message = f"there are no requested bank transfer withdrawals in {currency}; nothing was batched"
            raise EmptyBatch(message, extra={"currency": currency})
        ref = f"BT-{uow.now:%Y%m%d}-{secrets.token_hex(4).upper()}"
        batched = await attach_to_batch(uow, [w.id for w in waiting], batch_ref=ref, actor_id=operator_id)
        total = sum(w.net for w in batched)
        await PayoutBatch.insert(
            PayoutBatch(
                ref=ref,
                currency=currency,
                withdrawal_count=len(batched),
                total=total,
                created_by=operator_id,
                created_at=uow.now,
            )
        )
        uow.record(
            PayoutBatchCreated(ref=ref, currency=currency, count=len(batched), total=total),
            subject=f"bank_transfer_batch:{ref}",
            actor_id=operator_id,
        )
    return await get_payout_batch(ref)


async def get_payout_batch(ref: str) -> BankTransferPayoutBatchOut:
    column = PayoutBatch._meta.get_column_by_name("ref")  # ``PayoutBatch.ref``, which shadows a method
    row = await PayoutBatch.select().where(column == ref).first()
    if row is None:
        raise NotFound(f"there is no payout batch {ref[:40]!r}")
    return await _to_batch(row)


async def _to_batch(row: dict[str, Any]) -> BankTransferPayoutBatchOut:
    return BankTransferPayoutBatchOut(
        ref=row["ref"],
        currency=row["currency"],
        count=row["withdrawal_count"],
        total=money(row["total"], row["currency"]),
        withdrawal_ids=await batch_withdrawal_ids(row["ref"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


async def list_payout_batches(
    *, cursor: str | None, limit: int
) -> tuple[list[BankTransferPayoutBatchOut], str | None]:
    """Newest first."""
    query = PayoutBatch.select().order_by(PayoutBatch.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(PayoutBatch.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [await _to_batch(row) for row in rows], next_cursor


async def payout_batch_csv(ref: str) -> str:
    """The batch as CSV: one row per withdrawal, with the net amount the bank must send.

    The file is the batch as it was sent: exporting it again gives the same rows,
    whatever happened to the withdrawals since.
    """
    batch = await get_payout_batch(ref)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for withdrawal in await batch_withdrawals(ref):
        writer.writerow(
            [
                withdrawal.id,
                withdrawal.member_id,
                *(withdrawal.destination.get(field) or "" for field in CSV_COLUMNS[2:7]),
                format_amount(withdrawal.net, batch.currency),
                batch.currency,
                f"WD-{withdrawal.id}",
            ]
        )
    return out.getvalue()
