"""The prepaid pages of the operator console, over HTTP: offers the screening holds with
their text and flags, let through or rejected with a reason; locks past their deadline;
requests withdrawn by an operator with a full refund (to the cent); the API's refusals
shown and changing nothing; a seller's ended locks on their member panel."""

from __future__ import annotations

import pytest
from console_helpers import MemberPanels, balance_of, signed_in, text_of
from prepaid_helpers import lock, locked_request, market, open_request, post_request, prepaid_config, usd

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    config = prepaid_config(tmp_path, offer_screening="flag")
    config["site"]["plugins"] = ["console", "prepaid", "bank_transfer"]
    return config


async def classic_request(client, market) -> dict:
    created = await post_request(
        client,
        market.buyer,
        mode="classic",
        method=None,
        service_type="coaching",
        details={"hours": 3, "task": "Aim and crosshair placement"},
        price=usd("30.00"),
        title="Coaching for my aim",
    )
    assert created.status_code == 201, created.text
    return created.json()


async def offer(client, seller, request_id: int, message: str) -> dict:
    made = await client.post(
        f"/prepaid/requests/{request_id}/offers",
        json={"price": usd("28.00"), "timeframe_hours": 48, "message": message},
        headers=seller.headers,
    )
    assert made.status_code == 201, made.text
    return made.json()


async def offers_of(client, member, request_id: int) -> list[dict]:
    got = await client.get(f"/prepaid/requests/{request_id}/offers", headers=member.headers)
    return got.json()["items"]


async def test_flagged_offers_are_let_through_or_rejected_with_a_reason(client, market):
    request = await classic_request(client, market)
    phone = await offer(client, market.sellers[0], request["id"], "WhatsApp me: +1 555 010 9999")
    link = await offer(client, market.sellers[1], request["id"], "Or see https://coach.example.com")
    assert (phone["status"], link["status"]) == ("flagged", "flagged")
    assert (await client.get("/console/prepaid/offers")).status_code == 303  # operators only
    async with await signed_in(client, market.operator) as browser:
        page = await browser.get("/console/prepaid/offers")
        assert page.status_code == 200
        text = text_of(page)
        assert f"Offer #{phone['id']} on request #{request['id']} Coaching for my aim" in text
        assert "28.00 USD in 48 h" in text and "asks 30.00 USD for Coaching in valorant (open)" in text
        assert "WhatsApp me: +1 555 010 9999" in text
        assert "message : phone number (“+1 555 010 9999”)" in text
        assert text.index(f"Offer #{phone['id']}") < text.index(f"Offer #{link['id']}")  # oldest first

        # the API wants a reason: the operator is told, the offer stays held
        empty = await browser.post(f"/console/prepaid/offers/{link['id']}/reject", {"reason": " "})
        assert empty.headers["location"] == "/console/prepaid/offers"
        page = text_of(await browser.get("/console/prepaid/offers"))
        assert "reason" in page.lower() and f"Offer #{link['id']}" in page

        approved = await browser.post(f"/console/prepaid/offers/{phone['id']}/approve")
        assert approved.status_code == 303 and approved.headers["location"] == "/console/prepaid/offers"
        rejected = await browser.post(
            f"/console/prepaid/offers/{link['id']}/reject", {"reason": "Links to other sites are not allowed"}
        )
        assert rejected.headers["location"] == "/console/prepaid/offers"
        page = text_of(await browser.get("/console/prepaid/offers"))
        assert f"Offer #{link['id']} rejected; its seller is told why." in page
        assert "No offer is held by the screening." in page

        twice = await browser.post(f"/console/prepaid/offers/{phone['id']}/approve")
        assert twice.status_code == 303
        page = text_of(await browser.get("/console/prepaid/offers"))
        assert f"offer {phone['id']} is pending; only a flagged offer is decided" in page
    seen = await offers_of(client, market.buyer, request["id"])
    assert [(o["id"], o["status"]) for o in seen] == [(phone["id"], "pending")]
    theirs = await offers_of(client, market.sellers[1], request["id"])
    assert [o["status"] for o in theirs] == ["rejected"]


async def test_stuck_locks_list_the_requests_past_their_deadline(client, clock, market):
    late = await locked_request(client, market, title="Boost me to Platinum", timeframe_hours=24)
    await locked_request(
        client, market, seller=market.sellers[1], title="Coaching on time", timeframe_hours=72
    )
    async with await signed_in(client, market.operator) as browser:
        assert "No lock is past its deadline." in text_of(await browser.get("/console/prepaid/locks"))
        clock.advance(hours=25)
        page = await browser.get("/console/prepaid/locks")
        text = text_of(page)
        assert f"#{late['id']} Boost me to Platinum Rank boost in valorant, 24 h" in text
        assert "40.00 USD 6 Jan 2026, 09:00 UTC" in text  # locked at the epoch, 24 h
        assert f"#{late['order_id']}" in text
        assert f'href="/console/members/{market.seller.id}"' in page.text
        assert "Coaching on time" not in text


async def test_an_operator_withdraws_an_open_request_with_a_full_refund(client, runtime, market):
    request = await open_request(client, market, title="Boost me to Platinum")
    busy = await locked_request(client, market, seller=market.sellers[1], title="Boost me to Diamond")
    before = await balance_of(client, market.buyer)
    assert (before["available"], before["credit"]) == ("0.00", "120.00")  # 200.00 - 2 x 40.00
    async with await signed_in(client, market.operator) as browser:
        page = await browser.get("/console/prepaid/requests", status="open")
        text = text_of(page)
        assert (
            f"Request #{request['id']} Boost me to Platinum open · prepaid · Rank boost in valorant · 40.00 USD"
            in text
        )
        assert "current rank Gold target rank Platinum" in text
        assert "Boost me to Diamond" not in text

        short = await browser.post(
            f"/console/prepaid/requests/{request['id']}/withdraw",
            {"reason": "no", "back": "/console/prepaid/requests?status=open"},
        )
        assert short.headers["location"] == "/console/prepaid/requests?status=open"
        assert "reason" in text_of(await browser.get("/console/prepaid/requests?status=open")).lower()
        assert (await balance_of(client, market.buyer))["credit"] == "120.00"

        withdrawn = await browser.post(
            f"/console/prepaid/requests/{request['id']}/withdraw",
            {"reason": "Account sharing is not allowed", "back": "https://elsewhere.example/"},
        )
        assert withdrawn.headers["location"] == "/console/prepaid/requests"  # never off the console
        assert f"Request #{request['id']} withdrawn" in text_of(
            await browser.get("/console/prepaid/requests")
        )

        locked = await browser.post(
            f"/console/prepaid/requests/{busy['id']}/withdraw", {"reason": "Account sharing is not allowed"}
        )
        assert locked.status_code == 303
        page = text_of(await browser.get("/console/prepaid/requests"))
        assert f"request {busy['id']} is in_progress; only an open request is withdrawn" in page

        forged = await browser.post(
            f"/console/prepaid/requests/{busy['id']}/withdraw", {"reason": "Spam"}, csrf=False
        )
        assert forged.status_code == 403
    after = await balance_of(client, market.buyer)
    assert (after["available"], after["credit"]) == ("0.00", "160.00")  # the 40.00 back, to the cent
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=market.buyer.headers)
    assert got.json()["status"] == "cancelled"
    still = await client.get(f"/prepaid/requests/{busy['id']}", headers=market.buyer.headers)
    assert still.json()["status"] == "in_progress"


class TestReleasesPanel:
    @pytest.fixture
    def extra_plugins(self):
        return [("member_panels", MemberPanels)]

    async def test_a_sellers_ended_locks_on_their_panel(self, client, market):
        request = await locked_request(client, market)
        released = await client.post(
            f"/prepaid/requests/{request['id']}/release",
            json={"reason": "My account got banned"},
            headers=market.seller.headers,
        )
        assert released.status_code == 200, released.text
        assert (await lock(client, market.sellers[1], request["id"])).status_code == 200
        async with await signed_in(client, market.operator) as browser:
            panels = text_of(await browser.get(f"/console/panels/{market.seller.id}"))
            assert (
                "Prepaid: locks ended without a delivery "
                f"Request #{request['id']}: given up: My account got banned"
            ) in panels
            other = text_of(await browser.get(f"/console/panels/{market.sellers[1].id}"))
            assert "Panels" in other and "locks ended" not in other
