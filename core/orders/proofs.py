"""Proofs of work: the seller submits one, the buyer accepts it, rejects it or asks for a
correction; each step can fire a transition of the order's process (``on_proof``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.attachments import check_attachments
from agorakit.db.prepared import Prepared, PreparedRaw, any_of
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.orders.engine import fire_in
from agorakit.orders.events import ProofAccepted, ProofCorrectionRequested, ProofRejected, ProofSubmitted
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import get_order
from agorakit.orders.schemas import OrderOut, ProofOut, SubmitProof
from agorakit.orders.tables import Proof
from agorakit.runtime import current_unit_of_work

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork

#: the event of each review outcome
_REVIEWED = {
    "accepted": ProofAccepted,
    "rejected": ProofRejected,
    "correction_requested": ProofCorrectionRequested,
}


def _to_proof(row: dict[str, Any]) -> ProofOut:
    return ProofOut(
        id=row["id"],
        order_id=row["order"],
        submitted_by=row["submitted_by"],
        text=row["text"],
        urls=row["urls"] or [],
        attachments=row["attachments"] or [],
        status=row["status"],
        review_reason=row["review_reason"],
        reviewed_by=row["reviewed_by"],
        reviewed_at=row["reviewed_at"],
        created_at=row["created_at"],
    )


_WAITING_PROOF = Prepared(
    lambda order: Proof.select(Proof.id).where((Proof.order == order) & (Proof.status == "submitted")).first()
)
#: a proof, unless one of the order's waits for review (the order's row is locked first)
_INSERT_UNLESS_WAITING = PreparedRaw(
    Proof,
    'INSERT INTO core_proof ("order", submitted_by, text, urls, attachments, status, created_at) '
    "SELECT {}, {}, {}, {}, {}, 'submitted', {} WHERE NOT EXISTS "
    "(SELECT 1 FROM core_proof WHERE \"order\" = {} AND status = 'submitted') RETURNING id",
)


async def submit_proof(
    runtime: Runtime, order_id: int, proof: SubmitProof, *, caller: MemberOut, order: OrderOut | None = None
) -> ProofOut:
    """The seller (worker) submits evidence of the work; checked by ``agorakit_validate_proof``.

    ``order``: the order as :func:`get_order` just gave it to ``caller`` (saves reading
    it again); the transition the proof fires reads it again with its lock anyway.
    """
    if order is None or order.id != order_id:
        order = await get_order(runtime, order_id, caller=caller)
    async with runtime.unit_of_work() as uow:
        return await submit_proof_in(uow, order, proof, caller=caller)


async def submit_proof_in(
    uow: UnitOfWork, order: OrderOut, proof: SubmitProof, *, caller: MemberOut
) -> ProofOut:
    """:func:`submit_proof` inside ``uow``, for ``order`` as its caller read it: the
    proof is written unless one waits for review (one statement checks and inserts), and
    fires the transition of the order's process it stands for."""
    runtime = uow.runtime
    if caller.id != order.seller_id:
        raise Forbidden("only the seller of the order submits proofs")
    if not (proof.text.strip() or proof.urls or proof.attachments):
        raise ValidationFailed([FieldError("text", "a proof needs text, URLs or attachments")])
    problems = await runtime.hooks.collect("agorakit_validate_proof", order=order, proof=proof)
    if problems:
        raise ValidationFailed(problems)
    if proof.attachments:
        await check_attachments(list(proof.attachments), scope=f"order:{order.id}", member_id=caller.id)
    row = {
        "order": order.id,
        "submitted_by": caller.id,
        "text": proof.text.strip(),
        "urls": list(proof.urls),
        "attachments": list(dict.fromkeys(proof.attachments)),
        "status": "submitted",
        "review_reason": None,
        "reviewed_by": None,
        "reviewed_at": None,
        "created_at": uow.now,
    }
    inserted = await _INSERT_UNLESS_WAITING.run(
        order.id,
        row["submitted_by"],
        row["text"],
        msgspec.json.encode(row["urls"]).decode(),
        msgspec.json.encode(row["attachments"]).decode(),
        row["created_at"],
        order.id,
    )
    if not inserted:
        raise Conflict("a proof of this order is waiting for review; wait for the review first")
    proof_id = inserted[0]["id"]
    row["id"] = proof_id
    uow.hold("order_submitted_proof", order.id, proof_id)  # what the transition's guard asks
    await _proof_transition(uow, order, "submitted", caller, proof_id)
    uow.record(
        ProofSubmitted(order_id=order.id, proof_id=proof_id, process=order.process),
        subject=f"order:{order.id}",
        actor_id=caller.id,
    )
    return _to_proof(row)


async def review_proof(
    runtime: Runtime, order_id: int, proof_id: int, *, decision: str, reason: str, caller: MemberOut
) -> ProofOut:
    """The buyer accepts a proof, rejects it, or asks for a correction (with a reason)."""
    order = await get_order(runtime, order_id, caller=caller)
    if caller.id != order.buyer_id:
        raise Forbidden("only the buyer of the order reviews its proofs")
    reason = " ".join(reason.split())
    if decision != "accept" and not reason:
        raise ValidationFailed([FieldError("reason", "say why, so the seller can act on it")])
    status = {"accept": "accepted", "reject": "rejected", "request_correction": "correction_requested"}[
        decision
    ]
    async with runtime.unit_of_work() as uow:
        updated = (
            await Proof.update(
                {
                    Proof.status: status,
                    Proof.review_reason: reason or None,
                    Proof.reviewed_by: caller.id,
                    Proof.reviewed_at: uow.now,
                }
            )
            .where((Proof.id == proof_id) & (Proof.order == order_id) & (Proof.status == "submitted"))
            .returning(Proof.id)
        )
        if not updated:
            current = (
                await Proof.select(Proof.status)
                .where((Proof.id == proof_id) & (Proof.order == order_id))
                .first()
            )
            if current is None:
                raise NotFound(f"order {order_id} has no proof {proof_id}")
            raise Conflict(f"proof {proof_id} is already {current['status']}")
        await _proof_transition(uow, order, status, caller, proof_id)
        uow.record(
            _REVIEWED[status](order_id=order_id, proof_id=proof_id, process=order.process),
            subject=f"order:{order_id}",
            actor_id=caller.id,
        )
    return await _proof(order_id, proof_id)  # the caller was checked above


async def _proof_transition(
    uow: UnitOfWork, order: OrderOut, event: str, caller: MemberOut, proof_id: int
) -> None:
    process = registry(uow.runtime).get(order.process, order.process_version)
    name = process.on_proof.get(event)
    if name:
        await fire_in(uow, order.id, name, caller=caller, data={"proof": proof_id})


async def get_proof(runtime: Runtime, order_id: int, proof_id: int, *, caller: MemberOut) -> ProofOut:
    await get_order(runtime, order_id, caller=caller)
    return await _proof(order_id, proof_id)


_PROOF = Prepared(
    lambda order, id: (
        Proof.select().where((Proof.id == id) & (Proof.order == order)).first().output(load_json=True)
    )
)


async def _proof(order_id: int, proof_id: int) -> ProofOut:
    row = await _PROOF.run(order_id, proof_id)
    if row is None:
        raise NotFound(f"order {order_id} has no proof {proof_id}")
    return _to_proof(row)


async def list_proofs(runtime: Runtime, order_id: int, *, caller: MemberOut) -> list[ProofOut]:
    await get_order(runtime, order_id, caller=caller)
    rows = await Proof.select().where(Proof.order == order_id).order_by(Proof.id).output(load_json=True)
    return [_to_proof(r) for r in rows]


_ACCEPT_SUBMITTED = Prepared(
    lambda reviewed_by, at, orders: Proof.update(
        {Proof.status: "accepted", Proof.reviewed_by: reviewed_by, Proof.reviewed_at: at}
    ).where(any_of(Proof.order, orders) & (Proof.status == "submitted"))
)


async def accept_submitted_proofs_many(uow: UnitOfWork, accepted: list[tuple[int, int | None]]) -> None:
    """:func:`accept_submitted_proofs` for several orders, given as ``(order_id,
    reviewer_id)`` pairs: one update per reviewer (a timer's completions are all the
    system's, reviewer None)."""
    by_reviewer: dict[int | None, list[int]] = {}
    for order_id, reviewer_id in accepted:
        by_reviewer.setdefault(reviewer_id, []).append(order_id)
    for reviewer_id, order_ids in by_reviewer.items():
        await _ACCEPT_SUBMITTED.run(reviewer_id, uow.now, order_ids)


async def accept_submitted_proofs(uow: UnitOfWork, order_id: int, *, reviewer_id: int | None) -> None:
    """Mark the order's proofs waiting for review accepted by ``reviewer_id`` (None: the
    site, e.g. a timer's completion), inside ``uow``; no event is recorded (the order's
    transition that accepts them tells the parties)."""
    await accept_submitted_proofs_many(uow, [(order_id, reviewer_id)])


async def has_submitted_proof(order_id: int) -> bool:
    """Whether a proof of the order waits for review (one the current transaction
    submitted, without reading it)."""
    uow = current_unit_of_work()
    if uow is not None and uow.held("order_submitted_proof", order_id) is not None:
        return True
    return await _WAITING_PROOF.run(order_id) is not None


async def submitted_proof_id(order_id: int) -> int | None:
    """The id of the order's proof waiting for review, if any (one waits at a time)."""
    row = await _WAITING_PROOF.run(order_id)
    return row["id"] if row is not None else None
