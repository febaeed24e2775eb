"""The gigs plugin's console pages, over HTTP, on SQLite and PostgreSQL.

The gig orders needing attention (late past their deadline, an open cancellation
proposal), each linking to its order page, and the "Gigs" member panel with the seller's
record as the API gives it.
"""

from __future__ import annotations

import pytest
from console_helpers import CONSOLE_SITE, Console, text_of
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from agorakit import hookimpl
from agorakit.web import ConsolePages, PageContext


@pytest.fixture
def site_config():
    return CONSOLE_SITE


async def test_late_orders_and_open_proposals_need_attention(
    client, clock, make_operator, make_member, make_order, make_listing
):
    operator = await make_operator()
    seller = await make_member(display_name="Sam Seller")
    buyer = await make_member(display_name="Bea Buyer")
    quick = await make_listing(
        kind="gig", seller=seller, title="I will fix one typo", attributes={"delivery_days": 1}
    )
    slow = await make_listing(kind="gig", seller=seller, title="I will proofread a thesis")
    late = await make_order(kind="gig", state="in_progress", listing=quick, buyer=buyer)
    proposed = await make_order(kind="gig", state="in_progress", listing=slow, buyer=buyer)
    calm = await make_order(kind="gig", state="in_progress", listing=slow, buyer=buyer)
    delivered = await make_order(kind="gig", state="delivered", listing=slow, buyer=buyer)
    reason = {"reason": "I no longer need it, sorry"}
    for order in (proposed, delivered):
        response = await client.post(
            f"/gigs/orders/{order['id']}/cancellation", json=reason, headers=buyer.headers
        )
        assert response.status_code == 201, response.text
    clock.advance(days=1, hours=5)  # the one-day order is 5 hours late; the others have 3 days

    async with Console(client) as browser:
        assert (await browser.get("/console/gigs/orders")).status_code == 303  # operators only
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/gigs/orders")
        assert page.status_code == 200
        text = text_of(page)
        assert f"#{late['id']} in progress I will fix one typo Bea Buyer Sam Seller 25.00 USD" in text
        assert "late by 5 h" in text
        assert (
            f"#{proposed['id']} in progress I will proofread a thesis Bea Buyer Sam Seller 25.00 USD"
        ) in text
        assert "open, by the buyer" in text and "“I no longer need it, sorry”" in text
        assert f'href="/console/orders/{late["id"]}"' in page.text
        assert f"#{calm['id']}" not in text and f"#{delivered['id']}" not in text
        assert "1 other order on this page need nothing" in text

        everything = text_of(await browser.get("/console/gigs/orders", show="all"))
        assert f"#{calm['id']} in progress" in everything
        assert everything.count("late by") == 1

        handed_in = text_of(await browser.get("/console/gigs/orders", state="delivered"))
        assert f"#{delivered['id']} delivered" in handed_in and "open, by the buyer" in handed_in
        assert f"#{late['id']}" not in handed_in

        other = await make_member()
        mine = text_of(await browser.get("/console/gigs/orders", member_id=str(other.id)))
        assert "No gig order on this page needs attention." in mine

        # the API refuses a member id that is not a number: its message, not a 500
        bad = await browser.get("/console/gigs/orders", member_id="abc")
        assert bad.status_code == 422
        assert "Some details need fixing" in text_of(bad) and "member_id" in text_of(bad)


@get("/panels/{member_id:int}")
async def panels(page: NamedDependency[PageContext], member_id: FromPath[int]) -> Response[str]:
    """Every plugin's member panels for a member, as text (the member page is the console's)."""
    member = await page.api.get(f"/operator/members/{member_id}")
    parts = page.runtime.hooks.collect_sync("agorakit_console_pages", runtime=page.runtime)
    lines = []
    for part in parts:
        for factory in part.member_panels:
            panel = await factory(page, member)
            if panel is not None:
                rows = "; ".join(f"{label}: {value}" for label, value in panel.rows)
                lines.append(f"{panel.title} | {rows} | {panel.link}")
    return Response("\n".join(lines), media_type="text/plain")


class PanelProbe:
    @staticmethod
    @hookimpl
    def agorakit_console_pages(runtime):
        return ConsolePages(name="probe", title="Probe", handlers=[panels])


class TestSellerPanel:
    @pytest.fixture
    def extra_plugins(self):
        return [("panel_probe", PanelProbe)]

    async def test_the_gigs_panel_shows_the_seller_record(
        self, client, make_operator, make_member, make_order, make_listing
    ):
        operator = await make_operator()
        seller = await make_member()
        gig = await make_listing(kind="gig", seller=seller)
        await make_order(kind="gig", state="completed", listing=gig)
        await make_order(kind="gig", state="completed", listing=gig)
        await make_order(kind="gig", state="cancelled", listing=gig)
        buyer = await make_member()
        async with Console(client) as browser:
            await browser.sign_in(operator.member.email, operator.password)
            page = await browser.get(f"/console/probe/panels/{seller.id}")
            assert page.status_code == 200
            assert (
                f"Gigs | Gig orders completed: 2; Cancelled by them as the seller, before delivering: 1 | "
                f"/console/gigs/orders?member_id={seller.id}"
            ) in page.text
            nothing = await browser.get(f"/console/probe/panels/{buyer.id}")
            assert (
                "Gigs | Gig orders completed: 0; Cancelled by them as the seller, before delivering: 0"
                in nothing.text
            )
