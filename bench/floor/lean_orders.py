"""The lean floor of the order flow and a withdrawal: the fewest statements by hand.

Where ``bench/floor/orders.py`` runs the app's own statements (what the framework costs
above them), this floor does the same user-visible work (the same response bodies, the
same rows in every table: the order, its items, history and timers, the payment, the
ledger's postings and balances, the proof, the domain events, the notifications and their
emails, the order conversation's system messages) the way a careful engineer would write
it by hand for each engine, so that the distance between the app and it is how far the
app's statements are from the limit:

- each request is one transaction, the caller's row read before it (the app's
  authentication reads it there too);
- what a step needs is read once: the order with its items, its parties (their email
  settings) and its conversation, locked; a gig with its seller;
- on PostgreSQL each step's writes are one statement (data-modifying ``WITH``): the
  order moved, its history, its timers, the ledger's transaction, accounts and entries,
  the events (written published), the notification and its email, the system message;
  a payment's and a proof's row come first (their id names the rest);
- on SQLite, which has no data-modifying ``WITH``, each table written is one statement,
  an account moved and opened by one upsert, nothing read back.

The gig process's rules are the app's: a payment from credit first, then available; the
20% fee; the deadline and the timers; the notices' recipients and the messages' texts.
Notification and email bodies are fixed strings of the rendered templates' size, as in
the other floor.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, post
from litestar.params import FromPath, JSONBody

from bench.floor import driver
from bench.floor.driver import in_list
from bench.floor.effects import member_of
from bench.floor.ledger import insufficient
from bench.floor.orders import AUTO_COMPLETE, GIG_PROCESS, UNPAID_EXPIRY, quote, to_order
from bench.floor.schemas import (
    CreateWithdrawal,
    Delivery,
    OrderGig,
    OrderOut,
    PaymentOut,
    PayOrder,
    Problem,
    WithdrawalOut,
    dumps,
    loads,
    money,
    parse_cents,
)

CURRENCY = "USD"
BANK_MINIMUM = 5000
PAYOUT_DAYS = 7
ITEM_COLUMNS = ("id", "position", "kind", "description", "unit_price", "quantity", "amount")


def _pg(s: Any) -> bool:
    return type(s).__name__ == "PgSession"


async def _caller(request: Request) -> Any:
    async with driver.db.reads() as r:
        return await member_of(request, r)


def _concat(s: Any) -> str:
    return "string_agg" if _pg(s) else "group_concat"


def _muted(s: Any, member: str) -> str:
    return (
        f"(SELECT {_concat(s)}(n.category, ',') FROM core_notification_preference n "
        f"WHERE n.member_id = {member} AND NOT n.email)"
    )


def _person(row: Any, prefix: str) -> dict[str, Any]:
    muted = set(filter(None, (row[f"{prefix}_muted"] or "").split(",")))
    return {
        "id": row[f"{prefix}_id"],
        "email": row[f"{prefix}_email"],
        "display_name": row[f"{prefix}_display_name"],
        "active": row[f"{prefix}_status"] == "active",
        "emailed": bool(row[f"{prefix}_email"]) and "orders" not in muted,
    }


def _bodies(member: dict[str, Any], title: str) -> tuple[str, str, str]:
    body = (
        f"Hello {member['display_name']}, {title.lower()}. " + "Open the order to see what happens next. " * 3
    )
    return body, body * 2, f"<html><body><p>{body}</p><p>{body}</p></body></html>"


async def _order(s: Any, order_id: int, member_id: int) -> tuple[Any, list[dict[str, Any]]]:
    """The order locked, its items, its parties with their email settings, and its
    conversation (its id and how many of the order's parties take part), in one read."""
    items = ", ".join(f'i."{c}" AS "item_{c}"' for c in ITEM_COLUMNS)
    parties = ", ".join(
        f"{a}.email AS {role}_email, {a}.display_name AS {role}_display_name, {a}.status AS {role}_status, "
        f"{_muted(s, f'{a}.id')} AS {role}_muted"
        for role, a in (("buyer", "b"), ("seller", "s"))
    )
    rows = await s.fetch(
        f"SELECT o.*, {items}, {parties}, c.id AS conversation FROM core_order o "
        'LEFT JOIN core_order_item i ON i."order" = o.id LEFT JOIN core_member b ON b.id = o.buyer_id '
        "LEFT JOIN core_member s ON s.id = o.seller_id LEFT JOIN core_conversation c ON c.\"key\" = 'order:' || o.id "
        'WHERE o.id = $1 ORDER BY i."position" FOR UPDATE OF o',
        order_id,
    )
    if not rows or member_id not in (rows[0]["buyer_id"], rows[0]["seller_id"]):
        raise Problem(404, "not_found", f"there is no order {order_id}")
    return rows[0], [{c: r[f"item_{c}"] for c in ITEM_COLUMNS} for r in rows if r["item_id"] is not None]


def _moved(row: Any, target: str, now: datetime, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        **dict(row),
        "state": target,
        "version": row["version"] + 1,
        "state_entered_at": now,
        "updated_at": now,
        "data": data if data is not None else loads(row["data"]),
    }


def _transitioned(row: Any, name: str, target: str, role: str) -> dict[str, Any]:
    return {
        "order_id": row["id"],
        "process": GIG_PROCESS,
        "transition": name,
        "from_state": row["state"],
        "to_state": target,
        "actor_role": role,
    }


# --------------------------------------------------------------------------------------
# SQLite: a statement per table written
# --------------------------------------------------------------------------------------


class Writes:
    """SQLite's writes of a step, one statement per table."""

    def __init__(self, s: Any, now: datetime) -> None:
        self.s, self.now = s, now

    async def insert(self, table: str, values: dict[str, Any], returning: str = "") -> Any:
        columns = ", ".join(f'"{c}"' for c in values)
        tail = f" RETURNING {returning}" if returning else ""
        return await self.s.row(
            f'INSERT INTO "{table}" ({columns}) VALUES ({in_list(1, len(values))}){tail}', *values.values()
        )

    async def events(self, events: list[tuple[str, str, int | None, dict]]) -> list[int]:
        args: list[Any] = []
        for name, subject, actor, data in events:
            args += [name, subject, actor, dumps(data), self.now, "published", 0, self.now]
        values = ", ".join(f"({in_list(1 + 8 * i, 8)})" for i in range(len(events)))
        rows = await self.s.fetch(
            "INSERT INTO core_domain_event (name, subject, actor_id, data, at, status, attempts, published_at) "
            f"VALUES {values} RETURNING id",
            *args,
        )
        return [r["id"] for r in rows]

    async def notify(self, event: int, member: dict[str, Any], template: str, title: str, link: str) -> None:
        if not member["active"]:
            return
        body, text, html = _bodies(member, title)
        notification = await self.insert(
            "core_notification",
            {
                "member_id": member["id"],
                "event_id": event,
                "category": "orders",
                "template": template,
                "title": title,
                "body": body,
                "link": link,
                "created_at": self.now,
            },
            "id",
        )
        if member["emailed"]:
            await self.insert(
                "core_email_outbox",
                {
                    "member_id": member["id"],
                    "notification_id": notification["id"],
                    "to_address": member["email"],
                    "subject": title,
                    "text_body": text,
                    "html_body": html,
                    "message_id": f"<{secrets.token_hex(16)}@bench>",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": self.now,
                    "created_at": self.now,
                },
            )

    async def message(self, row: Any, event: int, body: str) -> None:
        """The system message (its insert moves the conversation's activity); the
        conversation and its participants opened with the order's first one."""
        conversation = row["conversation"]
        if conversation is None:
            key = f"order:{row['id']}"
            conversation = (
                await self.insert(
                    "core_conversation",
                    {
                        "key": key,
                        "kind": "order",
                        "subject": key,
                        "last_message_id": 0,
                        "created_at": self.now,
                    },
                    "id",
                )
            )["id"]
            await self.s.fetch(
                "INSERT INTO core_conversation_participant (conversation, member_id, last_read_message_id, "
                "joined_at) VALUES ($1, $2, 0, $3), ($4, $5, 0, $6)",
                conversation,
                row["buyer_id"],
                self.now,
                conversation,
                row["seller_id"],
                self.now,
            )
        await self.insert(
            "core_message",
            {
                "conversation": conversation,
                "kind": "system",
                "body": body,
                "attachments": "[]",
                "flags": "[]",
                "flagged": False,
                "event_id": event,
                "created_at": self.now,
            },
        )

    async def move(
        self, row: Any, target: str, name: str, role: str, actor: int | None, history: dict, data: Any = None
    ) -> None:
        data_sql, data_args = (", data = $5", [dumps(data)]) if data is not None else ("", [])
        n = 5 + len(data_args)
        moved = await self.s.row(
            f"UPDATE core_order SET state = $1, version = $2, state_entered_at = $3, updated_at = $4{data_sql} "
            f"WHERE id = ${n} AND version = ${n + 1} RETURNING id",
            target,
            row["version"] + 1,
            self.now,
            self.now,
            *data_args,
            row["id"],
            row["version"],
        )
        if moved is None:
            raise Problem(409, "conflict", f"order {row['id']} changed while {name} was being fired")
        await self.insert(
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
                "at": self.now,
            },
        )

    async def timer(self, order_id: int, state: str, transition: str, due: datetime) -> None:
        await self.insert(
            "core_order_timer",
            {
                "order": order_id,
                "state": state,
                "transition": transition,
                "due_at": due,
                "status": "pending",
                "attempts": 0,
                "created_at": self.now,
            },
        )

    async def cancel_timers(self, order_id: int) -> None:
        await self.s.fetch(
            "UPDATE core_order_timer SET status = 'cancelled' WHERE \"order\" = $1 AND status = 'pending'",
            order_id,
        )

    async def post(
        self,
        key: str,
        kind: str,
        description: str,
        moves: dict[str, int],
        refs: dict,
        actor: Any,
        parties=None,
    ) -> None:
        """A posting: its transaction, its accounts moved (an account missing opened) by
        one upsert, its entries."""
        parties = parties or {}
        transaction = (
            await self.insert(
                "core_ledger_transaction",
                {
                    "idempotency_key": key,
                    "kind": kind,
                    "description": description,
                    "refs": dumps(refs),
                    "actor_id": actor,
                    "created_at": self.now,
                },
                "id",
            )
        )["id"]
        lines = sorted((name, amount) for name, amount in moves.items() if amount)
        args: list[Any] = []
        for name, amount in lines:
            kind_, member = _account(name)
            buyer, seller = parties.get(name, (None, None))
            # (a debit's proposed row may go negative: the account exists, its balance was checked)
            args += [
                name,
                CURRENCY,
                kind_,
                amount,
                kind_ == "external" or amount < 0,
                member,
                buyer,
                seller,
                self.now,
            ]
        values = ", ".join(f"({in_list(1 + 9 * i, 9)})" for i in range(len(lines)))
        accounts = {
            r["name"]: r
            for r in await self.s.fetch(
                "INSERT INTO core_ledger_account (name, currency, kind, balance, allow_negative, member_id, "
                f"buyer_id, seller_id, created_at) VALUES {values} ON CONFLICT (name, currency) DO UPDATE SET "
                "balance = core_ledger_account.balance + excluded.balance, "
                "buyer_id = COALESCE(excluded.buyer_id, core_ledger_account.buyer_id), "
                "seller_id = COALESCE(excluded.seller_id, core_ledger_account.seller_id) "
                "RETURNING id, name, balance",
                *args,
            )
        }
        entries: list[Any] = []
        for name, amount in lines:
            entries += [
                transaction,
                accounts[name]["id"],
                amount,
                CURRENCY,
                accounts[name]["balance"],
                self.now,
            ]
        values = ", ".join(f"({in_list(1 + 6 * i, 6)})" for i in range(len(lines)))
        await self.s.fetch(
            'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
            f"VALUES {values}",
            *entries,
        )


def _account(name: str) -> tuple[str, int | None]:
    parts = name.split(":")
    if parts[0] == "member":
        return parts[2], int(parts[1])
    if name.endswith(":escrow"):
        return "escrow", None
    return {"platform": "fees", "payouts": "clearing", "external": "external"}[parts[0]], None


# --------------------------------------------------------------------------------------
# PostgreSQL: a step's writes in one statement
# --------------------------------------------------------------------------------------


class Sql:
    """A data-modifying ``WITH`` statement built part by part, values numbered as added."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def v(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"

    def add(self, name: str, sql: str) -> None:
        self.parts.append(f"{name} AS ({sql})")

    def events(self, events: list[tuple[str, str, int | None, dict]], now: datetime) -> None:
        """The events, published (CTE ``ev``: their ids, in order, ``n`` their position)."""
        rows = ", ".join(
            f"({self.v(name)}, {self.v(subject)}, {self.v(actor, '::integer')}, {self.v(dumps(data), '::json')}, {i})"
            for i, (name, subject, actor, data) in enumerate(events)
        )
        at = self.v(now)
        self.add(
            "ev",
            "INSERT INTO core_domain_event (name, subject, actor_id, data, at, status, attempts, published_at) "
            f"SELECT e.name, e.subject, e.actor, e.data, {at}, 'published', 0, {at} FROM (VALUES {rows}) "
            "AS e(name, subject, actor, data, n) ORDER BY e.n RETURNING id",
        )

    def notify(
        self, event: int, member: dict[str, Any], template: str, title: str, link: str, now: datetime
    ) -> None:
        """The notice of the ``event``-th event (from 0) and its email."""
        if not member["active"]:
            return
        body, text, html = _bodies(member, title)
        at = self.v(now)
        self.add(
            "note",
            "INSERT INTO core_notification (member_id, event_id, category, template, title, body, link, created_at) "
            f"SELECT {self.v(member['id'])}, id, 'orders', {self.v(template)}, {self.v(title)}, {self.v(body)}, "
            f"{self.v(link)}, {at} FROM ev ORDER BY ev.id OFFSET {event} LIMIT 1 RETURNING id",
        )
        if member["emailed"]:
            self.add(
                "mail",
                "INSERT INTO core_email_outbox (member_id, notification_id, to_address, subject, text_body, html_body, "
                f"message_id, status, attempts, next_attempt_at, created_at) SELECT {self.v(member['id'])}, note.id, "
                f"{self.v(member['email'])}, {self.v(title)}, {self.v(text)}, {self.v(html)}, "
                f"{self.v(f'<{secrets.token_hex(16)}@bench>')}, 'pending', 0, {at}, {at} FROM note",
            )

    def message(self, row: Any, event: int, body: str, now: datetime) -> None:
        """The system message of the ``event``-th event; the conversation and its
        participants opened with the order's first one."""
        at = self.v(now)
        if row["conversation"] is None:
            key = self.v(f"order:{row['id']}")
            self.add(
                "conv",
                'INSERT INTO core_conversation ("key", kind, subject, last_message_id, created_at) '
                f"VALUES ({key}, 'order', {key}, 0, {at}) RETURNING id",
            )
            self.add(
                "part",
                "INSERT INTO core_conversation_participant (conversation, member_id, last_read_message_id, joined_at) "
                f"SELECT conv.id, m, 0, {at} FROM conv, (VALUES ({self.v(row['buyer_id'])}::integer), "
                f"({self.v(row['seller_id'])}::integer)) AS p(m)",
            )
            conversation = "(SELECT id FROM conv)"
        else:
            conversation = self.v(row["conversation"])
        self.add(
            "msg",
            "INSERT INTO core_message (conversation, kind, body, attachments, flags, flagged, event_id, created_at) "
            f"SELECT {conversation}, 'system', {self.v(body)}, '[]', '[]', FALSE, id, {at} "
            f"FROM ev ORDER BY ev.id OFFSET {event} LIMIT 1",
        )

    def move(
        self, row: Any, target: str, name: str, role: str, actor: int | None, history: dict, now: datetime,
        data: Any = None, cancel: bool = False, timer: tuple[str, datetime] | None = None,
    ) -> None:  # fmt: skip
        at = self.v(now)
        data_sql = f", data = {self.v(dumps(data), '::json')}" if data is not None else ""
        self.add(
            "moved",
            f"UPDATE core_order SET state = {self.v(target)}, version = {self.v(row['version'] + 1)}, "
            f"state_entered_at = {at}, updated_at = {at}{data_sql} WHERE id = {self.v(row['id'])} "
            f"AND version = {self.v(row['version'])} RETURNING id",
        )
        self.add(
            "hist",
            'INSERT INTO core_order_event ("order", seq, transition, from_state, to_state, actor_role, actor_id, '
            f"data, at) SELECT id, {self.v(row['version'] + 1)}, {self.v(name)}, {self.v(row['state'])}, "
            f"{self.v(target)}, {self.v(role)}, {self.v(actor, '::integer')}, {self.v(dumps(history), '::json')}, "
            f"{at} FROM moved",
        )
        if cancel:
            self.add(
                "cancelled",
                "UPDATE core_order_timer SET status = 'cancelled' WHERE \"order\" IN (SELECT id FROM moved) "
                "AND status = 'pending'",
            )
        if timer is not None:
            self.add(
                "timer",
                'INSERT INTO core_order_timer ("order", state, transition, due_at, status, attempts, created_at) '
                f"SELECT id, {self.v(target)}, {self.v(timer[0])}, {self.v(timer[1])}, 'pending', 0, {at} FROM moved",
            )

    def post(
        self, key: str, kind: str, description: str, moves: dict[str, int], refs: dict, actor: Any, now: datetime,
        parties: dict[str, tuple] | None = None,
    ) -> None:  # fmt: skip
        """A posting: its transaction, its accounts (an upsert, in name order), its entries."""
        parties = parties or {}
        at = self.v(now)
        self.add(
            "tx",
            "INSERT INTO core_ledger_transaction (idempotency_key, kind, description, refs, actor_id, created_at) "
            f"VALUES ({self.v(key)}, {self.v(kind)}, {self.v(description)}, {self.v(dumps(refs), '::json')}, "
            f"{self.v(actor, '::integer')}, {at}) RETURNING id",
        )
        lines = sorted((name, amount) for name, amount in moves.items() if amount)
        rows = []
        for name, amount in lines:
            kind_, member = _account(name)
            buyer, seller = parties.get(name, (None, None))
            rows.append(
                f"({self.v(name)}, {self.v(CURRENCY)}, {self.v(kind_)}, {self.v(amount, '::bigint')}, "
                f"{self.v(kind_ == 'external' or amount < 0)}, {self.v(member, '::integer')}, "
                f"{self.v(buyer, '::integer')}, {self.v(seller, '::integer')}, {at})"
            )
        self.add(
            "acc",
            "INSERT INTO core_ledger_account (name, currency, kind, balance, allow_negative, member_id, buyer_id, "
            f"seller_id, created_at) VALUES {', '.join(rows)} ON CONFLICT (name, currency) DO UPDATE SET "
            "balance = core_ledger_account.balance + excluded.balance, "
            "buyer_id = COALESCE(excluded.buyer_id, core_ledger_account.buyer_id), "
            "seller_id = COALESCE(excluded.seller_id, core_ledger_account.seller_id), "
            "allow_negative = core_ledger_account.allow_negative RETURNING id, name, balance",
        )
        self.add(
            "entries",
            'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
            f"SELECT tx.id, acc.id, e.amount, {self.v(CURRENCY)}, acc.balance, {at} FROM tx, acc JOIN (VALUES "
            + ", ".join(f"({self.v(name)}, {self.v(amount, '::bigint')})" for name, amount in lines)
            + ") AS e(name, amount) ON e.name = acc.name ORDER BY acc.name",
        )

    async def run(self, s: Any, returning: str) -> list[Any]:
        return await s.fetch(f"WITH {', '.join(self.parts)} {returning}", *self.args)


# --------------------------------------------------------------------------------------
# The routes (under /lean on the floor's app)
# --------------------------------------------------------------------------------------


@post("/gigs/{listing_id:int}/orders", status_code=201)
async def order_gig(request: Request, listing_id: FromPath[int], data: JSONBody[OrderGig]) -> OrderOut:
    buyer = await _caller(request)
    async with driver.db.transaction() as s:
        listing = await s.row(
            "SELECT l.*, m.id AS owner_id, m.email AS owner_email, m.display_name AS owner_display_name, "
            f"m.status AS owner_status, {_muted(s, 'm.id')} AS owner_muted FROM core_listing l "
            "JOIN core_member m ON m.id = l.owner_id WHERE l.id = $1",
            listing_id,
        )
        if listing is None or listing["kind"] != "gig":
            raise Problem(404, "not_found", f"there is no gig {listing_id}")
        if listing["owner_id"] == buyer["id"]:
            raise Problem(403, "forbidden", "you cannot order your own gig")
        if listing["status"] != "published":
            raise Problem(409, "gig_not_available", f"gig {listing_id} is {listing['status']}")
        now = datetime.now(UTC)
        amount = listing["price"] * data.quantity
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
            "data": {
                "fee_kind": "gig",
                "gig": {"title": listing["title"], "extras": [], "quantity": data.quantity},
                "delivery_days": loads(listing["attributes"])["delivery_days"],
                "requirements": data.requirements.strip(),
                "quote": quote(amount),
            },
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
        seller = _person(listing, "owner")
        title = f"New order {{}} from {buyer['display_name']}"
        if _pg(s):
            order["id"], item["id"] = await _create_pg(s, order, item, buyer["id"], seller, title, now)
        else:
            order["id"], item["id"] = await _create_sqlite(s, order, item, buyer["id"], seller, title, now)
    return to_order(order, [item], buyer["id"])


def _created(order_id: Any) -> dict[str, Any]:
    return {"order_id": order_id, "process": GIG_PROCESS, "state": "awaiting_payment"}


async def _create_sqlite(s, order, item, buyer_id, seller, title, now) -> tuple[int, int]:
    w = Writes(s, now)
    order_id = (await w.insert("core_order", {**order, "data": dumps(order["data"])}, "id"))["id"]
    item_id = (await w.insert("core_order_item", {"order": order_id, **item}, "id"))["id"]
    history = {"order": order_id, "seq": 1, "transition": "create", "to_state": "awaiting_payment"}
    await w.insert(
        "core_order_event", {**history, "actor_role": "buyer", "actor_id": buyer_id, "data": "{}", "at": now}
    )
    await w.timer(order_id, "awaiting_payment", "expire", now + UNPAID_EXPIRY)
    (event,) = await w.events([("order.created", f"order:{order_id}", buyer_id, _created(order_id))])
    await w.notify(event, seller, "order_created", title.format(order_id), f"/orders/{order_id}")
    return order_id, item_id


async def _create_pg(s, order, item, buyer_id, seller, title, now) -> tuple[int, int]:
    """The order, its item, history, timer, event, notice and email: one statement (the
    order's id, which the texts name, taken from its sequence first)."""
    order_id = (await s.row("SELECT nextval(pg_get_serial_sequence('core_order', 'id')) AS id"))["id"]
    q = Sql()
    at = q.v(now)
    columns = [c for c in order if c not in ("state_entered_at", "created_at", "updated_at")]
    values = ", ".join(
        q.v(dumps(order[c]) if c == "data" else order[c], "::json" if c == "data" else "") for c in columns
    )
    q.add(
        "ord",
        f"INSERT INTO core_order (id, {', '.join(columns)}, state_entered_at, created_at, updated_at) "
        f"VALUES ({q.v(order_id)}, {values}, {at}, {at}, {at}) RETURNING id",
    )
    q.add(
        "itm",
        'INSERT INTO core_order_item ("order", position, kind, description, unit_price, quantity, amount) '
        f"SELECT id, {', '.join(q.v(item[c]) for c in ('position', 'kind', 'description', 'unit_price', 'quantity', 'amount'))} "
        "FROM ord RETURNING id",
    )
    q.add(
        "hist",
        'INSERT INTO core_order_event ("order", seq, transition, to_state, actor_role, actor_id, data, at) '
        f"SELECT id, 1, 'create', 'awaiting_payment', 'buyer', {q.v(buyer_id)}, '{{}}'::json, {at} FROM ord",
    )
    q.add(
        "timer",
        'INSERT INTO core_order_timer ("order", state, transition, due_at, status, attempts, created_at) '
        f"SELECT id, 'awaiting_payment', 'expire', {q.v(now + UNPAID_EXPIRY)}, 'pending', 0, {at} FROM ord",
    )
    q.events([("order.created", f"order:{order_id}", buyer_id, _created(order_id))], now)
    q.notify(0, seller, "order_created", title.format(order_id), f"/orders/{order_id}", now)
    rows = await q.run(s, "SELECT (SELECT id FROM ord) AS order_id, (SELECT id FROM itm) AS item_id")
    return rows[0]["order_id"], rows[0]["item_id"]


@post("/orders/{order_id:int}/payments", status_code=201)
async def pay_order(request: Request, order_id: FromPath[int], data: JSONBody[PayOrder]) -> PaymentOut:
    if data.method != "balance":
        raise Problem(422, "validation_error", "the floor pays from the balance only")
    buyer = await _caller(request)
    escrow_ref = f"order:{order_id}"
    async with driver.db.transaction() as s:
        row, _ = await _order(s, order_id, buyer["id"])
        if row["buyer_id"] != buyer["id"]:
            raise Problem(403, "forbidden", "only the buyer pays for the order")
        if row["state"] != "awaiting_payment":
            raise Problem(409, "transition_not_allowed", f"order {order_id} is {row['state']}")
        now = datetime.now(UTC)
        order_data = loads(row["data"])
        total = order_data["quote"]["buyer_total"]
        credit, available = f"member:{buyer['id']}:credit", f"member:{buyer['id']}:available"
        lock = " FOR NO KEY UPDATE" if _pg(s) else ""
        held = {
            r["name"]: r["balance"]
            for r in await s.fetch(
                f"SELECT name, balance FROM core_ledger_account WHERE name IN ($1, $2) AND currency = $3 "
                f"ORDER BY name{lock}",
                available,
                credit,
                CURRENCY,
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
        reference = "PAY-" + secrets.token_hex(5).upper()
        # the payment, settled, unless one funds the order already (its id names the rest)
        payment = await s.row(
            'INSERT INTO core_payment (payer_id, method, amount, currency, purpose, escrow_ref, status, "reference", '
            "details, completed_at, created_at, updated_at) SELECT $1, 'balance', $2, $3, 'escrow', $4, 'completed', "
            "$5, $6, $7, $8, $9 WHERE NOT EXISTS (SELECT 1 FROM core_payment WHERE escrow_ref = $10 AND status IN "
            "('pending', 'awaiting_funds', 'completed')) RETURNING id",
            buyer["id"],
            total,
            CURRENCY,
            escrow_ref,
            reference,
            dumps(details),
            now,
            now,
            now,
            escrow_ref,
        )
        if payment is None:
            raise Problem(409, "order_already_paid", f"order {order_id} is already paid")
        payment_id, escrow = payment["id"], f"{escrow_ref}:escrow"
        order_data["deadline"] = (now + timedelta(days=order_data.get("delivery_days", 1))).isoformat()
        order_data["paid_at"] = now.isoformat()
        posting = (
            f"payment:{payment_id}:settle",
            "payment_completed",
            f"payment for {escrow_ref} by balance ({reference})",
            {credit: -from_credit, available: from_credit - total, escrow: total},
            {"payment": payment_id, "escrow": escrow_ref},
            buyer["id"],
        )
        parties = {escrow: (buyer["id"], row["seller_id"])}
        events = [
            (
                "payment.started",
                f"payment:{payment_id}",
                buyer["id"],
                {"payment_id": payment_id, "method": "balance"},
            ),
            (
                "order.transitioned",
                f"order:{order_id}",
                None,
                _transitioned(row, "paid", "in_progress", "system"),
            ),
            (
                "payment.completed",
                f"payment:{payment_id}",
                buyer["id"],
                {
                    "payment_id": payment_id,
                    "payer_id": buyer["id"],
                    "escrow_ref": escrow_ref,
                    "method": "balance",
                },
            ),
        ]
        seller, link = _person(row, "seller"), f"/orders/{order_id}"
        text = f"Order {order_id}: awaiting payment → in progress (paid automatically)"
        history = {"payment": payment_id}
        if _pg(s):
            q = Sql()
            q.post(*posting, now, parties)
            q.move(row, "in_progress", "paid", "system", None, history, now, data=order_data, cancel=True)
            q.events(events, now)
            q.notify(1, seller, "order_transitioned", f"Order {order_id} was paid", link, now)
            q.message(row, 1, text, now)
            moved = await q.run(s, "SELECT id FROM moved")
        else:
            w = Writes(s, now)
            await w.post(*posting, parties)
            await w.move(row, "in_progress", "paid", "system", None, history, order_data)
            await w.cancel_timers(order_id)
            ids = await w.events(events)
            await w.notify(ids[1], seller, "order_transitioned", f"Order {order_id} was paid", link)
            await w.message(row, ids[1], text)
            moved = True
        if not moved:
            raise Problem(409, "conflict", f"order {order_id} changed while paid was being fired")
    return PaymentOut(
        id=payment_id,
        payer_id=buyer["id"],
        method="balance",
        amount=money(total, CURRENCY),
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


@post("/gigs/orders/{order_id:int}/delivery", status_code=200)
async def deliver(request: Request, order_id: FromPath[int], data: JSONBody[Delivery]) -> OrderOut:
    seller = await _caller(request)
    async with driver.db.transaction() as s:
        row, items = await _order(s, order_id, seller["id"])
        if row["seller_id"] != seller["id"]:
            raise Problem(403, "forbidden", "only the seller delivers the order")
        if row["state"] != "in_progress":
            raise Problem(409, "conflict", f"order {order_id} is {row['state']}")
        now = datetime.now(UTC)
        # the proof, unless one waits for review (its id names the rest)
        proof = await s.row(
            'INSERT INTO core_proof ("order", submitted_by, text, urls, attachments, status, created_at) '
            "SELECT $1, $2, $3, '[]', '[]', 'submitted', $4 WHERE NOT EXISTS "
            "(SELECT 1 FROM core_proof WHERE \"order\" = $5 AND status = 'submitted') RETURNING id",
            order_id,
            seller["id"],
            data.message.strip(),
            now,
            order_id,
        )
        if proof is None:
            raise Problem(409, "conflict", "a proof of this order is waiting for review")
        events = [
            (
                "order.transitioned",
                f"order:{order_id}",
                seller["id"],
                _transitioned(row, "deliver", "delivered", "seller"),
            ),
            (
                "proof.submitted",
                f"order:{order_id}",
                seller["id"],
                {"order_id": order_id, "proof_id": proof["id"], "process": row["process"]},
            ),
        ]
        buyer = _person(row, "buyer")
        title, link = f"Order {order_id} was delivered", f"/orders/{order_id}/proofs"
        text = f"Order {order_id}: in progress → delivered (deliver by the seller)"
        history, due = {"proof": proof["id"]}, now + AUTO_COMPLETE
        if _pg(s):
            q = Sql()
            q.move(
                row,
                "delivered",
                "deliver",
                "seller",
                seller["id"],
                history,
                now,
                timer=("auto_complete", due),
            )
            q.events(events, now)
            q.notify(1, buyer, "proof_submitted", title, link, now)
            q.message(row, 0, text, now)
            if not await q.run(s, "SELECT id FROM moved"):
                raise Problem(409, "conflict", f"order {order_id} changed while deliver was being fired")
        else:
            w = Writes(s, now)
            await w.move(row, "delivered", "deliver", "seller", seller["id"], history)
            await w.timer(order_id, "delivered", "auto_complete", due)
            ids = await w.events(events)
            await w.notify(ids[1], buyer, "proof_submitted", title, link)
            await w.message(row, ids[0], text)
    return to_order(_moved(row, "delivered", now), items, seller["id"])


@post("/gigs/orders/{order_id:int}/accept", status_code=200)
async def accept(request: Request, order_id: FromPath[int]) -> OrderOut:
    buyer = await _caller(request)
    async with driver.db.transaction() as s:
        row, items = await _order(s, order_id, buyer["id"])
        if row["state"] != "delivered":
            raise Problem(409, "transition_not_allowed", f"order {order_id} is {row['state']}")
        if row["buyer_id"] != buyer["id"]:
            raise Problem(403, "actor_not_allowed", "accept is for the buyer of the order")
        now = datetime.now(UTC)
        figures = loads(row["data"])["quote"]
        net, fees = figures["seller_net"], figures["platform_total"]
        posting = (
            f"order:{order_id}:release",
            "escrow_released",
            f"Order {order_id} completed: payment to the seller",
            {
                f"order:{order_id}:escrow": -(net + fees),
                f"member:{row['seller_id']}:available": net,
                "platform:fees": fees,
            },
            {"order": order_id},
            buyer["id"],
        )
        events = [
            (
                "order.transitioned",
                f"order:{order_id}",
                buyer["id"],
                _transitioned(row, "accept", "completed", "buyer"),
            )
        ]
        seller = _person(row, "seller")
        title, link = f"Order {order_id} was completed", f"/orders/{order_id}"
        text = f"Order {order_id}: delivered → completed (accept by the buyer)"
        accepted = (
            "UPDATE core_proof SET status = 'accepted', reviewed_by = {}, reviewed_at = {} "
            "WHERE \"order\" = {} AND status = 'submitted'"
        )
        lapsed = "UPDATE gigs_cancellation SET status = 'lapsed', decided_at = {} WHERE order_id = {} AND status = 'open'"
        if _pg(s):
            q = Sql()
            q.move(row, "completed", "accept", "buyer", buyer["id"], {}, now, cancel=True)
            q.add("proof", accepted.format(q.v(buyer["id"]), q.v(now), q.v(order_id)))
            q.events(events, now)
            q.add("lapsed", lapsed.format(q.v(now), q.v(order_id)))
            q.notify(0, seller, "order_transitioned", title, link, now)
            q.message(row, 0, text, now)
            q.post(*posting, now)  # the fee account's row last: the statement's end holds it
            if not await q.run(s, "SELECT id FROM moved"):
                raise Problem(409, "conflict", f"order {order_id} changed while accept was being fired")
        else:
            w = Writes(s, now)
            await w.move(row, "completed", "accept", "buyer", buyer["id"], {})
            await w.cancel_timers(order_id)
            await s.fetch(accepted.replace("{}", "${}").format(1, 2, 3), buyer["id"], now, order_id)
            await w.post(*posting)
            (event,) = await w.events(events)
            await s.fetch(lapsed.replace("{}", "${}").format(1, 2), now, order_id)
            await w.notify(event, seller, "order_transitioned", title, link)
            await w.message(row, event, text)
    return to_order(_moved(row, "completed", now), items, buyer["id"])


@post("/withdrawals", status_code=201)
async def withdraw(request: Request, data: JSONBody[CreateWithdrawal]) -> WithdrawalOut:
    if data.method != "bank_transfer":
        raise Problem(422, "validation_error", "the floor withdraws by bank transfer only")
    amount = parse_cents(data.amount.amount)
    if amount < BANK_MINIMUM:
        raise Problem(422, "below_minimum", "the minimum is 50.00 USD")
    member = await _caller(request)
    available, clearing = f"member:{member['id']}:available", f"payouts:{data.method}:clearing"
    async with driver.db.transaction() as s:
        # the microjobs plugin's rule (enabled on the bench site) and the balance, in one read
        lock = " FOR NO KEY UPDATE OF a" if _pg(s) else ""
        found = await s.row(
            "SELECT a.balance, EXISTS(SELECT 1 FROM microjobs_task WHERE worker_id = $1) AS worked "
            f"FROM core_ledger_account a WHERE a.name = $2 AND a.currency = $3{lock}",
            member["id"],
            available,
            CURRENCY,
        )
        balance = found["balance"] if found else 0
        if balance < amount:
            raise insufficient(available, balance, amount)
        now = datetime.now(UTC)
        row = {
            "member_id": member["id"],
            "method": data.method,
            "amount": amount,
            "fee": 0,
            "currency": CURRENCY,
            "destination": dumps(data.destination),
            "status": "requested",
            "created_at": now,
            "updated_at": now,
            "due_at": now + timedelta(days=PAYOUT_DAYS),
        }
        if _pg(s):
            withdrawal_id = (
                await s.row("SELECT nextval(pg_get_serial_sequence('core_withdrawal', 'id')) AS id")
            )["id"]
        else:
            withdrawal_id = None
        posting = lambda wid: (  # noqa: E731 - named by the withdrawal's id
            f"withdrawal:{wid}:request",
            "withdrawal_requested",
            f"Withdrawal {wid} to Bank transfer",
            {available: -amount, clearing: amount},
            {"withdrawal": wid},
            member["id"],
        )
        requested = lambda wid: [  # noqa: E731
            (
                "withdrawal.requested",
                f"withdrawal:{wid}",
                member["id"],
                {"withdrawal_id": wid, "method": data.method},
            )
        ]
        if _pg(s):
            q = Sql()
            q.add(
                "wd",
                f"INSERT INTO core_withdrawal (id, {', '.join(row)}) VALUES ({q.v(withdrawal_id)}, "
                + ", ".join(q.v(v, "::json" if k == "destination" else "") for k, v in row.items())
                + ") RETURNING id",
            )
            q.post(*posting(withdrawal_id), now)
            q.events(requested(withdrawal_id), now)
            await q.run(s, "SELECT id FROM wd")
        else:
            w = Writes(s, now)
            withdrawal_id = (await w.insert("core_withdrawal", row, "id"))["id"]
            await w.post(*posting(withdrawal_id))
            await w.events(requested(withdrawal_id))
    return WithdrawalOut(
        id=withdrawal_id,
        member_id=member["id"],
        method=data.method,
        amount=money(amount, CURRENCY),
        fee=money(0, CURRENCY),
        net=money(amount, CURRENCY),
        destination=data.destination,
        status="requested",
        batch_ref=None,
        provider_ref=None,
        failure_reason=None,
        completed_at=None,
        created_at=now,
        updated_at=now,
        due_at=row["due_at"],
        overdue=False,
    )


ROUTES = [order_gig, pay_order, deliver, accept, withdraw]
