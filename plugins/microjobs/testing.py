"""Microjobs for tests: a funded, published campaign, and a task driven to a state through
the routes employers and workers use (``agorakit_test_factories``, ``docs/testing.md``).

A campaign's listing is owned by its employer, who is the buyer of its tasks; a task's
seller is the worker who takes it.  Loaded only by the testing fixtures, never by a
running site.
"""

from __future__ import annotations

import itertools
from typing import Any

from agorakit.factories import KindFactories, Kit, Login, OrderRequest
from agorakit.money import parse_amount
from agorakit.plugins.microjobs.campaigns import KIND
from agorakit.plugins.microjobs.funding import price_position

#: the category test campaigns are listed in unless the test names one (made when the
#: site has none of the slug given)
CATEGORY = "test-microjobs"

#: the task states ``make_order(kind="campaign")`` reaches: taken by a worker, proof
#: submitted, a correction requested, the employer satisfied (the worker is paid), still
#: unsatisfied after the correction (paid anyway), given up by the worker, disputed by the
#: employer, refunded by an operator
STATES = ("taken", "submitted", "correcting", "satisfied", "unsatisfied", "given_up", "disputed", "refunded")
#: the steps from a new campaign to each state
_STEPS: dict[str, tuple[str, ...]] = {
    "taken": ("take",),
    "submitted": ("take", "submit"),
    "correcting": ("take", "submit", "correct"),
    "satisfied": ("take", "submit", "satisfy"),
    "unsatisfied": ("take", "submit", "correct", "submit", "reject"),
    "given_up": ("take", "give_up"),
    "disputed": ("take", "submit", "dispute"),
    "refunded": ("take", "submit", "dispute", "refund"),
}

_numbers = itertools.count(1)


def campaign_body(kit: Kit, fields: dict[str, Any]) -> dict[str, Any]:
    """The body of ``POST /microjobs/campaigns``: ``fields`` over the defaults (``reward``
    may be an int of minor units; default 50, two positions, any country)."""
    n = next(_numbers)
    fields = dict(fields)
    reward = fields.pop("reward", 50)
    return {
        "title": f"Follow our page and like the pinned post, test campaign {n}",
        "description": "We are a small bakery growing our community.",
        "category": CATEGORY,
        "reward": kit.amount(reward) if isinstance(reward, int) else reward,
        "positions": 2,
        "mode": "international",
        "instructions": ["Open our page", "Follow it", "Like the pinned post"],
        "proof": [{"name": "username", "label": "Your username", "type": "text"}],
        "method": "balance",
        **fields,
    }


async def make_listing(kit: Kit, employer: Login, fields: dict[str, Any]) -> dict[str, Any]:
    """A campaign paid from the employer's balance (their credit funded with what it
    lacks) and approved when the site reviews campaigns: the listing, with ``campaign``
    as ``GET /microjobs/campaigns/{id}`` shows it."""
    body = campaign_body(kit, fields)
    await kit.category(body["category"])
    if body["method"] == "balance":
        reward = parse_amount(body["reward"]["amount"], body["reward"]["currency"])
        fee, _ = price_position(
            kit.runtime,
            reward=reward,
            currency=body["reward"]["currency"],
            employer=employer.member,
            category=body["category"],
            positions=body["positions"],
        )
        await kit.top_up(employer, body["positions"] * (reward + fee))
    campaign = await kit.call("POST", "/microjobs/campaigns", employer, json=body, expect=201)
    listing = await kit.publish(campaign["listing_id"], employer)
    got = await kit.call("GET", f"/microjobs/campaigns/{campaign['id']}", employer, expect=200)
    return {**listing, "campaign": got}


async def make_order(kit: Kit, request: OrderRequest) -> dict[str, Any]:
    """A task of the campaign ``request.listing`` (a new one of ``request.buyer``, the
    employer, when None) taken by ``request.seller`` (a new worker when None)."""
    if request.listing is not None:
        listing = request.listing
        employer = request.buyer or await kit.login(listing["seller"]["id"])
    else:
        employer = request.buyer or await kit.member()
        listing = await make_listing(kit, employer, request.fields)
    if "campaign" not in listing:
        raise ValueError("a campaign's listing from make_listing(kind='campaign') is needed to take its task")
    if listing["seller"]["id"] != employer.id:
        raise ValueError(
            f"campaign {listing['campaign']['id']} is member {listing['seller']['id']}'s, not {employer.id}'s"
        )
    worker = request.seller or await kit.member()
    order_id = 0
    for step in _STEPS[request.state]:
        order_id = await _step(kit, step, listing["campaign"]["id"], order_id, employer, worker)
    got = await kit.call("GET", f"/orders/{order_id}", employer, expect=200)
    if got["state"] != request.state:
        raise AssertionError(f"task {order_id} is {got['state']}, not {request.state}")
    return got


async def _step(kit: Kit, step: str, campaign_id: int, order_id: int, employer: Login, worker: Login) -> int:
    if step == "take":
        taken = await kit.call("POST", f"/microjobs/jobs/{campaign_id}/take", worker, expect=201)
        return taken["order_id"]
    if step == "submit":
        answers = {"answers": [{"field": "username", "value": "ada_bakes"}]}
        await kit.call("POST", f"/microjobs/tasks/{order_id}/proof", worker, json=answers, expect=200)
    elif step in ("satisfy", "correct", "reject"):
        rating = {
            "satisfied": step == "satisfy",
            "reason": "" if step == "satisfy" else "The username does not exist",
        }
        await kit.call("POST", f"/microjobs/tasks/{order_id}/rating", employer, json=rating, expect=200)
    elif step == "give_up":
        await kit.call("POST", f"/microjobs/tasks/{order_id}/give-up", worker, expect=200)
    elif step == "dispute":
        report = {"reason": "proof_not_genuine", "text": "The proof is copied from another worker's."}
        await kit.call("POST", f"/orders/{order_id}/disputes", employer, json=report, expect=201)
    elif step == "refund":
        (dispute,) = await kit.call("GET", f"/orders/{order_id}/disputes", employer, expect=200)
        resolution = {"outcome": "refund", "note": "The proof is not genuine."}
        await kit.call(
            "POST",
            f"/operator/disputes/{dispute['id']}/resolve",
            await kit.operator(),
            json=resolution,
            expect=200,
        )
    return order_id


FACTORIES = KindFactories(
    kind=KIND, make_listing=make_listing, make_order=make_order, states=STATES, paid="taken"
)
