"""Unlocking leads: a business pays to talk to a customer, once.

- :func:`unlock_lead`: a matching business unlocks an open lead.  One unit of work makes
  its :class:`Unlock` row (unique per business and lead: a replay, or a concurrent
  duplicate, finds the first one and is charged nothing), takes a place on the lead (an
  atomic conditional update: at most ``max_unlocks`` places, under any concurrency), makes
  the charge's order (process ``lead_unlock``) and pays it: from the business's balance
  (credit first, then available) the order is charged at once; with an outside method it
  waits for the payment, its place held.
- :func:`contact_business`: the customer writes first to a matching business; the place
  is taken and the conversation opens, and the business is charged when it replies
  (:func:`on_message_posting`, in the transaction of the reply: no balance, no reply;
  direct messages to that customer wait for that reply).
- :func:`charge` (effect of ``paid``): the escrow goes to the site's fees, the lead as it
  is now is kept as the unlock's snapshot, and the conversation with the customer opens,
  all in the payment's transaction.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.accounts import MemberOut
from agorakit.catalog import NotEligible
from agorakit.db import for_update, is_unique_violation
from agorakit.errors import Conflict, NotFound
from agorakit.messaging import ensure_conversation
from agorakit.money import money, pay_from_escrow
from agorakit.orders import ItemIn, create_order, pay_order
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.leads import jobs, profiles
from agorakit.plugins.leads.events import LeadUnlocked, UnlockCancelled
from agorakit.plugins.leads.process import FEE_KIND, PROCESS
from agorakit.plugins.leads.schemas import (
    LeadUnlockOut,
    LeadUnlockPage,
    UnlockLead,
)
from agorakit.plugins.leads.tables import Lead, Unlock

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.orders import TransitionContext
    from agorakit.runtime import Runtime, UnitOfWork

#: a lead conversation's subject: ``lead:<lead id>:business:<business id>``
SUBJECT = re.compile(r"^lead:([1-9]\d*):business:([1-9]\d*)$")


class LeadFull(Conflict):
    code = "lead_full"
    title = "The lead has no places left"


class LeadNotOpen(Conflict):
    code = "lead_not_open"
    title = "The job is not open to businesses"


class PaymentPending(Conflict):
    code = "unlock_payment_pending"
    title = "The unlock waits for its payment"


class ReplyPending(Conflict):
    code = "lead_reply_pending"
    title = "Reply in the lead's conversation first"


def subject_of(lead_id: int, business_id: int) -> str:
    return f"lead:{lead_id}:business:{business_id}"


async def pair_row(lead_id: int, business_id: int) -> dict[str, Any] | None:
    return (
        await Unlock.select()
        .where((Unlock.lead_id == lead_id) & (Unlock.business_id == business_id))
        .first()
        .output(load_json=True)
    )


async def _by_key(business_id: int, key: str) -> dict[str, Any] | None:
    return (
        await Unlock.select()
        .where((Unlock.business_id == business_id) & (Unlock.idempotency_key == key))
        .first()
        .output(load_json=True)
    )


async def take_place(lead_id: int) -> bool:
    """Take one of the lead's places, atomically (False: none left, or it is not open)."""
    taken = (
        await Lead.update({Lead.unlocks: Lead.unlocks + 1})
        .where((Lead.id == lead_id) & (Lead.status == "open") & (Lead.unlocks < Lead.max_unlocks))
        .returning(Lead.id)
    )
    return bool(taken)


async def no_place(lead_id: int) -> Conflict:
    row = await jobs.lead_row(lead_id)
    if row is None or row["status"] != "open":
        status = row["status"] if row else "gone"
        return LeadNotOpen(
            f"job {lead_id} is {status}; only open jobs can be unlocked", extra={"status": status}
        )
    return LeadFull(
        f"job {lead_id} already has {row['max_unlocks']} businesses in contact, the most it takes",
        extra={"max_unlocks": row["max_unlocks"]},
    )


async def make_charge(
    runtime: Runtime, uow: UnitOfWork, lead: dict[str, Any], unlock_id: int, business: MemberOut, method: str
) -> Any:
    """The charge's order, paid with ``method`` (``balance``: charged in this transaction)."""
    order = await create_order(
        runtime,
        process=PROCESS,
        buyer_id=business.id,
        currency=lead["currency"],
        items=[ItemIn(kind="lead", description=f"Lead: {lead['title']}"[:200], unit_price=lead["price"])],
        listing_id=lead["listing_id"],
        data={"lead_id": lead["id"], "unlock_id": unlock_id, "fee_kind": FEE_KIND, "charge_fees": False},
        uow=uow,
    )
    await Unlock.update({Unlock.order_id: order.id, Unlock.updated_at: uow.now}).where(Unlock.id == unlock_id)
    payment, _ = await pay_order(runtime, order.id, caller=business, method=method)
    return payment


async def unlock_lead(
    runtime: Runtime,
    lead_id: int,
    cmd: UnlockLead,
    *,
    business: MemberOut,
    idempotency_key: str | None = None,
) -> tuple[LeadUnlockOut, bool]:
    """A business unlocks a lead (see the module); ``(unlock, replayed)``."""
    if idempotency_key is not None and (first := await _by_key(business.id, idempotency_key)) is not None:
        if first["lead_id"] != lead_id:
            raise Conflict("this Idempotency-Key was used to unlock another lead")
        return await to_unlock(runtime, first), True
    lead = await jobs.lead_row(lead_id)
    if lead is None:
        raise NotFound(f"there is no job {lead_id}")
    existing = await pair_row(lead_id, business.id)
    if existing is not None and existing["status"] in ("charged", "awaiting_payment"):
        return await to_unlock(runtime, existing), True
    if existing is None or existing["status"] == "cancelled":
        reason = await profiles.matches(lead, business.id)
        if lead["status"] != "open":
            # a job a business never could see (waiting for review, rejected, outside its
            # profile) does not exist for it; one that left its feed has ended
            own = lead["customer_id"] == business.id
            if not own and existing is None and (lead["opened_at"] is None or reason is not None):
                raise NotFound(f"there is no job {lead_id}")
            raise LeadNotOpen(f"job {lead_id} is {lead['status']}; only open jobs can be unlocked")
        if reason is not None:
            raise NotEligible(reason, extra={"reasons": [reason]})
        if lead["unlocks"] >= lead["max_unlocks"]:
            raise await no_place(lead_id)  # the common refusal, without a transaction
    payment: Any = None
    try:
        async with runtime.unit_of_work() as uow:
            unlock_id = await _claim(uow, lead, existing, business, idempotency_key)
            if unlock_id is None:
                raise _Replay
            payment = await make_charge(runtime, uow, lead, unlock_id, business, cmd.method)
    except _Replay:
        row = await pair_row(lead_id, business.id)
        assert row is not None  # a concurrent request made it
        return await to_unlock(runtime, row), True
    except Exception as exc:
        if is_unique_violation(exc) and (row := await pair_row(lead_id, business.id)) is not None:
            return await to_unlock(runtime, row), True
        raise
    row = await pair_row(lead_id, business.id)
    assert row is not None  # committed above
    return await to_unlock(runtime, row, payment=payment), False


class _Replay(Exception):
    """Another request of the same business made the unlock first."""


async def _claim(
    uow: UnitOfWork,
    lead: dict[str, Any],
    existing: dict[str, Any] | None,
    business: MemberOut,
    key: str | None,
) -> int | None:
    """The unlock row to charge, made or taken over in ``uow``; None when another request
    of the business got there first."""
    now = uow.now
    if existing is not None and existing["status"] == "contacted":
        # the customer wrote first: the place is the business's already
        claimed = (
            await Unlock.update(
                {Unlock.status: "awaiting_payment", Unlock.idempotency_key: key, Unlock.updated_at: now}
            )
            .where((Unlock.id == existing["id"]) & (Unlock.status == "contacted"))
            .returning(Unlock.id)
        )
        return claimed[0]["id"] if claimed else None
    if existing is not None:  # cancelled: a payment that never came; try again
        claimed = (
            await Unlock.update(
                {
                    Unlock.status: "awaiting_payment",
                    Unlock.order_id: None,
                    Unlock.price: lead["price"],
                    Unlock.idempotency_key: key,
                    Unlock.updated_at: now,
                }
            )
            .where((Unlock.id == existing["id"]) & (Unlock.status == "cancelled"))
            .returning(Unlock.id)
        )
        if not claimed:
            return None
        unlock_id = claimed[0]["id"]
    else:
        made = (
            await Unlock.insert(
                Unlock(
                    lead_id=lead["id"],
                    business_id=business.id,
                    customer_id=lead["customer_id"],
                    origin="business",
                    status="awaiting_payment",
                    price=lead["price"],
                    currency=lead["currency"],
                    idempotency_key=key,
                    created_at=now,
                    updated_at=now,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(Unlock.id)
        )
        if not made:
            return None
        unlock_id = made[0]["id"]
    if not await take_place(lead["id"]):
        raise await no_place(lead["id"])
    return unlock_id


# --------------------------------------------------------------------------------------
# Effects of the unlock's order
# --------------------------------------------------------------------------------------


async def charge(ctx: TransitionContext) -> None:
    """``paid``: the lead price goes to the site; the snapshot and the conversation."""
    uow, order = ctx.uow, ctx.order
    row = await for_update(Unlock.select().where(Unlock.order_id == order.id)).first()
    if row is None:  # an order of this process the plugin did not make
        return
    lead = await jobs.lead_row(row["lead_id"])
    assert lead is not None
    await pay_from_escrow(
        uow,
        key=f"lead_unlock:{row['id']}:order:{order.id}",
        ref=f"order:{order.id}",
        member_id=row["business_id"],
        net=0,
        fees=order.data.get("quote", {}).get("buyer_total", row["price"]),
        currency=row["currency"],
        description=f"Lead {lead['id']}: {lead['title']}",
        refs={"lead": lead["id"], "order": order.id},
        actor_id=row["business_id"],
    )
    conversation_id = row["conversation_id"] or await ensure_conversation(
        uow,
        subject=subject_of(lead["id"], row["business_id"]),
        participant_ids=[lead["customer_id"], row["business_id"]],
    )
    await Unlock.update(
        {
            Unlock.status: "charged",
            Unlock.charged_at: uow.now,
            Unlock.snapshot: jobs.snapshot(lead),
            Unlock.conversation_id: conversation_id,
            Unlock.updated_at: uow.now,
        }
    ).where(Unlock.id == row["id"])
    uow.record(
        LeadUnlocked(
            lead_id=lead["id"],
            unlock_id=row["id"],
            customer_id=lead["customer_id"],
            business_id=row["business_id"],
            order_id=order.id,
            conversation_id=conversation_id,
            origin=row["origin"],
            price=row["price"],
            currency=row["currency"],
            payment_id=ctx.data.get("payment"),
        ),
        subject=f"lead:{lead['id']}",
        actor_id=row["business_id"],
    )


async def free_place(ctx: TransitionContext) -> None:
    """``cancel_unpaid`` / ``expire``: the unlock is dropped and its place freed."""
    uow, order = ctx.uow, ctx.order
    row = await for_update(Unlock.select().where(Unlock.order_id == order.id)).first()
    if row is None or row["status"] != "awaiting_payment":
        return
    await Unlock.update({Unlock.status: "cancelled", Unlock.updated_at: uow.now}).where(
        Unlock.id == row["id"]
    )
    await Lead.update({Lead.unlocks: Lead.unlocks - 1}).where(
        (Lead.id == row["lead_id"]) & (Lead.unlocks > 0)
    )
    uow.record(
        UnlockCancelled(
            lead_id=row["lead_id"], unlock_id=row["id"], business_id=row["business_id"], order_id=order.id
        ),
        subject=f"lead:{row['lead_id']}",
        actor_id=ctx.actor_id,
    )


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def to_unlock(runtime: Runtime, row: dict[str, Any], *, payment: Any = None) -> LeadUnlockOut:
    days = profiles.settings_of(runtime).report_days
    charged = row["charged_at"]
    return LeadUnlockOut(
        id=row["id"],
        lead_id=row["lead_id"],
        business_id=row["business_id"],
        customer_id=row["customer_id"],
        origin=row["origin"],
        status=row["status"],
        price=money(row["price"], row["currency"]),
        order_id=row["order_id"],
        conversation_id=row["conversation_id"],
        created_at=row["created_at"],
        charged_at=charged,
        report_until=charged + timedelta(days=days) if charged else None,
        payment=payment,
    )


async def unlock_of(runtime: Runtime, lead_id: int, business_id: int) -> LeadUnlockOut | None:
    row = await pair_row(lead_id, business_id)
    return await to_unlock(runtime, row) if row else None


async def my_unlocks(
    runtime: Runtime, business: MemberOut, *, status: str | None, cursor: str | None, limit: int
) -> LeadUnlockPage:
    query = Unlock.select().where(Unlock.business_id == business.id).order_by(Unlock.id, ascending=False)
    if status is not None:
        query = query.where(Unlock.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Unlock.id < position["id"])
    rows, next_cursor = page(
        await query.limit(limit + 1).output(load_json=True), limit, lambda r: {"id": r["id"]}
    )
    return LeadUnlockPage(items=[await to_unlock(runtime, r) for r in rows], next_cursor=next_cursor)
