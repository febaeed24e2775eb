"""Moving account balances: every account of a posting in one statement.

A posting's accounts are moved by one ``INSERT ... ON CONFLICT (name, currency) DO
UPDATE`` of all of them, addressed by name: an account that exists gets its delta added,
one that does not is created with the delta as its first balance, and each comes back
with its id and its balance after the move, which the posting's entries need.  Nothing
is looked up first.  The update is conditional: a debit that would take an account that
may not go negative below zero changes nothing and the account is not returned, which
:func:`move_accounts` reports as a refusal (a credit is never refused).  Rows are written
in name order, so the row locks (PostgreSQL) of concurrent postings are taken in one
order and they cannot deadlock on them.

An escrow's parties (its buyer and seller) ride along with its row: staged in the unit of
work by :func:`stage_parties` and written by the first move of that escrow in the same
transaction, or just before the commit when none moves it.

On PostgreSQL the credits of the accounts in :data:`DEFERRED` (the site's fee account,
which every completion credits) wait for the end of the unit of work, and are then moved
with their entries in one statement per account (:func:`move_deferred`).
"""

from __future__ import annotations

import functools
import sqlite3
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db.prepared import PreparedRaw
from agorakit.money.account_names import PLATFORM_FEES, account_kind
from agorakit.money.tables import LedgerAccount, LedgerEntry

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import UnitOfWork

#: accounts that most postings credit (every completion): on PostgreSQL a transaction
#: credits them just before it commits, all its credits in one statement, so that it holds
#: their row lock for a moment instead of from its first posting on (a worker's batch of
#: completions held the fee account's for the whole batch, and concurrent batches took
#: turns).  Debits move at once, after the transaction's pending credits.
DEFERRED = frozenset({PLATFORM_FEES})
_DEFERRED_KEY = "ledger.deferred"
_PARTIES_KEY = "ledger.parties"

_COLUMNS = "name, currency, kind, balance, allow_negative, member_id, buyer_id, seller_id, created_at"
#: an account a concurrent transaction opened after this statement's snapshot: the insert
#: waits for it and moves it as an update would (an account proposed here is opened by a
#: credit or a debit that may go negative, so this never refuses)
_OPENED_MEANWHILE = (
    "ON CONFLICT (name, currency) DO UPDATE SET balance = core_ledger_account.balance + excluded.balance, "
    "buyer_id = COALESCE(excluded.buyer_id, core_ledger_account.buyer_id), "
    "seller_id = COALESCE(excluded.seller_id, core_ledger_account.seller_id) "
)


@functools.cache
def _upsert(rows: int, checked: bool) -> PreparedRaw:
    """SQLite: move ``rows`` accounts by name (created when missing); ``checked``: a debit
    that would take an account that may not go negative below zero is refused (its row
    is not returned).  (SQLite assigns a new row the next id only when it inserts it.)"""
    values = ", ".join(["({}, {}, {}, {}, {}, {}, {}, {}, {})"] * rows)
    condition = (
        " WHERE excluded.balance >= 0 OR core_ledger_account.allow_negative"
        " OR core_ledger_account.balance + excluded.balance >= 0"
        if checked
        else ""
    )
    return PreparedRaw(
        LedgerAccount,
        f"INSERT INTO core_ledger_account ({_COLUMNS}) VALUES {values} "
        "ON CONFLICT (name, currency) DO UPDATE SET balance = core_ledger_account.balance + excluded.balance, "
        "buyer_id = COALESCE(excluded.buyer_id, core_ledger_account.buyer_id), "
        "seller_id = COALESCE(excluded.seller_id, core_ledger_account.seller_id)"
        f"{condition} RETURNING id, name, currency, balance, allow_negative, TRUE AS moved",
    )


@functools.cache
def _update_or_create(checked: bool) -> PreparedRaw:
    """PostgreSQL: the accounts (given as arrays, one per column) locked in the order
    given, each moved unless it is a refused debit, and the missing ones created with
    their first balance (not a debit's, when ``checked``).  An upsert would draw an id
    from the sequence for every account it moves, created or not; this draws one only
    for an account it creates.  Rows: the moved and created accounts (``moved``), and the
    refused ones with the balance they kept (``NOT moved``)."""
    refuse = " AND (l.delta >= 0 OR a.allow_negative OR a.balance + l.delta >= 0)" if checked else ""
    create = " AND (v.delta >= 0 OR v.allow_negative)" if checked else ""
    sql = (
        "WITH v AS (SELECT * FROM unnest({}::varchar[], {}::varchar[], {}::varchar[], {}::bigint[], "
        "{}::boolean[], {}::integer[], {}::integer[], {}::integer[], {}::timestamptz[]) WITH ORDINALITY "
        "AS v(name, currency, kind, delta, allow_negative, member_id, buyer_id, seller_id, created_at, position)), "
        "locked AS (SELECT a.id, a.name, a.currency, a.balance, a.allow_negative, v.delta, v.buyer_id, v.seller_id "
        "FROM core_ledger_account a JOIN v ON a.name = v.name AND a.currency = v.currency "
        "ORDER BY v.position FOR NO KEY UPDATE OF a), "
        "moved AS (UPDATE core_ledger_account a SET balance = a.balance + l.delta, "
        "buyer_id = COALESCE(l.buyer_id, a.buyer_id), seller_id = COALESCE(l.seller_id, a.seller_id) "
        f"FROM locked l WHERE a.id = l.id{refuse} RETURNING a.id, a.name, a.currency, a.balance, a.allow_negative), "
        f"created AS (INSERT INTO core_ledger_account ({_COLUMNS}) "
        "SELECT name, currency, kind, delta, allow_negative, member_id, buyer_id, seller_id, created_at FROM v "
        "WHERE NOT EXISTS (SELECT 1 FROM core_ledger_account a WHERE a.name = v.name AND a.currency = v.currency)"
        f"{create} ORDER BY position {_OPENED_MEANWHILE}"
        "RETURNING id, name, currency, balance, allow_negative) "
        "SELECT id, name, currency, balance, allow_negative, TRUE AS moved FROM moved "
        "UNION ALL SELECT id, name, currency, balance, allow_negative, TRUE FROM created "
        "UNION ALL SELECT id, name, currency, balance, allow_negative, FALSE FROM locked l "
        "WHERE NOT EXISTS (SELECT 1 FROM moved m WHERE m.id = l.id)"
    )
    return PreparedRaw(LedgerAccount, sql)


class Refused(Exception):
    """A debit refused: ``name`` may not go below zero (``balance``: what it holds, None
    when the statement did not say)."""

    def __init__(self, name: str, currency: str, amount: int, balance: int | None) -> None:
        self.name, self.currency, self.amount, self.balance = name, currency, amount, balance
        super().__init__(f"{name} {currency}: {amount}")


def _row(uow: UnitOfWork, name: str, currency: str, amount: int, checked: bool, proposed: bool) -> list[Any]:
    kind, member_id = account_kind(name)
    buyer_id = seller_id = None
    if kind == "escrow":
        parties = uow.outer.pending.get(_PARTIES_KEY)
        staged = next((p for p in parties or () if p[0] == name and p[1] == currency), None)
        if staged is not None:
            parties.remove(staged)  # type: ignore[union-attr]  # found in it
            _, _, buyer_id, seller_id = staged
    allow_negative = kind == "external"
    if proposed and checked and amount < 0:
        # SQLite's upsert checks the row it proposes against the table's rules even when
        # the account exists and only the update applies (which keeps the account's own
        # allow_negative): a checked debit's row says it may go negative.  Proposed for an
        # account that did not exist, it would open one below zero: refused below.
        allow_negative = True
    return [name, currency, kind, amount, allow_negative, member_id, buyer_id, seller_id, uow.now]


_DROP_CREATED = PreparedRaw(LedgerAccount, "DELETE FROM core_ledger_account WHERE id = {}")


async def move_accounts(
    uow: UnitOfWork, moves: list[tuple[str, str, int]], *, checked: bool = True, in_order: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """Add each ``(name, currency, delta)`` to its account in one statement (see the
    module); the accounts' rows after it (``id``, ``balance``, ``allow_negative``) by
    ``(name, currency)``.  ``checked=False``: no debit is refused (a clawback's).  The
    accounts are moved (and the missing ones created) in name order, or in the order
    given (``in_order``).

    :raises Refused: a debit would take an account that may not go negative below zero
        (the statement may have moved the others: the caller's transaction must roll
        back).
    """
    if not in_order:
        moves = sorted(moves)
    postgres = uow.runtime.db.is_postgres
    rows = [
        _row(uow, name, currency, amount, checked, proposed=not postgres) for name, currency, amount in moves
    ]
    if postgres:
        result = await _update_or_create(checked).run(*(list(column) for column in zip(*rows, strict=True)))
    else:
        result = await _upsert(len(rows), checked).run(*(value for row in rows for value in row))
    found = {(row["name"], row["currency"]): row for row in result}
    for name, currency, amount in moves:
        row = found.get((name, currency))
        if row is None and not postgres:  # the upsert's condition refused the debit
            raise Refused(name, currency, -amount, None)
        if row is None and amount < 0:  # a checked debit of an account that does not exist
            raise Refused(name, currency, -amount, 0)
        if row is None:  # (an account proposed here is always opened or moved)
            raise LookupError(f"ledger account {name} {currency} was neither moved nor opened")
        if not row["moved"]:
            raise Refused(name, currency, -amount, row["balance"])
        if (
            not postgres
            and checked
            and amount < 0
            and row["allow_negative"]
            and account_kind(name)[0] != "external"
        ):
            await _DROP_CREATED.run(row["id"])  # the row this debit proposed opened it: it held nothing
            raise Refused(name, currency, -amount, 0)
    return found


#: SQLite: the columns of the view ``core_ledger_leg`` (migration ``core_money``
#: 2027-01-11) that a posting's legs give
_LEG_COLUMNS = (
    '"transaction", name, currency, kind, amount, allow_negative, member_id, buyer_id, seller_id, created_at'
)
#: SQLite: what the view's trigger says of a debit its account may not take
REFUSED_LEG = "a debit the account cannot take"
_BALANCES = PreparedRaw(
    LedgerAccount,
    "SELECT name, currency, balance, allow_negative FROM core_ledger_account "
    "WHERE name IN (SELECT value FROM json_each({})) AND currency = {}",
)


@functools.cache
def _insert_legs(rows: int) -> PreparedRaw:
    row = "(" + ", ".join(["{}"] * 10) + ")"
    return PreparedRaw(
        LedgerEntry, f"INSERT INTO core_ledger_leg ({_LEG_COLUMNS}) VALUES {', '.join([row] * rows)}"
    )


async def post_legs(uow: UnitOfWork, legs: list[tuple[int, str, str, int]]) -> None:
    """SQLite: postings' accounts and entries in one statement, an insert of their legs
    ``(transaction id, name, currency, amount)``, in the order given (each posting's in
    name order), into the view ``core_ledger_leg``: the view's trigger moves each account
    addressed by name (opening a missing one with the leg as its first balance, an escrow
    with its parties) and writes the leg's entry with the balance after it, or refuses the
    whole statement at a debit that would take an account that may not go negative below
    zero.

    :raises Refused: the first such debit, with its account's balance before the legs
        (nothing of the statement is kept).
    """
    rows = [
        [tx, *_row(uow, name, currency, amount, True, proposed=False)] for tx, name, currency, amount in legs
    ]
    try:
        await _insert_legs(len(rows)).run(*(value for row in rows for value in row))
    except sqlite3.IntegrityError as exc:
        if REFUSED_LEG not in str(exc):
            raise
        raise await _refused_leg(legs) from None


async def _refused_leg(legs: list[tuple[int, str, str, int]]) -> Refused:
    """The first of ``legs`` that the view's trigger refused, read again (the statement
    wrote nothing)."""
    found: dict[tuple[str, str], Any] = {}
    for _, name, currency, _ in legs:
        if (name, currency) not in found:
            rows = await _BALANCES.run(msgspec.json.encode([name]).decode(), currency)
            found[(name, currency)] = rows[0] if rows else None
    balances = {key: row["balance"] if row else 0 for key, row in found.items()}
    for _, name, currency, amount in legs:
        row, balance = found[(name, currency)], balances[(name, currency)]
        allowed = row["allow_negative"] if row else account_kind(name)[0] == "external"
        if amount < 0 and not allowed and balance + amount < 0:
            start = row["balance"] if row else 0
            return Refused(name, currency, -amount, start)
        balances[(name, currency)] = balance + amount
    raise LookupError("the ledger refused a debit that no account of the posting makes")


_POST_AT_ONCE = PreparedRaw(
    LedgerEntry,
    lambda engine: (
        "WITH t AS (INSERT INTO core_ledger_transaction (idempotency_key, kind, description, refs, actor_id, "
        "created_at) SELECT x.k, x.kd, x.d, x.r::json, x.a, {} FROM unnest({}::varchar[], {}::varchar[], "
        "{}::text[], {}::text[], {}::integer[]) WITH ORDINALITY AS x(k, kd, d, r, a, position) ORDER BY x.position "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key), "
        "e AS (SELECT * FROM unnest({}::varchar[], {}::varchar[], {}::varchar[], {}::bigint[], {}::varchar[], "
        "{}::boolean[], {}::integer[], {}::integer[], {}::integer[]) WITH ORDINALITY AS e(key, name, currency, "
        "amount, kind, allow_negative, member_id, buyer_id, seller_id, position)), "
        "fresh AS (SELECT e.*, t.id AS tx FROM e JOIN t ON t.idempotency_key = e.key), "
        "v AS (SELECT name, currency, sum(amount) AS delta, min(position) AS position, min(kind) AS kind, "
        "bool_or(allow_negative) AS allow_negative, min(member_id) AS member_id, min(buyer_id) AS buyer_id, "
        "min(seller_id) AS seller_id FROM fresh GROUP BY name, currency), "
        "locked AS (SELECT a.id, a.name, a.currency, a.balance, v.delta, v.buyer_id, v.seller_id "
        "FROM core_ledger_account a JOIN v ON a.name = v.name AND a.currency = v.currency "
        "ORDER BY v.position FOR NO KEY UPDATE OF a), "
        "moved AS (UPDATE core_ledger_account a SET balance = a.balance + l.delta, "
        "buyer_id = COALESCE(l.buyer_id, a.buyer_id), seller_id = COALESCE(l.seller_id, a.seller_id) "
        "FROM locked l WHERE a.id = l.id AND (l.delta >= 0 OR a.allow_negative OR a.balance + l.delta >= 0) "
        "RETURNING a.id, a.name, a.currency, a.balance, a.allow_negative), "
        f"created AS (INSERT INTO core_ledger_account ({_COLUMNS}) SELECT v.name, v.currency, v.kind, v.delta, "
        "v.allow_negative, v.member_id, v.buyer_id, v.seller_id, {} FROM v WHERE NOT EXISTS (SELECT 1 FROM "
        "core_ledger_account a WHERE a.name = v.name AND a.currency = v.currency) AND (v.delta >= 0 OR "
        f"v.allow_negative) ORDER BY v.position {_OPENED_MEANWHILE}"
        "RETURNING id, name, currency, balance, allow_negative), "
        "accounts AS (SELECT * FROM moved UNION ALL SELECT * FROM created), "
        'entries AS (INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, '
        "created_at) SELECT f.tx, ac.id, f.amount, f.currency, ac.balance - COALESCE(sum(f.amount) OVER ("
        "PARTITION BY f.name, f.currency ORDER BY f.position ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0), "
        "{} FROM fresh f JOIN accounts ac ON ac.name = f.name AND ac.currency = f.currency "
        "WHERE (SELECT count(*) FROM accounts) = (SELECT count(*) FROM v) ORDER BY f.position) "
        "SELECT 'transaction' AS what, id, idempotency_key AS name, NULL::varchar AS currency, "
        "NULL::bigint AS balance, NULL::boolean AS allow_negative FROM t "
        "UNION ALL SELECT 'account', id, name, currency, balance, allow_negative FROM accounts "
        "UNION ALL SELECT 'refused', l.id, l.name, l.currency, l.balance, NULL FROM locked l "
        "WHERE NOT EXISTS (SELECT 1 FROM moved m WHERE m.id = l.id)"
    ),
)


class Posted:
    """What :func:`post_at_once` wrote: the new postings' transaction ids by key, and
    the accounts they moved (``id``, ``balance`` after) by ``(name, currency)``."""

    def __init__(self, transactions: dict[str, int], accounts: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.transactions, self.accounts = transactions, accounts


async def post_at_once(
    uow: UnitOfWork,
    postings: list[tuple[str, str, str, dict[str, Any], int | None, list[tuple[str, str, int]]]],
) -> Posted:
    """PostgreSQL: postings ``(key, kind, description, refs, actor_id, moves)`` (each key
    once; ``moves`` its ``(name, currency, amount)`` lines, in the order its entries are
    written) in one statement: the transactions whose key is new, their accounts moved as
    :func:`move_accounts` moves them (locked in the order of the lines), and their
    entries, each with the balance after it.  A posting whose key was posted before
    writes and moves nothing (its key is left out of what comes back).

    :raises Refused: a debit would take an account that may not go negative below zero
        (the statement wrote no entry, but may have moved other accounts: the caller's
        transaction must roll back).
    """
    now = uow.now
    lines = [
        (key, _row(uow, name, currency, amount, True, proposed=False))
        for key, _, _, _, _, moves in postings
        for name, currency, amount in moves
    ]
    rows = await _POST_AT_ONCE.run(
        now,
        [p[0] for p in postings],
        [p[1] for p in postings],
        [p[2] for p in postings],
        [msgspec.json.encode(p[3]).decode() for p in postings],
        [p[4] for p in postings],
        [key for key, _ in lines],
        # (a row of _row: name, currency, kind, amount, allow_negative, member_id, buyer_id, seller_id)
        *([row[i] for _, row in lines] for i in (0, 1, 3, 2, 4, 5, 6, 7)),
        now,
        now,
    )
    transactions = {row["name"]: row["id"] for row in rows if row["what"] == "transaction"}
    accounts = {(row["name"], row["currency"]): row for row in rows if row["what"] == "account"}
    refused = {(row["name"], row["currency"]): row for row in rows if row["what"] == "refused"}
    for key, _, _, _, _, moves in postings:
        if key not in transactions:
            continue
        for name, currency, amount in moves:
            if (name, currency) in accounts:
                continue
            if (name, currency) in refused:
                raise Refused(name, currency, -amount, refused[(name, currency)]["balance"])
            if amount < 0:  # a debit of an account that does not exist
                raise Refused(name, currency, -amount, 0)
            raise LookupError(f"ledger account {name} {currency} was neither moved nor opened")
    return Posted(transactions, accounts)


def stage_parties(uow: UnitOfWork, name: str, currency: str, buyer_id: int, seller_id: int | None) -> None:
    """Record who an escrow is from and for, with its first move in this transaction (or
    just before the commit)."""
    staged = uow.outer.pending.setdefault(_PARTIES_KEY, [])
    staged[:] = [p for p in staged if (p[0], p[1]) != (name, currency)] + [
        (name, currency, buyer_id, seller_id)
    ]
    uow.before_commit(_PARTIES_KEY, lambda: _write_parties(uow.outer))


_SET_PARTIES = PreparedRaw(
    LedgerAccount,
    f"INSERT INTO core_ledger_account ({_COLUMNS}) VALUES ({{}}, {{}}, {{}}, 0, FALSE, NULL, {{}}, {{}}, {{}}) "
    "ON CONFLICT (name, currency) DO UPDATE SET buyer_id = excluded.buyer_id, seller_id = excluded.seller_id",
)


async def _write_parties(uow: UnitOfWork) -> None:
    """The staged parties no move wrote: the escrow created with them, or given them."""
    staged = uow.pending.get(_PARTIES_KEY)
    while staged:
        name, currency, buyer_id, seller_id = staged.pop(0)
        await _SET_PARTIES.run(name, currency, "escrow", buyer_id, seller_id, uow.now)


def defer(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    """Credit ``entry["name"]`` (a :data:`DEFERRED` account) just before the commit, with
    ``entry`` (``transaction``, ``name``, ``currency``, ``amount``, ``created_at``)."""
    uow.outer.pending.setdefault(_DEFERRED_KEY, []).append(entry)
    uow.before_commit(_DEFERRED_KEY, lambda: move_deferred(uow.outer))


def _deferred_sql(engine_type: str) -> str:
    # (PostgreSQL only: SQLite moves every account at once)
    assert engine_type == "postgres", "only PostgreSQL defers credits"
    return (
        "WITH moved AS ("
        f"INSERT INTO core_ledger_account ({_COLUMNS}) VALUES ({{}}, {{}}, {{}}, {{}}, FALSE, NULL, NULL, NULL, {{}}) "
        "ON CONFLICT (name, currency) DO UPDATE SET balance = core_ledger_account.balance + excluded.balance "
        "RETURNING id, balance) "
        'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
        "SELECT e.tx, moved.id, e.amount, {}, moved.balance - e.later, e.at FROM moved, "
        "unnest({}::bigint[], {}::bigint[], {}::bigint[], {}::timestamptz[]) AS e(tx, amount, later, at)"
    )


_MOVE_DEFERRED = PreparedRaw(LedgerEntry, _deferred_sql)


async def move_deferred(uow: UnitOfWork) -> None:
    """Move the deferred credits' accounts and write their entries, each with the balance
    after it as if they had been moved one by one: one statement per account."""
    pending = uow.outer.pending.get(_DEFERRED_KEY)
    if not pending:
        return
    entries = list(pending)
    pending.clear()
    by_account: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_account[(entry["name"], entry["currency"])].append(entry)
    for (name, currency), credits in sorted(by_account.items()):
        total = sum(e["amount"] for e in credits)
        later, after = [], total
        for entry in credits:  # what the credits after each one add
            after -= entry["amount"]
            later.append(after)
        await _MOVE_DEFERRED.run(
            name,
            currency,
            account_kind(name)[0],
            total,
            uow.now,
            currency,
            [e["transaction"] for e in credits],
            [e["amount"] for e in credits],
            later,
            [e["created_at"] for e in credits],
        )


__all__ = [
    "DEFERRED",
    "REFUSED_LEG",
    "Posted",
    "Refused",
    "defer",
    "move_accounts",
    "move_deferred",
    "post_at_once",
    "post_legs",
    "stage_parties",
]
