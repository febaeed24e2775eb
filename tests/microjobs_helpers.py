"""Shared helpers of the microjobs tests: a market, campaigns, tasks, and the books.

Use the ``site_config`` below (override it in a test module to change settings) and the
``market`` fixture: an operator, an employer in the US with 100.00 of wallet credit and
50.00 earned, workers in the US, GB and FR, and the categories.
"""

from __future__ import annotations

from typing import Any

import pytest

from agorakit.money import escrow_balance, ledger
from agorakit.orders import escrow_problem_lines
from agorakit.plugins.microjobs.tables import Campaign

CATEGORIES = [
    ("social", "Social media", None),
    ("follow", "Follow and like", "social"),
    ("testing", "Testing", None),
]


def microjobs_config(tmp_path, **plugin_settings: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "site": {"plugins": ["microjobs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
    }
    if plugin_settings:
        config["plugins"] = {"microjobs": plugin_settings}
    return config


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


class Market:
    def __init__(self, operator, employer, us, gb, fr) -> None:
        self.operator, self.employer = operator, employer
        self.us, self.gb, self.fr = us, gb, fr


@pytest.fixture
async def market(client, runtime, make_member) -> Market:
    operator = await make_member(role="operator")
    employer = await make_member(country="US")
    us, gb, fr = [await make_member(country=c) for c in ("US", "GB", "FR")]
    for slug, name, parent in CATEGORIES:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    await fund(runtime, ledger.credit(employer.id), 10000)
    await fund(runtime, ledger.available(employer.id), 5000)
    return Market(operator, employer, us, gb, fr)


def campaign_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Follow our page and like the pinned post",
        "description": "We are a small bakery growing our community.",
        "category": "follow",
        "reward": usd("0.50"),
        "positions": 10,
        "mode": "international",
        "instructions": ["Open our page", "Follow it", "Like the pinned post"],
        "proof": [
            {"name": "username", "label": "Your username", "type": "text"},
            {"name": "profile", "label": "Link to your profile", "type": "url"},
        ],
        "method": "balance",
    }
    body.update(changes)
    return body


async def create_campaign(client, employer, **changes):
    return await client.post("/microjobs/campaigns", json=campaign_body(**changes), headers=employer.headers)


async def approve(client, operator, campaign: dict[str, Any]) -> dict[str, Any]:
    approved = await client.post(
        f"/operator/listings/{campaign['listing_id']}/approve", headers=operator.headers
    )
    assert approved.status_code == 200, approved.text
    return approved.json()


async def live_campaign(client, market: Market, **changes) -> dict[str, Any]:
    """A campaign created, paid from the employer's balance and approved: active."""
    created = await create_campaign(client, market.employer, **changes)
    assert created.status_code == 201, created.text
    campaign = created.json()
    if campaign["state"] == "pending_review":
        await approve(client, market.operator, campaign)
    got = await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)
    assert got.json()["state"] == "active", got.text
    return got.json()


async def take(client, worker, campaign_id: int):
    return await client.post(f"/microjobs/jobs/{campaign_id}/take", headers=worker.headers)


def answers(username: str = "ada_bakes", profile: str = "https://social.example/ada") -> list[dict]:
    return [{"field": "username", "value": username}, {"field": "profile", "value": profile}]


async def submit(client, worker, order_id: int, given: list[dict] | None = None):
    body = {"answers": answers() if given is None else given}
    return await client.post(f"/microjobs/tasks/{order_id}/proof", json=body, headers=worker.headers)


async def rate(client, employer, order_id: int, satisfied: bool, reason: str = "", feedback: str = ""):
    body = {"satisfied": satisfied, "reason": reason, "feedback": feedback}
    return await client.post(f"/microjobs/tasks/{order_id}/rating", json=body, headers=employer.headers)


async def taken_and_submitted(client, market: Market, campaign_id: int, worker) -> int:
    taken = await take(client, worker, campaign_id)
    assert taken.status_code == 201, taken.text
    order_id = taken.json()["order_id"]
    submitted = await submit(client, worker, order_id)
    assert submitted.status_code == 200, submitted.text
    return order_id


async def balances(member_id: int, currency: str = "USD") -> tuple[int, int]:
    """(available, credit) in cents."""
    return (
        await ledger.balance_of(ledger.available(member_id), currency),
        await ledger.balance_of(ledger.credit(member_id), currency),
    )


async def books_are_sound(runtime) -> None:
    """``agorakit check-ledger``'s checks, and every campaign's escrow holds exactly its
    free positions: (positions - taken) x (reward + employer fee)."""
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []
    for row in await Campaign.select():
        held = await escrow_balance(f"campaign:{row['id']}", row["currency"])
        expected = (row["positions"] - row["taken"]) * (row["reward"] + row["employer_fee"])
        assert held == expected, (row, held, expected)
