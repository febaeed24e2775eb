"""The microjobs task flow: take a position, submit proof, rate it satisfied.

The same rows as the app (the campaign's counters, the task, its order with item,
history and timers, the proof, the ledger postings ``order:{id}:fund`` and
``order:{id}:release``, the domain events, the notices and the order conversation's
system messages), in one transaction per request: the position is taken by one
conditional ``UPDATE`` of the campaign's counter, the task, its order and campaign are
read together (locked on PostgreSQL where they move).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, post
from litestar.params import FromPath, JSONBody

from bench.floor import driver, ledger
from bench.floor.driver import insert
from bench.floor.effects import member_of, notify, store_events, system_message
from bench.floor.orders import enter, set_timer
from bench.floor.schemas import Money, Problem, dumps, loads, money

PROCESS = "microjob_task"
AUTO_SATISFY = timedelta(days=7)


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    field: str
    value: str = ""
    attachments: list[int] = []


class SubmitTaskProof(msgspec.Struct, forbid_unknown_fields=True):
    answers: list[Answer]


class RateTask(msgspec.Struct, forbid_unknown_fields=True):
    satisfied: bool
    reason: str = ""
    feedback: str = ""


class TaskOut(msgspec.Struct):
    id: int
    order_id: int
    campaign_id: int
    campaign_title: str
    worker_id: int
    employer_id: int
    ptc: bool
    status: str
    answers: dict[str, Any]
    corrections: int
    reason: str | None
    feedback: str | None
    auto: bool
    earns: Money
    due_at: Any
    visited_at: Any
    created_at: Any
    updated_at: Any
    rated_at: Any


#: a task with its order, campaign and title, locked where it moves
TASK = (
    "SELECT o.*, t.id AS task_id, t.campaign_id, t.worker_id, t.ptc, t.corrections, t.answers, "
    "t.created_at AS task_created_at, c.employer_id, c.reward, c.worker_fee, c.employer_fee, c.currency AS "
    "campaign_currency, c.listing_id AS campaign_listing, l.title, "
    "(SELECT p.id FROM core_proof p WHERE p.\"order\" = o.id AND p.status = 'submitted' ORDER BY p.id DESC "
    "LIMIT 1) AS proof_id FROM core_order o JOIN microjobs_task t ON t.order_id = o.id "
    "JOIN microjobs_campaign c ON c.id = t.campaign_id JOIN core_listing l ON l.id = c.listing_id "
    "WHERE o.id = $1 FOR UPDATE OF o"
)


def task_out(row: Any, status: str, answers: Any, now: datetime, **changes: Any) -> TaskOut:
    out = TaskOut(
        id=row["task_id"],
        order_id=row["id"],
        campaign_id=row["campaign_id"],
        campaign_title=row["title"],
        worker_id=row["worker_id"],
        employer_id=row["employer_id"],
        ptc=False,
        status=status,
        answers=loads(answers) or {},
        corrections=row["corrections"],
        reason=None,
        feedback=None,
        auto=False,
        earns=money(row["reward"] - row["worker_fee"], row["campaign_currency"]),
        due_at=None,
        visited_at=None,
        created_at=row["task_created_at"],
        updated_at=now,
        rated_at=None,
    )
    return msgspec.structs.replace(out, **changes) if changes else out


def transitioned(row: Any, name: str, target: str, role: str, actor: int) -> tuple:
    data = {"order_id": row["id"], "process": PROCESS, "transition": name, "from_state": row["state"]}
    return (
        "order.transitioned",
        f"order:{row['id']}",
        actor,
        data | {"to_state": target, "actor_role": role},
    )


async def task_of(s: Any, order_id: int) -> Any:
    row = await s.row(TASK, order_id)
    if row is None or row["ptc"]:
        raise Problem(404, "not_found", f"there is no task {order_id}")
    return row


@post("/microjobs/jobs/{campaign_id:int}/take", status_code=201)
async def take(request: Request, campaign_id: FromPath[int]) -> TaskOut:
    now = datetime.now(UTC)
    async with driver.db.transaction() as s:
        worker = await member_of(request, s)
        campaign = await s.row(
            "UPDATE microjobs_campaign SET taken = taken + 1, updated_at = $1 WHERE id = $2 AND state = 'active' "
            "AND taken < positions AND employer_id <> $3 RETURNING *",
            now,
            campaign_id,
            worker["id"],
        )
        if campaign is None:  # the failure path only: which refusal
            found = await s.row(
                "SELECT state, employer_id FROM microjobs_campaign WHERE id = $1", campaign_id
            )
            if found is None:
                raise Problem(404, "not_found", f"there is no job {campaign_id}")
            if found["employer_id"] == worker["id"]:
                raise Problem(403, "not_eligible", "this is your own campaign")
            if found["state"] != "active":
                raise Problem(409, "campaign_not_open", f"job {campaign_id} is {found['state']}")
            raise Problem(409, "no_free_position", f"all positions of job {campaign_id} are taken")
        listing = await s.row(
            "SELECT title, attributes FROM core_listing WHERE id = $1", campaign["listing_id"]
        )
        attributes = loads(listing["attributes"]) or {}
        per = campaign["reward"] + campaign["employer_fee"]
        lines = [
            {
                "payer": "buyer",
                "amount": campaign["employer_fee"],
                "label": "Site fee",
                "code": "campaign_fee",
            }
        ]
        data = {
            "campaign_id": campaign_id,
            "instructions": attributes.get("instructions", []),
            "proof_fields": attributes.get("proof", []),
            "submit_seconds": campaign["submit_minutes"] * 60,
            "quote": {
                "buyer_total": per,
                "seller_net": campaign["reward"] - campaign["worker_fee"],
                "platform_total": campaign["employer_fee"] + campaign["worker_fee"],
                "lines": lines,
            },
        }
        order = await insert(
            s,
            "core_order",
            {
                "process": PROCESS,
                "process_version": 1,
                "state": "taken",
                "version": 1,
                "buyer_id": campaign["employer_id"],
                "seller_id": worker["id"],
                "listing_id": campaign["listing_id"],
                "currency": campaign["currency"],
                "amount": campaign["reward"],
                "data": dumps(data),
                "state_entered_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        order_id = order["id"]
        await insert(
            s,
            "core_order_item",
            {
                "order": order_id,
                "position": 1,
                "kind": "task",
                "description": listing["title"][:200],
                "unit_price": campaign["reward"],
                "quantity": 1,
                "amount": campaign["reward"],
            },
        )
        await insert(
            s,
            "core_order_event",
            {
                "order": order_id,
                "seq": 1,
                "transition": "create",
                "from_state": None,
                "to_state": "taken",
                "actor_role": "buyer",
                "actor_id": campaign["employer_id"],
                "data": "{}",
                "at": now,
            },
        )
        due = now + timedelta(minutes=campaign["submit_minutes"])
        await set_timer(s, order_id, "taken", "expire", due, now)
        task = await insert(
            s,
            "microjobs_task",
            {
                "campaign_id": campaign_id,
                "worker_id": worker["id"],
                "order_id": order_id,
                "ptc": False,
                "status": "taken",
                "answers": "{}",
                "corrections": 0,
                "auto": False,
                "created_at": now,
                "updated_at": now,
            },
            on_conflict="DO NOTHING",
        )
        if task is None:
            raise Problem(409, "already_taken", f"you already took job {campaign_id}; a job is done once")
        await ledger.post(
            s,
            key=f"order:{order_id}:fund",
            kind="escrow_moved",
            description=f"Campaign {campaign_id}: position taken (task {order_id})",
            moves={f"campaign:{campaign_id}:escrow": -per, f"order:{order_id}:escrow": per},
            refs={"escrow": f"campaign:{campaign_id}", "to_escrow": f"order:{order_id}", "campaign": campaign_id,
                  "order": order_id},
            actor=worker["id"],
            now=now,
            parties={f"order:{order_id}:escrow": (campaign["employer_id"], worker["id"])},
        )  # fmt: skip
        created = {"order_id": order_id, "process": PROCESS, "state": "taken"}
        taken = {"campaign_id": campaign_id, "order_id": order_id, "worker_id": worker["id"],
                 "employer_id": campaign["employer_id"], "ptc": False}  # fmt: skip
        event_id, _ = await store_events(
            s,
            [
                ("order.created", f"order:{order_id}", campaign["employer_id"], created),
                ("microjobs.task_taken", f"order:{order_id}", worker["id"], taken),
            ],
            now,
        )
        await notify(
            s, event_id, worker["id"], "order_created", f"New order #{order_id}", f"/orders/{order_id}", now
        )
    return TaskOut(
        id=task["id"],
        order_id=order_id,
        campaign_id=campaign_id,
        campaign_title=listing["title"],
        worker_id=worker["id"],
        employer_id=campaign["employer_id"],
        ptc=False,
        status="taken",
        answers={},
        corrections=0,
        reason=None,
        feedback=None,
        auto=False,
        earns=money(campaign["reward"] - campaign["worker_fee"], campaign["currency"]),
        due_at=due,
        visited_at=None,
        created_at=now,
        updated_at=now,
        rated_at=None,
    )


@post("/microjobs/tasks/{order_id:int}/proof", status_code=200)
async def submit(request: Request, order_id: FromPath[int], data: JSONBody[SubmitTaskProof]) -> TaskOut:
    now = datetime.now(UTC)
    async with driver.db.transaction() as s:
        worker = await member_of(request, s)
        row = await task_of(s, order_id)
        if row["worker_id"] != worker["id"]:
            raise Problem(403, "forbidden", "only the worker who took the task submits its proof")
        if row["state"] not in ("taken", "correcting"):
            raise Problem(409, "conflict", f"task {order_id} is {row['state']}")
        fields = {f["name"]: f for f in (loads(row["data"]) or {}).get("proof_fields", [])}
        answers, lines = {}, []
        for answer in data.answers:
            field = fields.get(answer.field)
            if field is None or answer.field in answers:
                raise Problem(422, "validation_error", f"this job asks for no {answer.field!r}")
            answers[answer.field] = answer.value.strip()
            if answers[answer.field]:
                lines.append(f"{field['label']}: {answers[answer.field]}")
        missing = [n for n, f in fields.items() if f.get("required", True) and not answers.get(n)]
        if missing:
            raise Problem(422, "validation_error", f"{missing[0]} is required")
        proof = await insert(
            s,
            "core_proof",
            {
                "order": order_id,
                "submitted_by": worker["id"],
                "text": "\n".join(lines),
                "urls": "[]",
                "attachments": "[]",
                "status": "submitted",
                "review_reason": None,
                "reviewed_by": None,
                "reviewed_at": None,
                "created_at": now,
            },
        )
        moved = await enter(
            s, row, "submitted", "submit", "seller", worker["id"], {"proof": proof["id"]}, now
        )
        await set_timer(s, order_id, "submitted", "auto_satisfy", now + AUTO_SATISFY, now)
        stored = dumps(answers)
        await s.fetch(
            "UPDATE microjobs_task SET answers = $1, status = $2, updated_at = $3 WHERE order_id = $4",
            stored,
            "submitted",
            now,
            order_id,
        )
        event_ids = await store_events(
            s,
            [
                transitioned(row, "submit", "submitted", "seller", worker["id"]),
                ("proof.submitted", f"order:{order_id}", worker["id"], {"order_id": order_id, "proof_id": proof["id"], "process": PROCESS}),
            ],
            now,
        )  # fmt: skip
        title = f"Order #{order_id}: proof submitted, please review it"
        await notify(
            s, event_ids[1], row["employer_id"], "proof_submitted", title, f"/orders/{order_id}/proofs", now
        )
        body = f"Order {order_id}: taken → submitted (submit by the seller)"
        await system_message(s, moved, event_ids[0], body, now)
    return task_out(row, "submitted", stored, now)


@post("/microjobs/tasks/{order_id:int}/rating", status_code=200)
async def rate(request: Request, order_id: FromPath[int], data: JSONBody[RateTask]) -> TaskOut:
    now = datetime.now(UTC)
    if not data.satisfied:
        raise Problem(422, "validation_error", "the floor serves satisfied ratings (the benchmarked request)")
    reason, feedback = " ".join(data.reason.split()), " ".join(data.feedback.split())
    async with driver.db.transaction() as s:
        employer = await member_of(request, s)
        row = await task_of(s, order_id)
        if row["employer_id"] != employer["id"]:
            raise Problem(403, "forbidden", "only the employer rates the proof")
        if row["state"] != "submitted" or row["proof_id"] is None:
            raise Problem(
                409, "conflict", f"task {order_id} is {row['state']}; only a submitted proof is rated"
            )
        await s.fetch(
            "UPDATE core_proof SET status = $1, reviewed_by = $2, reviewed_at = $3 WHERE id = $4 AND status = $5",
            "accepted",
            employer["id"],
            now,
            row["proof_id"],
            "submitted",
        )
        moved = await enter(
            s, row, "satisfied", "satisfy", "buyer", employer["id"], {"proof": row["proof_id"]}, now
        )
        fee = row["employer_fee"] + row["worker_fee"]
        await ledger.post(
            s,
            key=f"order:{order_id}:release",
            kind="escrow_released",
            description=f"Order {order_id} completed: payment to the seller",
            moves={
                f"order:{order_id}:escrow": -(row["reward"] + row["employer_fee"]),
                f"member:{row['worker_id']}:available": row["reward"] - row["worker_fee"],
                "platform:fees": fee,
            },
            refs={"order": order_id},
            actor=employer["id"],
            now=now,
        )
        await s.fetch(
            "UPDATE microjobs_task SET status = $1, reason = $2, feedback = $3, rated_at = $4, updated_at = $5 "
            "WHERE order_id = $6",
            "satisfied",
            reason or None,
            feedback or None,
            now,
            now,
            order_id,
        )
        campaign = await s.row(
            "UPDATE microjobs_campaign SET done = done + 1, updated_at = $1 WHERE id = $2 "
            "RETURNING done, positions, state, listing_id",
            now,
            row["campaign_id"],
        )
        events = [
            transitioned(row, "satisfy", "satisfied", "buyer", employer["id"]),
            ("proof.accepted", f"order:{order_id}", employer["id"], {"order_id": order_id, "proof_id": row["proof_id"], "process": PROCESS}),
            ("microjobs.task_rated", f"order:{order_id}", employer["id"],
             {"campaign_id": row["campaign_id"], "order_id": order_id, "worker_id": row["worker_id"],
              "employer_id": employer["id"], "outcome": "satisfied", "reason": reason, "feedback": feedback}),
        ]  # fmt: skip
        if campaign["done"] >= campaign["positions"] and campaign["state"] == "active":
            await s.fetch(
                "UPDATE microjobs_campaign SET state = 'finished', stopped_at = $1 WHERE id = $2",
                now,
                row["campaign_id"],
            )
            await s.fetch(
                "UPDATE core_listing SET status = 'closed', updated_at = $1 WHERE id = $2",
                now,
                campaign["listing_id"],
            )
            finished = {
                "campaign_id": row["campaign_id"],
                "employer_id": employer["id"],
                "positions": campaign["positions"],
            }
            events.append(("microjobs.campaign_finished", f"campaign:{row['campaign_id']}", None, finished))
        event_ids = await store_events(s, events, now)
        title = f"Order #{order_id}: your proof was accepted"
        await notify(
            s, event_ids[1], row["worker_id"], "proof_reviewed", title, f"/orders/{order_id}/proofs", now
        )
        body = f"Order {order_id}: submitted → satisfied (satisfy by the buyer)"
        await system_message(s, moved, event_ids[0], body, now)
    return task_out(
        row, "satisfied", row["answers"], now, rated_at=now, reason=reason or None, feedback=feedback or None
    )
