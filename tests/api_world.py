"""A small marketplace with every shipped plugin enabled, built through the HTTP API.

The schema fuzzer and the authorization matrix both need a site where the ids in paths
exist: an operator, a seller and a buyer with a published gig, a paid and delivered
order with its conversation, an attachment, a qualification application with a file of
the seller's own, a report (dispute), a support request, a pending deposit, a withdrawal, and microjobs
campaigns, tasks, a group and an offer (the buyer is the employer, the seller the
worker), and prepaid requests: one in the feed (its order without a seller is what
``GET /orders/open`` shows the seller, who has access to its category), one locked with
a release in the seller's history, and classic ones with a pending and a flagged offer,
and leads: the buyer's jobs (one open, unlocked by the seller, who wrote in its
conversation and reported it; one waiting for review) and the seller's service profile.
``build_world`` makes one and returns the ids by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agorakit.hooks import shipped_plugins
from agorakit.money import ledger
from agorakit.orders import registry

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6364f8cf50"
    "0f0003860180583c9f6b0000000049454e44ae426082"
)
IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


def all_plugins_config(tmp_path) -> dict[str, Any]:
    """Site config with every shipped plugin enabled (as ``agorakit demo`` writes it).

    PayPal has no credentials, as on a site that has not set it up yet: its routes answer
    503, and nothing reaches the internet.  The prepaid plugin holds offers with contact
    details for an operator (``offer_screening = "flag"``) rather than refusing them, so
    the world has a flagged offer for the operators' routes.
    """
    return {
        "site": {"plugins": shipped_plugins()},
        "money": {
            "payment_methods": ["balance", "bank_transfer", "paypal"],
            "payout_methods": ["bank_transfer", "paypal"],
        },
        "attachments": {"path": str(tmp_path / "files")},
        "plugins": {"prepaid": {"offer_screening": "flag"}},
    }


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


GIG = {
    "kind": "gig",
    "title": "I will design a minimalist logo",
    "description": "Three concepts, vector files and two rounds of changes.",
    "price": usd("25.00"),
    "category": "logo-design",
    "attributes": {"delivery_days": 3, "extras": [], "max_quantity": 3, "requirements": "Your brand name."},
}


@dataclass
class World:
    operator: Any
    seller: Any
    buyer: Any
    stranger: Any
    target: Any
    site_owner: Any
    ids: dict[str, Any] = field(default_factory=dict)


async def paid_withdrawal(client, operator, member, amount: str) -> None:
    """A bank withdrawal requested, batched and marked paid: its fee goes to the site."""
    asked = await client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd(amount), "destination": IBAN_ACCOUNT},
        headers=member.headers,
    )
    assert asked.status_code == 201, asked.text
    batch = await client.post(
        "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
    )
    assert batch.status_code == 201, batch.text
    done = await client.post(
        f"/operator/withdrawals/{asked.json()['id']}/complete", json={}, headers=operator.headers
    )
    assert done.status_code == 200, done.text


async def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json()


async def fund(runtime, account: str, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"world:{account}:{cents}",
            kind="test_funding",
            description="test funding",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


async def build_world(client, runtime, make_member) -> World:
    operator = await make_member(role="operator")
    seller, buyer, stranger = await make_member(), await make_member(), await make_member()
    target = await make_member()  # for operator actions on members (suspension)
    site_owner = await make_member(role="owner")
    world = World(operator, seller, buyer, stranger, target, site_owner)
    ids = world.ids
    ids["member_id"] = target.id
    ids["seller_id"] = seller.id
    for slug, name, parent in [("design", "Design", None), ("logo-design", "Logo design", "design")]:
        category = await _ok(
            await client.post(
                "/operator/categories",
                json={"slug": slug, "name": name, "parent": parent},
                headers=operator.headers,
            ),
            201,
        )
        ids["category_id"] = category["id"]
    await fund(runtime, ledger.credit(buyer.id), 10000)
    await fund(runtime, ledger.available(seller.id), 10000)
    await _microjobs(client, world)  # first: the seller's rated task lets them withdraw

    gig = await _ok(await client.post("/listings", json=GIG, headers=seller.headers), 201)
    ids["listing_id"] = gig["id"]
    await _ok(await client.post(f"/listings/{gig['id']}/submit", headers=seller.headers))
    await _ok(await client.post(f"/operator/listings/{gig['id']}/approve", headers=operator.headers))

    draft = await _ok(
        await client.post(
            "/listings", json={**GIG, "title": "I will write your slogan"}, headers=seller.headers
        ),
        201,
    )
    ids["draft_listing_id"] = draft["id"]

    order = await _ok(await client.post(f"/gigs/{gig['id']}/orders", json={}, headers=buyer.headers), 201)
    ids["order_id"] = order_id = order["id"]
    payment = await _ok(
        await client.post(f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer.headers),
        201,
    )
    ids["order_payment_id"] = payment["id"]

    conversation = await _ok(await client.get(f"/orders/{order_id}/conversation", headers=buyer.headers))
    ids["conversation_id"] = conversation["id"]
    message = await _ok(
        await client.post(
            f"/conversations/{conversation['id']}/messages",
            json={"body": "Can you use blue?"},
            headers=buyer.headers,
        ),
        201,
    )
    ids["message_id"] = message["id"]
    attachment = await _ok(
        await client.post(
            "/attachments",
            files={"file": ("logo.png", PNG, "image/png")},
            data={"scope": f"order:{order_id}"},
            headers=seller.headers,
        ),
        201,
    )
    ids["attachment_id"] = attachment["id"]
    await _ok(
        await client.post(
            f"/gigs/orders/{order_id}/delivery",
            json={"message": "Here you are: three concepts.", "attachments": [attachment["id"]]},
            headers=seller.headers,
        )
    )
    proofs = await _ok(await client.get(f"/orders/{order_id}/proofs", headers=buyer.headers))
    ids["proof_id"] = proofs[0]["id"]
    dispute = await _ok(
        await client.post(
            f"/orders/{order_id}/disputes",
            json={"reason": "not_as_described", "text": "These are not the concepts we agreed."},
            headers=buyer.headers,
        ),
        201,
    )
    ids["dispute_id"] = dispute["id"]
    report = await _ok(
        await client.post(
            "/reports",
            json={
                "conversation_id": conversation["id"],
                "member_id": seller.id,
                "reason": "abuse",
                "text": "Rude answers to every question.",
            },
            headers=buyer.headers,
        ),
        201,
    )
    ids["report_id"] = report["id"]
    ticket = await _ok(
        await client.post(
            "/support",
            json={
                "category": "order",
                "body": "The seller sent the wrong files.",
                "link": {"kind": "order", "id": order_id},
            },
            headers=buyer.headers,
        ),
        201,
    )
    ids["ticket_id"] = ticket["id"]
    ids["operator_id"] = operator.id
    # a webhook endpoint (disabled: nothing is sent to it) with its deliveries of the
    # order's events, queued by a replay
    endpoint = await _ok(
        await client.post(
            "/operator/webhooks",
            json={"url": "https://hooks.example.com/agorakit", "event_types": ["order.*"], "enabled": False},
            headers=operator.headers,
        ),
        201,
    )
    ids["webhook_id"] = endpoint["id"]
    await _ok(
        await client.post(
            f"/operator/webhooks/{endpoint['id']}/replay",
            json={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
            headers=operator.headers,
        )
    )
    deliveries = await _ok(
        await client.get(f"/operator/webhooks/{endpoint['id']}/deliveries", headers=operator.headers)
    )
    ids["webhook_delivery_id"] = deliveries["items"][0]["id"]

    deposit = await _ok(
        await client.post(
            "/payments", json={"method": "bank_transfer", "amount": usd("20.00")}, headers=buyer.headers
        ),
        201,
    )
    ids["payment_id"] = deposit["id"]
    withdrawal = await _ok(
        await client.post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd("60.00"), "destination": IBAN_ACCOUNT},
            headers=seller.headers,
        ),
        201,
    )
    ids["withdrawal_id"] = withdrawal["id"]
    voucher = await _ok(
        await client.post("/me/vouchers", json={"amount": usd("5.00")}, headers=seller.headers), 201
    )
    ids["voucher_id"] = voucher["id"]
    await _reviewed_order(client, world, gig["id"])
    third = await _ok(await client.post(f"/gigs/{gig['id']}/orders", json={}, headers=buyer.headers), 201)
    ids["cancel_order_id"] = third["id"]  # paid, in progress: for cancellation proposals
    await _ok(
        await client.post(
            f"/orders/{third['id']}/payments", json={"method": "balance"}, headers=buyer.headers
        ),
        201,
    )
    portfolio = await _ok(
        await client.post(
            "/attachments",
            files={"file": ("portfolio.png", PNG, "image/png")},
            data={"scope": f"member:{seller.id}"},
            headers=seller.headers,
        ),
        201,
    )
    qualification = await _ok(
        await client.post(
            "/qualifications",
            json={"category": "design", "note": "Ten years of logos", "attachments": [portfolio["id"]]},
            headers=seller.headers,
        ),
        201,
    )
    ids["qualification_id"] = qualification["id"]
    batch = await _ok(
        await client.post(
            "/bank-transfer/payout-batches", json={"currency": "USD"}, headers=operator.headers
        ),
        201,
    )
    ids["ref"] = batch["ref"]
    notifications = await _ok(await client.get("/notifications", headers=seller.headers))
    ids["notification_id"] = notifications["items"][0]["id"]
    emails = await _ok(await client.get("/operator/emails", headers=operator.headers))
    ids["email_id"] = emails["items"][0]["id"]
    events = await _ok(await client.get("/operator/events", headers=operator.headers))
    ids["event_id"] = events["items"][0]["id"]
    token = await _ok(
        await client.post(
            "/operator/integration-tokens",
            json={"name": "CRM sync", "scopes": ["events:read"]},
            headers=operator.headers,
        ),
        201,
    )
    ids["integration_token_id"] = token["integration_token"]["id"]
    if any(name == "prepaid_request" for name, _ in registry(runtime).processes):
        await _prepaid(client, runtime, world)
    if any(name == "lead_unlock" for name, _ in registry(runtime).processes):
        await _leads(client, world)
    return world


LEAD = {
    "category": "logo-design",
    "location": {"country": "US", "postal_code": "94110"},
    "details": {"when": "Within a week"},
    "text": "A logo for our new bakery on Valencia Street, in warm colours.",
}


async def _leads(client, world: World) -> None:
    """The leads plugin's objects, in logo-design: the seller's service profile (design,
    so logo-design too, in the whole US; the stranger has none); the buyer's open job
    (``lead_id``), which the seller unlocked from their balance (``lead_unlock_id``,
    its order ``lead_order_id``), wrote in (``lead_conversation_id``) and reported
    (``lead_dispute_id``); and the buyer's job waiting for review (``pending_lead_id``).
    ``category`` names the category of the job forms."""
    buyer, seller, operator, ids = world.buyer, world.seller, world.operator, world.ids
    ids["category"] = "logo-design"
    await _ok(
        await client.put(
            "/leads/profile",
            json={"categories": ["design"], "areas": [{"country": "US"}], "headline": "Logos in a week"},
            headers=seller.headers,
        )
    )
    job = await _ok(await client.post("/leads", json=LEAD, headers=buyer.headers), 201)
    ids["lead_id"] = job["id"]
    await _ok(await client.post(f"/operator/listings/{job['listing_id']}/approve", headers=operator.headers))
    unlocked = await _ok(await client.post(f"/leads/{job['id']}/unlock", headers=seller.headers), 201)
    assert unlocked["status"] == "charged", unlocked
    ids["lead_unlock_id"], ids["lead_order_id"] = unlocked["id"], unlocked["order_id"]
    ids["lead_conversation_id"] = unlocked["conversation_id"]
    await _ok(
        await client.post(
            f"/conversations/{unlocked['conversation_id']}/messages",
            json={"body": "Hello! Do you have a name for the bakery yet?"},
            headers=seller.headers,
        ),
        201,
    )
    report = await _ok(
        await client.post(
            f"/leads/{job['id']}/report",
            json={"reason": "other", "text": "The customer wants a whole website, not a logo."},
            headers=seller.headers,
        ),
        201,
    )
    ids["lead_dispute_id"] = report["id"]
    pending = await _ok(
        await client.post(
            "/leads",
            json={**LEAD, "text": "A sign for the bakery's window, hand lettered."},
            headers=buyer.headers,
        ),
        201,
    )
    assert pending["status"] == "pending_review", pending
    ids["pending_lead_id"] = pending["id"]


PREPAID_TASK = {"task": "Redraw our blurry PNG logo as a clean SVG."}


async def _prepaid(client, runtime, world: World) -> None:
    """The prepaid plugin's objects, in logo-design, which the seller has approved access
    to (the stranger has none): the buyer's paid prepaid request in the feed
    (``request_id``; its order without a seller, ``open_order_id``, is what the seller may
    take in ``GET /orders/open``); a prepaid request the seller locked, gave up with a
    reason and locked again (``locked_request_id``: in progress, and one lock in the
    seller's release history); a classic request with the seller's pending offer
    (``classic_request_id``, ``offer_id``); and a second classic request with the seller's
    offer that the screening holds (``flagged_offer_id``: the site flags offers)."""
    buyer, seller, operator, ids = world.buyer, world.seller, world.operator, world.ids
    await fund(runtime, ledger.credit(buyer.id), 5000)
    applied = await _ok(
        await client.post("/qualifications", json={"category": "logo-design"}, headers=seller.headers), 201
    )
    await _ok(
        await client.post(f"/operator/qualifications/{applied['id']}/approve", headers=operator.headers)
    )

    async def post(body: dict[str, Any]) -> dict[str, Any]:
        common = {"category": "logo-design", "service_type": "custom", "details": PREPAID_TASK}
        return await _ok(
            await client.post("/prepaid/requests", json={**common, **body}, headers=buyer.headers), 201
        )

    paid = {"mode": "prepaid", "price": usd("12.00"), "timeframe_hours": 48, "method": "balance"}
    opened = await post({**paid, "title": "Vectorise our logo"})
    ids["request_id"], ids["open_order_id"] = opened["id"], opened["order_id"]
    locked = await post({**paid, "title": "Vectorise our second logo"})
    ids["locked_request_id"] = locked["id"]
    await _ok(await client.post(f"/prepaid/requests/{locked['id']}/lock", headers=seller.headers))
    await _ok(
        await client.post(
            f"/prepaid/requests/{locked['id']}/release",
            json={"reason": "My tablet broke; someone else should take it."},
            headers=seller.headers,
        )
    )
    await _ok(await client.post(f"/prepaid/requests/{locked['id']}/lock", headers=seller.headers))

    classic = {"mode": "classic", "price": usd("20.00")}
    offer = {"price": usd("18.00"), "timeframe_hours": 24, "message": "I can vectorise it today."}
    for name, offer_name, message in [
        ("classic_request_id", "offer_id", offer["message"]),
        ("flag_request_id", "flagged_offer_id", "Send the file to ada.designs@example.com"),
    ]:
        request = await post({**classic, "title": f"Vectorise our logo ({name})"})
        ids[name] = request["id"]
        made = await _ok(
            await client.post(
                f"/prepaid/requests/{request['id']}/offers",
                json={**offer, "message": message},
                headers=seller.headers,
            ),
            201,
        )
        ids[offer_name] = made["id"]
    assert made["status"] == "flagged", made


async def _reviewed_order(client, world: World, gig_id: int) -> None:
    """A second order of the gig, delivered, accepted and reviewed by the buyer."""
    buyer, seller = world.buyer, world.seller
    order = await _ok(await client.post(f"/gigs/{gig_id}/orders", json={}, headers=buyer.headers), 201)
    order_id = world.ids["completed_order_id"] = order["id"]
    await _ok(
        await client.post(f"/orders/{order_id}/payments", json={"method": "balance"}, headers=buyer.headers),
        201,
    )
    await _ok(
        await client.post(
            f"/gigs/orders/{order_id}/delivery",
            json={"message": "Done, see the files."},
            headers=seller.headers,
        )
    )
    await _ok(await client.post(f"/gigs/orders/{order_id}/accept", headers=buyer.headers))
    review = await _ok(
        await client.post(
            f"/orders/{order_id}/reviews",
            json={"rating": 5, "text": "Fast and friendly."},
            headers=buyer.headers,
        ),
        201,
    )
    world.ids["review_id"] = review["id"]


CAMPAIGN = {
    "title": "Follow our page and like the pinned post",
    "description": "We are a small design studio growing our community.",
    "category": "logo-design",
    "reward": usd("0.10"),
    "positions": 5,
    "mode": "international",
    "instructions": ["Open our page", "Follow it"],
    "proof": [{"name": "username", "label": "Your username", "type": "text"}],
    "method": "balance",
}
PTC = {**CAMPAIGN, "mode": "ptc", "proof": [], "url": "https://shop.example/spring-sale"}
OFFER = {
    "kind": "offer",
    "title": "I will test your website on three phones",
    "description": "A report of what breaks on Android and iPhone, with screenshots.",
    "price": usd("15.00"),
    "category": "logo-design",
    "attributes": {"delivery_days": 2, "requirements": "The address of the page."},
}


async def _campaign(client, world: World, employer, body: dict[str, Any]) -> int:
    """A campaign paid from the employer's balance and approved by the operator: active."""
    campaign = await _ok(await client.post("/microjobs/campaigns", json=body, headers=employer.headers), 201)
    if campaign["state"] == "pending_review":
        await _ok(
            await client.post(
                f"/operator/listings/{campaign['listing_id']}/approve", headers=world.operator.headers
            )
        )
    return campaign["id"]


async def _rated_task(client, world: World, campaign_id: int) -> None:
    """The seller does a task of the buyer's campaign, rated satisfied: a success rate of
    100%, which the site's withdrawal gate asks for."""
    task = await _ok(
        await client.post(f"/microjobs/jobs/{campaign_id}/take", headers=world.seller.headers), 201
    )
    await _ok(
        await client.post(
            f"/microjobs/tasks/{task['order_id']}/proof",
            json={"answers": [{"field": "username", "value": "ada_designs"}]},
            headers=world.seller.headers,
        )
    )
    await _ok(
        await client.post(
            f"/microjobs/tasks/{task['order_id']}/rating",
            json={"satisfied": True},
            headers=world.buyer.headers,
        )
    )


async def _microjobs(client, world: World) -> None:
    """The microjobs objects: the buyer is the employer, the seller the worker.

    ``campaign_id`` (the buyer's, taken by the seller: ``task_id``, its proof submitted),
    ``spare_campaign_id`` (the buyer's, to pause, stop, add positions to), ``seller_campaign_id``
    and ``seller_ptc_campaign_id`` (the seller's, for any member to take or visit), ``ptc_task_id``
    and ``go_token`` (the seller's visit of the buyer's paid-to-click campaign), ``group_id``
    (the buyer's, with the seller in it) and ``offer_listing_id`` (the seller's published offer).
    """
    buyer, seller, ids = world.buyer, world.seller, world.ids
    ids["campaign_id"] = campaign_id = await _campaign(client, world, buyer, CAMPAIGN)
    ids["spare_campaign_id"] = await _campaign(client, world, buyer, {**CAMPAIGN, "title": "Like our post"})
    await _rated_task(client, world, ids["spare_campaign_id"])
    ids["seller_campaign_id"] = await _campaign(client, world, seller, {**CAMPAIGN, "title": "Try our app"})
    ids["seller_ptc_campaign_id"] = await _campaign(client, world, seller, {**PTC, "title": "See our shop"})
    ptc_id = await _campaign(client, world, buyer, PTC)
    task = await _ok(await client.post(f"/microjobs/jobs/{campaign_id}/take", headers=seller.headers), 201)
    ids["task_id"] = task["order_id"]
    await _ok(
        await client.post(
            f"/microjobs/tasks/{task['order_id']}/proof",
            json={"answers": [{"field": "username", "value": "ada_designs"}]},
            headers=seller.headers,
        )
    )
    visit = await _ok(await client.post(f"/microjobs/jobs/{ptc_id}/visit", headers=seller.headers), 201)
    ids["ptc_task_id"] = visit["task"]["order_id"]
    ids["go_token"] = ids["token"] = visit["go_url"].removeprefix("/microjobs/go/")
    group = await _ok(
        await client.post("/microjobs/groups", json={"name": "Trusted"}, headers=buyer.headers), 201
    )
    ids["group_id"] = group["id"]
    await _ok(
        await client.post(
            f"/microjobs/groups/{group['id']}/members", json={"member_id": seller.id}, headers=buyer.headers
        ),
        201,
    )
    offer = await _ok(await client.post("/listings", json=OFFER, headers=seller.headers), 201)
    ids["offer_listing_id"] = offer["id"]
    await _ok(await client.post(f"/listings/{offer['id']}/submit", headers=seller.headers))


__all__ = ["IBAN_ACCOUNT", "PNG", "World", "all_plugins_config", "build_world", "paid_withdrawal", "usd"]
