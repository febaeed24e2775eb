"""The console's members pages, over HTTP: the search with its filters and pager, a
member's page with its evidence (profile, balances, orders, withdrawals, payments,
reviews), and the actions on a member (suspend, reactivate, warn, flag, unflag) through
the pages, with the API's refusals shown and nothing changed.
"""

from __future__ import annotations

import pytest
from api_world import IBAN_ACCOUNT
from console_helpers import CONSOLE_SITE, signed_in, text_of, usd


@pytest.fixture
def site_config():
    return {**CONSOLE_SITE, "plugins": {"console": {"page_size": 5}}}


async def test_members_are_searched_filtered_and_paged(client, make_operator, make_member):
    operator = await make_operator()
    ada = await make_member(display_name="Ada Lovelace", email="ada@example.com")
    grace = await make_member(display_name="Grace Hopper", email="grace@navy.example.com")
    others = [await make_member() for _ in range(5)]
    flagged = await client.post(
        f"/operator/members/{grace.id}/flag", json={"reason": "Many refunds"}, headers=operator.headers
    )
    assert flagged.status_code == 200, flagged.text
    async with await signed_in(client, operator) as browser:
        found = text_of(await browser.get("/console/members", q="lovelace"))
        assert f"#{ada.id} Ada Lovelace ada@example.com US member active" in found
        assert "Grace Hopper" not in found
        by_email = text_of(await browser.get("/console/members", q="NAVY.example"))
        assert f"#{grace.id} Grace Hopper" in by_email and "Ada Lovelace" not in by_email

        only_flagged = text_of(await browser.get("/console/members", flagged="true"))
        assert f"#{grace.id} Grace Hopper" in only_flagged and "Ada Lovelace" not in only_flagged
        operators = text_of(await browser.get("/console/members", role="operator"))
        assert operator.member.display_name in operators and "Ada Lovelace" not in operators

        # 7 members, 5 a page: the second page has the last 2, the filters kept
        first = await browser.get("/console/members", role="member")
        assert first.text.count('href="/console/members/') == 5
        cursor = first.text.split("cursor=", 1)[1].split('"', 1)[0]
        assert "role=member" in first.text.split("cursor=", 1)[0].rsplit("href=", 1)[1]
        second = await browser.get("/console/members", role="member", cursor=cursor)
        assert second.text.count('href="/console/members/') == 2
        assert f"#{others[-1].id} " in text_of(second)

        # the API's refusal of a search it cannot run is shown, not a 500
        refused = await browser.get("/console/members", q="x" * 101)
        assert refused.status_code == 200
        assert "give 1 to 100 characters to search for" in text_of(refused)
        assert "No member matches" not in text_of(refused)


async def test_a_members_page_shows_the_evidence(client, make_operator, make_member, make_order, fund_member):
    operator = await make_operator()
    seller = await make_member(display_name="Sam Seller", country="GB")
    buyer = await make_member(display_name="Bea Buyer")
    order = await make_order(state="completed", buyer=buyer, seller=seller)
    review = await client.post(
        f"/orders/{order['id']}/reviews",
        json={"rating": 4, "text": "Clean logo, one day late."},
        headers=buyer.headers,
    )
    assert review.status_code == 201, review.text
    await fund_member(seller, 6000)
    asked = await client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd("60.00"), "destination": IBAN_ACCOUNT},
        headers=seller.headers,
    )
    assert asked.status_code == 201, asked.text
    deposit = await client.post(
        "/payments",
        json={"method": "bank_transfer", "amount": usd("12.34")},
        headers=seller.headers,
    )
    assert deposit.status_code == 201, deposit.text
    balance = (await client.get("/me/balance", headers=seller.headers)).json()["balances"][0]

    async with await signed_in(client, operator) as browser:
        page = await browser.get(f"/console/members/{seller.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert f"#{seller.id} Sam Seller" in text
    assert f"active · member · {seller.member.email} · GB" in text
    # 25.00 sold, 20% fee: 20.00 earned, plus 60.00 funded, minus the 60.00 withdrawal
    assert balance["available"] == "20.00"
    assert "USD 20.00 USD 0.00 USD 0.00 USD 0.00 USD 0.00 USD" in text
    assert f"#{order['id']} gig order completed Bea Buyer Sam Seller" in text
    assert "25.00 USD" in text
    assert f"#{asked.json()['id']} bank transfer 60.00 USD" in text and "requested" in text
    assert f"#{deposit.json()['id']} #{seller.id} bank transfer deposit" in text and "12.34 USD" in text
    assert "As a seller: 4.00 / 5 from 1 review" in text
    assert "4 / 5 from Bea Buyer (buyer)" in text and "Clean logo, one day late." in text
    assert f'href="/console/orders/{order["id"]}"' in page.text


async def test_an_unknown_member_is_a_404_page(client, make_operator):
    operator = await make_operator()
    async with await signed_in(client, operator) as browser:
        page = await browser.get("/console/members/999999")
    assert page.status_code == 404
    assert "Not found" in text_of(page)


async def test_suspending_through_the_page_stops_the_members_token_at_once(
    client, make_operator, make_member, problem
):
    operator = await make_operator()
    member = await make_member()
    assert (await client.get("/me", headers=member.headers)).status_code == 200
    async with await signed_in(client, operator) as browser:
        await browser.get(f"/console/members/{member.id}")
        # without a reason the API refuses: shown, nothing changes
        empty = await browser.post(f"/console/members/{member.id}/suspend", {"reason": ""})
        assert empty.status_code == 303 and empty.headers["location"] == f"/console/members/{member.id}"
        page = text_of(await browser.get(f"/console/members/{member.id}"))
        assert "reason" in page.lower() and "active · member" in page
        assert (await client.get("/me", headers=member.headers)).status_code == 200

        done = await browser.post(
            f"/console/members/{member.id}/suspend", {"reason": "Spam in every listing"}
        )
        assert done.headers["location"] == f"/console/members/{member.id}"
        problem(await client.get("/me", headers=member.headers), 403, "account_suspended")
        page = text_of(await browser.get(f"/console/members/{member.id}"))
        assert f"Member #{member.id} suspended" in page
        assert "suspended · member" in page and "Suspended: Spam in every listing" in page

        await browser.post(f"/console/members/{member.id}/reactivate")
        page = text_of(await browser.get(f"/console/members/{member.id}"))
        assert f"Member #{member.id} reactivated." in page and "active · member" in page
    login = await client.post("/auth/login", json={"email": member.member.email, "password": member.password})
    assert login.status_code == 200, login.text
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/me", headers=fresh)).status_code == 200


async def test_only_an_owner_suspends_an_operator_the_page_says_so(client, make_operator):
    operator, colleague = await make_operator(), await make_operator()
    async with await signed_in(client, operator) as browser:
        await browser.get(f"/console/members/{colleague.id}")
        await browser.post(f"/console/members/{colleague.id}/suspend", {"reason": "Testing the rules"})
        page = text_of(await browser.get(f"/console/members/{colleague.id}"))
    assert (
        f"only the site's owner can suspend an operator or owner (member {colleague.id} is operator)" in page
    )
    assert "active · operator" in page
    assert (await client.get("/me", headers=colleague.headers)).status_code == 200


async def test_warn_flag_and_unflag_through_the_page(client, make_operator, make_member):
    operator = await make_operator()
    member = await make_member()
    base = f"/console/members/{member.id}"
    async with await signed_in(client, operator) as browser:
        await browser.get(base)
        await browser.post(f"{base}/warn", {"reason": "Keep payments on the site"})
        await browser.post(f"{base}/flag", {"reason": "Asked for an email address twice"})
        page = text_of(await browser.get(base))
        assert "Keep payments on the site" in page
        assert "Asked for an email address twice" in page and "Remove the flag" in page

        await browser.post(f"{base}/unflag")
        page = text_of(await browser.get(base))
        assert f"Member #{member.id}'s flag removed." in page and "Remove the flag" not in page
        # a second unflag: the API's 409 is shown, nothing changes
        await browser.post(f"{base}/unflag")
        page = text_of(await browser.get(base))
        assert f"member {member.id} is not flagged" in page

        refused = await browser.post(f"{base}/warn", {"reason": "No token"}, csrf=False)
        assert refused.status_code == 403
    shown = (await client.get(f"/operator/members/{member.id}", headers=operator.headers)).json()
    assert shown["flag"] is None
    assert [warning["reason"] for warning in shown["warnings"]] == ["Keep payments on the site"]
