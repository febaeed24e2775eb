"""Leads for tests: an open job, and a business's unlock of it driven to a state through
the routes customers and businesses use (``agorakit_test_factories``, ``docs/testing.md``).

A job's listing is owned by its customer; an unlock's buyer is the business, and it has
no seller (the lead price is the site's).  Loaded only by the testing fixtures, never by
a running site.
"""

from __future__ import annotations

import itertools
from typing import Any

from agorakit.factories import KindFactories, Kit, Login, OrderRequest
from agorakit.money import parse_amount
from agorakit.plugins.leads.jobs import KIND

#: the category test jobs are posted in unless the test names one (made when the site
#: has none of the slug given)
CATEGORY = "test-leads"
#: where test jobs are unless the test says
LOCATION = {"country": "US", "postal_code": "94110"}

#: the states ``make_order(kind="lead")`` reaches: an unlock waiting for a payment by a
#: method other than the balance, charged (paid from the business's balance: the lead
#: price is the site's and the chat with the customer opens), cancelled (the business
#: dropped the unpaid unlock)
STATES = ("awaiting_payment", "charged", "cancelled")

_numbers = itertools.count(1)


async def job_body(kit: Kit, customer: Login, fields: dict[str, Any]) -> dict[str, Any]:
    """The body of ``POST /leads``: ``fields`` over the defaults (the category's form
    answered, a job in San Francisco)."""
    category = fields.get("category", CATEGORY)
    await kit.category(category)
    body: dict[str, Any] = {
        "category": category,
        "location": LOCATION,
        "text": f"Deep clean of a three-room flat before we move out, test job {next(_numbers)}.",
    }
    if "details" not in fields:
        form = await kit.call("GET", f"/leads/forms/{category}", customer, expect=200)
        body["details"] = kit.fill_form(form["fields"])
    return {**body, **fields}


async def make_listing(kit: Kit, customer: Login, fields: dict[str, Any]) -> dict[str, Any]:
    """A job posted by the customer and approved when the site reviews jobs: the
    listing, with ``lead`` as ``GET /leads/{id}`` shows it to the customer."""
    posted = await kit.call(
        "POST", "/leads", customer, json=await job_body(kit, customer, fields), expect=(200, 201)
    )
    listing = await kit.publish(posted["listing_id"], customer)
    lead = await kit.call("GET", f"/leads/{posted['id']}", customer, expect=200)
    if lead["status"] != "open":
        raise AssertionError(f"job {lead['id']} is {lead['status']}, not open")
    return {**listing, "lead": lead}


async def make_order(kit: Kit, request: OrderRequest) -> dict[str, Any]:
    """The unlock of the job ``request.listing`` (a new one of a new customer, with
    ``request.fields``, when None) by ``request.buyer`` (a new business when None), whose
    service profile is set to the job's category and country."""
    if request.seller is not None:
        raise ValueError("a lead unlock has no seller: the lead price is the site's")
    if request.listing is not None:
        if "lead" not in request.listing:
            raise ValueError("a job's listing from make_listing(kind='lead') is needed")
        lead = request.listing["lead"]
    else:
        lead = (await make_listing(kit, await kit.member(), request.fields))["lead"]
    business = request.buyer or await kit.member(country=lead["location"]["country"])
    profile = {
        "categories": [lead["category"]],
        "areas": [{"country": lead["location"]["country"]}],
        "headline": "Fast and careful",
    }
    await kit.call("PUT", "/leads/profile", business, json=profile, expect=200)
    if request.state == "charged":
        await kit.top_up(business, parse_amount(lead["price"]["amount"], lead["price"]["currency"]))
        body = {"method": "balance"}
    else:
        body = {"method": _outside_method(kit)}
    unlock = await kit.call("POST", f"/leads/{lead['id']}/unlock", business, json=body, expect=(200, 201))
    order_id = unlock["order_id"]
    if request.state == "cancelled":
        await kit.call("POST", f"/orders/{order_id}/transitions/cancel_unpaid", business, expect=200)
    got = await kit.call("GET", f"/orders/{order_id}", business, expect=200)
    if got["state"] != request.state:
        raise AssertionError(f"unlock {order_id} is {got['state']}, not {request.state}")
    return got


def _outside_method(kit: Kit) -> str:
    """A pay-in method the site offers that is not the balance: an unlock paid with it
    waits for its payment."""
    methods = [name for name in kit.runtime.settings.money.payment_methods if name != "balance"]
    if not methods:
        message = (
            "an unlock waits for its payment only when paid by a method other than the balance: "
            "enable one in site_config (e.g. money.payment_methods = ['balance', 'bank_transfer'])"
        )
        raise ValueError(message)
    return methods[0]


FACTORIES = KindFactories(
    kind=KIND, make_listing=make_listing, make_order=make_order, states=STATES, paid="charged"
)
