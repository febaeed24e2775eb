"""Checking the ledger: every balance recomputed from its entries, every invariant
(vouchers:outstanding included: it holds exactly the issued vouchers).

``agorakit check-ledger`` runs :func:`check_ledger` (and the orders' escrow check, which
walks :func:`nonzero_escrows`); both are re-exported by :mod:`agorakit.money.ledger`.
"""

from __future__ import annotations

from collections import Counter

from agorakit.money.account_names import CLAWBACK_KIND, VOUCHERS_OUTSTANDING
from agorakit.money.tables import LedgerAccount, LedgerEntry, Voucher


async def nonzero_escrows(prefix: str = "") -> list[tuple[str, str, int]]:
    """``(ref, currency, balance)`` of every escrow holding money (or owing it), for refs
    starting with ``prefix`` (``"order:"``): what an invariant check walks."""
    rows = await LedgerAccount.select(
        LedgerAccount.name, LedgerAccount.currency, LedgerAccount.balance
    ).where((LedgerAccount.kind == "escrow") & (LedgerAccount.balance != 0))
    found = []
    for row in rows:
        ref = row["name"].removesuffix(":escrow")
        if ref.startswith(prefix):
            found.append((ref, row["currency"], row["balance"]))
    return found


async def check_ledger() -> list[str]:
    """Recompute the ledger from its entries; returns every problem found (empty = sound)."""
    problems: list[str] = []
    recomputed = await LedgerEntry.raw(
        "SELECT a.name, a.currency, a.balance, a.allow_negative, COALESCE(SUM(e.amount), 0) AS total "
        "FROM core_ledger_account a LEFT JOIN core_ledger_entry e ON e.account = a.id "
        "GROUP BY a.id, a.name, a.currency, a.balance, a.allow_negative ORDER BY a.id"
    )
    per_currency: Counter[str] = Counter()
    owed: list[dict] = []
    for row in recomputed:
        per_currency[row["currency"]] += row["total"]
        if row["balance"] != row["total"]:
            problems.append(
                f"{row['name']} {row['currency']}: stored balance {row['balance']} "
                f"but entries sum to {row['total']}"
            )
        if not row["allow_negative"] and row["total"] < 0:
            owed.append(row)
    problems += await _owed_problems(owed)
    for currency, total in per_currency.items():
        if total:
            problems.append(f"{currency}: all accounts sum to {total}, not zero")
    unbalanced = await LedgerEntry.raw(
        'SELECT "transaction", currency, SUM(amount) AS total FROM core_ledger_entry '
        'GROUP BY "transaction", currency HAVING SUM(amount) <> 0'
    )
    for row in unbalanced:
        problems.append(
            f"transaction {row['transaction']} {row['currency']}: entries sum to {row['total']}, not zero"
        )
    lonely = await LedgerEntry.raw(
        "SELECT t.id FROM core_ledger_transaction t LEFT JOIN core_ledger_entry e "
        'ON e."transaction" = t.id GROUP BY t.id HAVING COUNT(e.id) < 2'
    )
    for row in lonely:
        problems.append(f"transaction {row['id']} has fewer than two entries")
    return problems + await voucher_problems()


async def _owed_problems(rows: list[dict]) -> list[str]:
    """No account that may not go negative is negative, except a member's available
    balance, and that one by at most what clawbacks took from it (``CLAWBACK_KIND``
    postings; every other debit leaves it at zero or above)."""
    problems = []
    for row in rows:
        clawed = 0
        if row["name"].endswith(":available"):
            found = await LedgerEntry.raw(
                "SELECT COALESCE(SUM(-e.amount), 0) AS clawed FROM core_ledger_entry e "
                'JOIN core_ledger_transaction t ON t.id = e."transaction" '
                "JOIN core_ledger_account a ON a.id = e.account "
                "WHERE a.name = {} AND a.currency = {} AND t.kind = {} AND e.amount < 0",
                row["name"],
                row["currency"],
                CLAWBACK_KIND,
            )
            clawed = found[0]["clawed"] if found else 0
        if -row["total"] > clawed:
            detail = f" (clawbacks took {clawed})" if clawed else ""
            problems.append(f"{row['name']} {row['currency']}: negative balance {row['total']}{detail}")
    return problems


async def voucher_problems() -> list[str]:
    """Per currency, ``vouchers:outstanding`` must hold exactly the issued vouchers (not
    redeemed, cancelled or expired)."""
    held: Counter[str] = Counter()
    for row in await LedgerAccount.select(LedgerAccount.currency, LedgerAccount.balance).where(
        LedgerAccount.name == VOUCHERS_OUTSTANDING
    ):
        held[row["currency"]] += row["balance"]
    issued: Counter[str] = Counter()
    for row in await Voucher.raw(
        "SELECT currency, SUM(amount) AS total FROM core_voucher WHERE status = 'issued' GROUP BY currency"
    ):
        issued[row["currency"]] += row["total"]
    return [
        f"{VOUCHERS_OUTSTANDING} {currency}: holds {held[currency]} but the issued vouchers "
        f"add up to {issued[currency]}"
        for currency in sorted(set(held) | set(issued))
        if held[currency] != issued[currency]
    ]
