"""The customer writes first: matching businesses, the first contact, and the reply that
charges the business.

- :func:`matching_list`: the businesses whose profile matches the customer's open job.
- :func:`contact_business`: the customer writes first to one of them; its place is taken
  and the conversation opens, and the business is charged when it replies.
- :func:`on_message_posting` (the core's ``agorakit_message_posting``): a business's
  reply in a lead's conversation is charged in the reply's transaction (no money, no
  reply); until it replied there it may not write to that customer directly; nobody asks
  about a job through its listing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agorakit.accounts import MemberOut, get_members
from agorakit.errors import Conflict, Forbidden, NotFound
from agorakit.messaging import ensure_conversation
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.leads import jobs, profiles
from agorakit.plugins.leads.events import BusinessContacted
from agorakit.plugins.leads.schemas import (
    ContactBusiness,
    LeadUnlockOut,
    MatchingBusiness,
    MatchingBusinessPage,
)
from agorakit.plugins.leads.tables import Lead, Profile, Unlock
from agorakit.plugins.leads.unlocks import (
    SUBJECT,
    LeadNotOpen,
    PaymentPending,
    ReplyPending,
    make_charge,
    no_place,
    pair_row,
    subject_of,
    take_place,
    to_unlock,
)

#: a direct conversation's key: ``members:<low id>:<high id>``
DIRECT_KEY = re.compile(r"^members:([1-9]\d*):([1-9]\d*)$")

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork


async def matching_list(
    runtime: Runtime, lead_id: int, *, customer: MemberOut, cursor: str | None, limit: int
) -> MatchingBusinessPage:
    """The businesses whose profile matches the customer's open job, to contact first."""
    lead = await jobs.lead_row(lead_id)
    if lead is None or lead["customer_id"] != customer.id:
        raise NotFound(f"there is no job {lead_id} of yours")
    if lead["status"] != "open":
        raise LeadNotOpen(f"job {lead_id} is {lead['status']}; businesses are listed while it is open")
    ids = await profiles.matching_businesses(lead)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        ids = [i for i in ids if i > position["id"]]
    # only active members are listed: skip the others before cutting the page, so a page
    # is full whenever more businesses follow
    members: dict[int, MemberOut] = {}
    active: list[int] = []
    start = 0
    while len(active) <= limit and start < len(ids):
        batch = ids[start : start + 2 * (limit + 1)]
        start += len(batch)
        found = await get_members(batch)
        members.update(found)
        active += [i for i in batch if i in found and found[i].status == "active"]
    chosen, next_cursor = page(active[: limit + 1], limit, lambda i: {"id": i})
    rows = await Profile.select(Profile.member_id, Profile.headline).where(
        Profile.member_id.is_in(chosen or [0])
    )
    headlines = {r["member_id"]: r["headline"] for r in rows}
    contacted = {
        r["business_id"]
        for r in await Unlock.select(Unlock.business_id).where(
            (Unlock.lead_id == lead_id) & (Unlock.status != "cancelled")
        )
    }
    items = [
        MatchingBusiness(
            member_id=i,
            display_name=members[i].display_name,
            headline=headlines.get(i, ""),
            in_contact=i in contacted,
        )
        for i in chosen
    ]
    return MatchingBusinessPage(items=items, next_cursor=next_cursor)


async def contact_business(
    runtime: Runtime, lead_id: int, cmd: ContactBusiness, *, customer: MemberOut
) -> LeadUnlockOut:
    """The customer writes first to a matching business (see the module)."""
    from agorakit.messaging import PostMessage, post_message

    lead = await jobs.lead_row(lead_id)
    if lead is None or lead["customer_id"] != customer.id:
        raise NotFound(f"there is no job {lead_id} of yours")
    if lead["status"] != "open":
        raise LeadNotOpen(f"job {lead_id} is {lead['status']}; contact businesses while it is open")
    if cmd.business_id == customer.id:
        raise Forbidden("you cannot contact yourself")
    reason = await profiles.matches(lead, cmd.business_id)
    members = await get_members([cmd.business_id])
    if reason is not None or cmd.business_id not in members or members[cmd.business_id].status != "active":
        raise NotFound(f"business {cmd.business_id} is not among those matching job {lead_id}")
    existing = await pair_row(lead_id, cmd.business_id)
    if existing is not None and existing["status"] != "cancelled":
        raise Conflict(
            f"business {cmd.business_id} is already in contact about job {lead_id}; "
            f"write in conversation {existing['conversation_id']}",
            extra={"conversation_id": existing["conversation_id"]},
        )
    async with runtime.unit_of_work() as uow:
        conversation_id = await ensure_conversation(
            uow, subject=subject_of(lead_id, cmd.business_id), participant_ids=[customer.id, cmd.business_id]
        )
        now = uow.now
        if existing is None:
            made = (
                await Unlock.insert(
                    Unlock(
                        lead_id=lead_id,
                        business_id=cmd.business_id,
                        customer_id=customer.id,
                        origin="customer",
                        status="contacted",
                        price=lead["price"],
                        currency=lead["currency"],
                        conversation_id=conversation_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
                .on_conflict(action="DO NOTHING")
                .returning(Unlock.id)
            )
        else:
            made = (
                await Unlock.update(
                    {
                        Unlock.status: "contacted",
                        Unlock.origin: "customer",
                        Unlock.order_id: None,
                        Unlock.price: lead["price"],
                        Unlock.conversation_id: conversation_id,
                        Unlock.updated_at: now,
                    }
                )
                .where((Unlock.id == existing["id"]) & (Unlock.status == "cancelled"))
                .returning(Unlock.id)
            )
        if not made:
            raise Conflict(f"business {cmd.business_id} is already in contact about job {lead_id}")
        if not await take_place(lead_id):
            raise await no_place(lead_id)
        uow.record(
            BusinessContacted(
                lead_id=lead_id,
                unlock_id=made[0]["id"],
                customer_id=customer.id,
                business_id=cmd.business_id,
                conversation_id=conversation_id,
            ),
            subject=f"lead:{lead_id}",
            actor_id=customer.id,
        )
        await post_message(runtime, conversation_id, PostMessage(body=cmd.body), sender=customer)
    row = await pair_row(lead_id, cmd.business_id)
    assert row is not None
    return await to_unlock(runtime, row)


async def on_message_posting(uow: UnitOfWork, conversation: dict[str, Any], sender: MemberOut) -> None:
    """A business's message to a customer about a lead: charged first if the customer
    wrote first (from its balance, in the reply's transaction: without the money the reply
    is refused and nothing is written); refused while its unlock waits for a payment.
    Until then it does not write to that customer in direct messages either, and nobody
    asks about a lead through its listing: both would be a free contact."""
    subject = conversation.get("subject") or ""
    direct = DIRECT_KEY.fullmatch(conversation.get("key") or "")
    if direct is not None:
        low, high = int(direct.group(1)), int(direct.group(2))
        await _no_free_reply(sender, high if sender.id == low else low)
        return
    match = SUBJECT.fullmatch(subject)
    if match is None:
        if subject.startswith("listing:") and conversation.get("kind") == "listing":
            listing_id = int(subject.split(":")[1])
            if await Lead.exists().where(Lead.listing_id == listing_id):
                raise Forbidden(
                    "jobs are not asked about through their listing: unlock the lead (POST /leads/{id}/unlock)"
                )
        return
    lead_id, business_id = int(match.group(1)), int(match.group(2))
    if sender.id != business_id:
        return
    row = await pair_row(lead_id, business_id)
    if row is None or row["status"] == "charged":
        return
    if row["status"] == "awaiting_payment":
        raise PaymentPending(
            f"your unlock of job {lead_id} waits for its payment; you can write once it is paid",
            extra={"order_id": row["order_id"]},
        )
    if row["status"] != "contacted":
        raise Conflict(f"you are not in contact about job {lead_id} any more")
    lead = await jobs.lead_row(lead_id)
    assert lead is not None
    if lead["status"] != "open":
        raise LeadNotOpen(
            f"job {lead_id} is {lead['status']}: the customer's invitation ended before you replied "
            "(you were not charged)",
            extra={"status": lead["status"]},
        )
    runtime = uow.runtime
    claimed = (
        await Unlock.update({Unlock.status: "awaiting_payment", Unlock.updated_at: uow.now})
        .where((Unlock.id == row["id"]) & (Unlock.status == "contacted"))
        .returning(Unlock.id)
    )
    if not claimed:  # a concurrent reply or unlock charged it
        return
    await make_charge(runtime, uow, {**lead, "price": row["price"]}, row["id"], sender, "balance")


async def _no_free_reply(sender: MemberOut, other_id: int) -> None:
    """A business a customer wrote to first does not answer them in direct messages before
    it has replied (and paid) in the lead's conversation."""
    pending = (
        await Unlock.select(Unlock.lead_id, Unlock.conversation_id)
        .where(
            (Unlock.business_id == sender.id)
            & (Unlock.customer_id == other_id)
            & (Unlock.origin == "customer")
            & Unlock.status.is_in(["contacted", "awaiting_payment"])
        )
        .order_by(Unlock.id)
        .first()
    )
    if pending is None:
        return
    raise ReplyPending(
        f"this customer wrote to you about job {pending['lead_id']}: reply in conversation "
        f"{pending['conversation_id']} (your reply there is charged the lead price); then you may "
        "also write to them directly",
        extra={"lead_id": pending["lead_id"], "conversation_id": pending["conversation_id"]},
    )
