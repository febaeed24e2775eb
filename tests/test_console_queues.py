"""The console's queue pages for applications and disputes, over HTTP.

Each page shows its items with their evidence; each action goes through the page to the
API, which shows the result (states, exact cents); a refused action shows the API's
message and changes nothing; a form without its CSRF token is refused.
"""

from __future__ import annotations

import base64

import pytest
from console_helpers import CONSOLE_SITE, Console, error_of, ok, text_of

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def site_config(tmp_path):
    return {**CONSOLE_SITE, "attachments": {"path": str(tmp_path / "files")}}


async def balances(client, operator, member) -> dict[str, str]:
    """A member's USD balances as the API shows them to operators: kind -> amount."""
    answer = await ok(
        await client.get(f"/operator/members/{member.member.id}/balance", headers=operator.headers)
    )
    usd = next(item for item in answer["balances"] if item["currency"] == "USD")
    return {key: value for key, value in usd.items() if key != "currency"}


async def category(client, operator, slug: str = "logo-design") -> None:
    await ok(
        await client.post(
            "/operator/categories", json={"slug": slug, "name": slug.title()}, headers=operator.headers
        ),
        201,
    )


async def apply(client, member, slug: str, note: str, attachments: list[int] = ()) -> dict:  # type: ignore[assignment]
    body = {"category": slug, "note": note, "attachments": list(attachments)}
    return await ok(await client.post("/qualifications", json=body, headers=member.headers), 201)


async def upload_portfolio(client, member) -> dict:
    response = await client.post(
        "/attachments",
        files={"file": ("portfolio.png", PNG, "application/octet-stream")},
        data={"scope": f"member:{member.member.id}"},
        headers=member.headers,
    )
    return await ok(response, 201)


# -- applications to sell ----------------------------------------------------------------


async def test_applications_show_their_evidence_and_are_decided(client, make_operator, make_member):
    operator = await make_operator()
    await category(client, operator, "logo-design")
    ada, bo = await make_member(), await make_member()
    portfolio = await upload_portfolio(client, ada)
    first = await apply(client, ada, "logo-design", "Ten years of logos for bakeries", [portfolio["id"]])
    second = await apply(client, bo, "logo-design", "I like drawing")
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/qualifications")
        text = text_of(page)
        assert f"#{first['id']} {ada.member.display_name} in logo-design" in text
        assert "Ten years of logos for bakeries" in text and "I like drawing" in text
        assert f'href="/console/attachments/{portfolio["id"]}"' in page.text
        file = await browser.get(f"/console/attachments/{portfolio['id']}")
        assert file.status_code == 200 and file.content == PNG
        assert file.headers["content-type"] == "image/png"
        assert file.headers["content-disposition"].startswith("attachment;")

        approved = await browser.post(f"/console/qualifications/{first['id']}/approve")
        assert approved.status_code == 303 and approved.headers["location"] == "/console/qualifications"
        # the API refuses an empty reason: the operator is told, nothing changes
        await browser.get("/console/qualifications")
        empty = await browser.post(f"/console/qualifications/{second['id']}/reject", {"reason": " "})
        assert empty.headers["location"] == "/console/qualifications"
        page = await browser.get("/console/qualifications")
        assert "reason" in error_of(page) and "I like drawing" in text_of(page)
        rejected = await browser.post(
            f"/console/qualifications/{second['id']}/reject", {"reason": "Show us some work"}
        )
        assert rejected.status_code == 303
        page = await browser.get("/console/qualifications")
        assert "No application in this status." in text_of(page)

        approved_list = await browser.get("/console/qualifications", status="approved")
        assert "Revoke access" in text_of(approved_list)
        revoked = await browser.post(
            f"/console/qualifications/{first['id']}/revoke", {"reason": "Copied logos"}
        )
        assert revoked.headers["location"] == "/console/qualifications?status=approved"
        # revoking it again: the API's 409, shown as an error
        again = await browser.post(f"/console/qualifications/{first['id']}/revoke", {"reason": "Twice"})
        assert again.status_code == 303
        assert "only approved ones are revoked" in error_of(await browser.get("/console/qualifications"))
        page = await browser.get("/console/qualifications", status="revoked")
        assert "Copied logos" in text_of(page)
    mine = await ok(await client.get("/me/qualifications", headers=ada.headers))
    assert [(q["status"], q["reason"]) for q in mine["items"]] == [("revoked", "Copied logos")]
    theirs = await ok(await client.get("/me/qualifications", headers=bo.headers))
    assert [(q["status"], q["reason"]) for q in theirs["items"]] == [("rejected", "Show us some work")]


async def test_a_form_without_its_csrf_token_changes_nothing(client, make_operator, make_member):
    operator = await make_operator()
    await category(client, operator, "logo-design")
    ada = await make_member()
    application = await apply(client, ada, "logo-design", "Ten years of logos")
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        refused = await browser.post(f"/console/qualifications/{application['id']}/approve", csrf=False)
        assert refused.status_code == 403
        assert "The form could not be accepted" in text_of(refused)
    mine = await ok(await client.get("/me/qualifications", headers=ada.headers))
    assert mine["items"][0]["status"] == "pending"


async def test_a_member_cannot_see_the_queues(client, make_member):
    member = await make_member()
    async with Console(client) as browser:
        answer = await browser.sign_in(member.member.email, member.password)
        assert answer.status_code == 403
        for path in ("/console/qualifications", "/console/disputes", "/console/system"):
            page = await browser.get(path)
            assert page.status_code == 303 and page.headers["location"].startswith("/console/sign-in")


# -- disputes ----------------------------------------------------------------------------


@pytest.fixture
async def disputed(client, make_order, make_member):
    """A 25.00 gig order the buyer reported after delivery: (order, dispute, buyer, seller)."""
    buyer, seller = await make_member(), await make_member()
    order = await make_order(kind="gig", state="reported", buyer=buyer, seller=seller)
    disputes = await ok(await client.get(f"/orders/{order['id']}/disputes", headers=buyer.headers))
    return order, disputes[0], buyer, seller


async def test_a_dispute_shows_its_evidence(client, make_operator, disputed):
    operator = await make_operator()
    order, dispute, buyer, seller = disputed
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        queue = await browser.get("/console/disputes")
        assert f"#{dispute['id']}" in text_of(queue) and f"#{order['id']} (gig_order" in text_of(queue)
        page = await browser.get(f"/console/disputes/{dispute['id']}")
        assert page.status_code == 200
        text = text_of(page)
    assert f"Dispute #{dispute['id']} on order #{order['id']}" in text
    assert dispute["text"] in text and dispute["reason_label"] in text
    assert f"Buyer {buyer.member.display_name}" in text and f"Seller {seller.member.display_name}" in text
    assert "gig_order, 25.00 USD, reported" in text
    assert "The order's escrow holds 25.00 USD" in text  # the money held, with its postings
    assert "payment completed" in text and f"payment for order:{order['id']}" in text
    assert "delivered reported buyer" in text  # the history's last transition
    assert "The order's history" in text and "delivered" in text
    assert "Refund in part" in text and "Reject the dispute" in text


async def test_a_partial_refund_through_the_page_moves_exact_cents(client, make_operator, disputed):
    operator = await make_operator()
    order, dispute, buyer, seller = disputed
    buyer_before = await balances(client, operator, buyer)
    seller_before = await balances(client, operator, seller)
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        await browser.get(f"/console/disputes/{dispute['id']}")
        # more than the order holds: the API's 422, shown on the dispute; nothing moves
        too_much = await browser.post(
            f"/console/disputes/{dispute['id']}/resolve",
            {"outcome": "refund", "amount": "25.01", "note": "x"},
        )
        assert too_much.headers["location"] == f"/console/disputes/{dispute['id']}"
        page = await browser.get(f"/console/disputes/{dispute['id']}")
        assert "amount" in error_of(page) and "Refund in part" in text_of(page)
        assert await balances(client, operator, buyer) == buyer_before

        refunded = await browser.post(
            f"/console/disputes/{dispute['id']}/resolve",
            {"outcome": "refund", "amount": "3.33", "note": "Part of the work was missing."},
        )
        assert refunded.status_code == 303 and refunded.headers["location"] == "/console/disputes"
        listing = await browser.get("/console/disputes")
        assert f"Dispute #{dispute['id']} refunded to the buyer's credit." in text_of(listing)
        resolved = await browser.get("/console/disputes", status="resolved")
        assert "refund 3.33 USD" in text_of(resolved)
    answer = await ok(await client.get(f"/disputes/{dispute['id']}", headers=buyer.headers))
    assert (answer["status"], answer["outcome"], answer["refunded"], answer["released"]) == (
        "resolved",
        "refund",
        {"amount": "3.33", "currency": "USD"},
        {"amount": "21.67", "currency": "USD"},
    )
    assert answer["resolution_note"] == "Part of the work was missing."
    buyer_after = await balances(client, operator, buyer)
    seller_after = await balances(client, operator, seller)
    # 3.33 back to the buyer's credit; of the 21.67 released the seller gets 20.00/25.00
    assert buyer_before["credit"] == "0.00" and buyer_after["credit"] == "3.33"
    assert seller_before["available"] == "0.00" and seller_after["available"] == "17.34"
    order_now = await ok(await client.get(f"/orders/{order['id']}", headers=buyer.headers))
    assert order_now["state"] == "refunded"


async def test_a_dispute_is_rejected_or_released_through_the_page(client, make_operator, disputed):
    operator = await make_operator()
    order, dispute, buyer, seller = disputed
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        await browser.get(f"/console/disputes/{dispute['id']}")
        # a rejection needs a note: the API says so, the dispute stays open
        bare = await browser.post(
            f"/console/disputes/{dispute['id']}/resolve", {"outcome": "reject", "note": ""}
        )
        assert bare.headers["location"] == f"/console/disputes/{dispute['id']}"
        page = await browser.get(f"/console/disputes/{dispute['id']}")
        assert "note" in error_of(page) and "Reject the dispute" in text_of(page)
        assert (await ok(await client.get(f"/disputes/{dispute['id']}", headers=buyer.headers)))[
            "status"
        ] == "open"
        released = await browser.post(
            f"/console/disputes/{dispute['id']}/resolve",
            {"outcome": "release", "note": "The files were there."},
        )
        assert released.headers["location"] == "/console/disputes"
        # the same again: the API's 409, nothing moves twice
        await browser.get(f"/console/disputes/{dispute['id']}")
        twice = await browser.post(f"/console/disputes/{dispute['id']}/resolve", {"outcome": "release"})
        assert twice.headers["location"] == f"/console/disputes/{dispute['id']}"
        page = await browser.get(f"/console/disputes/{dispute['id']}")
        assert "resolved" in error_of(page) and "Reject the dispute" not in text_of(page)
    seller_after = await balances(client, operator, seller)
    assert seller_after["available"] == "20.00"
    assert (await ok(await client.get(f"/orders/{order['id']}", headers=buyer.headers)))[
        "state"
    ] == "completed"
