"""The operators' read API for members, orders and money: the member search and flag
filters, every order with its parties' names, a member's balances, the withdrawals and
payments of one member.  Exact amounts, filters with pagination across pages, members
refused (403), bad parameters (422), unknown ids (404); on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
    }


IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}


def usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


async def every_page(client, path: str, headers: dict, **params) -> list[list[int]]:
    """The ids of each page of a list, following its cursors."""
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


# --------------------------------------------------------------------------------------
# GET /operator/members: q and flagged
# --------------------------------------------------------------------------------------


async def test_members_are_found_by_part_of_their_name_or_email_in_any_case(client, make_member, problem):
    operator = await make_member(role="operator")
    alice = await make_member(display_name="Alice Martin", email="amartin@example.com")
    malik = await make_member(display_name="Malik Stone", email="m.stone@example.org")
    await make_member(display_name="Bob Ray", email="bob@example.net")
    headers = operator.headers

    async def found(**params) -> list[int]:
        response = await client.get("/operator/members", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert await found(q="ALI") == [alice.id, malik.id]  # "Alice", "Malik"
    assert await found(q="  stone@EXAMPLE ") == [malik.id]  # trimmed, any case, the email
    assert await found(q="example.org") == [malik.id]
    assert await found(q="ali", role="member") == [alice.id, malik.id]
    assert await found(q="%") == []  # a wildcard is just a character
    assert await found(q="m_stone") == []
    problem(
        await client.get("/operator/members", params={"q": "x" * 101}, headers=headers),
        422,
        "validation_error",
        fields={"q"},
    )
    problem(
        await client.get("/operator/members", params={"q": "   "}, headers=headers),
        422,
        "validation_error",
        fields={"q"},
    )
    assert await found(q="x" * 100) == []
    response = await client.get("/operator/members", params={"q": "ali"}, headers=alice.headers)
    problem(response, 403, "forbidden")


async def test_flagged_filter_keeps_its_pages_whole(client, make_member):
    operator = await make_member(role="operator")
    members = [await make_member(display_name=f"Flag Test {n}") for n in range(5)]
    for member in members[::2]:  # 0, 2, 4
        flagged = await client.post(
            f"/operator/members/{member.id}/flag", json={"reason": "check"}, headers=operator.headers
        )
        assert flagged.status_code == 200, flagged.text
    ids = [m.id for m in members]

    pages = await every_page(client, "/operator/members", operator.headers, flagged="true", limit=2)
    assert pages == [[ids[0], ids[2]], [ids[4]]]
    pages = await every_page(
        client, "/operator/members", operator.headers, flagged="false", q="flag test", limit=1
    )
    assert pages == [[ids[1]], [ids[3]]]
    everyone = await every_page(client, "/operator/members", operator.headers, q="flag test", limit=2)
    assert everyone == [ids[0:2], ids[2:4], ids[4:]]


# --------------------------------------------------------------------------------------
# GET /operator/orders
# --------------------------------------------------------------------------------------


async def test_every_order_newest_first_with_parties_and_listing(
    client, make_member, make_listing, make_order, problem
):
    operator = await make_member(role="operator")
    ann, ben = await make_member(display_name="Ann Buyer"), await make_member(display_name="Ben Buyer")
    sam, tia = await make_member(display_name="Sam Seller"), await make_member(display_name="Tia Seller")
    logo = await make_listing(seller=sam, title="I will draw your logo", price=2500)
    menu = await make_listing(seller=tia, title="I will translate your menu", price=1250)
    first = await make_order(state="completed", buyer=ann, listing=logo)
    second = await make_order(state="in_progress", buyer=ben, listing=logo)
    third = await make_order(state="awaiting_payment", buyer=ann, listing=menu, quantity=2)

    response = await client.get("/operator/orders", headers=operator.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    assert [o["id"] for o in body["items"]] == [third["id"], second["id"], first["id"]]
    newest = body["items"][0]
    assert newest == {
        "id": third["id"],
        "kind": "gig_order",
        "state": "awaiting_payment",
        "buyer_id": ann.id,
        "buyer_name": "Ann Buyer",
        "seller_id": tia.id,
        "seller_name": "Tia Seller",
        "listing_id": menu["id"],
        "listing_title": "I will translate your menu",
        "total": usd("25.00"),
        "created_at": third["created_at"],
        "updated_at": third["updated_at"],
    }
    assert body["items"][2]["total"] == usd("25.00") and body["items"][2]["state"] == "completed"

    headers = operator.headers
    assert await every_page(client, "/operator/orders", headers, member_id=sam.id, limit=1) == [
        [second["id"]],
        [first["id"]],
    ]
    assert await every_page(client, "/operator/orders", headers, member_id=ann.id, limit=1) == [
        [third["id"]],
        [first["id"]],
    ]
    assert await every_page(client, "/operator/orders", headers, member_id=ann.id, state="completed") == [
        [first["id"]]
    ]
    assert await every_page(client, "/operator/orders", headers, kind="gig_order", limit=2) == [
        [third["id"], second["id"]],
        [first["id"]],
    ]
    assert await every_page(client, "/operator/orders", headers, kind="microjob_task") == [[]]
    problem(await client.get("/operator/orders", headers=ann.headers), 403, "forbidden")
    for params in ({"member_id": 0}, {"limit": 101}, {"cursor": "nonsense"}, {"state": "x" * 41}):
        response = await client.get("/operator/orders", params=params, headers=headers)
        assert response.status_code in (400, 422), (params, response.text)
        assert response.json()["code"] == "validation_error"


# --------------------------------------------------------------------------------------
# GET /operator/members/{member_id}/balance
# --------------------------------------------------------------------------------------


async def test_operators_see_a_members_balance_as_the_member_does(
    client, make_member, fund_member, make_order, problem
):
    operator = await make_member(role="operator")
    buyer = await make_member()
    await fund_member(buyer, 1234, account="available")
    await fund_member(buyer, 3000, account="credit")
    await make_order(state="in_progress", buyer=buyer)  # 25.00 from the credit, held in escrow

    response = await client.get(f"/operator/members/{buyer.id}/balance", headers=operator.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "balances": [
            {
                "currency": "USD",
                "available": "12.34",
                "credit": "5.00",
                "in_escrow": "25.00",
                "pending": "0.00",
                "owed": "0.00",
            }
        ]
    }
    assert response.json() == (await client.get("/me/balance", headers=buyer.headers)).json()
    problem(await client.get("/operator/members/999999/balance", headers=operator.headers), 404, "not_found")
    problem(
        await client.get(f"/operator/members/{buyer.id}/balance", headers=buyer.headers), 403, "forbidden"
    )


# --------------------------------------------------------------------------------------
# member_id on GET /operator/withdrawals and GET /operator/payments
# --------------------------------------------------------------------------------------


async def test_withdrawals_and_payments_of_one_member(client, make_member, fund_member, make_order, problem):
    operator = await make_member(role="operator")
    ada, bea = await make_member(), await make_member()
    for member in (ada, bea):
        await fund_member(member, 50000, account="available")
    made = []
    for member, amount in ((ada, "60.00"), (bea, "70.00"), (ada, "80.00"), (ada, "90.00")):
        response = await client.post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd(amount), "destination": IBAN_ACCOUNT},
            headers=member.headers,
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    headers = operator.headers
    assert await every_page(client, "/operator/withdrawals", headers, member_id=ada.id, limit=2) == [
        [made[0], made[2]],
        [made[3]],
    ]
    listed = await client.get("/operator/withdrawals", params={"member_id": bea.id}, headers=headers)
    assert [(w["id"], w["amount"]) for w in listed.json()["items"]] == [(made[1], usd("70.00"))]

    orders = [await make_order(state="in_progress", buyer=buyer) for buyer in (ada, bea, ada)]
    paid = await every_page(client, "/operator/payments", headers, member_id=ada.id, limit=1)
    assert len(paid) == 2 and all(len(p) == 1 for p in paid)
    shown = await client.get("/operator/payments", params={"member_id": ada.id}, headers=headers)
    items = shown.json()["items"]
    assert [(p["payer_id"], p["amount"], p["escrow_ref"]) for p in items] == [
        (ada.id, usd("25.00"), f"order:{orders[2]['id']}"),
        (ada.id, usd("25.00"), f"order:{orders[0]['id']}"),
    ]
    assert [p["id"] for p in items] == [p[0] for p in paid]
    problem(
        await client.get("/operator/payments", params={"member_id": ada.id}, headers=ada.headers),
        403,
        "forbidden",
    )
    response = await client.get("/operator/withdrawals", params={"member_id": -1}, headers=headers)
    assert response.status_code in (400, 422) and response.json()["code"] == "validation_error"
