"""Escrows a plugin funds and moves by reference.

An escrow is the ledger account ``{ref}:escrow`` of a reference such as ``campaign:12``:
money held for something until it is paid out or handed back.  Orders fund and release
``order:{id}`` escrows themselves; these functions are for anything else a plugin holds
money for.

- :func:`fund_escrow` pays money into an escrow with any enabled payment method (a
  payment with ``purpose="escrow"``; the plugin learns that it settled through
  ``agorakit_payment_settled``).
- :func:`move_escrow`, :func:`return_escrow` and :func:`pay_from_escrow` move what an
  escrow holds, each as one balanced posting in the caller's unit of work, under an
  idempotency key: posting again with a key moves nothing and returns False.  An escrow
  that does not hold enough raises ``InsufficientFunds`` (a 409) and nothing moves, also
  when the caller catches it and goes on (the posting runs in a savepoint).
- :func:`escrow_balance` and :func:`member_balance` read balances.

Amounts are integers of the currency's minor unit.  A wrong argument (an amount that is
not positive, a reference that cannot name an escrow) is a bug in the caller: ValueError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from agorakit.money import ledger
from agorakit.money.payments import start_payment

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.money.schemas import PaymentOut
    from agorakit.runtime import Runtime, UnitOfWork

#: the longest reference a payment keeps (``core_payment.escrow_ref``)
MAX_REF_LENGTH = 80
#: references of the escrows the order engine runs: paid with ``pay_order``
ORDER_PREFIX = "order:"


def _check_ref(ref: str) -> None:
    if not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH:
        message = f"an escrow reference is a string of at most {MAX_REF_LENGTH} characters, got {ref!r}"
        raise ValueError(message)
    try:
        kind, _ = ledger.account_kind(ledger.escrow(ref))
    except ledger.LedgerError:
        kind = None
    if kind != "escrow":
        message = f'{ref!r} cannot name an escrow: use "<kind>:<id>" such as "campaign:12"'
        raise ValueError(message)


def _check_amount(name: str, amount: int, *, zero: bool = False) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0 or (amount == 0 and not zero):
        wanted = "a non-negative" if zero else "a positive"
        message = f"{name} must be {wanted} integer of minor units, got {amount!r}"
        raise ValueError(message)


async def fund_escrow(
    runtime: Runtime,
    *,
    payer_id: int,
    ref: str,
    amount: int,
    currency: str,
    method: str,
    idempotency_key: str | None = None,
    seller_id: int | None = None,
) -> tuple[PaymentOut, bool]:
    """Pay ``amount`` into ``ref``'s escrow with an enabled payment method; returns
    ``(payment, replayed)``.

    A payment with ``purpose="escrow"`` and ``escrow_ref=ref``, started in its own unit
    of work.  The ``balance`` method takes the payer's credit first, then their available
    balance, and settles at once (the payment is ``completed``; too little is a ``409
    insufficient_funds``); ``bank_transfer`` waits (``awaiting_funds``) until an operator
    confirms the money arrived.  When the money is in, ``agorakit_payment_settled(uow,
    payment)`` is called in the settling transaction (``payment.escrow_ref == ref``); a
    plugin may refuse the start in ``agorakit_payment_starting`` (raise a problem).  With
    an ``idempotency_key`` already used by this payer for the same payment, nothing
    happens and the first payment comes back with ``replayed`` True.  ``seller_id`` is who
    the escrow is for, if anyone yet (their balance shows it as pending).

    An unknown method is a ``422`` on ``method``.  A ref of an order (``"order:..."``:
    orders are paid with ``pay_order``), a ref that cannot name an escrow or an amount
    that is not positive is a bug: ValueError.
    """
    _check_ref(ref)
    if ref.startswith(ORDER_PREFIX):
        message = f"{ref!r} is an order's escrow: an order is paid with pay_order"
        raise ValueError(message)
    _check_amount("amount", amount)
    return await start_payment(
        runtime,
        payer_id=payer_id,
        method=method,
        amount=amount,
        currency=currency,
        purpose="escrow",
        escrow_ref=ref,
        seller_id=seller_id,
        idempotency_key=idempotency_key,
    )


async def escrow_balance(ref: str, currency: str) -> int:
    """What ``ref``'s escrow holds in ``currency``, in minor units (0 if never funded).

    Read inside a unit of work it sees that transaction's postings.
    """
    _check_ref(ref)
    return await ledger.balance_of(ledger.escrow(ref), currency)


async def member_balance(member_id: int, currency: str) -> tuple[int, int]:
    """A member's ``(available, credit)`` in minor units of ``currency``.

    Available is earned and withdrawable; credit is the site wallet, spendable but never
    withdrawable.  For gates such as a rule that needs a member's balance.
    """
    names = (ledger.available(member_id), ledger.credit(member_id))
    found = await ledger.balances_of([(name, currency) for name in names])
    return found[(names[0], currency)], found[(names[1], currency)]


async def _post(
    uow: UnitOfWork,
    *,
    key: str,
    kind: str,
    description: str,
    lines: list[ledger.Line],
    refs: dict[str, Any],
    actor_id: int | None,
) -> bool:
    """Post in a savepoint: a refusal (insufficient funds) leaves nothing behind, also
    when the caller catches it and the unit of work goes on."""
    mark = uow.mark()
    try:
        async with uow.runtime.db.savepoint():
            posting = await ledger.post(
                uow, key=key, kind=kind, description=description, lines=lines, refs=refs, actor_id=actor_id
            )
    except BaseException:
        uow.cut_back(mark)
        raise
    return posting.created


async def move_escrow(
    uow: UnitOfWork,
    *,
    key: str,
    source_ref: str,
    target_ref: str,
    amount: int,
    currency: str,
    description: str,
    refs: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> bool:
    """Move ``amount`` from ``source_ref``'s escrow to ``target_ref``'s, in the caller's
    unit of work: one balanced posting with the idempotency key ``key``.

    True when the money moved now; False when ``key`` was posted before (nothing moves;
    the same key for a different movement is a ``LedgerError``, a bug).  A source that
    holds less than ``amount`` raises ``InsufficientFunds`` (``409 insufficient_funds``)
    and nothing moves; concurrent calls never overdraw it.  ``refs`` are kept with the
    posting besides ``escrow`` (the source) and ``to_escrow``.  An amount that is not
    positive, a bad ref or the same ref twice is a ValueError.
    """
    _check_ref(source_ref)
    _check_ref(target_ref)
    if source_ref == target_ref:
        message = f"an escrow cannot move money to itself ({source_ref!r})"
        raise ValueError(message)
    _check_amount("amount", amount)
    return await _post(
        uow,
        key=key,
        kind="escrow_moved",
        description=description,
        lines=ledger.move(ledger.escrow(source_ref), ledger.escrow(target_ref), amount, currency),
        refs={"escrow": source_ref, "to_escrow": target_ref, **(refs or {})},
        actor_id=actor_id,
    )


async def return_escrow(
    uow: UnitOfWork,
    *,
    key: str,
    ref: str,
    member_id: int,
    amount: int,
    currency: str,
    description: str,
    refs: dict[str, Any] | None = None,
    actor_id: int | None = None,
    to: Literal["credit", "available"] = "credit",
) -> bool:
    """Hand ``amount`` of ``ref``'s escrow to a member, in the caller's unit of work: to
    their wallet credit (``to="credit"``, the default: spendable, not withdrawable) or
    their available balance (``to="available"``).

    The same rules as :func:`move_escrow`: one posting under ``key`` (False on a replay),
    ``InsufficientFunds`` when the escrow holds less, ValueError for a bad argument.
    ``description`` is what the member's statement shows.
    """
    _check_ref(ref)
    _check_amount("amount", amount)
    if to not in ("credit", "available"):
        message = f'to is "credit" or "available", got {to!r}'
        raise ValueError(message)
    target = ledger.credit(member_id) if to == "credit" else ledger.available(member_id)
    return await _post(
        uow,
        key=key,
        kind="escrow_returned",
        description=description,
        lines=ledger.move(ledger.escrow(ref), target, amount, currency),
        refs={"escrow": ref, **(refs or {})},
        actor_id=actor_id,
    )


async def pay_from_escrow(
    uow: UnitOfWork,
    *,
    key: str,
    ref: str,
    member_id: int,
    net: int,
    fees: int,
    currency: str,
    description: str,
    refs: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> bool:
    """Pay a member from ``ref``'s escrow, in the caller's unit of work: ``net`` to their
    available balance and ``fees`` to the site (``platform:fees``), one posting under
    ``key`` taking ``net + fees`` from the escrow.

    The same rules as :func:`move_escrow`: False on a replay, ``InsufficientFunds`` when
    the escrow holds less than ``net + fees``.  ``net`` and ``fees`` are non-negative and
    not both zero (ValueError otherwise).
    """
    _check_ref(ref)
    _check_amount("net", net, zero=True)
    _check_amount("fees", fees, zero=True)
    if net + fees == 0:
        raise ValueError("pay_from_escrow needs net or fees above zero")
    source = ledger.escrow(ref)
    lines = [ledger.Line(source, -(net + fees), currency)]
    if net:
        lines.append(ledger.Line(ledger.available(member_id), net, currency))
    if fees:
        lines.append(ledger.Line(ledger.PLATFORM_FEES, fees, currency))
    return await _post(
        uow,
        key=key,
        kind="escrow_paid",
        description=description,
        lines=lines,
        refs={"escrow": ref, **(refs or {})},
        actor_id=actor_id,
    )
