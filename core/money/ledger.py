"""The double-entry ledger.

A posting is a set of entries on named accounts that sums to zero per currency.  It is
append-only, has a kind, references and a unique idempotency key: posting again with a
key moves nothing and returns the first posting.  Balances are stored on the account row
and updated in the same database transaction as the entries, with a conditional update
that refuses to take an account that may not go negative below zero; under concurrent
postings exactly the ones that fit succeed (row locks on PostgreSQL, one writer at a time
on SQLite).  ``check_ledger`` recomputes everything from the entries.

Call :func:`post` inside a unit of work (``async with runtime.unit_of_work() as uow``),
together with the state change the money movement belongs to.  Account names
(``available(8)``, ``escrow("order:12")``, ...) are :mod:`agorakit.money.account_names`,
re-exported here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db.prepared import Prepared, PreparedInsert, PreparedRaw, any_of
from agorakit.errors import AgorakitError, Conflict
from agorakit.money.account_names import (  # re-exported: callers find them here
    PLATFORM_FEES,
    VOUCHERS_OUTSTANDING,
    LedgerError,
    account_in_words,
    account_kind,
    available,
    clearing,
    credit,
    escrow,
    external,
)
from agorakit.money.amounts import format_amount
from agorakit.money.checks import check_ledger, nonzero_escrows  # re-exported: callers find them here
from agorakit.money.tables import LedgerAccount, LedgerEntry, LedgerTransaction

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import UnitOfWork


class InsufficientFunds(AgorakitError):
    status = 409
    code = "insufficient_funds"
    title = "Insufficient funds"


class Line(msgspec.Struct, frozen=True):
    """One entry of a posting: ``amount`` (signed minor units) on ``account``."""

    account: str
    amount: int
    currency: str


def move(source: str, target: str, amount: int, currency: str) -> list[Line]:
    """The two lines that move ``amount`` from ``source`` to ``target``."""
    return [Line(source, -amount, currency), Line(target, amount, currency)]


class Posting(msgspec.Struct, frozen=True):
    transaction_id: int
    idempotency_key: str
    kind: str
    #: False when the key had been posted before and nothing moved this time
    created: bool


def _net(lines: Iterable[Line]) -> dict[tuple[str, str], int]:
    """Lines summed per (account, currency), dropping zeros."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for line in lines:
        if not isinstance(line.amount, int) or isinstance(line.amount, bool):
            message = f"ledger amounts are integers of minor units, got {line.amount!r}"
            raise LedgerError(message)
        totals[(line.account, line.currency)] += line.amount
    return {key: amount for key, amount in totals.items() if amount}


def check_balanced(lines: Iterable[Line]) -> dict[tuple[str, str], int]:
    net = _net(lines)
    per_currency: Counter[str] = Counter()
    for (account, currency), amount in net.items():
        account_kind(account)
        per_currency[currency] += amount
    unbalanced = {c: s for c, s in per_currency.items() if s}
    if unbalanced:
        message = f"unbalanced posting: sums per currency {unbalanced} (must be zero)"
        raise LedgerError(message)
    if len(net) < 2:
        message = "a posting moves money between at least two accounts"
        raise LedgerError(message)
    return net


async def ensure_account(
    name: str,
    currency: str,
    *,
    now: Any,
    buyer_id: int | None = None,
    seller_id: int | None = None,
) -> dict[str, Any]:
    """The account row for (name, currency), created if missing (race-safe)."""
    row = await _account_row(name, currency)
    if row is not None:
        return row
    kind, member_id = account_kind(name)
    await _INSERT_ACCOUNT.run(
        {
            "name": name,
            "currency": currency,
            "kind": kind,
            "balance": 0,
            "allow_negative": kind == "external",
            "member_id": member_id,
            "buyer_id": buyer_id,
            "seller_id": seller_id,
            "created_at": now,
        }
    )
    row = await _account_row(name, currency)
    assert row is not None
    return row


_INSERT_ACCOUNT = PreparedInsert(LedgerAccount, returning=(), conflict_target=("name", "currency"))
#: a key posted before inserts nothing and is not returned (the key says which row is which
#: when several are inserted at once)
_INSERT_TRANSACTION = PreparedInsert(
    LedgerTransaction, returning=("id", "idempotency_key"), conflict_target=("idempotency_key",)
)
_INSERT_ENTRIES = PreparedInsert(LedgerEntry, returning=())
_TRANSACTION_BY_KEY = Prepared(
    lambda key: (
        LedgerTransaction.select(LedgerTransaction.id, LedgerTransaction.kind)
        .where(LedgerTransaction.idempotency_key == key)
        .first()
    )
)

#: nothing moves an account that may not go negative below zero
_MOVE_BALANCE = PreparedRaw(
    LedgerAccount,
    "UPDATE core_ledger_account SET balance = balance + {} "
    "WHERE id = {} AND (allow_negative OR balance + {} >= 0) RETURNING balance",
)
#: a credit (nothing can refuse it: an available balance that owes a clawback is paid
#: back by it even when it stays below zero), or a clawback's debit (:func:`post`'s
#: ``overdraw``)
_ADD_TO_BALANCE = PreparedRaw(
    LedgerAccount, "UPDATE core_ledger_account SET balance = balance + {} WHERE id = {} RETURNING balance"
)
_ACCOUNT = Prepared(
    lambda name, currency: (
        LedgerAccount.select(LedgerAccount.id, LedgerAccount.name, LedgerAccount.kind, LedgerAccount.balance)
        .where((LedgerAccount.name == name) & (LedgerAccount.currency == currency))
        .first()
    )
)


_ACCOUNTS = Prepared(
    lambda names, currency: LedgerAccount.select(
        LedgerAccount.id, LedgerAccount.name, LedgerAccount.kind, LedgerAccount.balance
    ).where(any_of(LedgerAccount.name, names) & (LedgerAccount.currency == currency))
)


async def _accounts(keys: Any, now: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """The account rows of (name, currency) ``keys``, one query per currency; the missing
    ones are created."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for currency in {currency for _, currency in keys}:
        names = [name for name, cur in keys if cur == currency]
        for row in await _ACCOUNTS.run(names, currency):
            found[(row["name"], currency)] = row
    for name, currency in keys:
        if (name, currency) not in found:
            found[(name, currency)] = await ensure_account(name, currency, now=now)
    return found


async def _account_row(name: str, currency: str) -> dict[str, Any] | None:
    return await _ACCOUNT.run(name, currency)


_SET_PARTIES = Prepared(
    lambda buyer_id, seller_id, name, currency: LedgerAccount.update(
        {LedgerAccount.buyer_id: buyer_id, LedgerAccount.seller_id: seller_id}
    ).where((LedgerAccount.name == name) & (LedgerAccount.currency == currency))
)


async def set_escrow_parties(
    ref: str, currency: str, *, now: Any, buyer_id: int, seller_id: int | None
) -> None:
    """Record who an escrow is from and for (balances show it as in escrow / pending)."""
    await ensure_account(escrow(ref), currency, now=now, buyer_id=buyer_id, seller_id=seller_id)
    await _SET_PARTIES.run(buyer_id, seller_id, escrow(ref), currency)


_SET_SELLER = Prepared(
    lambda seller_id, names: LedgerAccount.update({LedgerAccount.seller_id: seller_id}).where(
        any_of(LedgerAccount.name, names)
    )
)


async def set_escrow_sellers(refs: list[tuple[str, int | None]]) -> None:
    """Record who each escrow ``(ref, seller_id)`` is for now (its seller changed: an open
    order taken, or handed back); escrows without an account yet are left alone.  One
    statement per seller."""
    by_seller: dict[int | None, list[str]] = defaultdict(list)
    for ref, seller_id in refs:
        by_seller[seller_id].append(escrow(ref))
    for seller_id, names in by_seller.items():
        await _SET_SELLER.run(seller_id, names)


async def post(
    uow: UnitOfWork,
    *,
    key: str,
    kind: str,
    description: str,
    lines: list[Line],
    refs: dict[str, Any] | None = None,
    actor_id: int | None = None,
    overdraw: frozenset[str] = frozenset(),
) -> Posting:
    """Write one balanced posting inside the caller's unit of work.

    ``overdraw`` names members' available balances this posting may take below zero: a
    clawback of money a seller was paid for an order refunded after it completed
    (:mod:`agorakit.disputes.clawback`), and nothing else.  What it leaves below zero is
    what the member owes; every later credit pays it back, and no other debit may take
    the account further down (nor below zero).

    :raises InsufficientFunds: an account that may not go negative would.
    :raises LedgerError: the lines do not balance, the key was used for other lines, or
        ``overdraw`` names an account that is not an available balance.
    """
    net = check_balanced(lines)
    for name in overdraw:
        if account_kind(name)[0] != "available":
            raise LedgerError(f"only a member's available balance may be overdrawn, not {name!r}")
    now = uow.now
    # A key posted before (or by a concurrent transaction that commits first) inserts
    # nothing: the posting is then checked to be the same one, and nothing moves.
    rows = await _INSERT_TRANSACTION.run(
        {
            "idempotency_key": key,
            "kind": kind,
            "description": description,
            "refs": refs or {},
            "actor_id": actor_id,
            "created_at": now,
        }
    )
    if not rows:
        if uow.runtime.db.is_postgres:
            await _move_deferred(uow)  # a posting of this transaction may still be pending
        existing = await _TRANSACTION_BY_KEY.run(key)
        await _check_same_posting(existing["id"], net, key)
        return Posting(
            transaction_id=existing["id"], idempotency_key=key, kind=existing["kind"], created=False
        )
    transaction_id = rows[0]["id"]

    accounts = await _accounts(net, now)
    entries = []
    deferring = uow.runtime.db.is_postgres
    # A fixed order of row locks keeps concurrent postings on PostgreSQL deadlock-free.
    for (name, currency), amount in sorted(net.items(), key=lambda item: accounts[item[0]]["id"]):
        account = accounts[(name, currency)]
        entry = {
            "transaction": transaction_id,
            "account": account["id"],
            "amount": amount,
            "currency": currency,
            "created_at": now,
        }
        if deferring and name in DEFERRED and amount > 0:
            _defer(uow, entry)  # its balance moves just before the commit
            continue
        if deferring and name in DEFERRED:
            await _move_deferred(uow)  # a debit sees the credits before it, as it always did
        if amount > 0 or name in overdraw:
            updated = await _ADD_TO_BALANCE.run(amount, account["id"])
        else:
            updated = await _MOVE_BALANCE.run(amount, account["id"], amount)
        if not updated:
            raise await _insufficient(name, currency, -amount)
        entries.append({**entry, "balance_after": updated[0]["balance"]})
    await _INSERT_ENTRIES.run(*entries)
    return Posting(transaction_id=transaction_id, idempotency_key=key, kind=kind, created=True)


class NewPosting(msgspec.Struct, frozen=True, kw_only=True):
    """One posting of :func:`post_many`: what :func:`post` takes as its arguments."""

    key: str
    kind: str
    description: str
    lines: list[Line]
    refs: dict[str, Any] | None = None
    actor_id: int | None = None


async def post_one(uow: UnitOfWork, posting: NewPosting) -> Posting:
    """:func:`post` with its arguments as a :class:`NewPosting`."""
    return await post(
        uow,
        key=posting.key,
        kind=posting.kind,
        description=posting.description,
        lines=posting.lines,
        refs=posting.refs,
        actor_id=posting.actor_id,
    )


def _accounts_locked(locking: bool) -> Prepared:
    def build(ids: Any) -> Any:
        query = (
            LedgerAccount.select(LedgerAccount.id, LedgerAccount.balance, LedgerAccount.allow_negative)
            .where(any_of(LedgerAccount.id, ids))
            .order_by(LedgerAccount.id)
        )
        return query.lock_rows("NO KEY UPDATE") if locking else query

    return Prepared(build)


#: accounts by id, with the lock :func:`post` takes (PostgreSQL), in id order
_ACCOUNTS_LOCKED = {locking: _accounts_locked(locking) for locking in (False, True)}


def _move_balances_sql(engine_type: str) -> str:
    """Add a delta to each of several accounts: one JSON text value ``[[id, delta], ...]``."""
    if engine_type == "sqlite":
        rows = (
            "(SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta "
            "FROM json_each({}))"
        )
    else:
        rows = "(SELECT (e->>0)::bigint AS id, (e->>1)::bigint AS delta FROM jsonb_array_elements({}::jsonb) AS e)"
    return (
        "UPDATE core_ledger_account SET balance = core_ledger_account.balance + v.delta "
        f"FROM {rows} AS v WHERE core_ledger_account.id = v.id "
        "RETURNING core_ledger_account.id, core_ledger_account.balance"
    )


_MOVE_BALANCES = PreparedRaw(LedgerAccount, _move_balances_sql)


async def post_many(uow: UnitOfWork, postings: list[NewPosting]) -> list[Posting]:
    """Write several balanced postings inside the caller's unit of work, in a fixed
    number of statements whatever their number: the same result as :func:`post` on each
    in turn (the same entries, each with the balance after it, the same refusals).

    Every account they move is locked at once, in id order (PostgreSQL), so that two
    transactions posting many at once cannot deadlock on them; the platform fee
    account's credits wait for the commit, as with :func:`post`.

    :raises InsufficientFunds: an account that may not go negative would, at the first
        posting that takes it below zero (nothing of the others is kept either: the
        caller's unit of work, or its savepoint, rolls back).
    :raises LedgerError: lines that do not balance, or a key used for other lines.
    """
    if not postings:
        return []
    nets = [check_balanced(p.lines) for p in postings]
    now = uow.now
    rows = await _INSERT_TRANSACTION.run(
        *(
            {
                "idempotency_key": p.key,
                "kind": p.kind,
                "description": p.description,
                "refs": p.refs or {},
                "actor_id": p.actor_id,
                "created_at": now,
            }
            for p in postings
        )
    )
    ids = {row["idempotency_key"]: row["id"] for row in rows}
    # A key inserted now is new for its first posting; any other posting is a replay
    # (a key posted before, or given twice), checked to be the same posting afterwards.
    fresh: list[int] = []
    keys: set[str] = set()
    for index, posting in enumerate(postings):
        if posting.key in ids and posting.key not in keys:
            fresh.append(index)
            keys.add(posting.key)
    deferring = uow.runtime.db.is_postgres
    # (missing accounts are opened in the order the postings one by one would open them)
    accounts = await _accounts(list(dict.fromkeys(key for i in fresh for key in nets[i])), now)
    # Deferred credits move at commit: their accounts are not locked now.
    moved = sorted(
        {
            accounts[key]["id"]
            for i in fresh
            for key, amount in nets[i].items()
            if not (deferring and key[0] in DEFERRED and amount > 0)
        }
    )
    locked = {row["id"]: row for row in await _ACCOUNTS_LOCKED[deferring].run(moved)} if moved else {}
    balances = {account_id: locked[account_id]["balance"] for account_id in moved}
    entries = []
    for i in fresh:
        for (name, currency), amount in sorted(nets[i].items(), key=lambda item: accounts[item[0]]["id"]):
            account_id = accounts[(name, currency)]["id"]
            entry = {
                "transaction": ids[postings[i].key],
                "account": account_id,
                "amount": amount,
                "currency": currency,
                "created_at": now,
            }
            if deferring and name in DEFERRED:
                if amount < 0:
                    raise LedgerError(f"post_many does not debit {name}; post() does")
                _defer(uow, entry)
                continue
            balance = balances[account_id] + amount
            if amount < 0 and balance < 0 and not locked[account_id]["allow_negative"]:
                raise _insufficient_at(name, currency, balances[account_id], -amount)
            balances[account_id] = balance
            entries.append({**entry, "balance_after": balance})
    changed = [[a, balances[a] - locked[a]["balance"]] for a in moved if balances[a] != locked[a]["balance"]]
    if changed:
        after = await _MOVE_BALANCES.run(json.dumps(changed))
        if {row["id"]: row["balance"] for row in after} != {a: balances[a] for a, _ in changed}:
            raise LedgerError("account balances changed while several postings were written")
    await _INSERT_ENTRIES.run(*entries)
    out, new = [], set(fresh)
    for index, (posting, net) in enumerate(zip(postings, nets, strict=True)):
        if index in new:
            out.append(Posting(ids[posting.key], posting.key, posting.kind, created=True))
            continue
        if deferring:
            await _move_deferred(uow)  # a posting of this transaction may still be pending
        existing = await _TRANSACTION_BY_KEY.run(posting.key)
        await _check_same_posting(existing["id"], net, posting.key)
        out.append(Posting(existing["id"], posting.key, existing["kind"], created=False))
    return out


#: accounts that most postings credit (every completion): on PostgreSQL a transaction
#: credits them just before it commits, all its credits in one update, so that it holds
#: their row lock for a moment instead of from its first posting on (a worker's batch of
#: completions held the fee account's for the whole batch, and concurrent batches took
#: turns).  Debits move at once, after the transaction's pending credits.
DEFERRED = frozenset({PLATFORM_FEES})
_DEFERRED_KEY = "ledger.deferred"


def _defer(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    uow.outer.pending.setdefault(_DEFERRED_KEY, []).append(entry)
    uow.before_commit(_DEFERRED_KEY, lambda: _move_deferred(uow.outer))


async def _move_deferred(uow: UnitOfWork) -> None:
    """Move the deferred credits' accounts (in id order) and write their entries, each
    with the balance after it, as if they had been moved one by one."""
    pending = uow.outer.pending.get(_DEFERRED_KEY)
    if not pending:
        return
    entries = list(pending)
    pending.clear()
    totals: dict[int, int] = {}
    for entry in entries:
        totals[entry["account"]] = totals.get(entry["account"], 0) + entry["amount"]
    written = []
    for account_id in sorted(totals):
        # credits only: nothing can refuse them
        [moved] = await _MOVE_BALANCE.run(totals[account_id], account_id, totals[account_id])
        balance = moved["balance"] - totals[account_id]
        for entry in entries:
            if entry["account"] == account_id:
                balance += entry["amount"]
                written.append({**entry, "balance_after": balance})
    await _INSERT_ENTRIES.run(*written)


async def _check_same_posting(transaction_id: int, net: dict[tuple[str, str], int], key: str) -> None:
    rows = await LedgerEntry.select(LedgerEntry.account.name, LedgerEntry.currency, LedgerEntry.amount).where(
        LedgerEntry.transaction == transaction_id
    )
    first = {(r["account.name"], r["currency"]): r["amount"] for r in rows}
    if first != net:
        message = f"idempotency key {key!r} was already used for a different posting"
        raise LedgerError(message)


async def _insufficient(name: str, currency: str, needed: int) -> InsufficientFunds:
    row = await _account_row(name, currency)
    return _insufficient_at(name, currency, row["balance"] if row else 0, needed)


def _insufficient_at(name: str, currency: str, balance: int, needed: int) -> InsufficientFunds:
    kind, _ = account_kind(name)
    detail = (
        f"{account_in_words(name)} is {format_amount(balance, currency)} {currency}; "
        f"this needs {format_amount(needed, currency)} {currency}"
    )
    return InsufficientFunds(
        detail,
        extra={
            "account": kind,
            "balance": format_amount(balance, currency),
            "needed": format_amount(needed, currency),
            "currency": currency,
        },
    )


async def balance_of(name: str, currency: str) -> int:
    row = await _account_row(name, currency)
    return row["balance"] if row else 0


async def balances_of(keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Balances of several (name, currency) accounts, one query per currency (0 for an
    account not opened yet)."""
    found = dict.fromkeys(keys, 0)
    for currency in {currency for _, currency in keys}:
        for row in await _ACCOUNTS.run([name for name, cur in keys if cur == currency], currency):
            found[(row["name"], currency)] = row["balance"]
    return found


async def balances_for_update(names: list[str], currency: str) -> dict[str, int]:
    """Balances of ``names`` (0 for an account not opened yet), locked to the end of the
    transaction.

    Read balances this way, inside the unit of work, when the lines of the posting that
    follows depend on them (e.g. pay from credit first, then from available).  On
    PostgreSQL a plain read can be stale by the time the posting runs, and a concurrent
    request would then refuse a member who has money enough.  Rows are locked in id
    order, the order :func:`post` updates them in, with the lock that update takes.
    SQLite needs no lock: ``BEGIN IMMEDIATE`` already lets one writer in at a time.
    """
    locking = LedgerAccount._meta.db.engine_type == "postgres"
    rows = await _BALANCES[locking].run(list(names), currency)
    found = {row["name"]: row["balance"] for row in rows}
    return {name: found.get(name, 0) for name in names}


def _balances(locking: bool) -> Prepared:
    def build(names: Any, currency: Any) -> Any:
        query = (
            LedgerAccount.select(LedgerAccount.name, LedgerAccount.balance)
            .where(any_of(LedgerAccount.name, names) & (LedgerAccount.currency == currency))
            .order_by(LedgerAccount.id)
        )
        return query.lock_rows("NO KEY UPDATE") if locking else query

    return Prepared(build)


#: balances of accounts by name; (PostgreSQL) locked as post() locks them
_BALANCES = {locking: _balances(locking) for locking in (False, True)}


__all__ = [
    "PLATFORM_FEES",
    "VOUCHERS_OUTSTANDING",
    "Conflict",
    "InsufficientFunds",
    "LedgerError",
    "Line",
    "Posting",
    "account_in_words",
    "account_kind",
    "available",
    "check_ledger",
    "clearing",
    "credit",
    "escrow",
    "external",
    "move",
    "nonzero_escrows",
    "post",
]
