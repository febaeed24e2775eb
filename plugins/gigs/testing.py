"""Gigs for tests: a published gig, and a gig order driven to a state through the routes
members use (``agorakit_test_factories``, ``docs/testing.md``).

Loaded only by the testing fixtures (``make_listing(kind="gig")``,
``make_order(kind="gig", state=...)``), never by a running site.
"""

from __future__ import annotations

import itertools
from typing import Any

from agorakit.factories import KindFactories, Kit, Login, OrderRequest
from agorakit.money import parse_amount

#: the category test gigs are listed in unless the test names one (made when the site
#: has no category of the slug given)
CATEGORY = "test-gigs"

#: the states ``make_order(kind="gig")`` reaches, in the flow's order: placed, paid (the
#: seller's clock runs), delivered, reported by the buyer, completed (the buyer accepted),
#: cancelled (the seller cancelled it before delivering: refund to the buyer's credit),
#: refunded (an operator refunded the report)
STATES = ("awaiting_payment", "in_progress", "delivered", "reported", "completed", "cancelled", "refunded")
#: the steps before each state: a state is reached from the one before it
_AFTER = {
    "in_progress": "awaiting_payment",
    "delivered": "in_progress",
    "reported": "delivered",
    "completed": "delivered",
    "cancelled": "in_progress",
    "refunded": "reported",
}

_numbers = itertools.count(1)


def listing_body(kit: Kit, fields: dict[str, Any]) -> dict[str, Any]:
    """The body of ``POST /listings`` for a gig: ``fields`` over the defaults (``price``
    may be an int of minor units; ``attributes`` are merged over the defaults')."""
    n = next(_numbers)
    fields = dict(fields)
    price = fields.pop("price", 2500)
    attributes = {"delivery_days": 3, "max_quantity": 5, **fields.pop("attributes", {})}
    return {
        "kind": "gig",
        "title": f"I will proofread your text, test gig {n}",
        "description": "Careful proofreading of up to 2,000 words, with tracked changes.",
        "price": kit.amount(price) if isinstance(price, int) else price,
        "category": CATEGORY,
        "attributes": attributes,
        **fields,
    }


async def make_listing(kit: Kit, seller: Login, fields: dict[str, Any]) -> dict[str, Any]:
    body = listing_body(kit, fields)
    await kit.category(body["category"])
    created = await kit.call("POST", "/listings", seller, json=body, expect=201)
    return await kit.publish(created["id"], seller)


async def make_order(kit: Kit, request: OrderRequest) -> dict[str, Any]:
    if request.listing is not None:
        listing = request.listing
        seller = request.seller or await kit.login(listing["seller"]["id"])
    else:
        seller = request.seller or await kit.member()
        listing = await make_listing(kit, seller, {})
    if listing["seller"]["id"] != seller.id:
        raise ValueError(
            f"the seller of gig {listing['id']} is member {listing['seller']['id']}, not {seller.id}"
        )
    buyer = request.buyer or await kit.member()
    order = await kit.call("POST", f"/gigs/{listing['id']}/orders", buyer, json=request.fields, expect=201)
    for state in _path(request.state):
        order = await _step(kit, state, order, buyer, seller)
    return await kit.call("GET", f"/orders/{order['id']}", buyer, expect=200)


def _path(state: str) -> list[str]:
    """The states an order goes through from ``awaiting_payment`` to ``state``."""
    path = []
    while state != "awaiting_payment":
        path.append(state)
        state = _AFTER[state]
    return path[::-1]


async def _step(kit: Kit, state: str, order: dict[str, Any], buyer: Login, seller: Login) -> dict[str, Any]:
    order_id = order["id"]
    if state == "in_progress":
        await kit.top_up(buyer, parse_amount(order["amount"]["amount"], order["amount"]["currency"]))
        await kit.call("POST", f"/orders/{order_id}/payments", buyer, json={"method": "balance"}, expect=201)
    elif state == "delivered":
        delivery = {"message": "Here is your proofread text, with tracked changes.", "attachments": []}
        await kit.call("POST", f"/gigs/orders/{order_id}/delivery", seller, json=delivery, expect=200)
    elif state == "reported":
        report = {"reason": "not_as_described", "text": "The delivery is not what the gig promised."}
        await kit.call("POST", f"/orders/{order_id}/disputes", buyer, json=report, expect=201)
    elif state == "completed":
        await kit.call("POST", f"/gigs/orders/{order_id}/accept", buyer, expect=200)
    elif state == "cancelled":
        await kit.call("POST", f"/gigs/orders/{order_id}/seller-cancel", seller, expect=200)
    elif state == "refunded":
        (dispute,) = await kit.call("GET", f"/orders/{order_id}/disputes", buyer, expect=200)
        resolution = {"outcome": "refund", "note": "Refunded in full."}
        operator = await kit.operator()
        await kit.call(
            "POST", f"/operator/disputes/{dispute['id']}/resolve", operator, json=resolution, expect=200
        )
    got = await kit.call("GET", f"/orders/{order_id}", buyer, expect=200)
    if got["state"] != state:
        raise AssertionError(f"gig order {order_id} is {got['state']} after the step to {state}")
    return got


FACTORIES = KindFactories(
    kind="gig", make_listing=make_listing, make_order=make_order, states=STATES, paid="in_progress"
)
