"""Disputes and reports: a party's complaint about an order or a charge, settled by operators.

The order's process says whether and how it can be disputed (:class:`DisputePolicy`).
Opening one captures the evidence (the order, its history, proofs and conversation) and,
with a ``hold`` state, parks the order there so no timer completes it meanwhile.  An
operator resolves it:

- ``refund``: all or part of the money back to the buyer's credit (never cash); with an
  escrow, what is not refunded is released to the seller at the order's fee rate;
- ``release``: the escrow goes to the seller as if the buyer had accepted;
- ``reject``: nothing moves and the order returns to where it was (its timers restart).

Every outcome is one ledger posting (or none, for a rejection), a history entry on the
order and a ``dispute.resolved`` event, all in one transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from agorakit import orders
from agorakit.accounts.roles import is_operator
from agorakit.db import is_unique_violation
from agorakit.disputes.clawback import FROM_SELLER, settle_clawback
from agorakit.disputes.events import DisputeOpened
from agorakit.disputes.events import DisputeResolved as DisputeResolvedEvent
from agorakit.disputes.evidence import check_conversation, order_evidence
from agorakit.disputes.member_action import action_note, apply_member_action, visible_action
from agorakit.disputes.schemas import (
    DisputeOut,
    DisputeReason,
    DisputeReasons,
    OpenDispute,
    ResolveDispute,
)
from agorakit.disputes.tables import Dispute
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.http import OperatorQueue, count_queue
from agorakit.money import ledger
from agorakit.money.amounts import format_amount, money, parse_amount
from agorakit.orders.process import DisputePolicy, Process
from agorakit.orders.tables import Order
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork

MIN_TEXT = 10
Status = Literal["open", "resolved"]


class NotDisputable(Conflict):
    """The order's process has no disputes, or not in the order's current state."""

    code = "not_disputable"


class DisputeWindowClosed(Conflict):
    code = "dispute_window_closed"


class DisputeAlreadyOpen(Conflict):
    code = "dispute_open"


class AlreadyDisputed(Conflict):
    code = "already_disputed"


class DisputeResolved(Conflict):
    code = "dispute_resolved"


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _policy(runtime: Runtime, row: dict[str, Any]) -> tuple[Process, DisputePolicy | None]:
    process = orders.registry(runtime).get(row["process"], row["process_version"])
    return process, process.disputes


def _to_out(row: dict[str, Any], policy: DisputePolicy | None, now: Any) -> DisputeOut:
    currency = row["currency"]
    labels = policy.reasons if policy else {}
    return DisputeOut(
        id=row["id"],
        order_id=row["order_id"],
        opened_by=row["opened_by"],
        opener_role=row["opener_role"],
        reason=row["reason"],
        reason_label=labels.get(row["reason"]) or row["reason"],
        text=row["text"],
        status=row["status"],
        outcome=row["outcome"],
        from_state=row["from_state"],
        refund_from=row["refund_from"],
        refunded=money(row["refunded"], currency),
        released=money(row["released"], currency),
        resolution_note=row["resolution_note"],
        resolved_by=row["resolved_by"],
        opened_at=row["opened_at"],
        due_at=row["due_at"],
        resolved_at=row["resolved_at"],
        overdue=row["status"] == "open" and now > row["due_at"],
        evidence=row["evidence"] or {},
        member_action=visible_action(row, None),
    )


async def _order_policy(runtime: Runtime, order_id: int) -> DisputePolicy | None:
    row = await Order.select(Order.process, Order.process_version).where(Order.id == order_id).first()
    if row is None:
        return None
    return _policy(runtime, row)[1]


async def _dispute_row(dispute_id: int, *, for_update: bool = False) -> dict[str, Any]:
    query = Dispute.select().where(Dispute.id == dispute_id).first().output(load_json=True)
    if for_update and Dispute._meta.db.engine_type == "postgres":
        query = query.lock_rows()
    row = await query
    if row is None:
        raise NotFound(f"there is no dispute {dispute_id}")
    return row


async def dispute_reasons(runtime: Runtime, order_id: int, *, caller: MemberOut) -> DisputeReasons:
    """The reason codes (and rules) a party of the order can open a dispute with."""
    order = await orders.get_order(runtime, order_id, caller=caller)
    process = orders.registry(runtime).get(order.process, order.process_version)
    policy = process.disputes
    if policy is None:
        raise NotDisputable(f"orders of {process.name} cannot be disputed")
    return DisputeReasons(
        reasons=[DisputeReason(code=code, label=label) for code, label in policy.reasons.items()],
        states=list(policy.states),
        openers=list(policy.openers),
        window_days=policy.window / timedelta(days=1),
        after_states=list(policy.after_states),
        after_window_days=policy.after_window / timedelta(days=1) if policy.after_states else None,
    )


async def get_dispute(runtime: Runtime, dispute_id: int, *, caller: MemberOut) -> DisputeOut:
    """A dispute, for the parties of its order and operators; 404 for anyone else."""
    row = await _dispute_row(dispute_id)
    if not is_operator(caller):
        try:
            await orders.get_order(runtime, row["order_id"], caller=caller)
        except NotFound:
            raise NotFound(f"there is no dispute {dispute_id}") from None
        order = await Order.select(Order.buyer_id, Order.seller_id).where(Order.id == row["order_id"]).first()
        if order is None or caller.id not in (order["buyer_id"], order["seller_id"]):
            raise NotFound(f"there is no dispute {dispute_id}")  # a candidate is not a party
    out = _to_out(row, await _order_policy(runtime, row["order_id"]), runtime.clock.now())
    return msgspec.structs.replace(out, member_action=visible_action(row, caller))


async def order_disputes(runtime: Runtime, order_id: int, *, caller: MemberOut) -> list[DisputeOut]:
    order = await orders.get_order(runtime, order_id, caller=caller)
    if not is_operator(caller) and caller.id not in (order.buyer_id, order.seller_id):
        raise NotFound(f"there is no order {order_id}")
    rows = (
        await Dispute.select().where(Dispute.order_id == order_id).order_by(Dispute.id).output(load_json=True)
    )
    policy = await _order_policy(runtime, order_id)
    now = runtime.clock.now()
    return [
        msgspec.structs.replace(_to_out(row, policy, now), member_action=visible_action(row, caller))
        for row in rows
    ]


async def dispute_queue(
    runtime: Runtime,
    *,
    status: str | None,
    overdue: bool | None,
    cursor: str | None,
    limit: int,
    processes: list[str] | None = None,
) -> tuple[list[DisputeOut], str | None]:
    """The operators' queue: oldest first; ``overdue`` keeps open ones past their target;
    ``processes`` keeps the disputes of orders of those processes (one model's reports)."""
    now = runtime.clock.now()
    query = Dispute.select().order_by(Dispute.id).limit(limit + 1).output(load_json=True)
    if status:
        query = query.where(Dispute.status == status)
    if processes:
        query = query.where(
            Dispute.order_id.is_in(Order.select(Order.id).where(Order.process.is_in(processes)))
        )
    if overdue is True:
        query = query.where((Dispute.status == "open") & (Dispute.due_at < now))
    elif overdue is False:
        query = query.where((Dispute.status != "open") | (Dispute.due_at >= now))
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Dispute.id > position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    policies: dict[int, DisputePolicy | None] = {}
    items = []
    for row in rows:
        if row["order_id"] not in policies:
            policies[row["order_id"]] = await _order_policy(runtime, row["order_id"])
        items.append(_to_out(row, policies[row["order_id"]], now))
    return items, next_cursor


async def open_disputes_queue(runtime: Runtime) -> OperatorQueue:
    """The open disputes of :func:`dispute_queue` counted, overdue past their ``due_at``
    (the process's ``review_within``; ``due_hours`` when every process has the same)."""
    counted = await count_queue(
        Dispute,
        Dispute.status == "open",
        since=Dispute.opened_at,
        overdue=Dispute.due_at < runtime.clock.now(),
    )
    targets = {
        p.disputes.review_within
        for p in orders.registry(runtime).processes.values()
        if p.disputes is not None
    }
    return OperatorQueue(
        key="disputes.open",
        title="Disputes to resolve",
        count=counted.count,
        oldest_at=counted.oldest_at,
        overdue=counted.overdue,
        due_hours=int(targets.pop() / timedelta(hours=1)) if len(targets) == 1 else None,
        list_path="/operator/disputes?status=open",
        area="disputes",
    )


# --------------------------------------------------------------------------------------
# Opening
# --------------------------------------------------------------------------------------


async def open_dispute(
    runtime: Runtime,
    order_id: int,
    body: OpenDispute,
    *,
    caller: MemberOut,
    conversation_id: int | None = None,
) -> DisputeOut:
    """A party opens a dispute on an order: checks the policy, captures evidence, holds the order.

    ``conversation_id`` (or ``body.conversation_id``) names the conversation the report is
    made from; the opener must take part in it, and the evidence captures it."""
    order = await orders.get_order(runtime, order_id, caller=caller)
    conversation_id = conversation_id if conversation_id is not None else body.conversation_id
    if caller.id == order.buyer_id:
        role = "buyer"
    elif caller.id == order.seller_id:
        role = "seller"
    else:
        raise Forbidden("only the buyer or the seller of an order can open a dispute on it")
    process = orders.registry(runtime).get(order.process, order.process_version)
    policy = process.disputes
    if policy is None:
        raise NotDisputable(f"orders of {process.name} cannot be disputed")
    if role not in policy.openers:
        raise Forbidden(f"on {process.name} orders only the {' or '.join(policy.openers)} can open a dispute")
    errors = []
    if body.reason not in policy.reasons:
        errors.append(FieldError("reason", f"must be one of: {', '.join(policy.reasons)}"))
    text = body.text.strip()
    if len(text) < MIN_TEXT:
        errors.append(FieldError("text", f"say what went wrong in at least {MIN_TEXT} characters"))
    if errors:
        raise ValidationFailed(errors)
    if conversation_id is not None:
        await check_conversation(runtime, conversation_id, caller)
    try:
        async with runtime.unit_of_work() as uow:
            dispute_id = await _open(
                uow, order_id, policy, role, caller.id, body.reason, text, conversation_id
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise _duplicate_error(order_id) from None
        raise
    return await get_dispute(runtime, dispute_id, caller=caller)


def _duplicate_error(order_id: int) -> Conflict:
    return AlreadyDisputed(
        f"you already opened a dispute on order {order_id}, or one is open; see GET /orders/{order_id}/disputes"
    )


async def _open(
    uow: UnitOfWork,
    order_id: int,
    policy: DisputePolicy,
    role: str,
    member_id: int,
    reason: str,
    text: str,
    conversation_id: int | None = None,
) -> int:
    row = await orders.locked_order_row(order_id)
    now = uow.now
    after = row["state"] in policy.after_states  # paid out: a refund claws back (clawback.py)
    if row["state"] not in policy.states and not after:
        message = (
            f"order {order_id} is {row['state']}; a dispute can be opened only while it is "
            f"{' or '.join((*policy.states, *policy.after_states))}"
        )
        raise NotDisputable(message, extra={"state": row["state"]})
    closes = row["state_entered_at"] + (policy.after_window if after else policy.window)
    if now > closes:
        message = f"the time to open a dispute on order {order_id} ended on {closes.isoformat()}"
        raise DisputeWindowClosed(message, extra={"closed_at": closes.isoformat()})
    existing = await Dispute.select(Dispute.opened_by, Dispute.status).where(Dispute.order_id == order_id)
    if any(d["status"] == "open" for d in existing):
        raise DisputeAlreadyOpen(f"order {order_id} already has an open dispute; an operator is on it")
    if any(d["opened_by"] == member_id for d in existing):
        raise _duplicate_error(order_id)
    evidence = await order_evidence(uow.runtime, row, conversation_id)
    rows = await Dispute.insert(
        Dispute(
            order_id=order_id,
            opened_by=member_id,
            opener_role=role,
            reason=reason,
            text=text,
            status="open",
            from_state=row["state"],
            refund_from=FROM_SELLER if after else policy.refund_from,
            currency=row["currency"],
            refunded=0,
            released=0,
            evidence=evidence,
            opened_at=now,
            due_at=now + policy.review_within,
        )
    ).returning(Dispute.id)
    dispute_id = rows[0]["id"]
    if policy.hold is not None and not after:
        await orders.move_in(
            uow,
            order_id,
            policy.hold,
            name="dispute",
            actor_role=role,
            actor_id=member_id,
            data={"dispute": dispute_id, "reason": reason},
        )
    opened = DisputeOpened(
        dispute_id=dispute_id,
        order_id=order_id,
        reason=reason,
        opener_role=role,
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
    )
    uow.record(opened, subject=f"dispute:{dispute_id}", actor_id=member_id)
    return dispute_id


# --------------------------------------------------------------------------------------
# Resolving
# --------------------------------------------------------------------------------------


def seller_share(remainder: int, quote: dict[str, Any]) -> int:
    """The seller's part of ``remainder`` released from escrow, at the order's fee rate.

    ``seller_net / buyer_total`` of the remainder, rounded half up; the platform keeps
    the rest, so the two always add up to the remainder.  The whole escrow gives exactly
    the quote's ``seller_net``.
    """
    total, net = quote["buyer_total"], quote["seller_net"]
    if total <= 0:
        return remainder
    return (2 * net * remainder + total) // (2 * total)


async def resolve_dispute(
    runtime: Runtime,
    dispute_id: int,
    body: ResolveDispute,
    *,
    caller: MemberOut,
    idempotency_key: str | None = None,
) -> tuple[DisputeOut, bool]:
    """An operator settles a dispute; returns ``(dispute, replayed)``."""
    if not is_operator(caller):
        raise Forbidden("only operators resolve disputes")
    note = body.note.strip()
    if body.outcome == "reject" and not note:
        raise ValidationFailed([FieldError("note", "say why the dispute is rejected; both parties see it")])
    if body.outcome != "refund" and body.amount is not None:
        raise ValidationFailed([FieldError("amount", "only a refund takes an amount")])
    acting = action_note(body.member_action, note) if body.member_action else ""
    async with runtime.unit_of_work() as uow:
        row = await _dispute_row(dispute_id, for_update=True)
        if row["status"] != "open":
            if idempotency_key is not None and row["resolution_key"] == idempotency_key:
                replayed = True
            else:
                message = f"dispute {dispute_id} was already resolved ({row['outcome']})"
                raise DisputeResolved(message, extra={"outcome": row["outcome"]})
        else:
            replayed = False
            await _resolve(uow, row, body, note, caller.id, idempotency_key)
            if body.member_action is not None:
                order = await orders.locked_order_row(row["order_id"])
                await apply_member_action(uow, row, order, body.member_action, acting, caller.id)
    return await get_dispute(runtime, dispute_id, caller=caller), replayed


async def _resolve(
    uow: UnitOfWork,
    dispute: dict[str, Any],
    body: ResolveDispute,
    note: str,
    operator_id: int,
    key: str | None,
) -> None:
    order = await orders.locked_order_row(dispute["order_id"])
    policy = _policy(uow.runtime, order)[1]
    assert policy is not None  # it was disputable when opened, and processes keep their versions
    after = dispute["refund_from"] == FROM_SELLER
    if after:
        refunded, released = await settle_clawback(uow, dispute, order, body)
    elif policy.refund_from == "fees":
        refunded, released = await _settle_charge(uow, dispute, order, body)
    else:
        refunded, released = await _settle_escrow(uow, dispute, order, body)
    now = uow.now
    await Dispute.update(
        {
            Dispute.status: "resolved",
            Dispute.outcome: body.outcome,
            Dispute.refunded: refunded,
            Dispute.released: released,
            Dispute.resolution_note: note or None,
            Dispute.resolved_by: operator_id,
            Dispute.resolution_key: key,
            Dispute.resolved_at: now,
        }
    ).where(Dispute.id == dispute["id"])
    if policy.hold is not None and not after:
        if order["state"] != policy.hold:
            message = f"order {order['id']} is {order['state']}, not {policy.hold}; it cannot be settled here"
            raise Conflict(message)
        target = {"refund": policy.refunded, "release": policy.released}.get(
            body.outcome, dispute["from_state"]
        )
        assert target is not None  # checked by Process
        await orders.move_in(
            uow,
            order["id"],
            target,
            name=f"dispute_{body.outcome}",
            actor_role="operator",
            actor_id=operator_id,
            data={"dispute": dispute["id"], "note": note},
        )
    resolved = DisputeResolvedEvent(
        dispute_id=dispute["id"],
        order_id=order["id"],
        outcome=body.outcome,
        refunded=refunded,
        released=released,
        currency=order["currency"],
        note=note,
        buyer_id=order["buyer_id"],
        seller_id=order["seller_id"],
    )
    uow.record(resolved, subject=f"dispute:{dispute['id']}", actor_id=operator_id)


def _refund_amount(body: ResolveDispute, refundable: int, currency: str) -> int:
    if refundable <= 0:
        raise Conflict("there is nothing left to refund on this order")
    if body.amount is None:
        return refundable
    amount = parse_amount(body.amount, currency, field="amount")
    if amount > refundable:
        problem = f"at most {format_amount(refundable, currency)} {currency} can be refunded"
        raise ValidationFailed([FieldError("amount", problem)])
    return amount


async def _settle_escrow(
    uow: UnitOfWork, dispute: dict[str, Any], order: dict[str, Any], body: ResolveDispute
) -> tuple[int, int]:
    """Refund and/or release what the order's escrow holds."""
    if body.outcome == "reject":
        return 0, 0
    currency = order["currency"]
    escrow = ledger.escrow(f"order:{order['id']}")
    held = await ledger.balance_of(escrow, currency)
    refund = _refund_amount(body, held, currency) if body.outcome == "refund" else 0
    remainder = held - refund
    refs = {"order": order["id"], "dispute": dispute["id"]}
    if refund:
        await ledger.post(
            uow,
            key=f"dispute:{dispute['id']}:refund",
            kind="dispute_refund",
            description=f"Dispute {dispute['id']} on order {order['id']}: refund to your credit",
            lines=ledger.move(escrow, ledger.credit(order["buyer_id"]), refund, currency),
            refs=refs,
            actor_id=None,
        )
    if remainder:
        if order["seller_id"] is None:
            raise Conflict(f"order {order['id']} has no seller to release money to; refund it in full")
        quote = (order["data"] or {}).get("quote") or {"buyer_total": held, "seller_net": held}
        net = seller_share(remainder, quote)
        lines = ledger.move(escrow, ledger.available(order["seller_id"]), net, currency) if net else []
        if remainder - net:
            lines += ledger.move(escrow, ledger.PLATFORM_FEES, remainder - net, currency)
        await ledger.post(
            uow,
            key=f"dispute:{dispute['id']}:release",
            kind="dispute_release",
            description=f"Dispute {dispute['id']} on order {order['id']}: payment to the seller",
            lines=lines,
            refs=refs,
            actor_id=None,
        )
    return refund, remainder


async def _settle_charge(
    uow: UnitOfWork, dispute: dict[str, Any], order: dict[str, Any], body: ResolveDispute
) -> tuple[int, int]:
    """Refund (part of) a charge the platform kept, such as a lead, from its fees."""
    if body.outcome == "release":
        raise ValidationFailed(
            [FieldError("outcome", "this dispute is about a charge: resolve it with refund or reject")]
        )
    if body.outcome == "reject":
        return 0, 0
    currency = order["currency"]
    charged = ((order["data"] or {}).get("quote") or {}).get("buyer_total", order["amount"])
    earlier = await Dispute.select(Dispute.refunded).where(
        (Dispute.order_id == order["id"]) & (Dispute.status == "resolved")
    )
    refund = _refund_amount(body, charged - sum(d["refunded"] for d in earlier), currency)
    await ledger.post(
        uow,
        key=f"dispute:{dispute['id']}:refund",
        kind="dispute_refund",
        description=f"Report {dispute['id']} on order {order['id']}: charge refunded to your credit",
        lines=ledger.move(ledger.PLATFORM_FEES, ledger.credit(order["buyer_id"]), refund, currency),
        refs={"order": order["id"], "dispute": dispute["id"]},
        actor_id=None,
    )
    return refund, 0
