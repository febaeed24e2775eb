"""Shared helpers of the leads tests: a market of customers and businesses, jobs, unlocks
and the books.

Use :func:`leads_config` in a module's ``site_config`` fixture (pass plugin settings to
change them) and the ``market`` fixture: an operator; a customer in the US; three
businesses serving ``cleaning`` in US postal prefix ``941`` (San Francisco), each with
50.00 of credit (``business2`` has 10.00 more available); a business serving
``plumbing`` in ``941``, one serving ``cleaning`` in ``100`` (New York), one serving the
whole ``home`` tree in the whole US, and an outsider with no profile.
"""

from __future__ import annotations

from typing import Any

import pytest

from agorakit.money import ledger
from agorakit.orders import escrow_problem_lines

CATEGORIES = [
    ("home", "Home services", None),
    ("cleaning", "House cleaning", "home"),
    ("plumbing", "Plumbing", "home"),
    ("lessons", "Lessons", None),
]

DETAILS: dict[str, Any] = {
    "cleaning": [
        {"name": "rooms", "label": "Number of rooms", "type": "integer", "min": 1, "max": 20},
        {
            "name": "when",
            "label": "When",
            "type": "choice",
            "choices": ["As soon as possible", "Within a week", "I'm flexible"],
        },
        {"name": "notes", "label": "Anything else", "type": "text", "required": False, "max_length": 500},
    ]
}

PRICES = {"cleaning": "12.00", "plumbing": "20.00"}


def leads_config(tmp_path, **plugin_settings: Any) -> dict[str, Any]:
    settings = {"details_by_category": DETAILS, "price_by_category": PRICES, **plugin_settings}
    return {
        "site": {"plugins": ["leads", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
        "plugins": {"leads": settings},
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


async def save_profile(client, member, categories: list[str], areas: list[dict[str, Any]], **extra):
    response = await client.put(
        "/leads/profile",
        json={"categories": categories, "areas": areas, "headline": "Fast and careful", **extra},
        headers=member.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


class Market:
    def __init__(self, operator, customer, businesses, plumber, new_yorker, home_pro, outsider) -> None:
        self.operator, self.customer = operator, customer
        self.businesses, self.plumber, self.new_yorker = businesses, plumber, new_yorker
        self.home_pro, self.outsider = home_pro, outsider
        self.business = businesses[0]


@pytest.fixture
async def market(client, runtime, make_member) -> Market:
    operator = await make_member(role="operator")
    customer = await make_member(country="US")
    businesses = [await make_member(country="US") for _ in range(3)]
    plumber = await make_member(country="US")
    new_yorker = await make_member(country="US")
    home_pro = await make_member(country="US")
    outsider = await make_member(country="US")
    for slug, name, parent in CATEGORIES:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    sf = [{"country": "US", "postal_prefix": "941"}]
    for business in businesses:
        await save_profile(client, business, ["cleaning"], sf)
        await fund(runtime, ledger.credit(business.id), 5000)
    await fund(runtime, ledger.available(businesses[1].id), 1000)
    await save_profile(client, plumber, ["plumbing"], sf)
    await save_profile(client, new_yorker, ["cleaning"], [{"country": "US", "postal_prefix": "100"}])
    await save_profile(client, home_pro, ["home"], [{"country": "US"}])
    await fund(runtime, ledger.credit(home_pro.id), 5000)
    return Market(operator, customer, businesses, plumber, new_yorker, home_pro, outsider)


def job_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "cleaning",
        "location": {"country": "US", "postal_code": "94110"},
        "details": {"rooms": 3, "when": "Within a week"},
        "text": "Deep clean of a three-room flat before we move out at the end of the month.",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def post_job(client, customer, **changes):
    return await client.post("/leads", json=job_body(**changes), headers=customer.headers)


async def approve(client, operator, listing_id: int):
    response = await client.post(f"/operator/listings/{listing_id}/approve", headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def open_job(client, market: Market, **changes) -> dict[str, Any]:
    """A job posted by the market's customer and approved by its operator: open."""
    created = await post_job(client, market.customer, **changes)
    assert created.status_code == 201, created.text
    if created.json()["status"] == "pending_review":
        await approve(client, market.operator, created.json()["listing_id"])
    got = await client.get(f"/leads/{created.json()['id']}", headers=market.customer.headers)
    assert got.json()["status"] == "open", got.text
    return got.json()


async def unlock(client, business, lead_id: int, *, method: str | None = None, key: str | None = None):
    headers = dict(business.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"method": method} if method else None
    return await client.post(f"/leads/{lead_id}/unlock", json=body, headers=headers)


async def balances(member_id: int, currency: str = "USD") -> tuple[int, int]:
    """(available, credit) in cents."""
    return (
        await ledger.balance_of(ledger.available(member_id), currency),
        await ledger.balance_of(ledger.credit(member_id), currency),
    )


async def fees(currency: str = "USD") -> int:
    return await ledger.balance_of(ledger.PLATFORM_FEES, currency)


async def books_are_sound(runtime) -> None:
    """``agorakit check-ledger``'s checks: balanced postings, every order's escrow right."""
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []
