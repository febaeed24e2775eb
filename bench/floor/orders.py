"""The gig order flow: order, pay from balance, deliver, accept, with the app's statements.

Each request runs the statements the app runs for it (``bench/floor/same.py``), in one
transaction, and answers with the app's body: what the app costs above this floor is the
framework's.  The fewest statements by hand for the same work are the lean floor's
(``bench/floor/lean_orders.py``).  ``enter`` and ``set_timer`` are the microjobs floor's
(a lean floor of its own).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from litestar import Request, post
from litestar.params import FromPath, JSONBody

from bench.floor import driver, ledger, same
from bench.floor.driver import insert
from bench.floor.effects import member_of
from bench.floor.schemas import (
    Delivery,
    ItemOut,
    OrderGig,
    OrderOut,
    PaymentOut,
    PayOrder,
    Problem,
    dumps,
    loads,
    money,
)

COMMISSION_PERCENT = Decimal("20")
GIG_PROCESS = "gig_order"
UNPAID_EXPIRY = timedelta(hours=72)
AUTO_COMPLETE = timedelta(days=3)
FUNDING = ("pending", "awaiting_funds", "completed")
#: state -> role -> the transitions the order's response offers that role (the gig process)
TRANSITIONS = {
    "awaiting_payment": {"buyer": ["cancel_unpaid"]},
    "in_progress": {"buyer": ["cancel_late", "cancel_mutual"], "seller": ["deliver", "cancel_mutual"]},
    "delivered": {"buyer": ["accept", "cancel_mutual"], "seller": ["cancel_mutual"]},
}
ITEM_COLUMNS = ("position", "kind", "description", "unit_price", "quantity", "amount")
#: the order and its items in one read, with the ``{check}`` a request makes as column ``busy``
ORDER_WITH_ITEMS = (
    "SELECT o.*, {check} AS busy, "
    + ", ".join(f"i.{c} AS item_{c}" for c in ITEM_COLUMNS)
    + ' FROM core_order o LEFT JOIN core_order_item i ON i."order" = o.id WHERE o.id = ${n} '
    "ORDER BY i.position FOR UPDATE OF o"
)
PROOF_WAITING = 'EXISTS(SELECT 1 FROM core_proof WHERE "order" = $1 AND status = $2)'


def quote(amount: int) -> dict[str, Any]:
    fee = int((Decimal(amount) * COMMISSION_PERCENT / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    line = {
        "payer": "seller",
        "amount": fee,
        "label": f"Site fee ({COMMISSION_PERCENT}%)",
        "code": "commission",
    }
    return {"buyer_total": amount, "seller_net": amount - fee, "platform_total": fee, "lines": [line]}


def to_order(row: Any, items: list[Any], caller_id: int, prefix: str = "") -> OrderOut:
    """The app's order body; ``items`` are item rows (``prefix``: their columns' prefix)."""
    currency = row["currency"]
    role = "buyer" if caller_id == row["buyer_id"] else "seller" if caller_id == row["seller_id"] else ""
    return OrderOut(
        id=row["id"],
        process=row["process"],
        process_version=row["process_version"],
        state=row["state"],
        version=row["version"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        listing_id=row["listing_id"],
        amount=money(row["amount"], currency),
        items=[
            ItemOut(
                i[f"{prefix}position"],
                i[f"{prefix}kind"],
                i[f"{prefix}description"],
                money(i[f"{prefix}unit_price"], currency),
                i[f"{prefix}quantity"],
                money(i[f"{prefix}amount"], currency),
            )
            for i in items
            if i[f"{prefix}position"] is not None
        ],
        data=loads(row["data"]) or {},
        state_entered_at=row["state_entered_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        allowed_transitions=list(TRANSITIONS.get(row["state"], {}).get(role, [])),
    )


async def order_of(s: Any, order_id: int, member_id: int, check: str, *args: Any) -> list[Any]:
    """The order's rows (one per item), locked on PostgreSQL; 404 unless the member is a party.

    ``check``: an SQL condition on ``$1``..``$n`` (``args``), read as the rows' ``busy``."""
    rows = await s.fetch(ORDER_WITH_ITEMS.format(check=check, n=len(args) + 1), *args, order_id)
    if not rows or member_id not in (rows[0]["buyer_id"], rows[0]["seller_id"]):
        raise Problem(404, "not_found", f"there is no order {order_id}")
    return rows


async def enter(
    s: Any,
    row: Any,
    target: str,
    name: str,
    role: str,
    actor: Any,
    history: dict,
    now: datetime,
    data: Any = None,
) -> Any:
    """Fire a transition: the order moved (version checked; ``data`` replaces its data),
    its history row, the old state's timers cancelled; the order as it is now."""
    data_sql, data_args = (", data = $5", [dumps(data)]) if data is not None else ("", [])
    n = 5 + len(data_args)
    moved = await s.row(
        f"UPDATE core_order SET state = $1, version = $2, state_entered_at = $3, updated_at = $4{data_sql} "
        f"WHERE id = ${n} AND version = ${n + 1} RETURNING *",
        target,
        row["version"] + 1,
        now,
        now,
        *data_args,
        row["id"],
        row["version"],
    )
    if moved is None:
        raise Problem(409, "conflict", f"order {row['id']} changed while {name} was being fired")
    await insert(
        s,
        "core_order_event",
        {
            "order": row["id"],
            "seq": row["version"] + 1,
            "transition": name,
            "from_state": row["state"],
            "to_state": target,
            "actor_role": role,
            "actor_id": actor,
            "data": dumps(history),
            "at": now,
        },
    )
    await s.fetch(
        'UPDATE core_order_timer SET status = $1 WHERE "order" = $2 AND status = $3',
        "cancelled",
        row["id"],
        "pending",
    )
    return moved


def transitioned(row: Any, name: str, target: str, role: str, actor: Any) -> tuple:
    data = {
        "order_id": row["id"],
        "process": GIG_PROCESS,
        "transition": name,
        "from_state": row["state"],
        "to_state": target,
    }
    return ("order.transitioned", f"order:{row['id']}", actor, data | {"actor_role": role})


async def set_timer(s: Any, order_id: int, state: str, transition: str, due: datetime, now: datetime) -> None:
    await insert(
        s,
        "core_order_timer",
        {
            "order": order_id,
            "state": state,
            "transition": transition,
            "due_at": due,
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "fired_at": None,
            "created_at": now,
        },
    )


@post("/gigs/{listing_id:int}/orders", status_code=201)
async def order_gig(request: Request, listing_id: FromPath[int], data: JSONBody[OrderGig]) -> OrderOut:
    buyer = await member_of_request(request)
    async with driver.db.reads() as r:
        listing = await same.listing_view(r, listing_id)
    if listing is None or listing["kind"] != "gig":
        raise Problem(404, "not_found", f"there is no gig {listing_id}")
    if listing["owner_id"] == buyer["id"]:
        raise Problem(403, "forbidden", "you cannot order your own gig")
    if listing["status"] != "published":
        raise Problem(409, "gig_not_available", f"gig {listing_id} is {listing['status']}")
    async with driver.db.transaction() as s:
        now = datetime.now(UTC)
        amount = listing["price"] * data.quantity
        order_data = {
            "fee_kind": "gig",
            "gig": {"title": listing["title"], "extras": [], "quantity": data.quantity},
            "delivery_days": loads(listing["attributes"])["delivery_days"],
            "requirements": data.requirements.strip(),
            "quote": quote(amount),
        }
        order = {
            "process": GIG_PROCESS,
            "process_version": 1,
            "state": "awaiting_payment",
            "version": 1,
            "buyer_id": buyer["id"],
            "seller_id": listing["owner_id"],
            "listing_id": listing_id,
            "currency": listing["currency"],
            "amount": amount,
            "data": order_data,
            "state_entered_at": now,
            "created_at": now,
            "updated_at": now,
        }
        item = {
            "position": 1,
            "kind": "base",
            "description": listing["title"][:200],
            "unit_price": listing["price"],
            "quantity": data.quantity,
            "amount": amount,
        }
        order["id"] = await create(s, order, item, buyer["id"], now)
        created = {"order_id": order["id"], "process": GIG_PROCESS, "state": "awaiting_payment"}
        (event,) = await same.store_events(
            s, [("order.created", f"order:{order['id']}", buyer["id"], created)], now
        )
        seller = await same.recipient(s, listing["owner_id"])
        title = f"New order {order['id']} from {buyer['display_name']}"
        await same.notify(s, event, seller, "order_created", title, f"/orders/{order['id']}", now)
    return to_order(order, [item], buyer["id"])


async def member_of_request(request: Request) -> Any:
    """The caller, read before the transaction (the app's authentication)."""
    async with driver.db.reads() as r:
        return await member_of(request, r)


async def create(s: Any, order: dict[str, Any], item: dict[str, Any], actor: int, now: datetime) -> int:
    """The order, its item, its history's first row and its timer, as the app writes them."""
    due = now + UNPAID_EXPIRY
    if same.is_pg(s):
        rows = await s.fetch(
            same.app_sql("agorakit.orders.creation", "_CREATE"),
            *(
                order[c]
                for c in ("process", "process_version", "state", "buyer_id", "seller_id", "listing_id")
            ),
            order["currency"],
            order["amount"],
            dumps(order["data"]),
            now,
            now,
            now,
            *([item[c]] for c in ("position", "kind", "description", "unit_price", "quantity", "amount")),
            "awaiting_payment",
            "buyer",
            actor,
            now,
            "awaiting_payment",
            now,
            ["expire"],
            [due],
        )
        return rows[0]["id"]
    order_id = (await insert(s, "core_order", {**order, "data": dumps(order["data"])}))["id"]
    await insert(s, "core_order_item", {"order": order_id, **item})
    await s.fetch(
        'INSERT INTO "core_order_event" ("order","seq","transition","from_state","to_state","actor_role",'
        '"actor_id","data","at") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
        order_id,
        1,
        "create",
        None,
        "awaiting_payment",
        "buyer",
        actor,
        "{}",
        now,
    )
    await same.timer(s, order_id, "awaiting_payment", "expire", due, now)
    return order_id


FUNDING_READ = (
    "SELECT * FROM core_payment WHERE escrow_ref = $1 AND status IN ('pending', 'awaiting_funds', 'completed') "
    "ORDER BY id"
)


@post("/orders/{order_id:int}/payments", status_code=201)
async def pay_order(request: Request, order_id: FromPath[int], data: JSONBody[PayOrder]) -> PaymentOut:
    if data.method != "balance":
        raise Problem(422, "validation_error", "the floor pays from the balance only")
    buyer = await member_of_request(request)
    escrow_ref = f"order:{order_id}"
    async with driver.db.transaction() as s:
        row, _ = await same.order_with_parties(s, order_id, buyer["id"])
        if row["buyer_id"] != buyer["id"]:
            raise Problem(403, "forbidden", "only the buyer pays for the order")
        # a payment funds it or is funding it: read with the order (PostgreSQL: again, locked)
        if row["funded"] if not same.is_pg(s) else await s.fetch(FUNDING_READ, escrow_ref):
            raise Problem(409, "order_already_paid", f"order {order_id} is already paid")
        if row["state"] != "awaiting_payment":
            raise Problem(409, "transition_not_allowed", f"order {order_id} is {row['state']}")
        now = datetime.now(UTC)
        order_data = loads(row["data"])
        total = order_data["quote"]["buyer_total"]
        reference = "PAY-" + secrets.token_hex(5).upper()
        payment = {
            "payer_id": buyer["id"],
            "method": "balance",
            "amount": total,
            "currency": "USD",
            "purpose": "escrow",
            "escrow_ref": escrow_ref,
            "status": "pending",
            "reference": reference,
            "idempotency_key": None,
            "provider_ref": None,
            "details": "{}",
            "failure_reason": None,
            "expires_at": None,
            "completed_at": None,
            "created_at": now,
            "updated_at": now,
        }
        payment["id"] = (await insert(s, "core_payment", payment))["id"]
        credit, available = f"member:{buyer['id']}:credit", f"member:{buyer['id']}:available"
        lock = " FOR NO KEY UPDATE" if same.is_pg(s) else ""
        held = {
            r["name"]: r["balance"]
            for r in await s.fetch(
                "SELECT name, balance FROM core_ledger_account WHERE name = ANY($1) AND currency = $2 "
                f"ORDER BY name{lock}",
                [credit, available],
                ledger.CURRENCY,
            )
        }
        have = held.get(credit, 0) + max(held.get(available, 0), 0)
        if have < total:
            detail = (
                f"your balance is {money(have, 'USD').amount} USD (credit and available together); "
                f"this needs {money(total, 'USD').amount} USD"
            )
            raise Problem(409, "insufficient_funds", detail)
        from_credit = min(held.get(credit, 0), total)
        details = {"from_credit": from_credit, "from_available": total - from_credit}
        await s.fetch(
            "UPDATE core_payment SET status = 'completed', completed_at = $1, updated_at = $2, details = $3 "
            "WHERE id = $4 AND status IN ('pending', 'awaiting_funds') RETURNING id",
            now,
            now,
            dumps(details),
            payment["id"],
        )
        escrow = f"{escrow_ref}:escrow"
        await same.post(
            s,
            key=f"payment:{payment['id']}:settle",
            kind="payment_completed",
            description=f"payment for {escrow_ref} by balance ({reference})",
            moves={credit: -from_credit, available: from_credit - total, escrow: total},
            refs={"payment": payment["id"], "escrow": escrow_ref},
            actor=buyer["id"],
            now=now,
            parties={escrow: (buyer["id"], row["seller_id"])},
        )
        # the paid transition and its effect (the seller's clock starts)
        after = await same.move(
            s, row, "in_progress", "paid", "system", None, {"payment": payment["id"]}, now
        )
        order_data["deadline"] = (now + timedelta(days=order_data.get("delivery_days", 1))).isoformat()
        order_data["paid_at"] = now.isoformat()
        await s.fetch("UPDATE core_order SET data = $1 WHERE id = $2", dumps(order_data), order_id)
        paid = transitioned(row, "paid", "in_progress", "system", None)
        settled = {
            "payment_id": payment["id"],
            "payer_id": buyer["id"],
            "escrow_ref": escrow_ref,
            "method": "balance",
        }
        events = await same.store_events(
            s,
            [
                (
                    "payment.started",
                    f"payment:{payment['id']}",
                    buyer["id"],
                    {"payment_id": payment["id"], "method": "balance"},
                ),
                paid,
                ("payment.completed", f"payment:{payment['id']}", buyer["id"], settled),
            ],
            now,
        )
        link = f"/orders/{order_id}"
        seller = same.party(row, "seller")
        await same.notify(s, events[1], seller, "order_transitioned", f"Order {order_id} was paid", link, now)
        text = f"Order {order_id}: awaiting payment → in progress (paid automatically)"
        await same.system_message(s, after, events[1], text, now)
    return PaymentOut(
        id=payment["id"],
        payer_id=buyer["id"],
        method="balance",
        amount=money(total, "USD"),
        purpose="escrow",
        escrow_ref=escrow_ref,
        status="completed",
        reference=reference,
        details=details,
        failure_reason=None,
        expires_at=None,
        completed_at=now,
        created_at=now,
    )


PROOF_UNLESS_WAITING = (
    'INSERT INTO core_proof ("order", submitted_by, text, urls, attachments, status, created_at) '
    "SELECT $1, $2, $3, $4, $5, 'submitted', $6 WHERE NOT EXISTS "
    "(SELECT 1 FROM core_proof WHERE \"order\" = $7 AND status = 'submitted') RETURNING id"
)


@post("/gigs/orders/{order_id:int}/delivery", status_code=200)
async def deliver(request: Request, order_id: FromPath[int], data: JSONBody[Delivery]) -> OrderOut:
    seller = await member_of_request(request)
    async with driver.db.transaction() as s:
        row, items = await same.order_with_parties(s, order_id, seller["id"])
        if row["seller_id"] != seller["id"]:
            raise Problem(403, "forbidden", "only the seller delivers the order")
        if row["state"] != "in_progress":
            raise Problem(409, "conflict", f"order {order_id} is {row['state']}")
        now = datetime.now(UTC)
        proof = await s.row(
            PROOF_UNLESS_WAITING, order_id, seller["id"], data.message.strip(), "[]", "[]", now, order_id
        )
        if proof is None:
            raise Problem(409, "conflict", "a proof of this order is waiting for review")
        after = await same.move(
            s,
            row,
            "delivered",
            "deliver",
            "seller",
            seller["id"],
            {"proof": proof["id"]},
            now,
            [("auto_complete", now + AUTO_COMPLETE)],
        )
        events = await same.store_events(
            s,
            [
                transitioned(row, "deliver", "delivered", "seller", seller["id"]),
                (
                    "proof.submitted",
                    f"order:{order_id}",
                    seller["id"],
                    {"order_id": order_id, "proof_id": proof["id"], "process": row["process"]},
                ),
            ],
            now,
        )
        title, link = f"Order {order_id} was delivered", f"/orders/{order_id}/proofs"
        await same.notify(s, events[1], same.party(row, "buyer"), "proof_submitted", title, link, now)
        text = f"Order {order_id}: in progress → delivered (deliver by the seller)"
        await same.system_message(s, after, events[0], text, now)
    return to_order(after, items, seller["id"])


@post("/gigs/orders/{order_id:int}/accept", status_code=200)
async def accept(request: Request, order_id: FromPath[int]) -> OrderOut:
    buyer = await member_of_request(request)
    async with driver.db.transaction() as s:
        row, items = await same.order_with_parties(s, order_id, buyer["id"])
        if row["state"] != "delivered":
            raise Problem(409, "transition_not_allowed", f"order {order_id} is {row['state']}")
        if row["buyer_id"] != buyer["id"]:
            raise Problem(403, "actor_not_allowed", "accept is for the buyer of the order")
        now = datetime.now(UTC)
        after = await same.move(s, row, "completed", "accept", "buyer", buyer["id"], {}, now)
        await s.fetch(
            'UPDATE "core_proof" SET "status" = $1, "reviewed_by" = $2, "reviewed_at" = $3 '
            'WHERE ("core_proof"."order" = ANY($4) AND "core_proof"."status" = $5)',
            "accepted",
            buyer["id"],
            now,
            [order_id],
            "submitted",
        )
        figures = loads(row["data"])["quote"]
        net, fees = figures["seller_net"], figures["platform_total"]
        deferred: list = []
        await same.post(
            s,
            key=f"order:{order_id}:release",
            kind="escrow_released",
            description=f"Order {order_id} completed: payment to the seller",
            moves={
                f"order:{order_id}:escrow": -(net + fees),
                f"member:{row['seller_id']}:available": net,
                "platform:fees": fees,
            },
            refs={"order": order_id},
            actor=buyer["id"],
            now=now,
            deferred=deferred,
        )
        (event,) = await same.store_events(
            s, [transitioned(row, "accept", "completed", "buyer", buyer["id"])], now
        )
        # open cancellation proposals lapse
        await s.fetch(
            'UPDATE "gigs_cancellation" SET "status" = $1, "decided_at" = $2 '
            'WHERE ("gigs_cancellation"."order_id" = ANY($3) AND "gigs_cancellation"."status" = $4)',
            "lapsed",
            now,
            [order_id],
            "open",
        )
        title, link = f"Order {order_id} was completed", f"/orders/{order_id}"
        await same.notify(s, event, same.party(row, "seller"), "order_transitioned", title, link, now)
        text = f"Order {order_id}: delivered → completed (accept by the buyer)"
        await same.system_message(s, after, event, text, now)
        await same.move_deferred(s, deferred, now)  # the platform's fee credit, just before the commit
    return to_order(after, items, buyer["id"])
