"""Prepaid requests for tests: an open (paid, published) request, and a request's order
driven to a state through the routes buyers and sellers use (``agorakit_test_factories``,
``docs/testing.md``).

A request's listing is owned by its buyer; the order's seller is the qualified member
who locks it.  Loaded only by the testing fixtures, never by a running site.
"""

from __future__ import annotations

import itertools
from typing import Any

from agorakit.factories import KindFactories, Kit, Login, OrderRequest
from agorakit.money import parse_amount
from agorakit.plugins.prepaid.requests import KIND

#: the category test requests are posted in unless the test names one (made when the
#: site has none of the slug given)
CATEGORY = "test-prepaid"

#: the states ``make_order(kind="request")`` reaches: posted unpaid, open (paid, waiting
#: for a seller), in progress (locked by a qualified seller), delivered, reported by the
#: buyer, completed (the buyer accepted), cancelled (the buyer cancelled it while open:
#: refund to credit), refunded (an operator refunded the report)
STATES = (
    "awaiting_payment",
    "open",
    "in_progress",
    "delivered",
    "reported",
    "completed",
    "cancelled",
    "refunded",
)
#: the steps after an open request to each state
_STEPS: dict[str, tuple[str, ...]] = {
    "open": (),
    "in_progress": ("lock",),
    "delivered": ("lock", "deliver"),
    "reported": ("lock", "deliver", "report"),
    "completed": ("lock", "deliver", "accept"),
    "cancelled": ("cancel",),
    "refunded": ("lock", "deliver", "report", "refund"),
}

_numbers = itertools.count(1)


async def request_body(kit: Kit, buyer: Login, fields: dict[str, Any]) -> dict[str, Any]:
    """The body of ``POST /prepaid/requests``: ``fields`` over the defaults (a prepaid
    request paid from the balance; ``price`` may be an int of minor units, default 4000;
    the category's first service type, its form answered)."""
    fields = dict(fields)
    price = fields.pop("price", 4000)
    category = fields.get("category", CATEGORY)
    await kit.category(category)
    body: dict[str, Any] = {
        "mode": "prepaid",
        "category": category,
        "price": kit.amount(price) if isinstance(price, int) else price,
        "title": f"Help wanted, test request {next(_numbers)}",
        "method": "balance",
    }
    if "service_type" not in fields:
        types = await kit.call("GET", f"/prepaid/service-types?category={category}", buyer, expect=200)
        first = types["items"][0]
        body["service_type"] = first["name"]
        body["details"] = kit.fill_form(first["fields"])
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


async def _post(kit: Kit, buyer: Login, fields: dict[str, Any]) -> dict[str, Any]:
    body = await request_body(kit, buyer, fields)
    if body.get("method") == "balance":
        await kit.top_up(buyer, parse_amount(body["price"]["amount"], body["price"]["currency"]))
    return await kit.call("POST", "/prepaid/requests", buyer, json=body, expect=201)


async def make_listing(kit: Kit, buyer: Login, fields: dict[str, Any]) -> dict[str, Any]:
    """A prepaid request paid from the buyer's balance (their credit funded with what it
    lacks), open to qualified sellers: the listing, with ``request`` as
    ``GET /prepaid/requests/{id}`` shows it."""
    request = await _post(kit, buyer, fields)
    if request["status"] != "open":
        raise AssertionError(f"request {request['id']} is {request['status']}, not open")
    listing = await kit.call("GET", f"/listings/{request['listing_id']}", buyer, expect=200)
    return {**listing, "request": request}


async def make_order(kit: Kit, request: OrderRequest) -> dict[str, Any]:
    """The order of the request ``request.listing`` (a new one of ``request.buyer`` when
    None, with ``request.fields``), locked by ``request.seller`` (a new member, given
    access to the request's category, when None)."""
    if request.listing is not None:
        listing = request.listing
        if "request" not in listing:
            raise ValueError("a request's listing from make_listing(kind='request') is needed")
        buyer = request.buyer or await kit.login(listing["seller"]["id"])
        posted = listing["request"]
    else:
        buyer = request.buyer or await kit.member()
        if request.state == "awaiting_payment":
            posted = await _post(kit, buyer, {**request.fields, "method": None})
        else:
            posted = (await make_listing(kit, buyer, request.fields))["request"]
    if posted["buyer_id"] != buyer.id:
        raise ValueError(f"request {posted['id']} is member {posted['buyer_id']}'s, not {buyer.id}'s")
    if request.state == "awaiting_payment" and posted["status"] != "awaiting_payment":
        raise ValueError(
            f"request {posted['id']} is {posted['status']}: it cannot wait for its payment again"
        )
    order_id = posted["order_id"]
    seller = request.seller
    for step in _STEPS.get(request.state, ()):
        if step == "lock":
            seller = seller or await kit.member()
            await kit.qualify(seller, posted["category"])
            await kit.call("POST", f"/prepaid/requests/{posted['id']}/lock", seller, expect=200)
        elif step == "deliver":
            delivery = {"message": "Done, see the screenshot.", "attachments": []}
            await kit.call("POST", f"/orders/{order_id}/delivery", seller, json=delivery, expect=200)
        elif step == "accept":
            await kit.call("POST", f"/orders/{order_id}/transitions/accept", buyer, expect=200)
        elif step == "report":
            report = {
                "reason": "not_delivered",
                "text": "The request was marked delivered but nothing was done.",
            }
            await kit.call("POST", f"/orders/{order_id}/disputes", buyer, json=report, expect=201)
        elif step == "refund":
            (dispute,) = await kit.call("GET", f"/orders/{order_id}/disputes", buyer, expect=200)
            resolution = {"outcome": "refund", "note": "Nothing was delivered."}
            operator = await kit.operator()
            await kit.call(
                "POST", f"/operator/disputes/{dispute['id']}/resolve", operator, json=resolution, expect=200
            )
        elif step == "cancel":
            await kit.call("POST", f"/prepaid/requests/{posted['id']}/cancel", buyer, expect=200)
    got = await kit.call("GET", f"/orders/{order_id}", buyer, expect=200)
    if got["state"] != request.state:
        raise AssertionError(f"request order {order_id} is {got['state']}, not {request.state}")
    return got


FACTORIES = KindFactories(
    kind=KIND, make_listing=make_listing, make_order=make_order, states=STATES, paid="open"
)
