"""The payout queue: requested withdrawals waiting for their payout method to send them.

A payout method that pays in batches (a bank file, a payout provider's batch API) works
through these functions instead of reading the withdrawal table:

- :func:`count_waiting` and :func:`claim_waiting`: the ``requested`` withdrawals of a
  method, oldest first; inside a unit of work :func:`claim_waiting` locks them on
  PostgreSQL (``FOR UPDATE SKIP LOCKED``), so two workers or operators batching at once
  split the withdrawals instead of taking one twice;
- :func:`attach_to_batch`: claimed withdrawals become ``processing`` under the method's
  batch reference (one ``withdrawal.processing`` event each);
- :func:`batch_withdrawals` and :func:`batch_withdrawal_ids`: what a batch holds;
- :func:`complete_payout` and :func:`fail_payout`: the method reports the outcome of one
  withdrawal; the money moves exactly once however often the outcome is reported;
- :func:`withdrawal_status`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db.prepared import Prepared
from agorakit.errors import Conflict, NotFound
from agorakit.money import withdrawals
from agorakit.money.tables import Withdrawal

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork

#: the columns a payout method reads (everything but the bookkeeping timestamps)
_COLUMNS = (
    Withdrawal.id,
    Withdrawal.member_id,
    Withdrawal.method,
    Withdrawal.amount,
    Withdrawal.fee,
    Withdrawal.currency,
    Withdrawal.destination,
    Withdrawal.status,
    Withdrawal.batch_ref,
)


class QueuedWithdrawal(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal as its payout method sees it (amounts in minor units)."""

    id: int
    member_id: int
    method: str
    #: taken from the member's available balance
    amount: int
    #: kept by the platform
    fee: int
    currency: str
    #: the destination the method validated (an email, a bank account)
    destination: dict[str, Any]
    status: str
    #: the payout batch it was sent in, once attached to one
    batch_ref: str | None = None

    @property
    def net(self) -> int:
        """What the payout method sends: ``amount - fee``."""
        return self.amount - self.fee


def _queued(row: dict[str, Any]) -> QueuedWithdrawal:
    return QueuedWithdrawal(
        id=row["id"],
        member_id=row["member_id"],
        method=row["method"],
        amount=row["amount"],
        fee=row["fee"],
        currency=row["currency"],
        destination=row["destination"] or {},
        status=row["status"],
        batch_ref=row["batch_ref"],
    )


def _waiting(method: Any, currency: Any = None, *, limit: int | None, lock: bool) -> Any:
    where = (Withdrawal.method == method) & (Withdrawal.status == "requested")
    if currency is not None:
        where &= Withdrawal.currency == currency
    query = Withdrawal.select(*_COLUMNS).where(where).order_by(Withdrawal.id).output(load_json=True)
    if limit is not None:
        query = query.limit(limit)
    if lock and Withdrawal._meta.db.engine_type == "postgres":
        query = query.lock_rows(skip_locked=True)
    return query


@lru_cache(maxsize=32)
def _claim_query(by_currency: bool, limit: int | None) -> Prepared:
    """The claim's query for one shape (``LIMIT`` is part of the SQL, not a parameter)."""
    if by_currency:
        return Prepared(lambda method, currency: _waiting(method, currency, limit=limit, lock=True))
    return Prepared(lambda method: _waiting(method, limit=limit, lock=True))


_BATCH = Prepared(
    lambda ref: (
        Withdrawal.select(*_COLUMNS)
        .where(Withdrawal.batch_ref == ref)
        .order_by(Withdrawal.id)
        .output(load_json=True)
    )
)
_BATCH_IDS = Prepared(
    lambda ref: Withdrawal.select(Withdrawal.id).where(Withdrawal.batch_ref == ref).order_by(Withdrawal.id)
)
_STATUS = Prepared(lambda id: Withdrawal.select(Withdrawal.status).where(Withdrawal.id == id).first())


async def count_waiting(method: str) -> int:
    """How many ``requested`` withdrawals of ``method`` wait to be sent."""
    return await Withdrawal.count().where((Withdrawal.method == method) & (Withdrawal.status == "requested"))


async def claim_waiting(
    uow: UnitOfWork, method: str, *, currency: str | None = None, limit: int | None = None
) -> list[QueuedWithdrawal]:
    """The ``requested`` withdrawals of ``method`` (of ``currency``, at most ``limit``), oldest first.

    Call it inside the unit of work that attaches them to a batch: on PostgreSQL the rows
    stay locked until it ends and rows another transaction holds are skipped, so two
    claims at once never return the same withdrawal.  ``uow`` is that unit of work.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if currency is None:
        rows = await _claim_query(False, limit).run(method)
    else:
        rows = await _claim_query(True, limit).run(method, currency)
    return [_queued(row) for row in rows]


async def attach_to_batch(
    uow: UnitOfWork, withdrawal_ids: list[int], *, batch_ref: str, actor_id: int | None = None
) -> list[QueuedWithdrawal]:
    """Mark claimed withdrawals ``processing`` in the batch ``batch_ref`` (in the caller's
    unit of work); a withdrawal that is no longer ``requested`` is a 409 and rolls it back."""
    rows = await withdrawals.mark_processing(
        uow, list(withdrawal_ids), batch_ref=batch_ref, actor_id=actor_id
    )
    return [_queued(row) for row in rows]


async def batch_withdrawals(batch_ref: str) -> list[QueuedWithdrawal]:
    """The withdrawals sent in the batch ``batch_ref``, oldest first."""
    return [_queued(row) for row in await _BATCH.run(batch_ref)]


async def batch_withdrawal_ids(batch_ref: str) -> list[int]:
    """The ids of the withdrawals sent in the batch ``batch_ref``, oldest first."""
    return [row["id"] for row in await _BATCH_IDS.run(batch_ref)]


async def withdrawal_status(withdrawal_id: int) -> str:
    """requested | processing | completed | failed | cancelled; 404 for no such withdrawal."""
    row = await _STATUS.run(withdrawal_id)
    if row is None:
        raise NotFound(f"there is no withdrawal {withdrawal_id}")
    return row["status"]


async def complete_payout(
    runtime: Runtime, withdrawal_id: int, *, provider_ref: str | None = None, actor_id: int | None = None
) -> str:
    """The payout method paid a ``processing`` withdrawal out: ``clearing → external:{method}``
    (the net) and ``clearing → platform:fees`` (the fee), in one transaction.

    Returns the withdrawal's status afterwards: ``completed``, or the status it already
    had when it was no longer processing (a repeated report moves no money).
    """
    try:
        done = await withdrawals.complete_withdrawal(
            runtime, withdrawal_id=withdrawal_id, actor_id=actor_id, provider_ref=provider_ref
        )
    except Conflict:
        return await withdrawal_status(withdrawal_id)
    return done.status


async def fail_payout(
    runtime: Runtime, withdrawal_id: int, *, reason: str, actor_id: int | None = None
) -> str:
    """The payout method could not pay a ``requested`` or ``processing`` withdrawal: the whole
    amount goes back to the member's available balance, in one transaction.

    Returns the withdrawal's status afterwards: ``failed``, or the status it already had
    when it could no longer fail (a repeated report moves no money).
    """
    try:
        failed = await withdrawals.fail_withdrawal(
            runtime, withdrawal_id=withdrawal_id, actor_id=actor_id, reason=reason
        )
    except Conflict:
        return await withdrawal_status(withdrawal_id)
    return failed.status
