"""Tasks: a worker takes a position, submits proof, the employer rates it.

Each task is an order of the ``microjob_task`` process (``microjob_click`` for a
paid-to-click visit) between the employer (buyer) and the worker (seller), plus a
:class:`Task` row.  Taking a position moves ``per_position`` from the campaign's escrow
into the order's; the order's release pays the worker and the site's fees; a freed
position moves the money back (or, for a closed campaign, to the employer's wallet).
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from agorakit import orders
from agorakit.accounts import MemberOut, get_member, is_operator
from agorakit.catalog import NotEligible, check_can_take, get_listing, listing_texts, move_listing
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.money import money, move_escrow, return_escrow
from agorakit.orders import ItemIn, SubmitProof
from agorakit.plugins.microjobs.campaigns import (
    CLOSED,
    agreed_quote,
    escrow_ref,
    locked_campaign,
    per_position,
    settings_of,
)
from agorakit.plugins.microjobs.eligibility import checked_listings, eligibility_reason
from agorakit.plugins.microjobs.events import CampaignFinished, TaskEnded, TaskRated, TaskTaken
from agorakit.plugins.microjobs.process import CLICK, FREED, PAID, TASK
from agorakit.plugins.microjobs.schemas import RateTask, SubmitTaskProof, TaskOut
from agorakit.plugins.microjobs.tables import Campaign, Task

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.orders import TransitionContext
    from agorakit.runtime import Runtime, UnitOfWork

#: set while this plugin submits a task's proof (the core's proof route is refused)
_submitting: ContextVar[bool] = ContextVar("microjobs_submitting", default=False)


#: how a task that ended unpaid ended, by its final state
_ENDED: dict[str, Literal["expired", "abandoned", "given_up", "lapsed"]] = {
    "expired": "expired",
    "abandoned": "abandoned",
    "given_up": "given_up",
    "lapsed": "lapsed",
}


class NoFreePosition(Conflict):
    code = "no_free_position"
    title = "Every position of the campaign is taken"


class AlreadyTaken(Conflict):
    code = "already_taken"
    title = "You already took this job"


class CampaignNotOpen(Conflict):
    code = "campaign_not_open"
    title = "The campaign takes no workers now"


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def task_by_order(order_id: int) -> dict[str, Any] | None:
    return await Task.select().where(Task.order_id == order_id).first()


async def to_tasks(runtime: Runtime, rows: list[dict[str, Any]]) -> list[TaskOut]:
    """Tasks as the API shows them: their campaign's title, reward and deadline."""
    if not rows:
        return []
    campaign_ids = sorted({row["campaign_id"] for row in rows})
    campaigns = {c["id"]: c for c in await Campaign.select().where(Campaign.id.is_in(campaign_ids))}
    titles = {
        t["id"]: t["title"]
        for t in await listing_texts(runtime, [c["listing_id"] for c in campaigns.values()])
    }
    out = []
    for row in rows:
        campaign = campaigns[row["campaign_id"]]
        out.append(
            TaskOut(
                id=row["id"],
                order_id=row["order_id"],
                campaign_id=row["campaign_id"],
                campaign_title=titles.get(campaign["listing_id"], ""),
                worker_id=row["worker_id"],
                employer_id=campaign["employer_id"],
                ptc=row["ptc"],
                status=row["status"],
                answers=_decoded(row["answers"]),
                corrections=row["corrections"],
                reason=row["reason"],
                feedback=row["feedback"],
                auto=row["auto"],
                earns=money(campaign["reward"] - campaign["worker_fee"], campaign["currency"]),
                due_at=_due(row, campaign, settings_of(runtime).correction_hours),
                visited_at=row["visited_at"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                rated_at=row["rated_at"],
            )
        )
    return out


def _decoded(answers: Any) -> dict[str, Any]:
    """A JSON column's value as stored: the drivers give text back."""
    if isinstance(answers, str | bytes):
        answers = json.loads(answers)
    return answers or {}


def _due(row: dict[str, Any], campaign: dict[str, Any], correction_hours: int) -> datetime | None:
    """When the worker must act: submit a taken task, resubmit a correction."""
    if row["status"] == "taken":
        return row["created_at"] + timedelta(minutes=campaign["submit_minutes"])
    if row["status"] == "correcting" and row["rated_at"] is not None:
        return row["rated_at"] + timedelta(hours=correction_hours)
    return None


async def get_task(runtime: Runtime, order_id: int, *, caller: MemberOut) -> TaskOut:
    """A task for its worker, its employer or an operator; a 404 for anyone else."""
    row = await task_by_order(order_id)
    if row is not None:
        [task] = await to_tasks(runtime, [row])
        if caller.id in (task.worker_id, task.employer_id) or is_operator(caller):
            return task
    raise NotFound(f"there is no task {order_id}")


# --------------------------------------------------------------------------------------
# Taking a position
# --------------------------------------------------------------------------------------


async def open_campaign_for(runtime: Runtime, campaign_id: int, member: MemberOut) -> tuple[dict, Any]:
    """The campaign and its listing if ``member`` may do it now: 404 for an unknown or
    unpublished campaign, 403 ``not_eligible`` with the reason (the plugin's own rules
    first, then other plugins' ``agorakit_can_take`` vetoes), 409 when it is not open."""
    row = await Campaign.select().where(Campaign.id == campaign_id).first()
    if row is None or row["state"] in ("awaiting_funds", "pending_review", "rejected"):
        raise NotFound(f"there is no job {campaign_id}")
    reason = await eligibility_reason(runtime, row, member)
    if reason:
        raise NotEligible(reason, extra={"reasons": [reason]})
    if row["state"] != "active":
        raise CampaignNotOpen(f"job {campaign_id} is {row['state']}; it takes no workers now")
    listing = await get_listing(row["listing_id"], viewer=member)  # eligibility: just above and below
    token = checked_listings.set(checked_listings.get() | {listing.id})
    try:
        await check_can_take(runtime, listing, member)  # other plugins' vetoes
    finally:
        checked_listings.reset(token)
    return row, listing


async def take_task(runtime: Runtime, campaign_id: int, *, worker: MemberOut, ptc: bool = False) -> int:
    """Take a position: one transaction moves ``per_position`` into the new task's escrow.

    Exactly one task per worker and campaign, ever; never more taken than positions,
    whatever the concurrency (a conditional update of the campaign's counter).  Returns
    the task's order id.
    """
    row, listing = await open_campaign_for(runtime, campaign_id, worker)
    if (row["mode"] == "ptc") != ptc:
        if ptc:
            raise Conflict(
                f"job {campaign_id} takes proof; take it with POST /microjobs/jobs/{campaign_id}/take"
            )
        raise Conflict(
            f"job {campaign_id} is paid to click; open it with POST /microjobs/jobs/{campaign_id}/visit"
        )
    first = await Task.select(Task.order_id).where(
        (Task.campaign_id == campaign_id) & (Task.worker_id == worker.id)
    )
    if first:
        raise AlreadyTaken(
            f"you already took job {campaign_id} (task {first[0]['order_id']}); a job is done once"
        )
    if row["taken"] >= row["positions"]:
        raise NoFreePosition(f"all {row['positions']} positions of job {campaign_id} are taken")
    attributes = listing.attributes or {}
    try:
        async with runtime.unit_of_work() as uow:
            data: dict[str, Any] = {
                "campaign_id": campaign_id,
                "instructions": attributes.get("instructions", []),
            }
            if ptc:
                data["url"] = row["ptc_url"]
            else:
                data["proof_fields"] = attributes.get("proof", [])
                data["submit_seconds"] = row["submit_minutes"] * 60
            order = await orders.create_order(
                runtime,
                process=CLICK if ptc else TASK,
                buyer_id=row["employer_id"],
                seller_id=worker.id,
                listing_id=row["listing_id"],
                currency=row["currency"],
                items=[
                    ItemIn(kind="task", description=listing.title[:200], unit_price=row["reward"], quantity=1)
                ],
                data=data,
                uow=uow,
                agreed_quote=agreed_quote(row),
                actor_id=worker.id,
            )
            await Task.insert(
                Task(
                    campaign_id=campaign_id,
                    worker_id=worker.id,
                    order_id=order.id,
                    ptc=ptc,
                    status="visited" if ptc else "taken",
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            )
            # The campaign's counter and escrow are the rows every take shares: they are
            # written last, so a take holds their locks only for the end of its transaction.
            taken = (
                await Campaign.update({Campaign.taken: Campaign.taken + 1, Campaign.updated_at: uow.now})
                .where(
                    (Campaign.id == campaign_id)
                    & (Campaign.state == "active")
                    & (Campaign.taken < Campaign.positions)
                )
                .returning(Campaign.id)
            )
            if not taken:
                current = (
                    await Campaign.select(Campaign.state, Campaign.positions)
                    .where(Campaign.id == campaign_id)
                    .first()
                )
                if current is not None and current["state"] != "active":
                    raise CampaignNotOpen(f"job {campaign_id} is {current['state']}; it takes no workers now")
                raise NoFreePosition(
                    f"all {current['positions'] if current else 0} positions of job {campaign_id} are taken"
                )
            await move_escrow(
                uow,
                key=f"order:{order.id}:fund",
                source_ref=escrow_ref(campaign_id),
                target_ref=f"order:{order.id}",
                amount=per_position(row),
                currency=row["currency"],
                description=f"Campaign {campaign_id}: position taken (task {order.id})",
                refs={"campaign": campaign_id, "order": order.id},
                actor_id=worker.id,
            )
            uow.record(
                TaskTaken(
                    campaign_id=campaign_id,
                    order_id=order.id,
                    worker_id=worker.id,
                    employer_id=row["employer_id"],
                    ptc=ptc,
                ),
                subject=f"order:{order.id}",
                actor_id=worker.id,
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise AlreadyTaken(f"you already took job {campaign_id}; a job is done once") from None
        raise
    return order.id


# --------------------------------------------------------------------------------------
# Proof
# --------------------------------------------------------------------------------------


def _proof_of(fields: list[dict[str, Any]], cmd: SubmitTaskProof) -> tuple[dict[str, Any], SubmitProof]:
    """The answers by field name and the core proof they make, or every field error."""
    by_name = {field["name"]: field for field in fields}
    errors: list[FieldError] = []
    answers: dict[str, Any] = {}
    lines: list[str] = []
    urls: list[str] = []
    files: list[int] = []
    for index, answer in enumerate(cmd.answers):
        field = by_name.get(answer.field)
        where = f"answers[{index}]"
        if field is None:
            names = ", ".join(by_name) or "none"
            errors.append(
                FieldError(f"{where}.field", f"this job asks for no {answer.field!r}; it asks for {names}")
            )
            continue
        if answer.field in answers:
            errors.append(FieldError(f"{where}.field", "each field is answered once"))
            continue
        value = answer.value.strip()
        if field["type"] == "file":
            if answer.value:
                errors.append(FieldError(f"{where}.value", "a file field takes attachments, not a value"))
            answers[answer.field] = list(dict.fromkeys(answer.attachments))
            files += answers[answer.field]
            continue
        if answer.attachments:
            errors.append(
                FieldError(f"{where}.attachments", f"{answer.field!r} takes a {field['type']}, not files")
            )
        if field["type"] == "url" and value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                errors.append(FieldError(f"{where}.value", "an http or https address"))
            urls.append(value)
        answers[answer.field] = value
        if value:
            lines.append(f"{field['label']}: {value}")
    for name, field in by_name.items():
        if field.get("required", True) and not answers.get(name):
            errors.append(FieldError("answers", f"{field['label']!r} ({name}) is required"))
    if errors:
        raise ValidationFailed(errors)
    return answers, SubmitProof(text="\n".join(lines), urls=urls, attachments=files)


async def submit_task_proof(
    runtime: Runtime, order_id: int, cmd: SubmitTaskProof, *, caller: MemberOut
) -> TaskOut:
    """The worker submits (or, after a correction request, resubmits) proof."""
    row = await task_by_order(order_id)
    if row is None or row["ptc"]:
        raise NotFound(f"there is no task {order_id}")
    order = await orders.get_order(runtime, order_id, caller=caller)  # 404 for strangers
    if caller.id != row["worker_id"]:
        raise Forbidden("only the worker who took the task submits its proof")
    if order.state not in ("taken", "correcting"):
        raise Conflict(
            f"task {order_id} is {order.state}; proof is submitted while it is taken or in correction"
        )
    answers, proof = _proof_of(order.data.get("proof_fields", []), cmd)
    campaign = await Campaign.select().where(Campaign.id == row["campaign_id"]).first()
    if campaign is not None and (reason := await eligibility_reason(runtime, campaign, caller)):
        raise NotEligible(reason, extra={"reasons": [reason]})  # e.g. removed from the hired group
    token = _submitting.set(True)
    try:
        async with runtime.unit_of_work() as uow:
            await Task.update({Task.answers: answers, Task.updated_at: uow.now}).where(
                Task.order_id == order_id
            )
            await orders.submit_proof(runtime, order_id, proof, caller=caller, order=order)
    finally:
        _submitting.reset(token)
    return await get_task(runtime, order_id, caller=caller)


def check_core_proof(order: Any) -> list[FieldError]:
    """``agorakit_validate_proof``: a task's proof goes through the plugin's route, which
    checks its answers against the campaign's proof fields."""
    if order.process == TASK and not _submitting.get():
        message = f"submit the proof of a task with POST /microjobs/tasks/{order.id}/proof (its answers)"
        return [FieldError("text", message)]
    return []


async def rate_task(runtime: Runtime, order_id: int, cmd: RateTask, *, caller: MemberOut) -> TaskOut:
    """The employer rates a proof: satisfied (paid at once), not satisfied the first time
    (one correction chance, with a reason), not satisfied after a correction (paid
    anyway, and the worker cannot take the campaign again)."""
    row = await task_by_order(order_id)
    if row is None or row["ptc"]:
        raise NotFound(f"there is no task {order_id}")
    order = await orders.get_order(runtime, order_id, caller=caller)
    if caller.id != order.buyer_id:
        raise Forbidden("only the employer rates the proof")
    if order.state != "submitted":
        raise Conflict(f"task {order_id} is {order.state}; only a submitted proof is rated")
    reason = " ".join(cmd.reason.split())
    feedback = " ".join(cmd.feedback.split())
    if not cmd.satisfied and len(reason) < 5:
        raise ValidationFailed([FieldError("reason", "say what is wrong, so the worker can act on it")])
    proof_id = await orders.submitted_proof_id(order_id)
    if proof_id is None:
        raise Conflict(f"task {order_id} has no proof waiting")
    if cmd.satisfied:
        decision, outcome = "accept", "satisfied"
    elif row["corrections"] == 0:
        decision, outcome = "request_correction", "correction"
    else:
        decision, outcome = "reject", "unsatisfied"
    async with runtime.unit_of_work() as uow:
        await Task.update(
            {
                Task.reason: reason or None,
                Task.feedback: feedback or None,
                Task.rated_at: uow.now,
                Task.updated_at: uow.now,
            }
        ).where(Task.order_id == order_id)
        await orders.review_proof(
            runtime, order_id, proof_id, decision=decision, reason=reason, caller=caller
        )
        uow.record(
            TaskRated(
                campaign_id=row["campaign_id"],
                order_id=order_id,
                worker_id=row["worker_id"],
                employer_id=caller.id,
                outcome=outcome,
                reason=reason,
                feedback=feedback,
            ),
            subject=f"order:{order_id}",
            actor_id=caller.id,
        )
    return await get_task(runtime, order_id, caller=caller)


async def give_up(runtime: Runtime, order_id: int, *, caller: MemberOut) -> TaskOut:
    row = await task_by_order(order_id)
    if row is None or row["ptc"]:
        raise NotFound(f"there is no task {order_id}")
    await orders.fire(runtime, order_id, "give_up", caller=caller)
    return await get_task(runtime, order_id, caller=caller)


# --------------------------------------------------------------------------------------
# Guards and effects of the processes
# --------------------------------------------------------------------------------------


async def proof_waiting(ctx: TransitionContext) -> str | None:
    if await orders.has_submitted_proof(ctx.order.id):
        return None
    return f"submit proof with POST /microjobs/tasks/{ctx.order.id}/proof"


async def first_rating(ctx: TransitionContext) -> str | None:
    row = await task_by_order(ctx.order.id)
    if row is not None and row["corrections"] > 0:
        return "the worker already had their correction; rate the proof satisfied or not satisfied"
    return None


async def was_corrected(ctx: TransitionContext) -> str | None:
    row = await task_by_order(ctx.order.id)
    if row is None or row["corrections"] == 0:
        return (
            "the first time you are not satisfied the worker gets one chance to correct: ask for a correction"
        )
    return None


async def visit_long_enough(ctx: TransitionContext) -> str | None:
    """``confirm`` of a paid-to-click visit: the worker opened the page at least
    ``ptc_min_seconds`` ago."""
    row = await task_by_order(ctx.order.id)
    visited = row["visited_at"] if row is not None else None
    if visited is None:
        return "open the employer's page first (the visit's go_url), then confirm"
    least = settings_of(ctx.runtime).ptc_min_seconds
    waited = (ctx.uow.now - visited).total_seconds()
    if waited < least:
        return f"stay on the page at least {least} seconds before confirming ({least - int(waited)} to go)"
    return None


async def accept_proofs_many(contexts: list[TransitionContext]) -> None:
    if contexts:
        await orders.accept_submitted_proofs_many(contexts[0].uow, [(ctx.order.id, None) for ctx in contexts])


@orders.set_form(accept_proofs_many)
async def accept_proofs(ctx: TransitionContext) -> None:
    """``auto_satisfy``: the waiting proof counts as accepted by the site."""
    await accept_proofs_many([ctx])


async def task_moved_many(contexts: list[TransitionContext]) -> None:
    """Keep the tasks and their campaigns in step with a set of orders that moved (one
    transition): the task's status, the campaign's counters, the money of a freed
    position, and a campaign whose positions are all done finishes."""
    if not contexts:
        return
    uow = contexts[0].uow
    target = contexts[0].transition.target
    name = contexts[0].transition.name
    ids = [ctx.order.id for ctx in contexts]
    changes: dict[Any, Any] = {Task.status: target, Task.updated_at: uow.now}
    if name == "request_correction":
        changes[Task.corrections] = Task.corrections + 1
    if name == "auto_satisfy":
        changes.update({Task.auto: True, Task.rated_at: uow.now})
    await Task.update(changes).where(Task.order_id.is_in(ids))
    if target not in FREED and target not in PAID:
        return
    by_campaign: dict[int, list[TransitionContext]] = {}
    for ctx in contexts:
        by_campaign.setdefault(int(ctx.order.data["campaign_id"]), []).append(ctx)
    for campaign_id in sorted(by_campaign):
        await _settle_positions(uow, campaign_id, by_campaign[campaign_id], target, name)


async def _settle_positions(
    uow: UnitOfWork, campaign_id: int, contexts: list[TransitionContext], target: str, name: str
) -> None:
    row = await locked_campaign(uow, campaign_id)
    assert row is not None  # a task's campaign is never deleted
    count = len(contexts)
    if target in FREED:
        closed = row["state"] in CLOSED
        for ctx in contexts:
            order_id = ctx.order.id
            description = f"Campaign {campaign_id}: task {order_id} ended unpaid"
            if closed:
                await return_escrow(
                    uow,
                    key=f"order:{order_id}:return",
                    ref=f"order:{order_id}",
                    member_id=row["employer_id"],
                    amount=per_position(row),
                    currency=row["currency"],
                    description=f"{description}; the campaign is {row['state']}: back to your wallet",
                    refs={"campaign": campaign_id, "order": order_id},
                )
            else:
                await move_escrow(
                    uow,
                    key=f"order:{order_id}:return",
                    source_ref=f"order:{order_id}",
                    target_ref=escrow_ref(campaign_id),
                    amount=per_position(row),
                    currency=row["currency"],
                    description=f"{description}: the position is free again",
                    refs={"campaign": campaign_id, "order": order_id},
                )
            outcome = _ENDED[target]
            uow.record(
                TaskEnded(
                    campaign_id=campaign_id,
                    order_id=order_id,
                    worker_id=ctx.order.seller_id or 0,
                    employer_id=row["employer_id"],
                    outcome=outcome,
                ),
                subject=f"order:{order_id}",
                actor_id=ctx.actor_id,
            )
        changes: dict[Any, Any] = {Campaign.taken: Campaign.taken - count}
        if closed:
            changes[Campaign.positions] = Campaign.positions - count
        await Campaign.update(changes).where(Campaign.id == campaign_id)
        return
    if name == "auto_satisfy":
        for ctx in contexts:
            uow.record(
                TaskRated(
                    campaign_id=campaign_id,
                    order_id=ctx.order.id,
                    worker_id=ctx.order.seller_id or 0,
                    employer_id=row["employer_id"],
                    outcome="auto_satisfied",
                ),
                subject=f"order:{ctx.order.id}",
            )
    await count_done(uow, row, count)


async def count_done(uow: UnitOfWork, row: dict[str, Any], count: int) -> None:
    """``count`` more tasks of the campaign are done; the campaign finishes when every
    position is done."""
    done = row["done"] + count
    await Campaign.update({Campaign.done: done}).where(Campaign.id == row["id"])
    if done >= row["positions"] and row["positions"] > 0 and row["state"] not in CLOSED:
        await Campaign.update({Campaign.state: "finished", Campaign.stopped_at: uow.now}).where(
            Campaign.id == row["id"]
        )
        employer = await get_member(uow.runtime, row["employer_id"])
        await move_listing(uow.runtime, row["listing_id"], "close", actor=employer)
        uow.record(
            CampaignFinished(
                campaign_id=row["id"], employer_id=row["employer_id"], positions=row["positions"]
            ),
            subject=f"campaign:{row['id']}",
        )


@orders.set_form(task_moved_many)
async def task_moved(ctx: TransitionContext) -> None:
    await task_moved_many([ctx])
