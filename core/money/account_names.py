"""The ledger's account names: what each kind of account is called, and how members are
told about one.

Every account is named by a pattern (``member:8:available``, ``order:12:escrow``,
``external:paypal``, ...) that gives its kind; a name that matches none is a bug
(:class:`LedgerError`).  Messages never show a name itself: :func:`account_in_words`
says it in words.  :mod:`agorakit.money.ledger` re-exports every name here.
"""

from __future__ import annotations

import re


class LedgerError(Exception):
    """A programming error in a posting (unbalanced, bad account): a bug, never user input."""


PLATFORM_FEES = "platform:fees"
#: the kind of the one posting that may take a member's available balance below zero:
#: money a seller was paid for an order refunded after it completed
CLAWBACK_KIND = "order_clawback"
VOUCHERS_OUTSTANDING = "vouchers:outstanding"

_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^member:(?P<member>\d+):available$"), "available"),
    (re.compile(r"^member:(?P<member>\d+):credit$"), "credit"),
    (re.compile(r"^[a-z_]+:[A-Za-z0-9_-]+:escrow$"), "escrow"),
    (re.compile(r"^platform:fees$"), "fees"),
    (re.compile(r"^payouts:[a-z0-9_]+:clearing$"), "clearing"),
    (re.compile(r"^external:[a-z0-9_]+$"), "external"),
    (re.compile(r"^vouchers:outstanding$"), "vouchers"),
]


def available(member_id: int) -> str:
    """Earned, withdrawable money of a member."""
    return f"member:{member_id}:available"


def credit(member_id: int) -> str:
    """Site wallet of a member: spendable, never withdrawable."""
    return f"member:{member_id}:credit"


def escrow(ref: str) -> str:
    """What a buyer paid for one order/campaign/request, e.g. ``escrow("order:12")``."""
    return f"{ref}:escrow"


def clearing(method: str) -> str:
    """Withdrawals in flight through a payout method."""
    return f"payouts:{method}:clearing"


def external(method: str) -> str:
    """The outside world for a pay-in/pay-out method (negative as money comes in)."""
    return f"external:{method}"


def account_kind(name: str) -> tuple[str, int | None]:
    """The kind of an account name and, for member accounts, the member id."""
    for pattern, kind in _KINDS:
        match = pattern.match(name)
        if match:
            member = match.groupdict().get("member")
            return kind, int(member) if member else None
    message = f"{name!r} is not a ledger account name"
    raise LedgerError(message)


def account_in_words(name: str) -> str:
    """How people are told about an account in messages: never its internal name.

    ``member:8:available`` → "your available balance", ``order:8:escrow`` → "the payment
    held for order 8".  Every message a member can see names accounts through this.
    """
    kind, _ = account_kind(name)
    parts = name.split(":")
    if kind in ("available", "credit"):
        return f"your {kind} balance"
    if kind == "escrow":
        return f"the payment held for {' '.join(parts[:-1])}"
    if kind == "clearing":
        return f"the money in withdrawals through {parts[1]}"
    if kind == "external":
        return f"the money received through {parts[1]}"
    return {"fees": "the site's fee balance", "vouchers": "the outstanding voucher balance"}[kind]
