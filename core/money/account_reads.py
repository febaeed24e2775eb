"""Reading ledger accounts and their balances, as the ledger needs them (the ledger's
postings are in :mod:`agorakit.money.ledger`, which re-exports these)."""

from __future__ import annotations

from typing import Any

from agorakit.db.prepared import Prepared, any_of
from agorakit.money.tables import LedgerAccount

_ACCOUNT = Prepared(
    lambda name, currency: (
        LedgerAccount.select(LedgerAccount.id, LedgerAccount.name, LedgerAccount.kind, LedgerAccount.balance)
        .where((LedgerAccount.name == name) & (LedgerAccount.currency == currency))
        .first()
    )
)


_ACCOUNTS = Prepared(
    lambda names, currency: LedgerAccount.select(LedgerAccount.name, LedgerAccount.balance).where(
        any_of(LedgerAccount.name, names) & (LedgerAccount.currency == currency)
    )
)


async def _account_row(name: str, currency: str) -> dict[str, Any] | None:
    return await _ACCOUNT.run(name, currency)


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
    request would then refuse a member who has money enough.  Rows are locked in name
    order, the order :func:`post` moves them in, with the lock that move takes.
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
            .order_by(LedgerAccount.name)
        )
        return query.lock_rows("NO KEY UPDATE") if locking else query

    return Prepared(build)


#: balances of accounts by name; (PostgreSQL) locked as post() locks them
_BALANCES = {locking: _balances(locking) for locking in (False, True)}
