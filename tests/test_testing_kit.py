"""The testing kit's factory fixtures (``docs/testing.md``): operators, funding a member,
running the worker, and gig listings and orders made through the real flow.

Each test runs on SQLite and PostgreSQL; amounts are exact, in cents.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import agorakit
from agorakit.errors import NotFound
from agorakit.factories import KindFactories
from agorakit.money import ledger
from agorakit.orders import escrow_problem_lines
from agorakit.testing import TEST_EPOCH


@pytest.fixture
def site_config(tmp_path):
    return {"site": {"plugins": ["gigs"]}, "attachments": {"path": str(tmp_path / "files")}}


def balance(*, available="0.00", credit="0.00", in_escrow="0.00", pending="0.00", owed="0.00") -> dict:
    return {
        "balances": [
            {
                "currency": "USD",
                "available": available,
                "credit": credit,
                "in_escrow": in_escrow,
                "pending": pending,
                "owed": owed,
            }
        ]
    }


async def books_are_sound(runtime) -> None:
    """What ``agorakit check-ledger`` checks: balanced postings, every escrow right."""
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []


async def my_balance(client, login) -> dict:
    response = await client.get("/me/balance", headers=login.headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- make_operator -----------------------------------------------------------------------


async def test_make_operator_makes_an_operator_who_may_use_operator_routes(
    client, make_operator, make_member
):
    operator = await make_operator(country="DE")
    member = await make_member()
    assert operator.member.role == "operator"
    assert operator.member.country == "DE"
    body = {"slug": "design", "name": "Design", "parent": None}
    created = await client.post("/operator/categories", json=body, headers=operator.headers)
    assert created.status_code == 201, created.text
    refused = await client.post("/operator/categories", json={**body, "slug": "x"}, headers=member.headers)
    assert refused.status_code == 403


# -- fund_member -------------------------------------------------------------------------


async def test_fund_member_puts_exact_amounts_on_available_and_credit(
    client, runtime, make_member, fund_member
):
    member = await make_member()
    after = await fund_member(member, 2500)
    assert after == balance(available="25.00")
    after = await fund_member(member.id, 1050, account="credit")  # an int id
    assert after == balance(available="25.00", credit="10.50")
    after = await fund_member(member.member, 1, account="available")  # a member object
    assert after == balance(available="25.01", credit="10.50")
    assert await my_balance(client, member) == after
    assert await ledger.balance_of(ledger.available(member.id), "USD") == 2501
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 1050
    # each call is one balanced posting from the test funding account
    assert await ledger.balance_of("external:test_funding", "USD") == -3551
    await books_are_sound(runtime)


async def test_fund_member_refuses_bad_input_and_moves_nothing(client, make_member, fund_member):
    member = await make_member()
    with pytest.raises(ValueError, match="more than 0"):
        await fund_member(member, 0)
    with pytest.raises(ValueError, match="more than 0"):
        await fund_member(member, -500)
    with pytest.raises(TypeError, match="minor units"):
        await fund_member(member, 12.5)
    with pytest.raises(ValueError, match="'available' or 'credit'"):
        await fund_member(member, 500, account="escrow")
    with pytest.raises(NotFound):
        await fund_member(member.id + 1000, 500)
    assert await my_balance(client, member) == balance()
    assert await ledger.balance_of("external:test_funding", "USD") == 0


class TestFundingInEuros:
    @pytest.fixture
    def site_config(self):
        return {"site": {"currency": "EUR"}}

    async def test_the_amount_is_in_the_sites_currency(self, make_member, fund_member):
        member = await make_member()
        after = await fund_member(member, 1999)
        assert after["balances"][0]["currency"] == "EUR"
        assert after["balances"][0]["available"] == "19.99"
        assert await ledger.balance_of(ledger.available(member.id), "EUR") == 1999


# -- run_worker --------------------------------------------------------------------------


async def test_run_worker_completes_a_delivered_gig_order_when_its_timer_is_due(
    client, runtime, clock, make_order, run_worker
):
    order = await make_order(state="delivered")
    delivered_at = clock.now()
    report = await run_worker()
    assert report.timers_fired == []
    report = await run_worker(at=delivered_at + timedelta(days=3))
    assert clock.now() == delivered_at + timedelta(days=3)
    assert len(report.timers_fired) == 1
    got = await client.get(f"/orders/{order['id']}", headers=await _login(client, runtime, order["buyer_id"]))
    assert got.json()["state"] == "completed"
    # 25.00 to the seller, less the default 20% commission
    assert await ledger.balance_of(ledger.available(order["seller_id"]), "USD") == 2000
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 500
    await books_are_sound(runtime)


async def _login(client, runtime, member_id: int) -> dict:
    from agorakit.accounts import get_member, issue_token

    token = await issue_token(runtime, client.app.state.jwt_auth, await get_member(runtime, member_id))
    return {"Authorization": f"Bearer {token.access_token}"}


async def test_run_worker_never_moves_the_clock_backwards(clock, run_worker):
    with pytest.raises(ValueError, match="does not go backwards"):
        await run_worker(at=TEST_EPOCH - timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await run_worker(at=TEST_EPOCH.replace(tzinfo=None) + timedelta(days=1))
    assert clock.now() == TEST_EPOCH
    await run_worker(at=TEST_EPOCH)  # the same instant is not backwards
    assert clock.now() == TEST_EPOCH


# -- make_listing / make_order (gigs) ----------------------------------------------------


async def test_make_listing_publishes_a_gig_buyers_can_browse(client, make_listing, make_member):
    seller = await make_member()
    listing = await make_listing(seller=seller, title="I will translate your menu", price=1250)
    assert listing["status"] == "published"
    assert listing["kind"] == "gig"
    assert listing["seller"]["id"] == seller.id
    assert listing["price"] == {"amount": "12.50", "currency": "USD"}
    assert listing["attributes"]["delivery_days"] == 3
    browse = await client.get("/listings", params={"kind": "gig"})
    assert [item["id"] for item in browse.json()["items"]] == [listing["id"]]


async def test_make_order_awaiting_payment_charges_nobody(client, make_order, make_member):
    buyer = await make_member()
    order = await make_order(state="awaiting_payment", buyer=buyer)
    assert order["state"] == "awaiting_payment"
    assert order["buyer_id"] == buyer.id
    assert order["amount"] == {"amount": "25.00", "currency": "USD"}
    assert await my_balance(client, buyer) == balance()


async def test_make_order_paid_is_in_progress_and_funds_the_buyer_exactly(
    client, runtime, make_order, make_member, fund_member
):
    buyer = await make_member()
    await fund_member(buyer, 1000, account="credit")  # the rest is funded by the kit
    order = await make_order(buyer=buyer, quantity=2)
    assert order["state"] == "in_progress"
    assert order["amount"] == {"amount": "50.00", "currency": "USD"}
    assert await my_balance(client, buyer) == balance(in_escrow="50.00")
    assert await ledger.balance_of("external:test_funding", "USD") == -5000
    await books_are_sound(runtime)


async def test_a_paid_order_can_be_cancelled_late_once_its_deadline_is_set_on_the_clock(
    client, clock, make_order, make_member
):
    buyer = await make_member()
    order = await make_order(buyer=buyer)
    early = await client.post(f"/gigs/orders/{order['id']}/cancel", headers=buyer.headers)
    assert early.json()["code"] == "guard_failed"
    clock.set(datetime.fromisoformat(order["data"]["deadline"]))
    late = await client.post(f"/gigs/orders/{order['id']}/cancel", headers=buyer.headers)
    assert late.json()["state"] == "cancelled"
    assert await my_balance(client, buyer) == balance(credit="25.00")


async def test_make_order_completed_pays_the_seller(client, runtime, make_order, make_listing, make_member):
    seller = await make_member()
    listing = await make_listing(seller=seller, price=4000)
    order = await make_order(state="completed", listing=listing)
    assert order["state"] == "completed"
    assert order["seller_id"] == seller.id
    assert await my_balance(client, seller) == balance(available="32.00")  # 40.00 less 20%
    await books_are_sound(runtime)


@pytest.mark.parametrize("state", ["cancelled", "refunded"])
async def test_make_order_cancelled_or_refunded_gives_the_buyer_credit(
    client, runtime, make_order, make_member, state
):
    buyer, seller = await make_member(), await make_member()
    order = await make_order(state=state, buyer=buyer, seller=seller)
    assert order["state"] == state
    assert await my_balance(client, buyer) == balance(credit="25.00")
    assert await my_balance(client, seller) == balance()
    await books_are_sound(runtime)


async def test_make_order_reported_holds_the_escrow(client, runtime, make_order, make_member):
    buyer = await make_member()
    order = await make_order(state="reported", buyer=buyer)
    assert order["state"] == "reported"
    assert await my_balance(client, buyer) == balance(in_escrow="25.00")
    disputes = await client.get(f"/orders/{order['id']}/disputes", headers=buyer.headers)
    assert [d["status"] for d in disputes.json()] == ["open"]


async def test_make_order_refuses_a_state_the_process_does_not_have(make_order):
    with pytest.raises(ValueError) as refused:
        await make_order(state="shipped")
    assert str(refused.value) == (
        "gig orders are made in one of the states awaiting_payment, in_progress, delivered, reported, "
        "completed, cancelled, refunded (or 'paid', which is in_progress); not 'shipped'"
    )


async def test_make_listing_refuses_a_kind_no_enabled_plugin_makes(make_listing):
    with pytest.raises(ValueError, match="no enabled plugin makes 'lead' listings"):
        await make_listing(kind="lead")


# -- the hook ----------------------------------------------------------------------------


class ThingFactories:
    """A plugin's factories for a kind ``thing``, recording what the kit asks for."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []

    async def make_listing(self, kit, owner, fields):
        self.asked.append(("listing", owner.id, fields))
        return {"id": 7, "kind": "thing", "seller": {"id": owner.id}}

    async def make_order(self, kit, request):
        self.asked.append(("order", request.state, request.buyer, request.listing, request.fields))
        return {"id": 9, "state": request.state}

    @agorakit.hookimpl
    def agorakit_test_factories(self):
        return [
            KindFactories(
                kind="thing",
                make_listing=self.make_listing,
                make_order=self.make_order,
                states=("waiting", "running", "done"),
                paid="running",
            )
        ]


THINGS = ThingFactories()


class TestTheHook:
    @pytest.fixture
    def site_config(self):
        return {}

    @pytest.fixture
    def extra_plugins(self):
        THINGS.asked.clear()
        return [("things", THINGS)]

    async def test_hook_agorakit_test_factories(self, make_listing, make_order, make_member):
        owner = await make_member()
        listing = await make_listing(kind="thing", seller=owner, colour="red")
        assert listing["seller"] == {"id": owner.id}
        assert await make_order(kind="thing", listing=listing, size=3) == {"id": 9, "state": "running"}
        assert await make_order(kind="thing", state="done") == {"id": 9, "state": "done"}
        assert THINGS.asked == [
            ("listing", owner.id, {"colour": "red"}),
            ("order", "running", None, listing, {"size": 3}),
            ("order", "done", None, None, {}),
        ]
        with pytest.raises(
            ValueError, match=r"one of the states waiting, running, done \(or 'paid', which is running\)"
        ):
            await make_order(kind="thing", state="lost")
        with pytest.raises(ValueError, match=r"kinds with factories: thing\)"):
            await make_listing(kind="gig")  # gigs are not enabled on this site
