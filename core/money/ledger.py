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

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.db.prepared import Prepared, PreparedInsert, any_of
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
from agorakit.money.account_reads import (  # re-exported: callers find them here
    _account_row,
    balance_of,  # noqa: F401
    balances_for_update,  # noqa: F401
    balances_of,  # noqa: F401
)
from agorakit.money.amounts import format_amount
from agorakit.money.checks import check_ledger, nonzero_escrows  # re-exported: callers find them here
from agorakit.money.moves import (
    DEFERRED,
    Refused,
    defer,
    move_accounts,
    move_deferred,
    post_at_once,
    post_legs,
    stage_parties,
)
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


def set_escrow_parties(
    uow: UnitOfWork, ref: str, currency: str, *, buyer_id: int, seller_id: int | None
) -> None:
    """Record who an escrow is from and for (balances show it as in escrow / pending),
    in ``uow``: with the escrow's first move in its transaction, or just before it
    commits (one statement either way, none of its own when a posting moves the escrow)."""
    stage_parties(uow, escrow(ref), currency, buyer_id, seller_id)


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
    if uow.runtime.db.is_postgres and not overdraw:
        return await _post_at_once(uow, key, kind, description, net, refs or {}, actor_id)
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
            await move_deferred(uow)  # a posting of this transaction may still be pending
        existing = await _TRANSACTION_BY_KEY.run(key)
        await _check_same_posting(existing["id"], net, key)
        return Posting(
            transaction_id=existing["id"], idempotency_key=key, kind=existing["kind"], created=False
        )
    transaction_id = rows[0]["id"]
    deferring = uow.runtime.db.is_postgres
    checked: list[tuple[str, str, int]] = []
    overdrawn: list[tuple[str, str, int]] = []
    for (name, currency), amount in sorted(net.items()):
        if deferring and name in DEFERRED and amount > 0:
            defer(uow, _deferred_entry(transaction_id, name, currency, amount, now))
            continue
        if deferring and name in DEFERRED:
            await move_deferred(uow)  # a debit sees the credits before it, as it always did
        (overdrawn if name in overdraw and amount < 0 else checked).append((name, currency, amount))
    if not deferring and not overdrawn:  # SQLite: its accounts and entries in one insert
        try:
            await post_legs(
                uow, [(transaction_id, name, currency, amount) for name, currency, amount in checked]
            )
        except Refused as refused:
            raise _insufficient_at(
                refused.name, refused.currency, refused.balance or 0, refused.amount
            ) from None
        return Posting(transaction_id=transaction_id, idempotency_key=key, kind=kind, created=True)
    moved = await _move(uow, checked)
    if overdrawn:
        moved |= await move_accounts(uow, overdrawn, checked=False)
    await _INSERT_ENTRIES.run(
        *(
            {
                "transaction": transaction_id,
                "account": moved[(name, currency)]["id"],
                "amount": amount,
                "currency": currency,
                "balance_after": moved[(name, currency)]["balance"],
                "created_at": now,
            }
            for name, currency, amount in sorted(checked + overdrawn)
        )
    )
    return Posting(transaction_id=transaction_id, idempotency_key=key, kind=kind, created=True)


async def _post_at_once(
    uow: UnitOfWork,
    key: str,
    kind: str,
    description: str,
    net: dict[tuple[str, str], int],
    refs: dict[str, Any],
    actor_id: int | None,
) -> Posting:
    """PostgreSQL: :func:`post` in one statement (:func:`~agorakit.money.moves.post_at_once`),
    the site's fee credit left to the commit."""
    moves, deferred = [], []
    for (name, currency), amount in sorted(net.items()):
        if name in DEFERRED and amount > 0:
            deferred.append((name, currency, amount))
            continue
        if name in DEFERRED:
            await move_deferred(uow)  # a debit sees the credits before it, as it always did
        moves.append((name, currency, amount))
    try:
        posted = await post_at_once(uow, [(key, kind, description, refs, actor_id, moves)])
    except Refused as refused:
        raise _insufficient_at(refused.name, refused.currency, refused.balance or 0, refused.amount) from None
    transaction_id = posted.transactions.get(key)
    if transaction_id is None:  # posted before: the same posting, or an error
        await move_deferred(uow)  # a posting of this transaction may still be pending
        existing = await _TRANSACTION_BY_KEY.run(key)
        await _check_same_posting(existing["id"], net, key)
        return Posting(
            transaction_id=existing["id"], idempotency_key=key, kind=existing["kind"], created=False
        )
    for name, currency, amount in deferred:
        defer(uow, _deferred_entry(transaction_id, name, currency, amount, uow.now))
    return Posting(transaction_id=transaction_id, idempotency_key=key, kind=kind, created=True)


def _deferred_entry(transaction_id: int, name: str, currency: str, amount: int, now: Any) -> dict[str, Any]:
    return {
        "transaction": transaction_id,
        "name": name,
        "currency": currency,
        "amount": amount,
        "created_at": now,
    }


async def _move(uow: UnitOfWork, moves: list[tuple[str, str, int]]) -> dict[tuple[str, str], dict[str, Any]]:
    """:func:`~agorakit.money.moves.move_accounts`, a refused debit as
    :class:`InsufficientFunds` (its balance read when the statement did not say it)."""
    if not moves:
        return {}
    try:
        return await move_accounts(uow, moves)
    except Refused as refused:
        if refused.balance is None:
            raise await _insufficient(refused.name, refused.currency, refused.amount) from None
        raise _insufficient_at(refused.name, refused.currency, refused.balance, refused.amount) from None


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


async def post_many(uow: UnitOfWork, postings: list[NewPosting]) -> list[Posting]:
    """Write several balanced postings inside the caller's unit of work, in a fixed
    number of statements whatever their number: the same result as :func:`post` on each
    in turn (the same entries, each with the balance after it, the same refusals).

    On PostgreSQL every account they move is moved once, by what they add to it, in one
    statement that locks them posting by posting, each posting's in name order as
    :func:`post` takes them; the platform fee account's credits wait for the commit, as
    with :func:`post`.  On SQLite their legs are one insert in that order, each moving its
    account in turn (:func:`~agorakit.money.moves.post_legs`).

    :raises InsufficientFunds: an account that may not go negative would, at the first
        posting that takes it below zero (nothing of the others is kept either: the
        caller's unit of work, or its savepoint, rolls back).
    :raises LedgerError: lines that do not balance, or a key used for other lines.
    """
    if not postings:
        return []
    nets = [check_balanced(p.lines) for p in postings]
    if uow.runtime.db.is_postgres:
        return await _post_many_at_once(uow, postings, nets)
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
    # SQLite: their accounts and entries in one insert, the legs in the order the postings
    # one by one would write them (a missing account opened as they would open it)
    legs = [(ids[postings[i].key], *key, amount) for i in fresh for key, amount in sorted(nets[i].items())]
    try:
        if legs:
            await post_legs(uow, legs)
    except Refused as refused:
        raise _first_refusal(postings, nets, fresh, refused, refused.balance or 0) from None
    out, new = [], set(fresh)
    for index, (posting, net) in enumerate(zip(postings, nets, strict=True)):
        if index in new:
            out.append(Posting(ids[posting.key], posting.key, posting.kind, created=True))
            continue
        existing = await _TRANSACTION_BY_KEY.run(posting.key)
        await _check_same_posting(existing["id"], net, posting.key)
        out.append(Posting(existing["id"], posting.key, existing["kind"], created=False))
    return out


async def _post_many_at_once(
    uow: UnitOfWork, postings: list[NewPosting], nets: list[dict[tuple[str, str], int]]
) -> list[Posting]:
    """PostgreSQL: :func:`post_many` in one statement (the fee credits at the commit)."""
    first: dict[str, int] = {}  # each key's first posting: any other one is a replay
    for index, posting in enumerate(postings):
        first.setdefault(posting.key, index)
    batch, deferred = [], {}
    for index in first.values():
        posting, moves = postings[index], []
        for (name, currency), amount in sorted(nets[index].items()):
            if name in DEFERRED:
                if amount < 0:
                    raise LedgerError(f"post_many does not debit {name}; post() does")
                deferred.setdefault(posting.key, []).append((name, currency, amount))
                continue
            moves.append((name, currency, amount))
        batch.append(
            (posting.key, posting.kind, posting.description, posting.refs or {}, posting.actor_id, moves)
        )
    fresh = list(first.values())
    try:
        posted = await post_at_once(uow, batch)
    except Refused as refused:
        start = refused.balance if refused.balance is not None else 0
        raise _first_refusal(postings, nets, fresh, refused, start) from None
    fresh = [i for i in fresh if postings[i].key in posted.transactions]
    _check_each_posting(postings, nets, fresh, posted.accounts)
    out = []
    for index, (posting, net) in enumerate(zip(postings, nets, strict=True)):
        if first[posting.key] == index and posting.key in posted.transactions:
            transaction_id = posted.transactions[posting.key]
            for name, currency, amount in deferred.get(posting.key, ()):
                defer(uow, _deferred_entry(transaction_id, name, currency, amount, uow.now))
            out.append(Posting(transaction_id, posting.key, posting.kind, created=True))
            continue
        await move_deferred(uow)  # a posting of this transaction may still be pending
        existing = await _TRANSACTION_BY_KEY.run(posting.key)
        await _check_same_posting(existing["id"], net, posting.key)
        out.append(Posting(existing["id"], posting.key, existing["kind"], created=False))
    return out


def _check_each_posting(
    postings: list[NewPosting],
    nets: list[dict[tuple[str, str], int]],
    fresh: list[int],
    accounts: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The refusal :func:`post` would give one of the postings written together, if one
    took an account below zero on the way (their sum did not)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for i in fresh:
        for key, amount in nets[i].items():
            if key in accounts:
                totals[key] += amount
    balances = {key: accounts[key]["balance"] - total for key, total in totals.items()}
    for i in fresh:
        for key, amount in sorted(nets[i].items()):
            if key not in accounts:
                continue
            if amount < 0 and balances[key] + amount < 0 and not accounts[key]["allow_negative"]:
                raise _insufficient_at(key[0], key[1], balances[key], -amount)
            balances[key] += amount


def _first_refusal(
    postings: list[NewPosting],
    nets: list[dict[tuple[str, str], int]],
    fresh: list[int],
    refused: Refused,
    start: int,
) -> InsufficientFunds:
    """The refusal :func:`post` would give the first of ``postings`` that takes the
    refused account below zero, its balance before them being ``start``."""
    key = (refused.name, refused.currency)
    balance = start
    for i in fresh:
        amount = nets[i].get(key, 0)
        if amount < 0 and balance + amount < 0:
            return _insufficient_at(refused.name, refused.currency, balance, -amount)
        balance += amount
    return _insufficient_at(refused.name, refused.currency, start, refused.amount)


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
