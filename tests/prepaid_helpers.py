"""Shared helpers of the prepaid tests: a market, requests, locks, offers and the books.

Use :func:`prepaid_config` in a module's ``site_config`` fixture (pass plugin settings to
change them) and the ``market`` fixture: an operator, a buyer in the US with 200.00 of
credit, three sellers with approved access to ``valorant`` (``games`` > ``valorant``),
one seller with access to the whole ``games`` tree, and an outsider with none.
"""

from __future__ import annotations

from typing import Any

import pytest

from agorakit.money import ledger
from agorakit.orders import escrow_problem_lines

CATEGORIES = [
    ("games", "Games", None),
    ("valorant", "Valorant", "games"),
    ("league", "League of Legends", "games"),
    ("music", "Music lessons", None),
]

RANKS = ["Iron", "Bronze", "Silver", "Gold", "Platinum", "Diamond"]

SERVICE_TYPES: dict[str, Any] = {
    "games": [
        {
            "name": "rank_boost",
            "label": "Rank boost",
            "fields": [
                {"name": "current_rank", "label": "Current rank", "type": "choice", "choices": RANKS},
                {"name": "target_rank", "label": "Target rank", "type": "choice", "choices": RANKS},
                {
                    "name": "notes",
                    "label": "Anything else",
                    "type": "text",
                    "required": False,
                    "max_length": 500,
                },
            ],
        },
        {
            "name": "coaching",
            "label": "Coaching",
            "fields": [
                {"name": "hours", "label": "Hours", "type": "integer", "min": 1, "max": 20},
                {"name": "task", "label": "What to work on", "type": "text"},
            ],
        },
    ]
}


def prepaid_config(tmp_path, **plugin_settings: Any) -> dict[str, Any]:
    settings = {"service_types": SERVICE_TYPES, **plugin_settings}
    return {
        "site": {"plugins": ["prepaid", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
        "plugins": {"prepaid": settings},
    }


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


async def fund(runtime, account: str, cents: int, currency: str = "USD") -> None:
    """Put money on a ledger account from outside (a test's deposit)."""
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{account}:{cents}:{uow.now.isoformat()}:{id(uow)}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), account, cents, currency),
        )


async def grant_access(client, operator, member, category: str) -> dict[str, Any]:
    """The member applies for access to ``category`` and an operator approves it."""
    applied = await client.post(
        "/qualifications", json={"category": category, "note": "I play at Immortal"}, headers=member.headers
    )
    assert applied.status_code == 201, applied.text
    approved = await client.post(
        f"/operator/qualifications/{applied.json()['id']}/approve", headers=operator.headers
    )
    assert approved.status_code == 200, approved.text
    return approved.json()


class Market:
    def __init__(self, operator, buyer, sellers, games_seller, outsider) -> None:
        self.operator, self.buyer = operator, buyer
        self.sellers, self.games_seller, self.outsider = sellers, games_seller, outsider
        self.seller = sellers[0]


@pytest.fixture
async def market(client, runtime, make_member) -> Market:
    operator = await make_member(role="operator")
    buyer = await make_member(country="US")
    sellers = [await make_member(country=c) for c in ("US", "GB", "DE")]
    games_seller = await make_member(country="FR")
    outsider = await make_member(country="US")
    for slug, name, parent in CATEGORIES:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    for seller in sellers:
        await grant_access(client, operator, seller, "valorant")
    await grant_access(client, operator, games_seller, "games")
    await fund(runtime, ledger.credit(buyer.id), 20000)
    return Market(operator, buyer, sellers, games_seller, outsider)


def request_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": "prepaid",
        "category": "valorant",
        "service_type": "rank_boost",
        "details": {"current_rank": "Gold", "target_rank": "Platinum"},
        "price": usd("40.00"),
        "timeframe_hours": 72,
        "method": "balance",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def post_request(client, buyer, **changes):
    return await client.post("/prepaid/requests", json=request_body(**changes), headers=buyer.headers)


async def open_request(client, market: Market, **changes) -> dict[str, Any]:
    """A prepaid request paid from the buyer's balance: open in the feed."""
    created = await post_request(client, market.buyer, **changes)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "open", created.text
    return created.json()


async def lock(client, seller, request_id: int):
    return await client.post(f"/prepaid/requests/{request_id}/lock", headers=seller.headers)


async def locked_request(client, market: Market, seller=None, **changes) -> dict[str, Any]:
    request = await open_request(client, market, **changes)
    locked = await lock(client, seller or market.seller, request["id"])
    assert locked.status_code == 200, locked.text
    return locked.json()


async def deliver(client, seller, order_id: int, message: str = "Reached Platinum, see the screenshot"):
    return await client.post(
        f"/orders/{order_id}/delivery", json={"message": message, "attachments": []}, headers=seller.headers
    )


async def balances(member_id: int, currency: str = "USD") -> tuple[int, int]:
    """(available, credit) in cents."""
    return (
        await ledger.balance_of(ledger.available(member_id), currency),
        await ledger.balance_of(ledger.credit(member_id), currency),
    )


async def books_are_sound(runtime) -> None:
    """``agorakit check-ledger``'s checks: balanced postings, every order's escrow right."""
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []
