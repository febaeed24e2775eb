"""Reading money: a member's balances and statement, an account's entries, platform totals."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.money import ledger
from agorakit.money.amounts import format_amount, money
from agorakit.money.schemas import (
    AccountEntry,
    AccountOut,
    CurrencyBalance,
    CurrencyTotals,
    StatementLine,
)
from agorakit.money.tables import LedgerAccount, LedgerEntry
from agorakit.pagination import decode_cursor, page


async def member_balances(member_id: int, *, default_currency: str) -> list[CurrencyBalance]:
    """Per currency: available, credit, in escrow as buyer, pending as seller."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    own = await LedgerAccount.select(LedgerAccount.kind, LedgerAccount.currency, LedgerAccount.balance).where(
        LedgerAccount.member_id == member_id
    )
    for row in own:
        totals[row["currency"]][row["kind"]] += row["balance"]
    escrows = await LedgerAccount.select(
        LedgerAccount.currency, LedgerAccount.balance, LedgerAccount.buyer_id, LedgerAccount.seller_id
    ).where(
        (LedgerAccount.kind == "escrow")
        & ((LedgerAccount.buyer_id == member_id) | (LedgerAccount.seller_id == member_id))
    )
    for row in escrows:
        if row["buyer_id"] == member_id:
            totals[row["currency"]]["in_escrow"] += row["balance"]
        if row["seller_id"] == member_id:
            totals[row["currency"]]["pending"] += row["balance"]
    if not totals:
        totals[default_currency]
    return [
        CurrencyBalance(
            currency=currency,
            available=format_amount(max(kinds["available"], 0), currency),
            credit=format_amount(kinds["credit"], currency),
            in_escrow=format_amount(kinds["in_escrow"], currency),
            pending=format_amount(kinds["pending"], currency),
            owed=format_amount(max(-kinds["available"], 0), currency),
        )
        for currency, kinds in sorted(totals.items(), key=lambda item: (item[0] != default_currency, item[0]))
    ]


_ENTRY_COLUMNS = (
    LedgerEntry.id,
    LedgerEntry.amount,
    LedgerEntry.currency,
    LedgerEntry.balance_after,
    LedgerEntry.created_at,
    LedgerEntry.account.kind,
    LedgerEntry.transaction.kind,
    LedgerEntry.transaction.description,
    LedgerEntry.transaction.refs,
)


async def _entries(
    account_filter: Any, *, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    query = (
        LedgerEntry.select(*_ENTRY_COLUMNS)
        .where(account_filter)
        .order_by(LedgerEntry.id, ascending=False)
        .limit(limit + 1)
    )
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(LedgerEntry.id < int(position["id"]))
    return page(await query.output(load_json=True), limit, lambda row: {"id": row["id"]})


async def statement(
    member_id: int, *, cursor: str | None, limit: int
) -> tuple[list[StatementLine], str | None]:
    """The member's entries (available and credit), newest first."""
    rows, next_cursor = await _entries(
        (LedgerEntry.account.member_id == member_id), cursor=cursor, limit=limit
    )
    return [
        StatementLine(
            id=r["id"],
            at=r["created_at"],
            account=r["account.kind"],
            amount=money(r["amount"], r["currency"]),
            balance_after=money(r["balance_after"], r["currency"]),
            kind=r["transaction.kind"],
            description=r["transaction.description"],
            refs=r["transaction.refs"] or {},
        )
        for r in rows
    ], next_cursor


async def account_view(name: str, currency: str, *, cursor: str | None, limit: int) -> AccountOut:
    """An account's balance and entries, for operators."""
    try:
        kind, _ = ledger.account_kind(name)
    except ledger.LedgerError:
        raise ValidationFailed(
            [FieldError("name", f"{name!r} is not a ledger account name", "path")]
        ) from None
    row = (
        await LedgerAccount.select(LedgerAccount.id, LedgerAccount.balance)
        .where((LedgerAccount.name == name) & (LedgerAccount.currency == currency))
        .first()
    )
    if row is None:
        raise NotFound(f"there is no {currency} account {name}")
    rows, next_cursor = await _entries((LedgerEntry.account == row["id"]), cursor=cursor, limit=limit)
    return AccountOut(
        name=name,
        kind=kind,
        balance=money(row["balance"], currency),
        entries=[
            AccountEntry(
                id=r["id"],
                at=r["created_at"],
                amount=money(r["amount"], r["currency"]),
                balance_after=money(r["balance_after"], r["currency"]),
                kind=r["transaction.kind"],
                description=r["transaction.description"],
                refs=r["transaction.refs"] or {},
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


async def platform_totals() -> list[CurrencyTotals]:
    rows = await LedgerAccount.select(
        LedgerAccount.name, LedgerAccount.kind, LedgerAccount.currency, LedgerAccount.balance
    )
    per: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"kinds": defaultdict(int), "external": {}, "sum": 0}
    )
    for row in rows:
        bucket = per[row["currency"]]
        bucket["kinds"][row["kind"]] += row["balance"]
        bucket["sum"] += row["balance"]
        if row["kind"] == "external":
            method = row["name"].split(":", 1)[1]
            bucket["external"][method] = row["balance"]
    out = []
    for currency, bucket in sorted(per.items()):
        kinds = bucket["kinds"]

        def fmt(value: int, currency: str = currency) -> str:
            return format_amount(value, currency)

        out.append(
            CurrencyTotals(
                currency=currency,
                platform_fees=fmt(kinds["fees"]),
                members_available=fmt(kinds["available"]),
                members_credit=fmt(kinds["credit"]),
                escrow=fmt(kinds["escrow"]),
                clearing=fmt(kinds["clearing"]),
                vouchers_outstanding=fmt(kinds["vouchers"]),
                external={m: fmt(v) for m, v in sorted(bucket["external"].items())},
                sum=fmt(bucket["sum"]),
            )
        )
    return out
