"""The gigs model end to end, driven through the HTTP API as a client would.

Every flow checks the order's states, the exact ledger amounts in cents and who may do
what.  The plugin is enabled the way a site enables it: one line in ``site.plugins``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest

from agorakit.money import ledger
from agorakit.worker import sweep

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6364f8cf50"
    "0f0003860180583c9f6b0000000049454e44ae426082"
)
IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
    }


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


def gig_body(**changes) -> dict:
    body = {
        "kind": "gig",
        "title": "I will design a minimalist logo",
        "description": "Three concepts, vector files and two rounds of changes.",
        "price": usd("25.00"),
        "category": "logo-design",
        "attributes": {
            "delivery_days": 3,
            "extras": [
                {"title": "Express delivery", "price": "10.00", "days": 0},
                {"title": "Source files", "price": "5.00", "days": 2},
            ],
            "max_quantity": 3,
            "requirements": "Your brand name and the colours you like.",
        },
    }
    body.update(changes)
    return body


@pytest.fixture
async def market(client, runtime, make_member):
    """An operator, a seller and a buyer (with 100.00 of site credit), and the categories."""
    operator = await make_member(role="operator")
    seller, buyer = await make_member(), await make_member()
    for slug, name, parent in [
        ("design", "Design", None),
        ("logo-design", "Logo design", "design"),
        ("writing", "Writing", None),
    ]:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    await fund(runtime, ledger.credit(buyer.id), 10000)
    return operator, seller, buyer


async def fund(runtime, account: str, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{account}:{cents}:{uow.now.isoformat()}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


async def publish_gig(client, seller, operator, **changes) -> dict:
    created = await client.post("/listings", json=gig_body(**changes), headers=seller.headers)
    assert created.status_code == 201, created.text
    gig_id = created.json()["id"]
    submitted = await client.post(f"/listings/{gig_id}/submit", headers=seller.headers)
    assert submitted.json()["status"] == "pending_review"
    approved = await client.post(f"/operator/listings/{gig_id}/approve", headers=operator.headers)
    assert approved.json()["status"] == "published"
    return approved.json()


async def order(client, buyer, gig_id, **body):
    return await client.post(f"/gigs/{gig_id}/orders", json=body, headers=buyer.headers)


async def paid_order(client, buyer, gig_id, **body) -> dict:
    placed = await order(client, buyer, gig_id, **body)
    assert placed.status_code == 201, placed.text
    paid = await client.post(
        f"/orders/{placed.json()['id']}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text
    return (await client.get(f"/orders/{placed.json()['id']}", headers=buyer.headers)).json()


async def deliver(client, seller, order_id, message="Here you are: three concepts.", files=()):
    ids = []
    for name, content in files:
        uploaded = await client.post(
            "/attachments",
            files={"file": (name, content, "application/octet-stream")},
            data={"scope": f"order:{order_id}"},
            headers=seller.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        ids.append(uploaded.json()["id"])
    return await client.post(
        f"/gigs/orders/{order_id}/delivery",
        json={"message": message, "attachments": ids},
        headers=seller.headers,
    )


async def state_of(client, member, order_id) -> str:
    return (await client.get(f"/orders/{order_id}", headers=member.headers)).json()["state"]


async def inbox(client, member) -> list[tuple[str, str]]:
    """The member's notifications, oldest first: (template, title)."""
    items = (await client.get("/notifications?limit=100", headers=member.headers)).json()["items"]
    return [(n["template"], n["title"]) for n in reversed(items)]


async def emails_to(member) -> list[str]:
    """Subjects of the emails queued in the outbox for the member."""
    from agorakit.notifications.tables import EmailOutbox

    rows = (
        await EmailOutbox.select(EmailOutbox.subject)
        .where(EmailOutbox.member_id == member.id)
        .order_by(EmailOutbox.id)
    )
    return [row["subject"] for row in rows]


async def money_of(buyer, seller) -> dict[str, int]:
    return {
        "buyer_credit": await ledger.balance_of(ledger.credit(buyer.id), "USD"),
        "buyer_available": await ledger.balance_of(ledger.available(buyer.id), "USD"),
        "seller_available": await ledger.balance_of(ledger.available(seller.id), "USD"),
        "fees": await ledger.balance_of(ledger.PLATFORM_FEES, "USD"),
    }


# --------------------------------------------------------------------------------------
# 1. A seller creates a gig; operators approve or reject it
# --------------------------------------------------------------------------------------


async def test_gig_with_bad_price_or_extras_is_refused(client, market, problem):
    _, seller, _ = market
    problem(
        await client.post("/listings", json=gig_body(price=usd("4.99")), headers=seller.headers),
        422,
        "validation_error",
        fields={"price.amount"},
    )
    bad_extras = gig_body()
    bad_extras["attributes"]["extras"] = [
        {"title": "Express", "price": "0.00"},
        {"title": "express", "price": "3.00"},
    ]
    problem(
        await client.post("/listings", json=bad_extras, headers=seller.headers),
        422,
        "validation_error",
        fields={"attributes.extras[0].price", "attributes.extras[1].title"},
    )
    too_many = gig_body()
    too_many["attributes"]["max_quantity"] = 21
    too_many["attributes"]["delivery_days"] = 0
    body = problem(
        await client.post("/listings", json=too_many, headers=seller.headers), 422, "validation_error"
    )
    assert {e["field"] for e in body["errors"]} >= {"attributes.delivery_days"}
    assert (await client.get("/me/listings", headers=seller.headers)).json()["items"] == []


async def test_gig_goes_to_review_and_a_rejection_reaches_the_seller(client, market):
    operator, seller, buyer = market
    created = (await client.post("/listings", json=gig_body(), headers=seller.headers)).json()
    assert created["status"] == "draft"
    submitted = await client.post(f"/listings/{created['id']}/submit", headers=seller.headers)
    assert submitted.json()["status"] == "pending_review"
    queue = (await client.get("/operator/listings/pending", headers=operator.headers)).json()["items"]
    assert [item["listing"]["id"] for item in queue] == [created["id"]]
    # Not visible to buyers while pending.
    assert (await client.get(f"/listings/{created['id']}", headers=buyer.headers)).status_code == 404

    rejected = await client.post(
        f"/operator/listings/{created['id']}/reject",
        json={"reason": "Add examples of your logos."},
        headers=operator.headers,
    )
    assert rejected.json()["status"] == "rejected"
    conversations = (await client.get("/conversations", headers=seller.headers)).json()["items"]
    moderation = [c for c in conversations if c["subject"] == f"moderation:listing:{created['id']}"]
    messages = (
        await client.get(f"/conversations/{moderation[0]['id']}/messages", headers=seller.headers)
    ).json()
    assert "Add examples of your logos." in messages["items"][0]["body"]
    assert [t for t, _ in await inbox(client, seller)].count("listing_rejected") == 1
    assert len(await emails_to(seller)) == len(await inbox(client, seller))

    await client.post(f"/listings/{created['id']}/submit", headers=seller.headers)
    approved = await client.post(f"/operator/listings/{created['id']}/approve", headers=operator.headers)
    assert approved.json()["status"] == "published"
    assert (await client.get(f"/listings/{created['id']}")).status_code == 200


# --------------------------------------------------------------------------------------
# 2. A buyer finds a gig, asks, gets a quote and orders
# --------------------------------------------------------------------------------------


async def test_buyer_searches_asks_quotes_and_orders_with_extras(client, market, clock, problem):
    operator, seller, buyer = market
    logo = await publish_gig(client, seller, operator)
    await publish_gig(
        client, seller, operator, title="I will proofread your essay", category="writing", price=usd("5.00")
    )
    found = (await client.get("/listings?kind=gig&q=logo&category=design")).json()["items"]
    assert [g["id"] for g in found] == [logo["id"]]
    one = (await client.get(f"/listings/{logo['id']}")).json()
    assert one["seller"]["rating"]["count"] == 0 and one["attributes"]["max_quantity"] == 3

    asked = await client.post(
        "/conversations",
        json={"listing_id": logo["id"], "body": "Can you use green and gold?"},
        headers=buyer.headers,
    )
    assert asked.status_code == 201, asked.text
    seller_inbox = (await client.get("/conversations", headers=seller.headers)).json()["items"]
    question = [c for c in seller_inbox if c["id"] == asked.json()["id"]]
    assert question[0]["unread_count"] == 1 and question[0]["subject"].startswith(f"listing:{logo['id']}")

    quote = await client.get(
        f"/gigs/{logo['id']}/quote?extra=Express%20delivery&extra=Source%20files&quantity=2"
    )
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert [
        (i["description"], i["unit_price"]["amount"], i["quantity"], i["amount"]["amount"])
        for i in q["items"]
    ] == [
        ("I will design a minimalist logo", "25.00", 2, "50.00"),
        ("Extra: Express delivery", "10.00", 2, "20.00"),
        ("Extra: Source files", "5.00", 2, "10.00"),
    ]
    assert (q["subtotal"]["amount"], q["total"]["amount"], q["seller_earns"]["amount"]) == (
        "80.00",
        "80.00",
        "64.00",
    )
    assert [(f["payer"], f["amount"]["amount"]) for f in q["fees"]] == [("seller", "16.00")]
    assert q["delivery_days"] == 5
    assert q["deadline_if_paid_now"].startswith("2026-01-10T09:00")

    problem(await order(client, buyer, logo["id"], quantity=4), 422, "validation_error", fields={"quantity"})
    problem(
        await order(client, buyer, logo["id"], extras=["Gold leaf"]),
        422,
        "validation_error",
        fields={"extras[0]"},
    )
    problem(await order(client, seller, logo["id"]), 403, "forbidden")
    problem(await order(client, buyer, 99999), 404, "not_found")

    placed = await order(
        client, buyer, logo["id"], extras=["Source files"], quantity=1, requirements="Acme, green"
    )
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert (body["state"], body["amount"]["amount"], body["seller_id"]) == (
        "awaiting_payment",
        "30.00",
        seller.id,
    )
    assert body["data"]["quote"]["buyer_total"] == 3000 and body["data"]["quote"]["seller_net"] == 2400
    assert body["data"]["requirements"] == "Acme, green" and body["data"]["delivery_days"] == 5
    # The answer is the buyer's view of the order, as reading it gives it (what they may do next).
    assert body["allowed_transitions"] == ["cancel_unpaid"]
    assert body == (await client.get(f"/orders/{body['id']}", headers=buyer.headers)).json()
    # Buyer and seller talk in the order's conversation after ordering too.
    said = await client.get(f"/orders/{body['id']}/conversation", headers=seller.headers)
    assert said.status_code == 200


# --------------------------------------------------------------------------------------
# 3. Payment: balance, bank transfer, expiry
# --------------------------------------------------------------------------------------


async def test_paying_from_balance_starts_the_sellers_clock(client, market, clock):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = (await order(client, buyer, gig["id"])).json()
    clock.advance(timedelta(hours=5))
    paid = await client.post(
        f"/orders/{placed['id']}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.json()["status"] == "completed"
    now = (await client.get(f"/orders/{placed['id']}", headers=buyer.headers)).json()
    assert now["state"] == "in_progress"
    assert datetime.fromisoformat(now["data"]["deadline"]) == datetime.fromisoformat(
        "2026-01-08T14:00:00+00:00"
    )
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000 - 2500
    assert await ledger.balance_of(ledger.escrow(f"order:{placed['id']}"), "USD") == 2500


async def test_bank_transfer_waits_for_the_operator_then_starts_the_clock(client, market, clock, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = (await order(client, buyer, gig["id"])).json()
    payment = await client.post(
        f"/orders/{placed['id']}/payments", json={"method": "bank_transfer"}, headers=buyer.headers
    )
    assert payment.json()["status"] == "awaiting_funds"
    assert await state_of(client, buyer, placed["id"]) == "awaiting_payment"
    problem(await deliver(client, seller, placed["id"]), 409, "conflict")

    clock.advance(timedelta(days=2))
    confirmed = await client.post(
        f"/bank-transfer/payments/{payment.json()['id']}/confirm",
        json={"amount": usd("25.00"), "reference": "STMT-1"},
        headers=operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    now = (await client.get(f"/orders/{placed['id']}", headers=buyer.headers)).json()
    assert now["state"] == "in_progress"
    assert datetime.fromisoformat(now["data"]["deadline"]) == datetime.fromisoformat(
        "2026-01-10T09:00:00+00:00"
    )
    assert await ledger.balance_of(ledger.escrow(f"order:{placed['id']}"), "USD") == 2500


async def test_unpaid_order_expires(client, runtime, market, clock):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = (await order(client, buyer, gig["id"])).json()
    clock.advance(timedelta(hours=71))
    await sweep(runtime)
    assert await state_of(client, buyer, placed["id"]) == "awaiting_payment"
    clock.advance(timedelta(hours=1))
    await sweep(runtime)
    assert await state_of(client, buyer, placed["id"]) == "cancelled"
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000


# --------------------------------------------------------------------------------------
# 4. Delivery, acceptance and auto-completion
# --------------------------------------------------------------------------------------


async def test_five_dollar_gig_pays_four_to_the_seller_and_one_to_the_site(client, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator, price=usd("5.00"))
    placed = await paid_order(client, buyer, gig["id"])
    before = await money_of(buyer, seller)
    problem(
        await client.post(f"/orders/{placed['id']}/transitions/deliver", headers=seller.headers),
        409,
        "guard_failed",
    )
    problem(await deliver(client, buyer, placed["id"]), 403, "forbidden")
    problem(await deliver(client, seller, placed["id"], message="  "), 422, "validation_error")
    delivered = await deliver(client, seller, placed["id"], files=[("logo.png", PNG)])
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["state"] == "delivered"
    proofs = (await client.get(f"/orders/{placed['id']}/proofs", headers=buyer.headers)).json()
    file_id = proofs[0]["attachments"][0]
    assert (await client.get(f"/attachments/{file_id}/content", headers=buyer.headers)).content == PNG

    problem(
        await client.post(f"/gigs/orders/{placed['id']}/accept", headers=seller.headers),
        403,
        "actor_not_allowed",
    )
    accepted = await client.post(f"/gigs/orders/{placed['id']}/accept", headers=buyer.headers)
    assert accepted.json()["state"] == "completed"
    after = await money_of(buyer, seller)
    assert after["seller_available"] - before["seller_available"] == 400
    assert after["fees"] - before["fees"] == 100
    assert after["buyer_credit"] == before["buyer_credit"]
    proofs = (await client.get(f"/orders/{placed['id']}/proofs", headers=buyer.headers)).json()
    assert proofs[0]["status"] == "accepted"
    # The buyer was told of the delivery, the seller of the order, its payment and its
    # completion; each notice also queued an email.
    assert "proof_submitted" in [t for t, _ in await inbox(client, buyer)]
    seller_templates = [t for t, _ in await inbox(client, seller)]
    assert "order_created" in seller_templates and seller_templates.count("order_transitioned") >= 2
    assert len(await emails_to(seller)) == len(seller_templates)
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize("fire_in_sets", [True, False], ids=["as-a-set", "one-by-one"])
async def test_delivered_orders_complete_by_themselves_after_three_days(
    client, runtime, market, clock, fire_in_sets
):
    """Three delivered orders' timers fire in one batch: as a set (the default) or one by
    one, each order completes, its delivery counts as accepted and its seller is paid."""
    operator, seller, buyer = market
    worker = msgspec.structs.replace(runtime.settings.worker, fire_in_sets=fire_in_sets)
    runtime.settings = msgspec.structs.replace(runtime.settings, worker=worker)
    gig = await publish_gig(client, seller, operator, price=usd("5.00"))
    placed = [await paid_order(client, buyer, gig["id"]) for _ in range(3)]
    for order_ in placed:
        await deliver(client, seller, order_["id"])
    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    await sweep(runtime)
    assert [await state_of(client, buyer, o["id"]) for o in placed] == ["delivered"] * 3
    clock.advance(timedelta(seconds=1))
    report = await sweep(runtime)
    assert len(report.timers_fired) == 3
    for order_ in placed:
        assert await state_of(client, buyer, order_["id"]) == "completed"
        proofs = (await client.get(f"/orders/{order_['id']}/proofs", headers=buyer.headers)).json()
        assert [(p["status"], p["reviewed_by"]) for p in proofs] == [("accepted", None)]
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 3 * 400
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 3 * 100


# --------------------------------------------------------------------------------------
# 5. Late delivery
# --------------------------------------------------------------------------------------


async def test_buyer_may_cancel_only_after_the_deadline(client, market, clock, problem, make_member):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    stranger = await make_member()
    for action in ("cancel", "accept"):  # someone else's order, or none: not found
        path = f"/gigs/orders/{placed['id']}/{action}"
        problem(await client.post(path, headers=stranger.headers), 404, "not_found")
        problem(await client.post(f"/gigs/orders/99999/{action}", headers=buyer.headers), 404, "not_found")
    clock.advance(timedelta(days=2, hours=23))
    body = problem(
        await client.post(f"/gigs/orders/{placed['id']}/cancel", headers=buyer.headers), 409, "guard_failed"
    )
    assert "2026-01-08T09:00" in body["detail"]
    problem(
        await client.post(f"/gigs/orders/{placed['id']}/cancel", headers=seller.headers),
        403,
        "actor_not_allowed",
    )
    clock.advance(timedelta(hours=1))
    cancelled = await client.post(f"/gigs/orders/{placed['id']}/cancel", headers=buyer.headers)
    assert cancelled.json()["state"] == "cancelled"
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000
    assert await ledger.balance_of(ledger.escrow(f"order:{placed['id']}"), "USD") == 0


# --------------------------------------------------------------------------------------
# 6. Mutual cancellation
# --------------------------------------------------------------------------------------


async def test_mutual_cancellation_proposal_decline_and_accept(client, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    path = f"/gigs/orders/{placed['id']}/cancellation"
    problem(await client.post(path, json={"reason": "x"}, headers=buyer.headers), 422, "validation_error")
    proposed = await client.post(path, json={"reason": "I no longer need the logo."}, headers=buyer.headers)
    assert proposed.status_code == 201, proposed.text
    assert (proposed.json()["status"], proposed.json()["proposer_role"]) == ("open", "buyer")
    problem(
        await client.post(path, json={"reason": "Me too, cancel it."}, headers=seller.headers),
        409,
        "cancellation_open",
    )
    problem(await client.post(f"{path}/accept", headers=buyer.headers), 409, "guard_failed")
    problem(await client.post(f"{path}/decline", headers=buyer.headers), 403, "forbidden")
    assert "gigs_cancellation_proposed" in [t for t, _ in await inbox(client, seller)]

    declined = await client.post(
        f"{path}/decline", json={"reason": "I have started."}, headers=seller.headers
    )
    assert (declined.json()["status"], declined.json()["answer"]) == ("declined", "I have started.")
    assert "gigs_cancellation_declined" in [t for t, _ in await inbox(client, buyer)]
    assert await state_of(client, buyer, placed["id"]) == "in_progress"

    again = await client.post(
        path, json={"reason": "Fine, I cannot do it after all."}, headers=seller.headers
    )
    assert again.status_code == 201
    accepted = await client.post(f"{path}/accept", headers=buyer.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "cancelled"
    assert await ledger.balance_of(ledger.credit(buyer.id), "USD") == 10000
    history = (await client.get(path, headers=seller.headers)).json()
    assert [p["status"] for p in history] == ["declined", "accepted"]
    stranger_view = await client.get(path, headers=operator.headers)
    assert stranger_view.status_code == 200  # operators read every order


async def test_an_open_proposal_lapses_when_the_order_stops_running(client, runtime, market, clock):
    """Accepting the delivery, or the timer completing it, closes a proposal nobody answered;
    proposals of orders still running stay open."""
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    accepted, timed, running = [await paid_order(client, buyer, gig["id"]) for _ in range(3)]
    for placed in (accepted, timed, running):
        await deliver(client, seller, placed["id"])
        proposed = await client.post(
            f"/gigs/orders/{placed['id']}/cancellation",
            json={"reason": "Let us stop here, please."},
            headers=seller.headers,
        )
        assert proposed.status_code == 201, proposed.text
    done = await client.post(f"/gigs/orders/{accepted['id']}/accept", headers=buyer.headers)
    assert done.status_code == 200, done.text
    # The third order is reviewed in time (the deadline moves); only the second one's timer fires.
    clock.advance(timedelta(days=3, minutes=1))
    async with runtime.unit_of_work():
        from agorakit.orders.tables import OrderTimer

        await OrderTimer.update({OrderTimer.status: "cancelled"}).where(
            (OrderTimer.order == running["id"]) & (OrderTimer.status == "pending")
        )
    report = await sweep(runtime)
    assert len(report.timers_fired) == 1
    for placed, state, status in (
        (accepted, "completed", "lapsed"),
        (timed, "completed", "lapsed"),
        (running, "delivered", "open"),
    ):
        assert await state_of(client, buyer, placed["id"]) == state
        proposals = (
            await client.get(f"/gigs/orders/{placed['id']}/cancellation", headers=buyer.headers)
        ).json()
        assert [p["status"] for p in proposals] == [status], placed["id"]
        assert (proposals[0]["decided_at"] is not None) is (status == "lapsed")


# --------------------------------------------------------------------------------------
# 7. Report of a delivery without files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["refund", "release"])
async def test_report_of_empty_delivery_is_settled_by_an_operator(client, market, outcome, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator, price=usd("5.00"))
    placed = await paid_order(client, buyer, gig["id"])
    await deliver(client, seller, placed["id"], message="Done!")
    reasons = (await client.get(f"/orders/{placed['id']}/disputes/reasons", headers=buyer.headers)).json()
    assert [r["code"] for r in reasons["reasons"]] == ["not_delivered", "not_as_described"]
    problem(
        await client.post(
            f"/orders/{placed['id']}/disputes",
            json={"reason": "not_delivered", "text": "Marked complete, no files."},
            headers=seller.headers,
        ),
        403,
        "forbidden",
    )
    report = await client.post(
        f"/orders/{placed['id']}/disputes",
        json={"reason": "not_delivered", "text": "Marked complete, but no files at all."},
        headers=buyer.headers,
    )
    assert report.status_code == 201, report.text
    assert await state_of(client, buyer, placed["id"]) == "reported"
    assert "dispute_opened" in [t for t, _ in await inbox(client, seller)]
    before = await money_of(buyer, seller)
    resolved = await client.post(
        f"/operator/disputes/{report.json()['id']}/resolve",
        json={"outcome": outcome, "note": "Checked the conversation."},
        headers=operator.headers,
    )
    assert resolved.status_code == 200, resolved.text
    after = await money_of(buyer, seller)
    for party in (buyer, seller):
        assert "dispute_resolved" in [t for t, _ in await inbox(client, party)]
    if outcome == "refund":
        assert await state_of(client, buyer, placed["id"]) == "refunded"
        assert after["buyer_credit"] - before["buyer_credit"] == 500
        assert after["seller_available"] == before["seller_available"]
    else:
        assert await state_of(client, buyer, placed["id"]) == "completed"
        assert after["seller_available"] - before["seller_available"] == 400
        assert after["fees"] - before["fees"] == 100
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# 8. Reviews
# --------------------------------------------------------------------------------------


async def test_buyer_rates_the_seller_and_the_gig_after_completion(client, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    review = {"rating": 5, "text": "Lovely concepts, delivered early."}
    problem(
        await client.post(f"/orders/{placed['id']}/reviews", json=review, headers=buyer.headers),
        409,
        "order_not_reviewable",
    )
    await deliver(client, seller, placed["id"])
    await client.post(f"/gigs/orders/{placed['id']}/accept", headers=buyer.headers)
    problem(
        await client.post(
            f"/orders/{placed['id']}/reviews", json={"rating": 6, "text": "!"}, headers=buyer.headers
        ),
        422,
        "validation_error",
    )
    posted = await client.post(f"/orders/{placed['id']}/reviews", json=review, headers=buyer.headers)
    assert posted.status_code == 201, posted.text
    problem(
        await client.post(f"/orders/{placed['id']}/reviews", json=review, headers=buyer.headers),
        409,
        "already_reviewed",
    )
    assert "review_received" in [t for t, _ in await inbox(client, seller)]
    one = (await client.get(f"/listings/{gig['id']}")).json()
    assert (one["seller"]["rating"]["average"], one["seller"]["rating"]["count"]) == ("5.00", 1)
    assert (one["rating"]["average"], one["rating"]["count"]) == ("5.00", 1)
    reviews = (await client.get(f"/listings/{gig['id']}/reviews")).json()
    assert [r["text"] for r in reviews["items"]] == ["Lovely concepts, delivered early."]


# --------------------------------------------------------------------------------------
# 9. Withdrawal of earnings
# --------------------------------------------------------------------------------------


async def test_seller_withdraws_earnings_by_bank_from_fifty(client, runtime, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator, price=usd("50.00"))
    placed = await paid_order(client, buyer, gig["id"])
    await deliver(client, seller, placed["id"])
    await client.post(f"/gigs/orders/{placed['id']}/accept", headers=buyer.headers)
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 4000

    def withdraw(amount):
        return client.post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd(amount), "destination": IBAN_ACCOUNT},
            headers=seller.headers,
        )

    body = problem(await withdraw("40.00"), 422, "below_minimum")
    assert "50.00" in body["detail"]
    await fund(runtime, ledger.available(seller.id), 1000)
    done = await withdraw("50.00")
    assert done.status_code == 201, done.text
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 0
    # The buyer's credit (refunds, deposits) is never withdrawable.
    problem(
        await client.post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd("50.00"), "destination": IBAN_ACCOUNT},
            headers=buyer.headers,
        ),
        409,
        "insufficient_funds",
    )


# --------------------------------------------------------------------------------------
# Editing and pausing
# --------------------------------------------------------------------------------------


async def test_price_edit_goes_back_to_review_and_leaves_open_orders_alone(client, market):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    edited = await client.patch(
        f"/listings/{gig['id']}", json={"price": usd("40.00")}, headers=seller.headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "pending_review"
    assert (await client.get(f"/gigs/{gig['id']}/quote")).status_code == 404  # not public while in review
    now = (await client.get(f"/orders/{placed['id']}", headers=buyer.headers)).json()
    assert now["amount"]["amount"] == "25.00" and now["data"]["quote"]["buyer_total"] == 2500
    await client.post(f"/operator/listings/{gig['id']}/approve", headers=operator.headers)
    quote = (await client.get(f"/gigs/{gig['id']}/quote")).json()
    assert quote["total"]["amount"] == "40.00"


async def test_paused_gig_is_hidden_but_its_orders_go_on(client, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    paused = await client.post(f"/listings/{gig['id']}/pause", headers=seller.headers)
    assert paused.json()["status"] == "paused"
    assert (await client.get("/listings?kind=gig")).json()["items"] == []
    problem(await order(client, buyer, gig["id"]), 409, "gig_not_available")
    assert (await deliver(client, seller, placed["id"])).json()["state"] == "delivered"
    assert (await client.post(f"/gigs/orders/{placed['id']}/accept", headers=buyer.headers)).json()[
        "state"
    ] == "completed"


async def test_gig_for_some_countries_refuses_other_buyers(client, market, make_member, problem):
    operator, seller, _ = market
    body = gig_body()
    body["attributes"]["countries"] = ["GB"]
    created = (await client.post("/listings", json=body, headers=seller.headers)).json()
    await client.post(f"/listings/{created['id']}/submit", headers=seller.headers)
    await client.post(f"/operator/listings/{created['id']}/approve", headers=operator.headers)
    british = await make_member(country="GB")
    elsewhere = await make_member(country="US")
    refused = problem(await order(client, elsewhere, created["id"]), 403, "not_eligible")
    assert "GB" in refused["detail"]
    assert (await order(client, british, created["id"])).status_code == 201


async def test_delivery_with_an_impossible_file_id_is_a_422(client, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    for bad in ([0], [2**63], ["7"]):
        response = await client.post(
            f"/gigs/orders/{placed['id']}/delivery",
            json={"message": "x", "attachments": bad},
            headers=seller.headers,
        )
        problem(response, 422, "validation_error")
    assert await state_of(client, buyer, placed["id"]) == "in_progress"


async def test_accepting_a_cancellation_nobody_proposed_says_how_to_propose_one(client, market, problem):
    operator, seller, buyer = market
    gig = await publish_gig(client, seller, operator)
    placed = await paid_order(client, buyer, gig["id"])
    path = f"/gigs/orders/{placed['id']}/cancellation"
    body = problem(await client.post(f"{path}/accept", headers=seller.headers), 409, "guard_failed")
    assert body["detail"] == (
        "there is no cancellation proposal to accept; "
        f"propose one with POST /gigs/orders/{placed['id']}/cancellation"
    )
    assert await state_of(client, buyer, placed["id"]) == "in_progress"
