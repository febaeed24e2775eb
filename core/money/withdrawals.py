"""Withdrawals: members take earned money out through a payout method.

Statuses: ``requested → processing → completed | failed``, and ``requested → cancelled |
failed``.  A withdrawal is due ``[money] payout_days`` after it was requested (``due_at``,
fixed then); one still requested or processing after that is overdue.  Money moves ``available → payouts:{method}:clearing`` at request,
``clearing → external:{method}`` (net) and ``clearing → platform:fees`` (fee) on
completion, and back to ``available`` on failure or cancellation.  Every status change is
a conditional update, so a withdrawal is completed (and paid out) at most once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db import is_unique_violation
from agorakit.db.prepared import PreparedInsert
from agorakit.errors import AgorakitError, Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.http import OperatorQueue, count_queue
from agorakit.money import ledger
from agorakit.money.amounts import format_amount, money
from agorakit.money.events import (
    WithdrawalCancelled,
    WithdrawalCompleted,
    WithdrawalFailed,
    WithdrawalProcessing,
    WithdrawalRequested,
)
from agorakit.money.methods import refuse_if_unavailable
from agorakit.money.payments import IdempotencyKeyReused
from agorakit.money.schemas import WithdrawalOut
from agorakit.money.tables import Withdrawal
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork


class WithdrawalRequest(msgspec.Struct, frozen=True):
    """What ``agorakit_can_withdraw`` is asked about."""

    method: str
    amount: int
    currency: str


class WithdrawalNotAllowed(AgorakitError):
    status = 403
    code = "withdrawal_not_allowed"
    title = "Withdrawal not allowed"


class BalanceOwed(Conflict):
    """The member owes the site (an order refunded after they were paid for it): no
    withdrawal until their earnings have paid it back."""

    code = "balance_owed"
    title = "You owe the site money"


class BelowMinimum(ValidationFailed):
    code = "below_minimum"
    title = "The amount is below the method's minimum"


#: statuses of a withdrawal the site has not paid out nor given back yet
OPEN_STATUSES = ("requested", "processing")


def to_withdrawal(row: dict[str, Any], now: datetime) -> WithdrawalOut:
    """A withdrawal row as the API shows it; ``overdue`` as of ``now``."""
    currency = row["currency"]
    return WithdrawalOut(
        id=row["id"],
        member_id=row["member_id"],
        method=row["method"],
        amount=money(row["amount"], currency),
        fee=money(row["fee"], currency),
        net=money(row["amount"] - row["fee"], currency),
        destination=row["destination"] or {},
        status=row["status"],
        batch_ref=row["batch_ref"],
        provider_ref=row["provider_ref"],
        failure_reason=row["failure_reason"],
        completed_at=row["completed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        due_at=row["due_at"],
        overdue=row["status"] in OPEN_STATUSES and now > row["due_at"],
    )


async def get_withdrawal(withdrawal_id: int, *, now: datetime, member_id: int | None = None) -> WithdrawalOut:
    """One withdrawal (``overdue`` as of ``now``); with ``member_id``, only if it is theirs."""
    query = Withdrawal.select().where(Withdrawal.id == withdrawal_id)
    if member_id is not None:
        query = query.where(Withdrawal.member_id == member_id)
    row = await query.first().output(load_json=True)
    if row is None:
        raise NotFound(f"there is no withdrawal {withdrawal_id}")
    return to_withdrawal(row, now)


async def _row(withdrawal_id: int) -> dict[str, Any]:
    row = await Withdrawal.select().where(Withdrawal.id == withdrawal_id).first().output(load_json=True)
    if row is None:
        raise NotFound(f"there is no withdrawal {withdrawal_id}")
    return row


async def request_withdrawal(
    runtime: Runtime,
    *,
    member: MemberOut,
    method: str,
    amount: int,
    currency: str,
    destination: dict[str, Any],
    idempotency_key: str | None = None,
) -> tuple[WithdrawalOut, bool]:
    """Ask to withdraw ``amount`` from the member's available balance; ``(withdrawal, replayed)``."""
    payout = runtime.payout_methods.get(method)
    if payout is None:
        offered = ", ".join(runtime.payout_methods) or "none"
        raise ValidationFailed(
            [FieldError("method", f"unknown payout method {method!r}; offered: {offered}")]
        )
    refuse_if_unavailable(payout)
    minimum = payout.minimum(currency)
    if amount < minimum:
        message = f"the minimum for {payout.label} is {format_amount(minimum, currency)} {currency}"
        raise BelowMinimum([FieldError("amount.amount", message)])
    normalised = payout.validate_destination(destination)
    fee = payout.fee(amount, currency)
    if not 0 <= fee < amount:
        message = f"the {payout.label} fee ({format_amount(fee, currency)}) leaves nothing to pay out"
        raise ValidationFailed([FieldError("amount.amount", message)])
    request = WithdrawalRequest(method=method, amount=amount, currency=currency)
    vetoes = await runtime.hooks.collect(
        "agorakit_can_withdraw", member=member, request=request, runtime=runtime
    )
    reasons = [reason for reason in vetoes if reason]
    if reasons:
        raise WithdrawalNotAllowed("; ".join(reasons), extra={"reasons": reasons})

    try:
        async with runtime.unit_of_work() as uow:
            if idempotency_key is not None:
                first = await _by_key(member.id, idempotency_key)
                if first is not None:
                    same = (first["method"], first["amount"], first["currency"], first["destination"])
                    if same != (method, amount, currency, normalised):
                        raise IdempotencyKeyReused("withdrawal")
                    return to_withdrawal(first, uow.now), True
            now = uow.now
            row: dict[str, Any] = {
                "member_id": member.id,
                "method": method,
                "amount": amount,
                "fee": fee,
                "currency": currency,
                "destination": normalised,
                "status": "requested",
                "idempotency_key": idempotency_key,
                "batch_ref": None,
                "provider_ref": None,
                "failure_reason": None,
                "completed_at": None,
                "created_at": now,
                "updated_at": now,
                "due_at": now + timedelta(days=runtime.settings.money.payout_days),
            }
            rows = await _INSERT_WITHDRAWAL.run(row)
            withdrawal_id = rows[0]["id"]
            row["id"] = withdrawal_id
            await ledger.post(
                uow,
                key=f"withdrawal:{withdrawal_id}:request",
                kind="withdrawal_requested",
                description=f"Withdrawal {withdrawal_id} to {payout.label}",
                lines=ledger.move(ledger.available(member.id), ledger.clearing(method), amount, currency),
                refs={"withdrawal": withdrawal_id},
                actor_id=member.id,
            )
            uow.record(
                WithdrawalRequested(withdrawal_id=withdrawal_id, method=method),
                subject=f"withdrawal:{withdrawal_id}",
                actor_id=member.id,
            )
    except ledger.InsufficientFunds:
        # the available balance cannot go below zero by a withdrawal, so one that is
        # owed (below zero after a clawback) refuses every withdrawal: say why
        await _refuse_while_owed(member.id, currency)
        raise
    except Exception as exc:
        if idempotency_key is not None and is_unique_violation(exc):
            first = await _by_key(member.id, idempotency_key)
            if first is not None:
                return to_withdrawal(first, runtime.clock.now()), True
        raise
    return to_withdrawal(row, runtime.clock.now()), False  # as written: nothing read back


_INSERT_WITHDRAWAL = PreparedInsert(Withdrawal)


async def _refuse_while_owed(member_id: int, currency: str) -> None:
    """409 ``balance_owed`` when the member's available balance is below zero (read after
    the withdrawal's posting was refused: the ledger's conditional update is what keeps
    a withdrawal from spending money the member owes, under any concurrency)."""
    name = ledger.available(member_id)
    held = await ledger.balance_of(name, currency)
    if held < 0:
        owed = format_amount(-held, currency)
        detail = (
            f"you owe {owed} {currency} for an order refunded after you were paid for it; "
            "your next earnings pay it back, and you can withdraw again once it is paid"
        )
        raise BalanceOwed(detail, extra={"owed": owed, "currency": currency})


async def _by_key(member_id: int, key: str) -> dict[str, Any] | None:
    return (
        await Withdrawal.select()
        .where((Withdrawal.member_id == member_id) & (Withdrawal.idempotency_key == key))
        .first()
        .output(load_json=True)
    )


async def _transition(
    uow: UnitOfWork, withdrawal_id: int, *, from_: tuple[str, ...], to: str, **values: Any
) -> dict[str, Any]:
    """Move a withdrawal to ``to`` if it is in one of ``from_``; 409 otherwise."""
    columns = {getattr(Withdrawal, k): v for k, v in values.items()}
    updated = (
        await Withdrawal.update({Withdrawal.status: to, Withdrawal.updated_at: uow.now, **columns})
        .where((Withdrawal.id == withdrawal_id) & Withdrawal.status.is_in(list(from_)))
        .returning(Withdrawal.id)
    )
    if not updated:
        row = await _row(withdrawal_id)
        message = f"withdrawal {withdrawal_id} is {row['status']}; it cannot become {to}"
        raise Conflict(message, extra={"status": row["status"]})
    return await _row(withdrawal_id)


async def cancel_withdrawal(runtime: Runtime, *, withdrawal_id: int, member_id: int) -> WithdrawalOut:
    """The member takes back a withdrawal that has not been sent yet."""
    await get_withdrawal(
        withdrawal_id, now=runtime.clock.now(), member_id=member_id
    )  # 404 for someone else's
    async with runtime.unit_of_work() as uow:
        row = await _transition(uow, withdrawal_id, from_=("requested",), to="cancelled")
        await _return_funds(uow, row, kind="withdrawal_cancelled", actor_id=member_id, why="cancelled")
        uow.record(
            WithdrawalCancelled(withdrawal_id=withdrawal_id),
            subject=f"withdrawal:{withdrawal_id}",
            actor_id=member_id,
        )
    return await get_withdrawal(withdrawal_id, now=runtime.clock.now())


async def mark_processing(
    uow: UnitOfWork, withdrawal_ids: list[int], *, batch_ref: str, actor_id: int | None = None
) -> list[dict[str, Any]]:
    """Mark requested withdrawals as sent in a batch (inside the caller's unit of work)."""
    rows = []
    for withdrawal_id in withdrawal_ids:
        row = await _transition(
            uow, withdrawal_id, from_=("requested",), to="processing", batch_ref=batch_ref
        )
        uow.record(
            WithdrawalProcessing(withdrawal_id=withdrawal_id),
            subject=f"withdrawal:{withdrawal_id}",
            actor_id=actor_id,
        )
        rows.append(row)
    return rows


async def complete_withdrawal(
    runtime: Runtime, *, withdrawal_id: int, actor_id: int | None, provider_ref: str | None = None
) -> WithdrawalOut:
    async with runtime.unit_of_work() as uow:
        values: dict[str, Any] = {"completed_at": uow.now}
        if provider_ref:
            values["provider_ref"] = provider_ref
        row = await _transition(uow, withdrawal_id, from_=("processing",), to="completed", **values)
        method, currency, amount, fee = row["method"], row["currency"], row["amount"], row["fee"]
        lines = ledger.move(ledger.clearing(method), ledger.external(method), amount - fee, currency)
        if fee:
            lines += ledger.move(ledger.clearing(method), ledger.PLATFORM_FEES, fee, currency)
        await ledger.post(
            uow,
            key=f"withdrawal:{withdrawal_id}:complete",
            kind="withdrawal_completed",
            description=f"Withdrawal {withdrawal_id} paid out by {method}",
            lines=lines,
            refs={"withdrawal": withdrawal_id},
            actor_id=actor_id,
        )
        uow.record(
            WithdrawalCompleted(withdrawal_id=withdrawal_id, member_id=row["member_id"]),
            subject=f"withdrawal:{withdrawal_id}",
            actor_id=actor_id,
        )
    return await get_withdrawal(withdrawal_id, now=runtime.clock.now())


async def fail_withdrawal(
    runtime: Runtime, *, withdrawal_id: int, actor_id: int | None, reason: str
) -> WithdrawalOut:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed([FieldError("reason", "say why the withdrawal failed")])
    async with runtime.unit_of_work() as uow:
        row = await _transition(
            uow, withdrawal_id, from_=("requested", "processing"), to="failed", failure_reason=reason
        )
        await _return_funds(uow, row, kind="withdrawal_failed", actor_id=actor_id, why=f"failed: {reason}")
        uow.record(
            WithdrawalFailed(withdrawal_id=withdrawal_id, member_id=row["member_id"], reason=reason),
            subject=f"withdrawal:{withdrawal_id}",
            actor_id=actor_id,
        )
    return await get_withdrawal(withdrawal_id, now=runtime.clock.now())


async def _return_funds(
    uow: UnitOfWork, row: dict[str, Any], *, kind: str, actor_id: int | None, why: str
) -> None:
    await ledger.post(
        uow,
        key=f"withdrawal:{row['id']}:return",
        kind=kind,
        description=f"Withdrawal {row['id']} {why}; the money is back in your balance",
        lines=ledger.move(
            ledger.clearing(row["method"]), ledger.available(row["member_id"]), row["amount"], row["currency"]
        ),
        refs={"withdrawal": row["id"]},
        actor_id=actor_id,
    )


def check_manual(runtime: Runtime, withdrawal: WithdrawalOut) -> None:
    """Operators settle by hand only withdrawals of a manual payout method."""
    method = runtime.payout_methods.get(withdrawal.method)
    if method is not None and not method.manual:
        message = f"{withdrawal.method} payouts are settled by the payout provider, not by hand"
        raise Forbidden(message)


async def list_withdrawals(
    *,
    now: datetime,
    cursor: str | None,
    limit: int,
    member_id: int | None = None,
    status: str | None = None,
    method: str | None = None,
    overdue: bool | None = None,
    oldest_first: bool = False,
) -> tuple[list[WithdrawalOut], str | None]:
    """Withdrawals newest first (or oldest first), ``overdue`` as of ``now``; with
    ``overdue=True`` only those still requested or processing after their due date,
    with ``overdue=False`` only the others."""
    query = Withdrawal.select().order_by(Withdrawal.id, ascending=oldest_first).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        after = int(position["id"])
        query = query.where(Withdrawal.id > after if oldest_first else Withdrawal.id < after)
    if member_id is not None:
        query = query.where(Withdrawal.member_id == member_id)
    if status:
        query = query.where(Withdrawal.status == status)
    if method:
        query = query.where(Withdrawal.method == method)
    if overdue is not None:
        late = Withdrawal.status.is_in(list(OPEN_STATUSES)) & (Withdrawal.due_at < now)
        query = query.where(
            late if overdue else (Withdrawal.status.not_in(list(OPEN_STATUSES)) | (Withdrawal.due_at >= now))
        )
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda row: {"id": row["id"]})
    return [to_withdrawal(row, now) for row in rows], next_cursor


async def withdrawal_queues(runtime: Runtime) -> list[OperatorQueue]:
    """Operators' queues: the requested withdrawals waiting to be paid (overdue past their
    ``due_at``), and every one still requested or processing after it (the rule of
    ``overdue=true`` in :func:`list_withdrawals`; the oldest since its due date passed),
    each counted in one statement."""
    now = runtime.clock.now()
    due_hours = runtime.settings.money.payout_days * 24
    requested = await count_queue(
        Withdrawal,
        Withdrawal.status == "requested",
        since=Withdrawal.created_at,
        overdue=Withdrawal.due_at < now,
    )
    late = Withdrawal.status.is_in(list(OPEN_STATUSES)) & (Withdrawal.due_at < now)
    stuck = await count_queue(Withdrawal, late, since=Withdrawal.due_at, overdue=late)
    return [
        OperatorQueue(
            key="withdrawals.requested",
            title="Withdrawals to pay out",
            count=requested.count,
            oldest_at=requested.oldest_at,
            overdue=requested.overdue,
            due_hours=due_hours,
            list_path="/operator/withdrawals?status=requested",
            area="money",
        ),
        OperatorQueue(
            key="withdrawals.stuck",
            title="Withdrawals past their payout date",
            count=stuck.count,
            oldest_at=stuck.oldest_at,
            overdue=stuck.overdue,
            due_hours=due_hours,
            list_path="/operator/withdrawals?overdue=true",
            area="money",
        ),
    ]
