"""Vouchers: part of a member's balance turned into a code that anyone else can redeem.

Statuses: ``issued → redeemed | cancelled | expired``.  Every step is one posting in the
same transaction as the voucher's status change, keyed ``voucher:{id}:<step>``:

- issue: ``member:{issuer}:credit`` first, then ``member:{issuer}:available`` →
  ``vouchers:outstanding`` (the split is kept with the voucher);
- redeem: ``vouchers:outstanding`` → ``member:{redeemer}:credit``;
- cancel (the issuer, before it expires): ``vouchers:outstanding`` → the issuer's credit
  and available balance, each the part it gave;
- expire (the worker's sweep, at ``expires_at``): ``vouchers:outstanding`` → the
  issuer's credit.

Status changes are conditional updates (``WHERE status = 'issued'``), so a voucher moves
money once however many requests race for it.  The code is shown once, in the answer
that issued it: only its SHA-256 and its last 4 characters are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agorakit.accounts.throttle import Throttle, Window, throttle_store
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, TooManyRequests, ValidationFailed
from agorakit.money import ledger
from agorakit.money.amounts import exponent, format_amount, max_amount, money
from agorakit.money.events import VoucherCancelled, VoucherExpired, VoucherIssued, VoucherRedeemed
from agorakit.money.payments import IdempotencyKeyReused
from agorakit.money.schemas import RedeemedVoucher, VoucherOut
from agorakit.money.tables import Voucher
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: Crockford's base 32: digits and capitals without I, L, O and U (read as 1, 1, 0, V)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 28 characters of 5 bits: 140 random bits, shown as 7 groups of 4
CODE_LENGTH = 28
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})
#: due vouchers one sweep expires at most (the next sweep takes the rest)
EXPIRE_BATCH = 500


class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    title = "No voucher has this code"


class OwnVoucher(Forbidden):
    code = "own_voucher"
    title = "You issued this voucher"


class VoucherAlreadyRedeemed(Conflict):
    code = "voucher_redeemed"
    title = "The voucher was redeemed already"


class VoucherWasCancelled(Conflict):
    code = "voucher_cancelled"
    title = "The voucher was cancelled by its issuer"


class VoucherHasExpired(Conflict):
    code = "voucher_expired"
    title = "The voucher has expired"


class VouchersDisabled(NotFound):
    code = "vouchers_disabled"
    title = "This site offers no vouchers"


# --------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------


def new_code() -> str:
    """A fresh code, e.g. ``7K3M-Q9XD-...`` (7 groups of 4, 140 random bits)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(code: str) -> str:
    """The code's 28 characters: case, spaces and dashes ignored, I/L/O/U read as 1/1/0/V.

    :raises ValidationFailed: anything else (422 on ``code``).
    """
    raw = "".join(code.split()).replace("-", "").upper().translate(_READ_AS)
    if len(raw) != CODE_LENGTH or any(c not in ALPHABET for c in raw):
        message = f"a voucher code is {CODE_LENGTH} letters and digits in groups of 4, e.g. {new_code()}"
        raise ValidationFailed([FieldError("code", message)])
    return raw


def code_hash(normalised: str) -> str:
    """What is stored of a code: its SHA-256 (140 random bits need no slow hash)."""
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def to_voucher(row: dict[str, Any], *, operator: bool = False, code: str | None = None) -> VoucherOut:
    currency = row["currency"]
    return VoucherOut(
        id=row["id"],
        issuer_id=row["issuer_id"],
        amount=money(row["amount"], currency),
        from_credit=money(row["from_credit"], currency),
        from_available=money(row["from_available"], currency),
        status=row["status"],
        hint=row["code_hint"],
        expires_at=row["expires_at"],
        redeemed_at=row["redeemed_at"],
        redeemed_by=row["redeemed_by"] if operator else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        code=code,
    )


async def get_voucher(voucher_id: int, *, issuer_id: int | None = None) -> VoucherOut:
    """One voucher; with ``issuer_id``, only if they issued it (404 otherwise)."""
    query = Voucher.select().where(Voucher.id == voucher_id)
    if issuer_id is not None:
        query = query.where(Voucher.issuer_id == issuer_id)
    row = await query.first()
    if row is None:
        raise NotFound(f"you have no voucher {voucher_id}")
    return to_voucher(row, operator=issuer_id is None)


async def list_vouchers(
    *,
    cursor: str | None,
    limit: int,
    issuer_id: int | None = None,
    status: str | None = None,
) -> tuple[list[VoucherOut], str | None]:
    """Newest first; an issuer's own (``issuer_id``) or, for operators, everyone's."""
    query = Voucher.select().order_by(Voucher.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Voucher.id < int(position["id"]))
    if issuer_id is not None:
        query = query.where(Voucher.issuer_id == issuer_id)
    if status:
        query = query.where(Voucher.status == status)
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [to_voucher(row, operator=issuer_id is None) for row in rows], next_cursor


# --------------------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------------------


def _enabled(runtime: Runtime) -> None:
    if not runtime.settings.vouchers.enabled:
        raise VouchersDisabled("this site does not offer vouchers")


def min_amount(runtime: Runtime, currency: str) -> int:
    """``[vouchers] min_amount`` in minor units of ``currency``."""
    return int(Decimal(runtime.settings.vouchers.min_amount) * 10 ** exponent(currency))


def _check_amount(runtime: Runtime, amount: int, currency: str) -> None:
    if currency not in runtime.currencies:
        message = f"{currency} is not accepted here; use {', '.join(runtime.currencies)}"
        raise ValidationFailed([FieldError("amount.currency", message)])
    smallest, largest = max(min_amount(runtime, currency), 1), max_amount(runtime, currency)
    if not smallest <= amount <= largest:
        message = (
            f"a voucher is of {format_amount(smallest, currency)} to "
            f"{format_amount(largest, currency)} {currency}"
        )
        raise ValidationFailed([FieldError("amount.amount", message)])


async def _by_key(issuer_id: int, key: str) -> dict[str, Any] | None:
    return (
        await Voucher.select()
        .where((Voucher.issuer_id == issuer_id) & (Voucher.idempotency_key == key))
        .first()
    )


def _replay(first: dict[str, Any], amount: int, currency: str) -> VoucherOut:
    if (first["amount"], first["currency"]) != (amount, currency):
        raise IdempotencyKeyReused("voucher")
    return to_voucher(first)


async def issue_voucher(
    runtime: Runtime,
    *,
    issuer_id: int,
    amount: int,
    currency: str,
    idempotency_key: str | None = None,
) -> tuple[VoucherOut, bool]:
    """Turn ``amount`` of the issuer's balance (credit first, then available) into a
    voucher valid ``[vouchers] valid_days``; ``(voucher, replayed)``.

    The voucher carries its ``code`` only here, the one time it exists in the clear.  A
    replay of an ``idempotency_key`` returns the first voucher without its code (it is
    not stored) and moves nothing.
    """
    _enabled(runtime)
    _check_amount(runtime, amount, currency)
    code = new_code()
    normalised = normalise_code(code)
    try:
        async with runtime.unit_of_work() as uow:
            if idempotency_key is not None:
                first = await _by_key(issuer_id, idempotency_key)
                if first is not None:
                    return _replay(first, amount, currency), True
            credit, available = ledger.credit(issuer_id), ledger.available(issuer_id)
            # Locked until the commit: concurrent spending sees this voucher's.
            held = await ledger.balances_for_update([credit, available], currency)
            held[available] = max(held[available], 0)  # (below zero: a clawback owed)
            if held[credit] + held[available] < amount:
                figures = {
                    "credit": format_amount(held[credit], currency),
                    "available": format_amount(held[available], currency),
                    "needed": format_amount(amount, currency),
                    "currency": currency,
                }
                detail = (
                    f"your balance is {format_amount(held[credit] + held[available], currency)} "
                    f"{currency} (credit {figures['credit']}, available {figures['available']}); "
                    f"this voucher needs {figures['needed']} {currency}"
                )
                raise ledger.InsufficientFunds(detail, extra=figures)
            from_credit = min(held[credit], amount)
            now = uow.now
            row = {
                "issuer_id": issuer_id,
                "amount": amount,
                "currency": currency,
                "from_credit": from_credit,
                "from_available": amount - from_credit,
                "code_hash": code_hash(normalised),
                "code_hint": normalised[-4:],
                "status": "issued",
                "idempotency_key": idempotency_key,
                "expires_at": now + timedelta(days=runtime.settings.vouchers.valid_days),
                "redeemed_by": None,
                "redeemed_at": None,
                "created_at": now,
                "updated_at": now,
            }
            [inserted] = await Voucher.insert(Voucher(**row)).returning(Voucher.id)
            row["id"] = voucher_id = inserted["id"]
            lines = [
                ledger.Line(account, -part, currency)
                for account, part in ((credit, from_credit), (available, amount - from_credit))
                if part
            ]
            await ledger.post(
                uow,
                key=f"voucher:{voucher_id}:issue",
                kind="voucher_issued",
                description=f"Voucher {voucher_id} (…{row['code_hint']}) issued",
                lines=[*lines, ledger.Line(ledger.VOUCHERS_OUTSTANDING, amount, currency)],
                refs={"voucher": voucher_id},
                actor_id=issuer_id,
            )
            uow.record(
                VoucherIssued(voucher_id=voucher_id, issuer_id=issuer_id, amount=amount, currency=currency),
                subject=f"voucher:{voucher_id}",
                actor_id=issuer_id,
            )
    except Exception as exc:
        if idempotency_key is not None and is_unique_violation(exc):
            # A concurrent request with the same key won the race: answer with its voucher.
            first = await _by_key(issuer_id, idempotency_key)
            if first is not None:
                return _replay(first, amount, currency), True
        raise
    return to_voucher(row, code=code), False


# --------------------------------------------------------------------------------------
# Redeeming
# --------------------------------------------------------------------------------------


def redeem_throttle(runtime: Runtime) -> Throttle:
    """Failed redemptions per member: ``[vouchers] redeem_attempts`` per
    ``redeem_window_minutes``, on the runtime's wall clock, in the site's shared throttle
    store (as the login throttles: the database, or Redis with ``[cache] url``)."""
    throttle = getattr(runtime, "voucher_throttle", None)
    if throttle is None:
        settings = runtime.settings.vouchers
        window = timedelta(minutes=settings.redeem_window_minutes)
        throttle = Window(
            throttle_store(runtime), "voucher_redeem", runtime.wall_clock, settings.redeem_attempts, window
        )
        runtime.voucher_throttle = throttle  # type: ignore[attr-defined]
    return throttle


#: what a failed redemption of a real code raises: each counts as a failed attempt
_REFUSED = (VoucherNotFound, VoucherAlreadyRedeemed, VoucherWasCancelled, VoucherHasExpired)


def _unusable(row: dict[str, Any]) -> Conflict:
    if row["status"] == "redeemed":
        return VoucherAlreadyRedeemed("this voucher was redeemed already")
    if row["status"] == "cancelled":
        return VoucherWasCancelled("this voucher was cancelled by its issuer")
    return VoucherHasExpired(f"this voucher expired at {row['expires_at'].isoformat()}")


async def redeem_voucher(runtime: Runtime, *, code: str, member_id: int) -> RedeemedVoucher:
    """Redeem a voucher someone else issued into ``member_id``'s credit, once.

    A malformed code is a 422 (``code``); an unknown one a 404 ``voucher_not_found``, one
    redeemed, cancelled or expired a 409 (``voucher_redeemed``, ``voucher_cancelled``,
    ``voucher_expired``); those count as failed attempts, and a member with
    ``[vouchers] redeem_attempts`` of them in the window gets a 429 with ``Retry-After``.
    The issuer's own voucher is a 403 ``own_voucher``.
    """
    _enabled(runtime)
    hashed = code_hash(normalise_code(code))
    throttle, key = redeem_throttle(runtime), f"member:{member_id}"
    retry = await throttle.retry_after(key)
    if retry:
        raise TooManyRequests(
            f"too many failed voucher redemptions; try again in {retry} s", retry_after=retry
        )
    try:
        async with runtime.unit_of_work() as uow:
            row = await Voucher.select().where(Voucher.code_hash == hashed).first()
            if row is None:
                raise VoucherNotFound("no voucher has this code; check it and try again")
            if row["issuer_id"] == member_id:
                raise OwnVoucher(
                    "you issued this voucher: give it to someone, or cancel it to get its value back"
                )
            voucher_id, now = row["id"], uow.now
            updated = (
                await Voucher.update(
                    {
                        Voucher.status: "redeemed",
                        Voucher.redeemed_by: member_id,
                        Voucher.redeemed_at: now,
                        Voucher.updated_at: now,
                    }
                )
                .where((Voucher.id == voucher_id) & (Voucher.status == "issued") & (Voucher.expires_at > now))
                .returning(Voucher.id)
            )
            if not updated:  # another request redeemed it first, or it is over
                current = await Voucher.select().where(Voucher.id == voucher_id).first()
                raise _unusable(current or row)
            amount, currency = row["amount"], row["currency"]
            await ledger.post(
                uow,
                key=f"voucher:{voucher_id}:redeem",
                kind="voucher_redeemed",
                description=f"Voucher {voucher_id} redeemed into your credit",
                lines=ledger.move(ledger.VOUCHERS_OUTSTANDING, ledger.credit(member_id), amount, currency),
                refs={"voucher": voucher_id},
                actor_id=member_id,
            )
            uow.record(
                VoucherRedeemed(
                    voucher_id=voucher_id,
                    issuer_id=row["issuer_id"],
                    redeemer_id=member_id,
                    amount=amount,
                    currency=currency,
                ),
                subject=f"voucher:{voucher_id}",
                actor_id=member_id,
            )
            return RedeemedVoucher(voucher_id=voucher_id, amount=money(amount, currency), redeemed_at=now)
    except _REFUSED:
        await throttle.hit(key)
        raise


# --------------------------------------------------------------------------------------
# Cancelling and expiring
# --------------------------------------------------------------------------------------


async def cancel_voucher(runtime: Runtime, *, voucher_id: int, issuer_id: int) -> VoucherOut:
    """The issuer takes back an issued voucher before it expires: each part goes back to
    the balance it came from (credit, available).  404 for someone else's voucher, 409
    ``conflict`` once it is redeemed, cancelled or expired (``voucher_expired``)."""
    async with runtime.unit_of_work() as uow:
        now = uow.now
        updated = (
            await Voucher.update({Voucher.status: "cancelled", Voucher.updated_at: now})
            .where(
                (Voucher.id == voucher_id)
                & (Voucher.issuer_id == issuer_id)
                & (Voucher.status == "issued")
                & (Voucher.expires_at > now)
            )
            .returning(*Voucher.all_columns())
        )
        if not updated:
            current = await get_voucher(voucher_id, issuer_id=issuer_id)  # 404 if not theirs
            if current.status == "issued":
                raise VoucherHasExpired("this voucher has expired; its value returns to your credit")
            message = f"voucher {voucher_id} is {current.status}; only an issued voucher can be cancelled"
            raise Conflict(message, extra={"status": current.status})
        row = updated[0]
        currency = row["currency"]
        back = [
            ledger.Line(account, part, currency)
            for account, part in (
                (ledger.credit(issuer_id), row["from_credit"]),
                (ledger.available(issuer_id), row["from_available"]),
            )
            if part
        ]
        await ledger.post(
            uow,
            key=f"voucher:{voucher_id}:cancel",
            kind="voucher_cancelled",
            description=f"Voucher {voucher_id} (…{row['code_hint']}) cancelled; its value is back",
            lines=[ledger.Line(ledger.VOUCHERS_OUTSTANDING, -row["amount"], currency), *back],
            refs={"voucher": voucher_id},
            actor_id=issuer_id,
        )
        uow.record(
            VoucherCancelled(voucher_id=voucher_id, issuer_id=issuer_id),
            subject=f"voucher:{voucher_id}",
            actor_id=issuer_id,
        )
    return to_voucher(row)


async def expire_vouchers(runtime: Runtime, *, limit: int = EXPIRE_BATCH) -> list[int]:
    """Expire issued vouchers whose ``expires_at`` has come (at most ``limit``): each
    amount goes back to its issuer's credit.  The worker's sweep runs it; the ids."""
    async with runtime.unit_of_work() as uow:
        now = uow.now
        due = (
            await Voucher.select(Voucher.id)
            .where((Voucher.status == "issued") & (Voucher.expires_at <= now))
            .order_by(Voucher.expires_at)
            .limit(limit)
        )
        if not due:
            return []
        rows = (
            await Voucher.update({Voucher.status: "expired", Voucher.updated_at: now})
            .where(Voucher.id.is_in([r["id"] for r in due]) & (Voucher.status == "issued"))
            .returning(Voucher.id, Voucher.issuer_id, Voucher.amount, Voucher.currency, Voucher.code_hint)
        )
        rows.sort(key=lambda r: r["id"])
        if not rows:  # another worker expired them first
            return []
        await ledger.post_many(
            uow,
            [
                ledger.NewPosting(
                    key=f"voucher:{r['id']}:expire",
                    kind="voucher_expired",
                    description=f"Voucher {r['id']} (…{r['code_hint']}) expired unredeemed; "
                    "its value is back in your credit",
                    lines=ledger.move(
                        ledger.VOUCHERS_OUTSTANDING, ledger.credit(r["issuer_id"]), r["amount"], r["currency"]
                    ),
                    refs={"voucher": r["id"]},
                )
                for r in rows
            ],
        )
        for r in rows:
            uow.record(
                VoucherExpired(
                    voucher_id=r["id"], issuer_id=r["issuer_id"], amount=r["amount"], currency=r["currency"]
                ),
                subject=f"voucher:{r['id']}",
            )
    return [r["id"] for r in rows]


__all__ = [
    "cancel_voucher",
    "expire_vouchers",
    "get_voucher",
    "issue_voucher",
    "list_vouchers",
    "redeem_voucher",
]
