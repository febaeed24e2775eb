"""The app's own statements for the order flow and a withdrawal, through the raw driver.

The same-statements floor runs, for each of these requests, the statements the app runs
(``python -m bench capture``): the same reads, the same writes, one transaction, on each
engine its statements (PostgreSQL writes a move, a posting, a notice with its email, an
order with its items in one statement each; SQLite a statement per table).  The big
PostgreSQL statements are the app's own text (``agorakit.orders.engine``,
``agorakit.money.moves``, ...), so that the two cannot drift apart; the others are
written here.  What the app costs above this floor is the framework: routing, the plugin
manager, Piccolo's query building and result processing, msgspec and Litestar glue.
"""

from __future__ import annotations

import functools
import re
import secrets
import sqlite3
from datetime import datetime
from typing import Any

from bench.floor.driver import in_list
from bench.floor.schemas import Problem, dumps, loads

CURRENCY = "USD"
#: the columns of an item read with its order (``item_<column>``), as the app reads them
ITEM_COLUMNS = ("id", "position", "kind", "description", "unit_price", "quantity", "amount")


def numbered(sql: str) -> str:
    """The app's SQL with ``{}`` for each value as the floor writes it: ``$1``, ``$2``..."""
    count = iter(range(1, 10_000))
    return re.sub(r"\{\}", lambda _: f"${next(count)}", sql)


@functools.cache
def app_sql(module: str, name: str, *args: Any) -> str:
    """The PostgreSQL text of one of the app's prepared statements (``{}`` numbered);
    ``args``: what builds it, when ``name`` is a function of them."""
    import importlib

    target = getattr(importlib.import_module(module), name)
    prepared = target(*args) if args else target
    return numbered(prepared.sql("postgres") if callable(prepared.sql) else prepared.sql)


def is_pg(s: Any) -> bool:
    return type(s).__name__ == "PgSession"


# --------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------


async def listing_view(s: Any, listing_id: int) -> Any:
    """The gig as the app's listing view reads it: the listing (its rating summaries are
    on its row), its seller, the category index (three reads)."""
    listing = await s.row("SELECT * FROM core_listing WHERE id = $1 LIMIT 1", listing_id)
    if listing is None:
        return None
    await s.fetch(
        "SELECT id, display_name, country FROM core_member WHERE id = ANY($1)", [listing["owner_id"]]
    )
    await s.fetch("SELECT id, slug, parent_id FROM core_category")
    return listing


def _order_sql(pg: bool) -> str:
    items = ", ".join(f'i."{c}" AS "item_{c}"' for c in ITEM_COLUMNS)
    concat = "string_agg" if pg else "group_concat"
    parties = ", ".join(
        f"{a}.email AS {role}_email, {a}.display_name AS {role}_display_name, {a}.status AS {role}_status, "
        f"(SELECT {concat}(n.category, ',') FROM core_notification_preference n WHERE n.member_id = {a}.id "
        f"AND NOT n.email) AS {role}_muted"
        for role, a in (("buyer", "b"), ("seller", "s"))
    )
    from agorakit.orders.queries import _THREAD

    thread = _THREAD.format(concat=concat)
    return (
        f'SELECT o.*, {items}, {parties}, {thread} FROM core_order o LEFT JOIN core_order_item i ON i."order" = o.id '
        "LEFT JOIN core_member b ON b.id = o.buyer_id LEFT JOIN core_member s ON s.id = o.seller_id "
        'WHERE o.id = $1 ORDER BY i."position" FOR UPDATE OF o'
    )


async def order_with_parties(s: Any, order_id: int, member_id: int) -> tuple[Any, list[dict[str, Any]]]:
    """The order locked, its items, its parties (with their email settings) and its
    conversation (with its participants), in one read as the app's; 404 unless the member
    is a party."""
    rows = await s.fetch(_order_sql(is_pg(s)), order_id)
    if not rows or member_id not in (rows[0]["buyer_id"], rows[0]["seller_id"]):
        raise Problem(404, "not_found", f"there is no order {order_id}")
    items = [{c: r[f"item_{c}"] for c in ITEM_COLUMNS} for r in rows if r["item_id"] is not None]
    return rows[0], items


def party(row: Any, role: str) -> dict[str, Any]:
    """A party of the order as its read gave it: the notice's recipient."""
    return {
        "id": row[f"{role}_id"],
        "email": row[f"{role}_email"],
        "display_name": row[f"{role}_display_name"],
        "status": row[f"{role}_status"],
        "muted": set(filter(None, (row[f"{role}_muted"] or "").split(","))),
    }


async def recipient(s: Any, member_id: int) -> dict[str, Any]:
    """A notice's recipient and the categories they muted, in one read (the app's)."""
    rows = await s.fetch(
        "SELECT m.id, m.email, m.display_name, m.status, p.category AS muted FROM core_member m "
        "LEFT JOIN core_notification_preference p ON p.member_id = m.id AND NOT p.email WHERE m.id = ANY($1)",
        [member_id],
    )
    return {**dict(rows[0]), "muted": {r["muted"] for r in rows if r["muted"]}}


# --------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------


async def store_events(s: Any, events: list[tuple[str, str, int | None, dict]], now: datetime) -> list[int]:
    """The unit of work's events, stored published (no handler takes them after the
    commit): one insert."""
    args: list[Any] = []
    for name, subject, actor, data in events:
        args += [name, subject, actor, dumps(data), now, "published", 0, None, now, None, None]
    values = ", ".join(f"({in_list(1 + 11 * i, 11)})" for i in range(len(events)))
    rows = await s.fetch(
        'INSERT INTO "core_domain_event" ("name","subject","actor_id","data","at","status","attempts",'
        f'"last_error","published_at","process_id","claimed_at") VALUES {values} RETURNING "id"',
        *args,
    )
    return [r["id"] for r in rows]


def _bodies(member: dict[str, Any], title: str) -> tuple[str, str, str]:
    body = (
        f"Hello {member['display_name']}, {title.lower()}. " + "Open the order to see what happens next. " * 3
    )
    return body, body * 2, f"<html><body><p>{body}</p><p>{body}</p></body></html>"


async def notify(
    s: Any, event_id: int, member: dict[str, Any], template: str, title: str, link: str, now: datetime
) -> None:
    """One notice: the notification and, unless muted, its email, in one statement
    (PostgreSQL: a data-modifying ``WITH``; SQLite: an insert into the view
    ``core_notice``)."""
    if member["status"] != "active":
        return
    body, text, html = _bodies(member, title)
    emailed = bool(member["email"]) and "orders" not in member["muted"]
    message_id = f"<{secrets.token_hex(16)}@bench>"
    if is_pg(s):
        email = [
            [event_id],
            [member["id"]],
            [template],
            [member["email"]],
            [title],
            [text],
            [html],
            [message_id],
        ]
        await s.fetch(
            app_sql("agorakit.notifications.service", "_NOTIFY_AT_ONCE"),
            now,
            [member["id"]],
            [event_id],
            ["orders"],
            [template],
            [title],
            [body],
            [link],
            now,
            now,
            *(column if emailed else [] for column in email),
        )
        return
    # the notification and its email by one insert into the view (its trigger writes both)
    await s.fetch(
        "INSERT INTO core_notice (member_id, event_id, category, template, title, body, link, created_at, "
        "to_address, subject, text_body, html_body, message_id, next_attempt_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        member["id"],
        event_id,
        "orders",
        template,
        title,
        body,
        link,
        now,
        *((member["email"], title, text, html, message_id, now) if emailed else (None,) * 6),
    )


async def system_message(s: Any, order: Any, event_id: int, body: str, now: datetime) -> None:
    """The order conversation's system message as the app posts it: the conversation as
    the order's read found it (``order``), the conversation and its participants inserted
    the first time, the message (whose insert moves the conversation's activity)."""
    conversation = order["conversation_id"]
    if conversation is None:
        key = f"order:{order['id']}"
        created = await s.row(
            'INSERT INTO "core_conversation" ("key","kind","subject","last_message_id","last_message_at",'
            '"created_at") VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT ("key") DO NOTHING RETURNING "id"',
            key,
            "order",
            key,
            0,
            None,
            now,
        )
        conversation = created["id"]
        parties = [order["buyer_id"], order["seller_id"]]
        args: list[Any] = []
        for member_id in parties:
            args += [conversation, member_id, 0, now]
        values = ", ".join(f"({in_list(1 + 4 * i, 4)})" for i in range(len(parties)))
        await s.fetch(
            'INSERT INTO "core_conversation_participant" ("conversation","member_id","last_read_message_id",'
            f'"joined_at") VALUES {values} ON CONFLICT ("conversation","member_id") DO NOTHING',
            *args,
        )
    await s.row(
        'INSERT INTO "core_message" ("conversation","sender_id","kind","body","attachments","flags","flagged",'
        '"event_id","created_at","edited_at","deleted_at") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) '
        'ON CONFLICT ("event_id") DO NOTHING RETURNING "id"',
        conversation,
        None,
        "system",
        body,
        "[]",
        "[]",
        False,
        event_id,
        now,
        None,
        None,
    )


# --------------------------------------------------------------------------------------
# Postings (the app's agorakit.money.ledger)
# --------------------------------------------------------------------------------------

DEFERRED = frozenset({"platform:fees"})


def account_kind(name: str) -> tuple[str, int | None]:
    parts = name.split(":")
    if parts[0] == "member":
        return parts[2], int(parts[1])
    if name.endswith(":escrow"):
        return "escrow", None
    return {"platform": "fees", "payouts": "clearing", "external": "external"}[parts[0]], None


def _account_row(name: str, amount: int, parties: dict[str, tuple], now: datetime, proposed: bool) -> list:
    kind, member_id = account_kind(name)
    buyer_id, seller_id = parties.get(name, (None, None))
    allow_negative = kind == "external" or (proposed and amount < 0)
    return [name, CURRENCY, kind, amount, allow_negative, member_id, buyer_id, seller_id, now]


def insufficient(name: str, balance: int, needed: int) -> Problem:
    from bench.floor.ledger import insufficient as refusal

    return refusal(name, balance, needed)


async def post(
    s: Any,
    *,
    key: str,
    kind: str,
    description: str,
    moves: dict[str, int],
    refs: dict[str, Any],
    actor: int | None,
    now: datetime,
    parties: dict[str, tuple] | None = None,
    deferred: list | None = None,
) -> int:
    """A posting as the app writes it: PostgreSQL one statement (its transaction, its
    accounts, its entries; the fee credit left to ``deferred``), SQLite two (its
    transaction, then its legs through the view ``core_ledger_leg``)."""
    parties = parties or {}
    pg = is_pg(s)
    lines = sorted(
        (name, amount) for name, amount in moves.items() if amount and not (pg and name in DEFERRED)
    )
    if pg:
        rows = await s.fetch(
            app_sql("agorakit.money.moves", "_POST_AT_ONCE"),
            now,
            [key],
            [kind],
            [description],
            [dumps(refs)],
            [actor],
            [key for _ in lines],
            *(
                [r[i] for r in (_account_row(n, a, parties, now, False) for n, a in lines)]
                for i in (0, 1, 3, 2, 4, 5, 6, 7)
            ),
            now,
            now,
        )
        transaction = next(r["id"] for r in rows if r["what"] == "transaction")
        refused = [r for r in rows if r["what"] == "refused"]
        if refused:
            needed = -dict(lines)[refused[0]["name"]]
            raise insufficient(refused[0]["name"], refused[0]["balance"], needed)
        for name, amount in moves.items():
            if name in DEFERRED and amount:
                (deferred if deferred is not None else []).append((transaction, name, amount))
        return transaction
    transaction = (
        await s.row(
            'INSERT INTO "core_ledger_transaction" ("idempotency_key","kind","description","refs","actor_id",'
            '"created_at") VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT ("idempotency_key") DO NOTHING RETURNING "id"',
            key,
            kind,
            description,
            dumps(refs),
            actor,
            now,
        )
    )["id"]
    # its accounts and entries by one insert into the view (its trigger moves each account)
    values = ", ".join(f"({in_list(1 + 10 * i, 10)})" for i in range(len(lines)))
    args = [
        v for name, amount in lines for v in [transaction, *_account_row(name, amount, parties, now, False)]
    ]
    try:
        await s.fetch(
            'INSERT INTO core_ledger_leg ("transaction", name, currency, kind, amount, allow_negative, member_id, '
            f"buyer_id, seller_id, created_at) VALUES {values}",
            *args,
        )
    except sqlite3.IntegrityError:
        name, amount = next((n, a) for n, a in lines if a < 0)
        raise insufficient(name, 0, -amount) from None
    return transaction


async def move_deferred(s: Any, deferred: list, now: datetime) -> None:
    """PostgreSQL: the fee credits left to the end of the transaction, in one statement."""
    if not deferred:
        return
    name = deferred[0][1]
    total = sum(amount for _, _, amount in deferred)
    later, after = [], total
    for _, _, amount in deferred:
        after -= amount
        later.append(after)
    await s.fetch(
        numbered(_deferred_sql()),
        name,
        CURRENCY,
        account_kind(name)[0],
        total,
        now,
        CURRENCY,
        [t for t, _, _ in deferred],
        [a for _, _, a in deferred],
        later,
        [now for _ in deferred],
    )


@functools.cache
def _deferred_sql() -> str:
    from agorakit.money.moves import _deferred_sql as sql

    return sql("postgres")


# --------------------------------------------------------------------------------------
# Moves (the app's agorakit.orders.engine)
# --------------------------------------------------------------------------------------

#: the gig process's timers: state -> (transition, delay)
TIMED = frozenset({"awaiting_payment", "delivered"})


async def move(
    s: Any,
    row: Any,
    target: str,
    name: str,
    role: str,
    actor: int | None,
    history: dict,
    now: datetime,
    timers: list[tuple[str, datetime]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """An order enters ``target`` as the app moves it (PostgreSQL: one statement; SQLite:
    its history row, whose insert moves it and cancels its old state's timers, and its new
    timers)."""
    cancel = row["state"] in TIMED
    if is_pg(s):
        sql = app_sql("agorakit.orders.engine", "_move_at_once", "all" if cancel else "", bool(timers))
        values: list[Any] = [
            [row["id"]],
            [row["version"]],
            [row["seller_id"]],
            [row["state"]],
            [role],
            [actor],
            [dumps(history)],
            target,
            now,
            now,
            name,
            target,
            now,
        ]
        if timers:
            values += [
                target,
                now,
                [row["id"] for _ in timers],
                [t for t, _ in timers],
                [d for _, d in timers],
            ]
        moved = await s.fetch(sql, *values)
    else:
        # the history row's insert moves the order and cancels its timers (triggers)
        try:
            await s.fetch(
                'INSERT INTO "core_order_event" ("order","seq","transition","from_state","to_state","actor_role",'
                '"actor_id","data","at") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
                row["id"],
                row["version"] + 1,
                name,
                row["state"],
                target,
                role,
                actor,
                dumps(history),
                now,
            )
            moved = True
        except sqlite3.IntegrityError:
            moved = False
        for transition, due in timers if moved else ():
            await timer(s, row["id"], target, transition, due, now)
    if not moved:
        raise Problem(409, "conflict", f"order {row['id']} changed while {name} was being fired")
    return {
        **dict(row),
        "state": target,
        "version": row["version"] + 1,
        "state_entered_at": now,
        "updated_at": now,
        "data": loads(row["data"]) or {},
    }


async def timer(s: Any, order_id: int, state: str, transition: str, due: datetime, now: datetime) -> None:
    await s.fetch(
        'INSERT INTO "core_order_timer" ("order","state","transition","due_at","status","attempts","last_error",'
        '"fired_at","created_at") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
        order_id,
        state,
        transition,
        due,
        "pending",
        0,
        None,
        None,
        now,
    )
