"""Balanced ledger postings in the fewest statements (the rows ``agorakit.money.ledger.post`` writes).

A posting is its transaction row (``INSERT ... ON CONFLICT DO NOTHING RETURNING``: a key
posted before inserts nothing and moves nothing), one balance ``UPDATE`` per account,
addressed by name (it returns the account's id and new balance, so nothing is looked up
first), and one multi-row insert of its entries.  An account that does not exist yet is
created by the insert that follows its update's empty answer, with its first balance.

Row locks on PostgreSQL are taken in one order by every posting: accounts by name, and
the hot shared accounts (``platform:fees``) last, just before the commit
(:meth:`Posting.finish`), so each holds its lock for the shortest time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.floor.driver import in_list, insert
from bench.floor.schemas import Problem, dumps, money

CURRENCY = "USD"
#: shared by every order: credited at the end of the transaction
DEFERRED = frozenset({"platform:fees"})

MOVE = (
    "UPDATE core_ledger_account SET balance = balance + $1 WHERE name = $2 AND currency = $3 AND "
    "(allow_negative OR balance + $4 >= 0) RETURNING id, balance"
)
MOVE_ESCROW = (
    "UPDATE core_ledger_account SET balance = balance + $1, buyer_id = $2, seller_id = $3 WHERE name = $4 "
    "AND currency = $5 AND (allow_negative OR balance + $6 >= 0) RETURNING id, balance"
)
CREATE = (
    "INSERT INTO core_ledger_account (name, currency, kind, balance, allow_negative, member_id, buyer_id, "
    "seller_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name, currency) "
    "DO NOTHING RETURNING id, balance"
)


def account_kind(name: str) -> tuple[str, int | None]:
    parts = name.split(":")
    if parts[0] == "member":
        return parts[2], int(parts[1])
    if name.endswith(":escrow"):
        return "escrow", None
    return {"platform": "fees", "payouts": "clearing", "external": "external"}[parts[0]], None


def in_words(name: str) -> str:
    kind, _ = account_kind(name)
    if kind in ("available", "credit"):
        return f"your {kind} balance"
    return name


def insufficient(name: str, balance: int, needed: int) -> Problem:
    """The app's 409 for an account that may not go below zero."""
    detail = (
        f"{in_words(name)} is {money(balance, CURRENCY).amount} {CURRENCY}; "
        f"this needs {money(needed, CURRENCY).amount} {CURRENCY}"
    )
    return Problem(409, "insufficient_funds", detail)


class Posting:
    """One posting under way: its transaction row is written, its moves applied as asked."""

    def __init__(self, s: Any, transaction_id: int, now: datetime, parties: dict[str, tuple]) -> None:
        self.s, self.transaction_id, self.now, self.parties = s, transaction_id, now, parties
        self.entries: list[Any] = []
        self.deferred: dict[str, int] = {}

    async def move(self, name: str, amount: int) -> None:
        s = self.s
        if name in self.parties:
            buyer_id, seller_id = self.parties[name]
            row = await s.row(MOVE_ESCROW, amount, buyer_id, seller_id, name, CURRENCY, amount)
        else:
            buyer_id = seller_id = None
            row = await s.row(MOVE, amount, name, CURRENCY, amount)
        if row is None:
            kind, member_id = account_kind(name)
            if amount < 0 and kind != "external":
                # the failure path only: the balance for the message
                found = await s.row(
                    "SELECT balance FROM core_ledger_account WHERE name = $1 AND currency = $2",
                    name,
                    CURRENCY,
                )
                raise insufficient(name, found["balance"] if found else 0, -amount)
            row = await s.row(
                CREATE,
                name,
                CURRENCY,
                kind,
                amount,
                kind == "external",
                member_id,
                buyer_id,
                seller_id,
                self.now,
            )
            if row is None:
                raise Problem(409, "conflict", f"account {name} was created meanwhile; try again")
        self.entries += [self.transaction_id, row["id"], amount, CURRENCY, row["balance"], self.now]

    async def finish(self) -> None:
        """The deferred moves, then every entry in one insert."""
        for name in sorted(self.deferred):
            await self.move(name, self.deferred[name])
        values = ", ".join(f"({in_list(1 + 6 * i, 6)})" for i in range(len(self.entries) // 6))
        await self.s.fetch(
            'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
            f"VALUES {values}",
            *self.entries,
        )


async def begin(
    s: Any,
    *,
    key: str,
    kind: str,
    description: str,
    moves: dict[str, int],
    refs: dict[str, Any],
    actor: int | None,
    now: datetime,
    parties: dict[str, tuple[int, int | None]] | None = None,
) -> Posting | None:
    """Write the posting's transaction and move every account but the deferred ones (by
    name); None when ``key`` was posted before.  ``parties``: the buyer and seller an
    escrow account is from and for."""
    row = await insert(
        s,
        "core_ledger_transaction",
        {
            "idempotency_key": key,
            "kind": kind,
            "description": description,
            "refs": dumps(refs),
            "actor_id": actor,
            "created_at": now,
        },
        on_conflict="DO NOTHING",
    )
    if row is None:
        return None
    posting = Posting(s, row["id"], now, parties or {})
    for name in sorted(moves):
        if not moves[name]:
            continue
        if name in DEFERRED and moves[name] > 0:
            posting.deferred[name] = moves[name]
        else:
            await posting.move(name, moves[name])
    return posting


async def post(s: Any, **posting: Any) -> None:
    """A whole posting at once."""
    started = await begin(s, **posting)
    if started is not None:
        await started.finish()
